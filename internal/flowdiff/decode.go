package flowdiff

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decoder is a single-pass JSON reader that fills the model directly.
//
// With encoding/json (a Decoder with UseNumber) ~85% of a diff of two
// 400 KB flows went into scanning each document twice and decoding by
// reflection, 16 ms per diff; this reader does the same in one validating
// pass, in about a quarter of the time. It validates everything, including
// members the model ignores, so malformed JSON is an error wherever it is
// (FuzzDecoder checks it accepts exactly what encoding/json accepts). As
// with UseNumber, numbers keep their literal text; each leaf then parses it
// as its Java type, so a Long is exact to 64 bits and only Java doubles go
// through float64. Keys match exactly, as with Jackson (encoding/json would
// also accept "Name" for "name").
//
// It works on one string copy of the document, so a plain string value or
// key is a substring of it and costs no allocation. Results are cloned in
// Compare so they do not keep the documents alive.
type decoder struct {
	data  string
	pos   int
	depth int
}

// maxDepth bounds nesting, as encoding/json does, so hostile input cannot
// exhaust the stack.
const maxDepth = 10000

type syntaxError struct {
	msg    string
	offset int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.offset) }

func (d *decoder) fail(msg string) error { return &syntaxError{msg, d.pos} }

// fieldError says which member held a value of the wrong kind.
func fieldError(key string, err error) error {
	var se *syntaxError
	if errors.As(err, &se) {
		return err
	}
	return fmt.Errorf("%q: %w", key, err)
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// atEnd reports whether only whitespace is left.
func (d *decoder) atEnd() bool {
	d.ws()
	return d.pos >= len(d.data)
}

// peek returns the first byte of the next value (0 at the end).
func (d *decoder) peek() byte {
	d.ws()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

// null consumes a null literal if one comes next.
func (d *decoder) null() bool {
	if d.peek() == 'n' && len(d.data)-d.pos >= 4 && d.data[d.pos:d.pos+4] == "null" {
		d.pos += 4
		return true
	}
	return false
}

// object reads an object, calling member for each key with the decoder
// positioned at the value; member must consume the value.
func (d *decoder) object(member func(key string) error) error {
	if d.peek() != '{' {
		return errors.New("expected an object, got " + d.kind())
	}
	if d.depth++; d.depth > maxDepth {
		return d.fail("nesting too deep")
	}
	d.pos++
	if d.peek() == '}' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.fail("expected a member name")
		}
		key, err := d.stringValue()
		if err != nil {
			return err
		}
		if d.peek() != ':' {
			return d.fail("expected ':'")
		}
		d.pos++
		if err := member(key); err != nil {
			return fieldError(key, err)
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			d.depth--
			return nil
		default:
			return d.fail("expected ',' or '}'")
		}
	}
}

// array reads an array, calling elem with the decoder at each element.
func (d *decoder) array(elem func() error) error {
	if d.peek() != '[' {
		return errors.New("expected an array, got " + d.kind())
	}
	if d.depth++; d.depth > maxDepth {
		return d.fail("nesting too deep")
	}
	d.pos++
	if d.peek() == ']' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			return nil
		default:
			return d.fail("expected ',' or ']'")
		}
	}
}

// kind names the next value for error messages.
func (d *decoder) kind() string {
	if d.atEnd() {
		return "end of input"
	}
	switch d.data[d.pos] {
	case '{', '[', '"', 't', 'f', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return kindOf(d.data[d.pos])
	}
	return fmt.Sprintf("%q", d.data[d.pos])
}

// skip validates and discards the next value.
func (d *decoder) skip() error {
	switch d.peek() {
	case '{':
		return d.object(func(string) error { return d.skip() })
	case '[':
		return d.array(d.skip)
	}
	_, err := d.literal()
	return err
}

// scalar is a validated scalar token. A string token carries its decoded
// value; other tokens carry their literal text.
type scalar struct {
	kind byte   // first byte of the token: '"', 't', 'f', 'n' or a number
	text string // decoded string, or the literal
}

// literal validates and returns the next scalar token.
func (d *decoder) literal() (scalar, error) {
	c := d.peek()
	switch c {
	case '"':
		s, err := d.stringValue()
		return scalar{'"', s}, err
	case 't':
		return d.keyword("true")
	case 'f':
		return d.keyword("false")
	case 'n':
		return d.keyword("null")
	case '{', '[':
		return scalar{}, errors.New("expected a scalar, got " + d.kind())
	}
	start := d.pos
	if err := d.scanNumber(); err != nil {
		return scalar{}, err
	}
	return scalar{c, d.data[start:d.pos]}, nil
}

func (d *decoder) keyword(word string) (scalar, error) {
	if len(d.data)-d.pos < len(word) || d.data[d.pos:d.pos+len(word)] != word {
		return scalar{}, d.fail("invalid literal")
	}
	d.pos += len(word)
	return scalar{word[0], word}, nil
}

// Byte classes inside a string literal.
const (
	strPlain   = iota // printable ASCII
	strQuote          // closing quote
	strEscape         // backslash
	strControl        // not allowed unescaped
	strHigh           // part of a multi-byte UTF-8 sequence
)

var strClass = func() (t [256]byte) {
	for c := range 0x20 {
		t[c] = strControl
	}
	t['"'] = strQuote
	t['\\'] = strEscape
	for c := 0x80; c < 0x100; c++ {
		t[c] = strHigh
	}
	return t
}()

// scanString moves past a string literal, checking its escapes. plain
// reports a literal of printable ASCII without escapes, which needs no
// decoding.
func (d *decoder) scanString() (plain bool, err error) {
	d.pos++ // opening quote
	plain = true
	for d.pos < len(d.data) {
		switch strClass[d.data[d.pos]] {
		case strPlain:
			d.pos++
		case strQuote:
			d.pos++
			return plain, nil
		case strHigh:
			plain = false
			d.pos++
		case strControl:
			return false, d.fail("control character in string")
		case strEscape:
			plain = false
			if d.pos+1 >= len(d.data) {
				return false, d.fail("unterminated string")
			}
			switch d.data[d.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.pos += 2
			case 'u':
				if d.pos+6 > len(d.data) {
					return false, d.fail("invalid \\u escape")
				}
				for i := d.pos + 2; i < d.pos+6; i++ {
					if !isHex(d.data[i]) {
						return false, d.fail("invalid \\u escape")
					}
				}
				d.pos += 6
			default:
				return false, d.fail("invalid escape")
			}
		}
	}
	return false, d.fail("unterminated string")
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// scanNumber moves past a number: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func (d *decoder) scanNumber() error {
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if d.pos < len(d.data) && d.data[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == '0':
		d.pos++
	case digits() == 0:
		return d.fail("invalid character")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return d.fail("invalid number")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return d.fail("invalid number")
		}
	}
	return nil
}

// stringValue reads a string token and returns its value. Plain strings
// (the bulk of a flow) are substrings of the document.
func (d *decoder) stringValue() (string, error) {
	start := d.pos
	plain, err := d.scanString()
	if err != nil {
		return "", err
	}
	inner := d.data[start+1 : d.pos-1]
	if plain || (!strings.Contains(inner, `\`) && utf8.ValidString(inner)) {
		return inner, nil
	}
	return unescape(inner), nil
}

// unescape decodes the inside of a validated string literal the way
// encoding/json does: escapes are resolved, a UTF-16 surrogate pair becomes
// one rune, and a lone surrogate or an invalid UTF-8 byte becomes U+FFFD.
func unescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			e := s[i+1]
			i += 2
			switch e {
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r := hex4(s[i:])
				i += 4
				if utf16.IsSurrogate(r) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, hex4(s[i+2:])); dec != utf8.RuneError {
							b.WriteRune(dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				b.WriteRune(r)
			default: // '"', '\\', '/'
				b.WriteByte(e)
			}
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			b.WriteRune(r) // RuneError for an invalid byte
			i += size
		}
	}
	return b.String()
}

// hex4 decodes four validated hex digits.
func hex4(s string) rune {
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// The rest of the file maps JSON members to the model, one function per
// Java class; members the comparator does not read are skipped.

// leaf reads a scalar into any of the opt types.
func (d *decoder) leaf(parse func(scalar) error) error {
	v, err := d.literal()
	if err != nil {
		return err
	}
	return parse(v)
}

// optional reads an object into *p, leaving it nil for null.
func optional[T any](d *decoder, p **T, fill func(*decoder, *T) error) error {
	if d.null() {
		*p = nil
		return nil
	}
	v := new(T)
	if err := fill(d, v); err != nil {
		return err
	}
	*p = v
	return nil
}

// list reads an array of objects; null elements stay nil (and are skipped
// by the comparator), a null list is nil.
func list[T any](d *decoder, p *[]*T, fill func(*decoder, *T) error) error {
	*p = nil
	if d.null() {
		return nil
	}
	out := []*T{}
	err := d.array(func() error {
		var v *T
		if err := optional(d, &v, fill); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	*p = out
	return err
}

// stringArray reads an array of nullable strings; ok is false for null.
func (d *decoder) stringArray() (elems []optString, ok bool, err error) {
	if d.null() {
		return nil, false, nil
	}
	elems = []optString{}
	err = d.array(func() error {
		var s optString
		if err := d.leaf(s.parse); err != nil {
			return err
		}
		elems = append(elems, s)
		return nil
	})
	return elems, true, err
}

func (d *decoder) stringSet(s *stringSet) error {
	elems, ok, err := d.stringArray()
	*s = stringSet{set: ok, elems: javaHashSet(elems)}
	return err
}

func (d *decoder) stringList(l *stringList) error {
	elems, ok, err := d.stringArray()
	*l = stringList{set: ok, elems: elems}
	return err
}

func (d *decoder) bends(l *bendList) error {
	var elems []*position
	err := list(d, &elems, fillPosition)
	*l = bendList{set: elems != nil, elems: elems}
	return err
}

// stringMap reads a Map<String, String> keeping member order, as the
// LinkedHashMap Jackson builds does; a repeated key keeps its first
// position and takes the last value.
func (d *decoder) stringMap(m *stringMap) error {
	*m = stringMap{}
	if d.null() {
		return nil
	}
	entries := javaMap{}
	err := d.object(func(key string) error {
		var v optString
		if err := d.leaf(v.parse); err != nil {
			return err
		}
		for i := range entries {
			if entries[i].key == key {
				entries[i].value = v
				return nil
			}
		}
		entries = append(entries, mapEntry{key: key, value: v})
		return nil
	})
	*m = stringMap{set: true, entries: entries}
	return err
}

// properties reads a property map; order does not matter for comparison.
func (d *decoder) properties(p *map[string]optString) error {
	*p = nil
	if d.null() {
		return nil
	}
	m := map[string]optString{}
	err := d.object(func(key string) error {
		var v optString
		err := d.leaf(v.parse)
		m[key] = v
		return err
	})
	*p = m
	return err
}

// descriptors reads the property descriptors; a null descriptor is the
// same as a missing one.
func (d *decoder) descriptors(p *map[string]propertyDescriptor) error {
	*p = nil
	if d.null() {
		return nil
	}
	m := map[string]propertyDescriptor{}
	err := d.object(func(key string) error {
		if d.null() {
			delete(m, key)
			return nil
		}
		var v propertyDescriptor
		err := fillDescriptor(d, &v)
		m[key] = v
		return err
	})
	*p = m
	return err
}

func fillPosition(d *decoder, p *position) error {
	return d.object(func(key string) error {
		switch key {
		case "x":
			return d.leaf(p.X.parse)
		case "y":
			return d.leaf(p.Y.parse)
		}
		return d.skip()
	})
}

func fillBundle(d *decoder, b *bundle) error {
	return d.object(func(key string) error {
		switch key {
		case "group":
			return d.leaf(b.Group.parse)
		case "artifact":
			return d.leaf(b.Artifact.parse)
		case "version":
			return d.leaf(b.Version.parse)
		}
		return d.skip()
	})
}

func fillConnectable(d *decoder, c *connectable) error {
	return d.object(func(key string) error {
		switch key {
		case "id":
			return d.leaf(c.ID.parse)
		case "instanceIdentifier":
			return d.leaf(c.InstanceID.parse)
		case "type":
			return d.leaf(c.Type.parse)
		case "groupId":
			return d.leaf(c.GroupID.parse)
		case "name":
			return d.leaf(c.Name.parse)
		}
		return d.skip()
	})
}

func fillCoordinates(d *decoder, c *coordinates) error {
	return d.object(func(key string) error {
		switch key {
		case "storageLocation":
			return d.leaf(c.StorageLocation.parse)
		case "branch":
			return d.leaf(c.Branch.parse)
		case "bucketId":
			return d.leaf(c.BucketID.parse)
		case "flowId":
			return d.leaf(c.FlowID.parse)
		case "version":
			return d.leaf(c.Version.parse)
		}
		return d.skip()
	})
}

func fillBatchSize(d *decoder, b *batchSize) error {
	return d.object(func(key string) error {
		switch key {
		case "count":
			return d.leaf(b.Count.parse)
		case "size":
			return d.leaf(b.Size.parse)
		case "duration":
			return d.leaf(b.Duration.parse)
		}
		return d.skip()
	})
}

func fillDescriptor(d *decoder, p *propertyDescriptor) error {
	return d.object(func(key string) error {
		switch key {
		case "name":
			return d.leaf(p.Name.parse)
		case "displayName":
			return d.leaf(p.DisplayName.parse)
		case "sensitive":
			return d.leaf(p.Sensitive.parse)
		}
		return d.skip()
	})
}

// baseMember handles the VersionedComponent members.
func (d *decoder) baseMember(b *base, key string) (bool, error) {
	switch key {
	case "identifier":
		return true, d.leaf(b.Identifier.parse)
	case "instanceIdentifier":
		return true, d.leaf(b.InstanceIdentifier.parse)
	case "groupIdentifier":
		return true, d.leaf(b.GroupIdentifier.parse)
	case "name":
		return true, d.leaf(b.Name.parse)
	case "comments":
		return true, d.leaf(b.Comments.parse)
	case "position":
		return true, optional(d, &b.Position, fillPosition)
	}
	return false, nil
}

// extensionMember handles the VersionedConfigurableExtension members.
func (d *decoder) extensionMember(e *extension, key string) (bool, error) {
	switch key {
	case "bundle":
		return true, optional(d, &e.Bundle, fillBundle)
	case "properties":
		return true, d.properties(&e.Properties)
	case "propertyDescriptors":
		return true, d.descriptors(&e.PropertyDescriptors)
	}
	return false, nil
}

// component reads an object whose members are the base (and, if ext is
// not nil, extension) members plus those handled by member, which reports
// whether it knew the key.
func (d *decoder) component(b *base, ext *extension, member func(key string) (bool, error)) error {
	return d.object(func(key string) error {
		if ok, err := d.baseMember(b, key); ok {
			return err
		}
		if ext != nil {
			if ok, err := d.extensionMember(ext, key); ok {
				return err
			}
		}
		if ok, err := member(key); ok {
			return err
		}
		return d.skip()
	})
}

func fillGroup(d *decoder, g *processGroup) error {
	return d.component(&g.base, nil, func(key string) (bool, error) {
		switch key {
		case "processGroups":
			return true, list(d, &g.ProcessGroups, fillGroup)
		case "remoteProcessGroups":
			return true, list(d, &g.RemoteProcessGroups, fillRemoteGroup)
		case "processors":
			return true, list(d, &g.Processors, fillProcessor)
		case "inputPorts":
			return true, list(d, &g.InputPorts, fillPort)
		case "outputPorts":
			return true, list(d, &g.OutputPorts, fillPort)
		case "connections":
			return true, list(d, &g.Connections, fillConnection)
		case "labels":
			return true, list(d, &g.Labels, fillLabel)
		case "funnels":
			return true, list(d, &g.Funnels, fillFunnel)
		case "controllerServices":
			return true, list(d, &g.ControllerServices, fillService)
		case "versionedFlowCoordinates":
			return true, optional(d, &g.VersionedFlowCoordinates, fillCoordinates)
		case "parameterContextName":
			return true, d.leaf(g.ParameterContextName.parse)
		case "flowFileConcurrency":
			return true, d.leaf(g.FlowFileConcurrency.parse)
		case "flowFileOutboundPolicy":
			return true, d.leaf(g.FlowFileOutboundPolicy.parse)
		case "defaultFlowFileExpiration":
			return true, d.leaf(g.DefaultFlowFileExpiration.parse)
		case "defaultBackPressureObjectThreshold":
			return true, d.leaf(g.DefaultBackPressureObjectThreshold.parse)
		case "defaultBackPressureDataSizeThreshold":
			return true, d.leaf(g.DefaultBackPressureDataSizeThreshold.parse)
		case "scheduledState":
			return true, d.leaf(g.ScheduledState.parse)
		case "executionEngine":
			return true, d.leaf(g.ExecutionEngine.parse)
		case "maxConcurrentTasks":
			return true, d.leaf(g.MaxConcurrentTasks.parse)
		case "statelessFlowTimeout":
			return true, d.leaf(g.StatelessFlowTimeout.parse)
		case "logFileSuffix":
			return true, d.leaf(g.LogFileSuffix.parse)
		}
		return false, nil
	})
}

func fillProcessor(d *decoder, p *processor) error {
	return d.component(&p.base, &p.extension, func(key string) (bool, error) {
		switch key {
		case "style":
			return true, d.stringMap(&p.Style)
		case "annotationData":
			return true, d.leaf(p.AnnotationData.parse)
		case "schedulingPeriod":
			return true, d.leaf(p.SchedulingPeriod.parse)
		case "schedulingStrategy":
			return true, d.leaf(p.SchedulingStrategy.parse)
		case "executionNode":
			return true, d.leaf(p.ExecutionNode.parse)
		case "penaltyDuration":
			return true, d.leaf(p.PenaltyDuration.parse)
		case "yieldDuration":
			return true, d.leaf(p.YieldDuration.parse)
		case "bulletinLevel":
			return true, d.leaf(p.BulletinLevel.parse)
		case "runDurationMillis":
			return true, d.leaf(p.RunDurationMillis.parse)
		case "concurrentlySchedulableTaskCount":
			return true, d.leaf(p.ConcurrentlySchedulableTaskCount.parse)
		case "autoTerminatedRelationships":
			return true, d.stringSet(&p.AutoTerminatedRelationships)
		case "scheduledState":
			return true, d.leaf(p.ScheduledState.parse)
		case "retryCount":
			return true, d.leaf(p.RetryCount.parse)
		case "retriedRelationships":
			return true, d.stringSet(&p.RetriedRelationships)
		case "backoffMechanism":
			return true, d.leaf(p.BackoffMechanism.parse)
		case "maxBackoffPeriod":
			return true, d.leaf(p.MaxBackoffPeriod.parse)
		}
		return false, nil
	})
}

func fillService(d *decoder, s *controllerService) error {
	return d.component(&s.base, &s.extension, func(key string) (bool, error) {
		switch key {
		case "annotationData":
			return true, d.leaf(s.AnnotationData.parse)
		case "scheduledState":
			return true, d.leaf(s.ScheduledState.parse)
		case "bulletinLevel":
			return true, d.leaf(s.BulletinLevel.parse)
		}
		return false, nil
	})
}

func fillConnection(d *decoder, c *connection) error {
	return d.component(&c.base, nil, func(key string) (bool, error) {
		switch key {
		case "source":
			return true, optional(d, &c.Source, fillConnectable)
		case "destination":
			return true, optional(d, &c.Destination, fillConnectable)
		case "zIndex":
			return true, d.leaf(c.ZIndex.parse)
		case "selectedRelationships":
			return true, d.stringSet(&c.SelectedRelationships)
		case "backPressureObjectThreshold":
			return true, d.leaf(c.BackPressureObjectThreshold.parse)
		case "backPressureDataSizeThreshold":
			return true, d.leaf(c.BackPressureDataSizeThreshold.parse)
		case "flowFileExpiration":
			return true, d.leaf(c.FlowFileExpiration.parse)
		case "prioritizers":
			return true, d.stringList(&c.Prioritizers)
		case "bends":
			return true, d.bends(&c.Bends)
		case "loadBalanceStrategy":
			return true, d.leaf(c.LoadBalanceStrategy.parse)
		case "partitioningAttribute":
			return true, d.leaf(c.PartitioningAttribute.parse)
		case "loadBalanceCompression":
			return true, d.leaf(c.LoadBalanceCompression.parse)
		}
		return false, nil
	})
}

func fillPort(d *decoder, p *port) error {
	return d.component(&p.base, nil, func(key string) (bool, error) {
		switch key {
		case "type":
			return true, d.leaf(p.Type.parse)
		case "concurrentlySchedulableTaskCount":
			return true, d.leaf(p.ConcurrentlySchedulableTaskCount.parse)
		case "scheduledState":
			return true, d.leaf(p.ScheduledState.parse)
		case "allowRemoteAccess":
			return true, d.leaf(p.AllowRemoteAccess.parse)
		case "portFunction":
			return true, d.leaf(p.PortFunction.parse)
		}
		return false, nil
	})
}

func fillLabel(d *decoder, l *label) error {
	return d.component(&l.base, nil, func(key string) (bool, error) {
		switch key {
		case "label":
			return true, d.leaf(l.Label.parse)
		case "zIndex":
			return true, d.leaf(l.ZIndex.parse)
		case "width":
			return true, d.leaf(l.Width.parse)
		case "height":
			return true, d.leaf(l.Height.parse)
		case "style":
			return true, d.stringMap(&l.Style)
		}
		return false, nil
	})
}

func fillFunnel(d *decoder, f *funnel) error {
	return d.component(&f.base, nil, func(string) (bool, error) { return false, nil })
}

func fillRemoteGroup(d *decoder, g *remoteProcessGroup) error {
	return d.component(&g.base, nil, func(key string) (bool, error) {
		switch key {
		case "targetUris":
			return true, d.leaf(g.TargetUris.parse)
		case "communicationsTimeout":
			return true, d.leaf(g.CommunicationsTimeout.parse)
		case "yieldDuration":
			return true, d.leaf(g.YieldDuration.parse)
		case "transportProtocol":
			return true, d.leaf(g.TransportProtocol.parse)
		case "localNetworkInterface":
			return true, d.leaf(g.LocalNetworkInterface.parse)
		case "proxyHost":
			return true, d.leaf(g.ProxyHost.parse)
		case "proxyPort":
			return true, d.leaf(g.ProxyPort.parse)
		case "proxyUser":
			return true, d.leaf(g.ProxyUser.parse)
		case "inputPorts":
			return true, list(d, &g.InputPorts, fillRemotePort)
		case "outputPorts":
			return true, list(d, &g.OutputPorts, fillRemotePort)
		}
		return false, nil
	})
}

func fillRemotePort(d *decoder, p *remotePort) error {
	return d.component(&p.base, nil, func(key string) (bool, error) {
		switch key {
		case "componentType":
			return true, d.leaf(p.ComponentType.parse)
		case "concurrentlySchedulableTaskCount":
			return true, d.leaf(p.ConcurrentlySchedulableTaskCount.parse)
		case "useCompression":
			return true, d.leaf(p.UseCompression.parse)
		case "batchSize":
			return true, optional(d, &p.BatchSize, fillBatchSize)
		case "scheduledState":
			return true, d.leaf(p.ScheduledState.parse)
		}
		return false, nil
	})
}
