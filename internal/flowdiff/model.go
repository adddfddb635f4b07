package flowdiff

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The types in this file are the part of NiFi's flow model (the
// org.apache.nifi.flow classes) that the comparator reads; decode.go maps
// the JSON members onto them. Everything else in a document is ignored, as
// Jackson does with FAIL_ON_UNKNOWN_PROPERTIES disabled.
//
// Leaves are read the way Jackson fills the Java fields: null and absent
// are the same (Java null), numbers and booleans are accepted where a String
// is expected (Jackson's scalar coercion, e.g. "version": 3 in a NiFi 1.x
// VersionedFlowCoordinates), numeric strings where a number is expected,
// and an object or array where a scalar is expected is an error, as it is
// for Jackson.

// decodeGroup decodes a flowContents document.
func decodeGroup(raw []byte) (*processGroup, error) {
	d := &decoder{data: string(raw)}
	if d.atEnd() {
		return nil, errors.New("empty document")
	}
	var g *processGroup
	if err := optional(d, &g, fillGroup); err != nil {
		return nil, err
	}
	if !d.atEnd() {
		return nil, d.fail("unexpected data after the top-level value")
	}
	if g == nil {
		return nil, errors.New("document is null")
	}
	return g, nil
}

// optString is a nullable Java String.
type optString struct {
	set bool
	v   string
}

func str(s string) optString { return optString{set: true, v: s} }

// String is String.valueOf: null prints as "null".
func (s optString) String() string {
	if !s.set {
		return "null"
	}
	return s.v
}

// jv returns the value for the comparator (nil for null).
func (s optString) jv() any {
	if !s.set {
		return nil
	}
	return s.v
}

// parse reads a scalar token.
func (s *optString) parse(v scalar) error {
	switch v.kind {
	case 'n':
		*s = optString{}
	default:
		// Numbers and booleans: Jackson uses the token text.
		*s = str(v.text)
	}
	return nil
}

// kindOf names a JSON value by its first byte.
func kindOf(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// scalarText returns the text Jackson would coerce to a number or boolean:
// the literal for numbers and booleans, the trimmed content for strings.
// null, "" and "null" mean Java null.
func scalarText(v scalar) (text string, null bool) {
	switch v.kind {
	case 'n':
		return "", true
	case '"':
		s := strings.TrimSpace(v.text)
		return s, s == "" || s == "null"
	}
	return v.text, false
}

// optInt is a nullable Java Integer (bits 32) or Long (bits 64).
type optInt struct {
	set bool
	v   int64
}

func (n optInt) jv() any {
	if !n.set {
		return nil
	}
	return n.v
}

func parseInt(v scalar, bits int) (optInt, error) {
	text, null := scalarText(v)
	if null {
		return optInt{}, nil
	}
	if text == "true" || text == "false" {
		return optInt{}, errors.New("expected a number, got a boolean")
	}
	if v, err := strconv.ParseInt(text, 10, bits); err == nil {
		return optInt{set: true, v: v}, nil
	}
	// Jackson accepts a fractional number for an integer and truncates it.
	f, err := strconv.ParseFloat(text, 64)
	limit := math.Ldexp(1, bits-1)
	if err != nil || math.IsNaN(f) || f >= limit || f < -limit {
		return optInt{}, fmt.Errorf("%q is not a %d-bit integer", text, bits)
	}
	return optInt{set: true, v: int64(f)}, nil
}

// optInt32 is a Java Integer.
type optInt32 struct{ optInt }

func (n *optInt32) parse(v scalar) (err error) {
	n.optInt, err = parseInt(v, 32)
	return err
}

// optInt64 is a Java Long.
type optInt64 struct{ optInt }

func (n *optInt64) parse(v scalar) (err error) {
	n.optInt, err = parseInt(v, 64)
	return err
}

// optDouble is a nullable Java Double.
type optDouble struct {
	set bool
	v   float64
}

func (d optDouble) jv() any {
	if !d.set {
		return nil
	}
	return d.v
}

func (d *optDouble) parse(s scalar) error {
	text, null := scalarText(s)
	if null {
		*d = optDouble{}
		return nil
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%q is not a number", text)
	}
	*d = optDouble{set: true, v: v}
	return nil
}

// optBool is a nullable Java Boolean.
type optBool struct {
	set bool
	v   bool
}

func (o optBool) jv() any {
	if !o.set {
		return nil
	}
	return o.v
}

func (o *optBool) parse(s scalar) error {
	text, null := scalarText(s)
	if null {
		*o = optBool{}
		return nil
	}
	switch strings.ToLower(text) {
	case "true":
		*o = optBool{set: true, v: true}
	case "false":
		*o = optBool{set: true}
	default:
		// Jackson coerces integers to Boolean (0 is false).
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", text)
		}
		*o = optBool{set: true, v: n != 0}
	}
	return nil
}

// stringSet is a Set<String>, held in Java HashSet iteration order.
type stringSet struct {
	set   bool
	elems javaSet
}

func (s stringSet) jv() any {
	if !s.set {
		return nil
	}
	return s.elems
}

// stringList is a List<String>.
type stringList struct {
	set   bool
	elems javaList
}

func (l stringList) jv() any {
	if !l.set {
		return nil
	}
	return l.elems
}

// bendList is a List<Position>.
type bendList struct {
	set   bool
	elems positionList
}

func (l bendList) jv() any {
	if !l.set {
		return nil
	}
	return l.elems
}

// stringMap is a Map<String, String> that keeps JSON order, because Jackson
// builds a LinkedHashMap and its toString shows entries in that order.
type stringMap struct {
	set     bool
	entries javaMap
}

func (m stringMap) jv() any {
	if !m.set {
		return nil
	}
	return m.entries
}

// position is org.apache.nifi.flow.Position. x and y are primitive doubles,
// so null reads as 0.
type position struct {
	X optDouble
	Y optDouble
}

func (p *position) jv() any {
	if p == nil {
		return nil
	}
	return p
}

// equal is Position.equals (Double.compare on both axes); nil is null.
func (p *position) equal(q *position) bool {
	if p == nil || q == nil {
		return p == q
	}
	return math.Float64bits(p.X.v) == math.Float64bits(q.X.v) &&
		math.Float64bits(p.Y.v) == math.Float64bits(q.Y.v)
}

// String is Position.toString.
func (p *position) String() string {
	return "[x=" + javaDouble(p.X.v) + ", y=" + javaDouble(p.Y.v) + "]"
}

// bundle is org.apache.nifi.flow.Bundle.
type bundle struct {
	Group    optString
	Artifact optString
	Version  optString
}

func (b *bundle) jv() any {
	if b == nil {
		return nil
	}
	return b
}

// connectable is org.apache.nifi.flow.ConnectableComponent.
type connectable struct {
	ID         optString
	InstanceID optString
	Type       optString
	GroupID    optString
	Name       optString
}

func (c *connectable) jv() any {
	if c == nil {
		return nil
	}
	return c
}

// coordinates is org.apache.nifi.flow.VersionedFlowCoordinates.
type coordinates struct {
	StorageLocation optString
	Branch          optString
	BucketID        optString
	FlowID          optString
	Version         optString
}

func (c *coordinates) jv() any {
	if c == nil {
		return nil
	}
	return c
}

// batchSize is org.apache.nifi.flow.BatchSize.
type batchSize struct {
	Count    optInt32
	Size     optString
	Duration optString
}

func (b *batchSize) jv() any {
	if b == nil {
		return nil
	}
	return b
}

// hashCode is BatchSize.hashCode: Objects.hash(count, duration, size).
func (b *batchSize) hashCode() int32 {
	var count int32
	if b.Count.set {
		count = int32(b.Count.v)
	}
	h := int32(1)
	h = 31*h + count
	h = 31*h + optHash(b.Duration)
	h = 31*h + optHash(b.Size)
	return h
}

// propertyDescriptor is org.apache.nifi.flow.VersionedPropertyDescriptor.
// sensitive is a primitive boolean, so null reads as false.
type propertyDescriptor struct {
	Name        optString
	DisplayName optString
	Sensitive   optBool
}

// base holds the VersionedComponent fields.
type base struct {
	Identifier         optString
	InstanceIdentifier optString
	GroupIdentifier    optString
	Name               optString
	Comments           optString
	Position           *position
}

// extension holds the VersionedConfigurableExtension fields.
type extension struct {
	Bundle              *bundle
	Properties          map[string]optString
	PropertyDescriptors map[string]propertyDescriptor
}

type processGroup struct {
	base
	ProcessGroups       []*processGroup
	RemoteProcessGroups []*remoteProcessGroup
	Processors          []*processor
	InputPorts          []*port
	OutputPorts         []*port
	Connections         []*connection
	Labels              []*label
	Funnels             []*funnel
	ControllerServices  []*controllerService

	VersionedFlowCoordinates             *coordinates
	ParameterContextName                 optString
	FlowFileConcurrency                  optString
	FlowFileOutboundPolicy               optString
	DefaultFlowFileExpiration            optString
	DefaultBackPressureObjectThreshold   optInt64
	DefaultBackPressureDataSizeThreshold optString
	ScheduledState                       optString
	ExecutionEngine                      optString
	MaxConcurrentTasks                   optInt32
	StatelessFlowTimeout                 optString
	LogFileSuffix                        optString
}

type processor struct {
	base
	extension
	Style                            stringMap
	AnnotationData                   optString
	SchedulingPeriod                 optString
	SchedulingStrategy               optString
	ExecutionNode                    optString
	PenaltyDuration                  optString
	YieldDuration                    optString
	BulletinLevel                    optString
	RunDurationMillis                optInt64
	ConcurrentlySchedulableTaskCount optInt32
	AutoTerminatedRelationships      stringSet
	ScheduledState                   optString
	RetryCount                       optInt32
	RetriedRelationships             stringSet
	BackoffMechanism                 optString
	MaxBackoffPeriod                 optString
}

type controllerService struct {
	base
	extension
	AnnotationData optString
	ScheduledState optString
	BulletinLevel  optString
}

type connection struct {
	base
	Source                        *connectable
	Destination                   *connectable
	ZIndex                        optInt64
	SelectedRelationships         stringSet
	BackPressureObjectThreshold   optInt64
	BackPressureDataSizeThreshold optString
	FlowFileExpiration            optString
	Prioritizers                  stringList
	Bends                         bendList
	LoadBalanceStrategy           optString
	PartitioningAttribute         optString
	LoadBalanceCompression        optString
}

type port struct {
	base
	Type                             optString
	ConcurrentlySchedulableTaskCount optInt32
	ScheduledState                   optString
	AllowRemoteAccess                optBool
	PortFunction                     optString
}

type label struct {
	base
	Label  optString
	ZIndex optInt64
	Width  optDouble
	Height optDouble
	Style  stringMap
}

type funnel struct {
	base
}

type remoteProcessGroup struct {
	base
	TargetUris            optString
	CommunicationsTimeout optString
	YieldDuration         optString
	TransportProtocol     optString
	LocalNetworkInterface optString
	ProxyHost             optString
	ProxyPort             optInt32
	ProxyUser             optString
	InputPorts            []*remotePort
	OutputPorts           []*remotePort
}

type remotePort struct {
	base
	ComponentType                    optString
	ConcurrentlySchedulableTaskCount optInt32
	UseCompression                   optBool
	BatchSize                        *batchSize
	ScheduledState                   optString
}
