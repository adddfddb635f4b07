package flowdiff

import (
	"slices"
	"strings"
)

// This file is a port of StandardFlowComparator as NiFi Registry configures
// it for the diff endpoint: FlowComparatorVersionedStrategy.DEEP, identity
// property decryptor, components matched by identifier, and only the
// process group contents (no controller-level services, reporting tasks,
// parameter contexts, ...). Field order and defaults follow the Java code.

const flowVersionField = "Flow Version"

// Defaults the comparator substitutes for null before comparing, so that a
// missing field and its default value do not count as a change.
const (
	defaultLoadBalanceStrategy    = "DO_NOT_LOAD_BALANCE"
	defaultPartitioningAttribute  = ""
	defaultLoadBalanceCompression = "DO_NOT_COMPRESS"
	defaultFlowFileConcurrency    = "UNBOUNDED"
	defaultOutboundPolicy         = "STREAM_WHEN_AVAILABLE"
	defaultBackPressureDataSize   = "1 GB"
	defaultBackPressureObjects    = int64(10_000)
	defaultFlowFileExpiration     = "0 sec"
	defaultExecutionEngine        = "INHERITED"
	defaultGroupScheduledState    = "ENABLED"
	defaultGroupConcurrentTasks   = int64(1)
	defaultStatelessTimeout       = "1 min"
	defaultPortFunction           = "STANDARD"
	defaultServiceBulletinLevel   = "WARN"
)

// compRef is what a difference remembers of a component: the fields that
// end up in the ComponentDifferenceGroup and in the descriptions.
type compRef struct {
	id, instanceID, groupID, name optString
	typeName                      string // ComponentType.getTypeName()
	processor                     bool   // for the BUNDLE_CHANGED wording
}

func newRef(b *base, typeName string) *compRef {
	return &compRef{
		id:         b.Identifier,
		instanceID: b.InstanceIdentifier,
		groupID:    b.GroupIdentifier,
		name:       b.Name,
		typeName:   typeName,
	}
}

// diff is one FlowDifference.
type diff struct {
	typ    diffType
	a, b   *compRef
	field  optString // fieldName: property key, or "Flow Version"
	va, vb any
	desc   string
}

type comparator struct {
	diffs []diff
}

func (c *comparator) add(t diffType, a, b *compRef, va, vb any) {
	c.addField(t, a, b, optString{}, optString{}, va, vb)
}

func (c *comparator) addField(t diffType, a, b *compRef, field, pretty optString, va, vb any) {
	c.diffs = append(c.diffs, diff{
		typ: t, a: a, b: b, field: field, va: va, vb: vb,
		desc: describe(t, a, b, pretty, va, vb),
	})
}

// addIfDifferent is StandardFlowComparator.addIfDifferent: va and vb are the
// field's values (nil when the component is absent), def replaces null.
func (c *comparator) addIfDifferent(t diffType, a, b *compRef, va, vb any, distinguishEmptyString bool, def any) {
	if va == nil {
		va = def
	}
	if vb == nil {
		vb = def
	}
	if javaEquals(va, vb) {
		return
	}
	// An empty collection and null are the same.
	na, collA := isCollection(va)
	nb, collB := isCollection(vb)
	if (va == nil || collA) && (vb == nil || collB) && na == 0 && nb == 0 {
		return
	}
	if !distinguishEmptyString && isEmptyString(va) && isEmptyString(vb) {
		return
	}
	c.add(t, a, b, va, vb)
}

func isEmptyString(v any) bool {
	if v == nil {
		return true
	}
	s, ok := v.(string)
	return ok && s == ""
}

// compareBase handles presence and the VersionedComponent fields. It
// reports true when the component exists on one side only, in which case
// there is nothing more to compare.
func (c *comparator) compareBase(ra, rb *compRef, ba, bb *base, compareName, comparePosition, compareComments bool) bool {
	if ra == nil {
		c.add(componentAdded, nil, rb, nil, rb)
		return true
	}
	if rb == nil {
		c.add(componentRemoved, ra, nil, ra, nil)
		return true
	}
	if compareComments {
		c.addIfDifferent(commentsChanged, ra, rb, ba.Comments.jv(), bb.Comments.jv(), false, nil)
	}
	if compareName {
		c.addIfDifferent(nameChanged, ra, rb, ba.Name.jv(), bb.Name.jv(), true, nil)
	}
	if comparePosition {
		c.addIfDifferent(positionChanged, ra, rb, ba.Position.jv(), bb.Position.jv(), true, nil)
	}
	return false
}

// component is any of the model's component types (*processor, *port,
// ...): they all embed base.
type component interface {
	comparable
	comp() *base
}

func (b *base) comp() *base { return b }

func identifier[P component](p P) optString { return p.comp().Identifier }

// baseOf returns the VersionedComponent fields of p, or nil.
func baseOf[P component](p P) *base {
	var zero P
	if p == zero {
		return nil
	}
	return p.comp()
}

// refOf returns the compRef of p, or nil for a missing component.
func refOf[P component](p P, typeName string) *compRef {
	b := baseOf(p)
	if b == nil {
		return nil
	}
	return newRef(b, typeName)
}

// matchComponents pairs the components of two collections by identifier
// and calls cmp for every pair, with the zero value for the missing side.
// key is the element identity of the Java Set the collection is
// deserialized into (the identifier, or the name for remote ports): of
// several elements with the same key the first wins, as with HashSet.add.
// Traversal follows JSON order, so the result is deterministic.
func matchComponents[P component](as, bs []P, key func(P) optString, cmp func(a, b P)) {
	var zero P
	setA, setB := asSet(as, key), asSet(bs, key)
	byID := make(map[optString]P, len(setB))
	for _, b := range setB {
		if _, dup := byID[identifier(b)]; !dup {
			byID[identifier(b)] = b
		}
	}
	seen := make(map[optString]bool, len(setA)+len(setB))
	for _, a := range setA {
		if !seen[identifier(a)] {
			seen[identifier(a)] = true
			cmp(a, byID[identifier(a)])
		}
	}
	for _, b := range setB {
		if !seen[identifier(b)] {
			seen[identifier(b)] = true
			cmp(zero, b)
		}
	}
}

// asSet drops null elements and later duplicates, keeping JSON order.
func asSet[P component](items []P, key func(P) optString) []P {
	var zero P
	out := make([]P, 0, len(items))
	seen := make(map[optString]bool, len(items))
	for _, it := range items {
		if it == zero || seen[key(it)] {
			continue
		}
		seen[key(it)] = true
		out = append(out, it)
	}
	return out
}

// compareGroup is compare(VersionedProcessGroup, VersionedProcessGroup, ...,
// compareNamePos). The root group is compared without name and position
// because a flow imported into NiFi is often renamed.
func (c *comparator) compareGroup(a, b *processGroup, compareNamePos bool) {
	ra, rb := refOf(a, "Process Group"), refOf(b, "Process Group")
	if c.compareBase(ra, rb, baseOf(a), baseOf(b), compareNamePos, compareNamePos, true) {
		// DEEP strategy: the contents of an added or removed group are
		// reported too, and an added group's configuration is compared
		// with the defaults.
		if a == nil {
			c.groupConfig(nil, b, nil, rb)
		}
		c.groupContents(a, b)
		return
	}

	before := len(c.diffs)
	c.compareCoordinates(a, b, ra, rb)
	coordinateDiffs := len(c.diffs) - before

	c.groupConfig(a, b, ra, rb)

	// A nested group under version control at the same coordinates on both
	// sides is known to have the same contents, and its component
	// identifiers may not line up, so NiFi skips it. With DEEP, any
	// coordinate change (even just the version) means comparing contents.
	if a.VersionedFlowCoordinates != nil && b.VersionedFlowCoordinates != nil && coordinateDiffs == 0 {
		return
	}
	c.groupContents(a, b)
}

// compareCoordinates is compareFlowCoordinates. Only bucket, flow, version
// and (when both have one) storage location count; registry URL/id and
// branch do not.
func (c *comparator) compareCoordinates(a, b *processGroup, ra, rb *compRef) {
	ca, cb := a.VersionedFlowCoordinates, b.VersionedFlowCoordinates
	switch {
	case ca == nil && cb == nil:
	case ca == nil || cb == nil:
		c.add(versionedFlowCoordinatesChanged, ra, rb, ca.jv(), cb.jv())
	case ca.BucketID != cb.BucketID, ca.FlowID != cb.FlowID:
		c.add(versionedFlowCoordinatesChanged, ra, rb, ca, cb)
	case ca.Version != cb.Version:
		c.addField(versionedFlowCoordinatesChanged, ra, rb, str(flowVersionField), str(flowVersionField), ca, cb)
	case ca.StorageLocation.set && cb.StorageLocation.set && ca.StorageLocation != cb.StorageLocation:
		c.add(versionedFlowCoordinatesChanged, ra, rb, ca, cb)
	}
}

// groupConfig is extractPGConfigDifferences. a is nil for an added group,
// whose settings are then compared with the defaults.
func (c *comparator) groupConfig(a, b *processGroup, ra, rb *compRef) {
	val := func(g *processGroup, f func(*processGroup) any) any {
		if g == nil {
			return nil
		}
		return f(g)
	}
	pg := func(t diffType, f func(*processGroup) any, distinguishEmpty bool, def any) {
		c.addIfDifferent(t, ra, rb, val(a, f), val(b, f), distinguishEmpty, def)
	}
	pg(flowFileConcurrencyChanged, func(g *processGroup) any { return g.FlowFileConcurrency.jv() }, true, defaultFlowFileConcurrency)
	pg(flowFileOutboundPolicyChanged, func(g *processGroup) any { return g.FlowFileOutboundPolicy.jv() }, true, defaultOutboundPolicy)
	pg(defaultBackpressureDataSizeChanged, func(g *processGroup) any { return g.DefaultBackPressureDataSizeThreshold.jv() }, true, defaultBackPressureDataSize)
	pg(defaultBackpressureObjectCountChanged, func(g *processGroup) any { return g.DefaultBackPressureObjectThreshold.jv() }, true, defaultBackPressureObjects)
	pg(defaultFlowFileExpirationChanged, func(g *processGroup) any { return g.DefaultFlowFileExpiration.jv() }, true, defaultFlowFileExpiration)
	pg(parameterContextChanged, func(g *processGroup) any { return g.ParameterContextName.jv() }, true, nil)
	pg(logFileSuffixChanged, func(g *processGroup) any { return g.LogFileSuffix.jv() }, true, nil)
	pg(executionEngineChanged, func(g *processGroup) any { return g.ExecutionEngine.jv() }, true, defaultExecutionEngine)
	pg(scheduledStateChanged, func(g *processGroup) any { return g.ScheduledState.jv() }, true, defaultGroupScheduledState)
	pg(concurrentTasksChanged, func(g *processGroup) any { return g.MaxConcurrentTasks.jv() }, true, defaultGroupConcurrentTasks)
	pg(timeoutChanged, func(g *processGroup) any { return g.StatelessFlowTimeout.jv() }, false, defaultStatelessTimeout)
}

// groupContents is extractPGComponentsDifferences, in the same order.
// Either group may be nil (removed or added group).
func (c *comparator) groupContents(a, b *processGroup) {
	var ga, gb processGroup
	if a != nil {
		ga = *a
	}
	if b != nil {
		gb = *b
	}
	matchComponents(ga.Connections, gb.Connections, identifier, c.compareConnection)
	matchComponents(ga.Processors, gb.Processors, identifier, c.compareProcessor)
	matchComponents(ga.ControllerServices, gb.ControllerServices, identifier, c.compareService)
	matchComponents(ga.Funnels, gb.Funnels, identifier, c.compareFunnel)
	matchComponents(ga.InputPorts, gb.InputPorts, identifier, c.comparePort)
	matchComponents(ga.Labels, gb.Labels, identifier, c.compareLabel)
	matchComponents(ga.OutputPorts, gb.OutputPorts, identifier, c.comparePort)
	matchComponents(ga.ProcessGroups, gb.ProcessGroups, identifier, func(x, y *processGroup) { c.compareGroup(x, y, true) })
	matchComponents(ga.RemoteProcessGroups, gb.RemoteProcessGroups, identifier, c.compareRemoteGroup)
}

func (c *comparator) compareProcessor(a, b *processor) {
	ra, rb := refOf(a, "Processor"), refOf(b, "Processor")
	if ra != nil {
		ra.processor = true
	}
	if rb != nil {
		rb.processor = true
	}
	if c.compareBase(ra, rb, baseOf(a), baseOf(b), true, true, true) {
		return
	}
	f := func(t diffType, get func(*processor) any) {
		c.addIfDifferent(t, ra, rb, get(a), get(b), true, nil)
	}
	f(annotationDataChanged, func(p *processor) any { return p.AnnotationData.jv() })
	f(autoTerminatedRelationshipsChanged, func(p *processor) any { return p.AutoTerminatedRelationships.jv() })
	f(bulletinLevelChanged, func(p *processor) any { return p.BulletinLevel.jv() })
	f(bundleChanged, func(p *processor) any { return p.Bundle.jv() })
	f(concurrentTasksChanged, func(p *processor) any { return p.ConcurrentlySchedulableTaskCount.jv() })
	f(executionModeChanged, func(p *processor) any { return p.ExecutionNode.jv() })
	f(penaltyDurationChanged, func(p *processor) any { return p.PenaltyDuration.jv() })
	f(runDurationChanged, func(p *processor) any { return p.RunDurationMillis.jv() })
	f(runScheduleChanged, func(p *processor) any { return p.SchedulingPeriod.jv() })
	f(schedulingStrategyChanged, func(p *processor) any { return p.SchedulingStrategy.jv() })
	f(scheduledStateChanged, func(p *processor) any { return p.ScheduledState.jv() })
	f(styleChanged, func(p *processor) any { return p.Style.jv() })
	f(yieldDurationChanged, func(p *processor) any { return p.YieldDuration.jv() })
	f(retryCountChanged, func(p *processor) any { return p.RetryCount.jv() })
	f(retriedRelationshipsChanged, func(p *processor) any { return p.RetriedRelationships.jv() })
	f(backoffMechanismChanged, func(p *processor) any { return p.BackoffMechanism.jv() })
	f(maxBackoffPeriodChanged, func(p *processor) any { return p.MaxBackoffPeriod.jv() })
	c.compareProperties(ra, rb, &a.extension, &b.extension)
}

func (c *comparator) compareService(a, b *controllerService) {
	ra, rb := refOf(a, "Controller Service"), refOf(b, "Controller Service")
	if c.compareBase(ra, rb, baseOf(a), baseOf(b), true, true, true) {
		return
	}
	c.addIfDifferent(annotationDataChanged, ra, rb, a.AnnotationData.jv(), b.AnnotationData.jv(), true, nil)
	c.addIfDifferent(bundleChanged, ra, rb, a.Bundle.jv(), b.Bundle.jv(), true, nil)
	c.compareProperties(ra, rb, &a.extension, &b.extension)
	c.addIfDifferent(scheduledStateChanged, ra, rb, a.ScheduledState.jv(), b.ScheduledState.jv(), true, nil)
	c.addIfDifferent(bulletinLevelChanged, ra, rb, a.BulletinLevel.jv(), b.BulletinLevel.jv(), true, defaultServiceBulletinLevel)
}

func (c *comparator) compareConnection(a, b *connection) {
	ra, rb := refOf(a, "Connection"), refOf(b, "Connection")
	if c.compareBase(ra, rb, baseOf(a), baseOf(b), true, true, true) {
		return
	}
	f := func(t diffType, get func(*connection) any, def any) {
		c.addIfDifferent(t, ra, rb, get(a), get(b), true, def)
	}
	f(backpressureDataSizeThresholdChanged, func(x *connection) any { return x.BackPressureDataSizeThreshold.jv() }, nil)
	f(backpressureObjectThresholdChanged, func(x *connection) any { return x.BackPressureObjectThreshold.jv() }, nil)
	f(bendpointsChanged, func(x *connection) any { return x.Bends.jv() }, nil)
	f(destinationChanged, func(x *connection) any { return x.Destination.jv() }, nil)
	f(flowFileExpirationChanged, func(x *connection) any { return x.FlowFileExpiration.jv() }, nil)
	f(prioritizersChanged, func(x *connection) any { return x.Prioritizers.jv() }, nil)
	f(selectedRelationshipsChanged, func(x *connection) any { return x.SelectedRelationships.jv() }, nil)
	// Java dereferences getSource() and fails on a connection without a
	// source; a missing source counts as a null id instead.
	f(sourceChanged, func(x *connection) any {
		if x.Source == nil {
			return nil
		}
		return x.Source.ID.jv()
	}, nil)
	f(zIndexChanged, func(x *connection) any { return x.ZIndex.jv() }, nil)
	f(loadBalanceStrategyChanged, func(x *connection) any { return x.LoadBalanceStrategy.jv() }, defaultLoadBalanceStrategy)
	f(partitioningAttributeChanged, func(x *connection) any { return x.PartitioningAttribute.jv() }, defaultPartitioningAttribute)
	f(loadBalanceCompressionChanged, func(x *connection) any { return x.LoadBalanceCompression.jv() }, defaultLoadBalanceCompression)
}

func (c *comparator) compareFunnel(a, b *funnel) {
	c.compareBase(refOf(a, "Funnel"), refOf(b, "Funnel"), baseOf(a), baseOf(b), true, true, true)
}

func (c *comparator) compareLabel(a, b *label) {
	ra, rb := refOf(a, "Label"), refOf(b, "Label")
	if c.compareBase(ra, rb, baseOf(a), baseOf(b), true, true, true) {
		return
	}
	c.addIfDifferent(labelValueChanged, ra, rb, a.Label.jv(), b.Label.jv(), true, nil)
	c.addIfDifferent(sizeChanged, ra, rb, a.Height.jv(), b.Height.jv(), true, nil)
	c.addIfDifferent(sizeChanged, ra, rb, a.Width.jv(), b.Width.jv(), true, nil)
	c.addIfDifferent(styleChanged, ra, rb, a.Style.jv(), b.Style.jv(), true, nil)
	c.addIfDifferent(zIndexChanged, ra, rb, a.ZIndex.jv(), b.ZIndex.jv(), true, nil)
}

// portType is VersionedPort.getComponentType: it looks at the port's type,
// not at the list the port sits in, and anything but OUTPUT_PORT is an
// input port.
func portType(p *port) string {
	if p != nil && p.Type == str("OUTPUT_PORT") {
		return "Output Port"
	}
	return "Input Port"
}

func (c *comparator) comparePort(a, b *port) {
	ra, rb := refOf(a, portType(a)), refOf(b, portType(b))
	if c.compareBase(ra, rb, baseOf(a), baseOf(b), true, true, true) {
		return
	}
	// Concurrent tasks only matter for site-to-site ports. A null
	// allowRemoteAccess (an unboxing NPE in Java) counts as false.
	if a.AllowRemoteAccess.v && b.AllowRemoteAccess.v {
		c.addIfDifferent(concurrentTasksChanged, ra, rb,
			a.ConcurrentlySchedulableTaskCount.jv(), b.ConcurrentlySchedulableTaskCount.jv(), true, nil)
	}
	c.addIfDifferent(scheduledStateChanged, ra, rb, a.ScheduledState.jv(), b.ScheduledState.jv(), true, nil)
	c.addIfDifferent(portFunctionChanged, ra, rb, a.PortFunction.jv(), b.PortFunction.jv(), true, defaultPortFunction)
}

func (c *comparator) compareRemoteGroup(a, b *remoteProcessGroup) {
	ra, rb := refOf(a, "Remote Process Group"), refOf(b, "Remote Process Group")
	// Name and comments of a remote process group come from the remote
	// instance, not from this flow, so they are not compared.
	if c.compareBase(ra, rb, baseOf(a), baseOf(b), false, true, false) {
		return
	}
	f := func(t diffType, get func(*remoteProcessGroup) any) {
		c.addIfDifferent(t, ra, rb, get(a), get(b), true, nil)
	}
	f(rpgCommsTimeoutChanged, func(x *remoteProcessGroup) any { return x.CommunicationsTimeout.jv() })
	f(rpgNetworkInterfaceChanged, func(x *remoteProcessGroup) any { return x.LocalNetworkInterface.jv() })
	f(rpgProxyHostChanged, func(x *remoteProcessGroup) any { return x.ProxyHost.jv() })
	f(rpgProxyPortChanged, func(x *remoteProcessGroup) any { return x.ProxyPort.jv() })
	f(rpgProxyUserChanged, func(x *remoteProcessGroup) any { return x.ProxyUser.jv() })
	f(rpgTransportProtocolChanged, func(x *remoteProcessGroup) any { return x.TransportProtocol.jv() })
	f(yieldDurationChanged, func(x *remoteProcessGroup) any { return x.YieldDuration.jv() })
	// getTargetUris returns null for an empty string.
	f(rpgURLChanged, func(x *remoteProcessGroup) any {
		if x.TargetUris.v == "" {
			return nil
		}
		return x.TargetUris.jv()
	})

	// VersionedRemoteGroupPort.equals compares names, so the name is the
	// identity inside the ports' HashSet; pairing is still by identifier.
	name := func(p *remotePort) optString { return p.Name }
	matchComponents(a.InputPorts, b.InputPorts, name, func(x, y *remotePort) { c.compareRemotePort(x, y, "Remote Input Port") })
	matchComponents(a.OutputPorts, b.OutputPorts, name, func(x, y *remotePort) { c.compareRemotePort(x, y, "Remote Output Port") })
}

// remotePortType reads the component type a remote port carries in the
// document. Java rejects other values and fails on a missing one; here the
// list the port sits in decides instead.
func remotePortType(p *remotePort, fallback string) string {
	if p != nil {
		switch p.ComponentType.v {
		case "REMOTE_INPUT_PORT":
			return "Remote Input Port"
		case "REMOTE_OUTPUT_PORT":
			return "Remote Output Port"
		}
	}
	return fallback
}

func (c *comparator) compareRemotePort(a, b *remotePort, fallbackType string) {
	ra, rb := refOf(a, remotePortType(a, fallbackType)), refOf(b, remotePortType(b, fallbackType))
	if c.compareBase(ra, rb, baseOf(a), baseOf(b), true, true, true) {
		return
	}
	c.addIfDifferent(remotePortBatchSizeChanged, ra, rb, a.BatchSize.jv(), b.BatchSize.jv(), true, nil)
	c.addIfDifferent(remotePortCompressionChanged, ra, rb, a.UseCompression.jv(), b.UseCompression.jv(), true, nil)
	c.addIfDifferent(concurrentTasksChanged, ra, rb,
		a.ConcurrentlySchedulableTaskCount.jv(), b.ConcurrentlySchedulableTaskCount.jv(), true, nil)
	c.addIfDifferent(scheduledStateChanged, ra, rb, a.ScheduledState.jv(), b.ScheduledState.jv(), true, nil)
}

// compareProperties is StandardFlowComparator.compareProperties, including
// its second pass over B, which can report an added property twice (the
// duplicates collapse when they are equal, as in the Java HashSet).
func (c *comparator) compareProperties(ra, rb *compRef, ea, eb *extension) {
	propsA, propsB := ea.Properties, eb.Properties
	descA, descB := ea.PropertyDescriptors, eb.PropertyDescriptors

	for _, key := range sortedKeys(propsA) {
		rawA := propsA[key]
		dA, dB := lookup(descA, key), lookup(descB, key)
		valueA := decrypt(rawA, dA)
		valueB := decrypt(propsB[key], dB)

		desc := dA
		if desc == nil {
			desc = dB
		}
		display := displayName(key, desc)
		field := str(key)

		if dA != nil && dB != nil && dA.Sensitive.v != dB.Sensitive.v {
			c.addField(propertySensitivityChanged, ra, rb, field, display, dA.Sensitive.v, dB.Sensitive.v)
		}

		switch {
		case !valueA.set && valueB.set:
			if isParameterReference(valueB.v) {
				c.addField(propertyParameterized, ra, rb, field, display, nil, nil)
			} else {
				c.addField(propertyAdded, ra, rb, field, display, nil, valueB.v)
			}
		case valueA.set && !valueB.set:
			if isParameterReference(valueA.v) {
				c.addField(propertyParameterizationRemoved, ra, rb, field, display, nil, nil)
			} else {
				c.addField(propertyRemoved, ra, rb, field, display, valueA.v, nil)
			}
		case valueA.set && valueA.v != valueB.v:
			paramA, paramB := isParameterReference(valueA.v), isParameterReference(valueB.v)
			switch {
			case paramA && !paramB:
				c.addField(propertyParameterizationRemoved, ra, rb, field, display, nil, nil)
			case !paramA && paramB:
				c.addField(propertyParameterized, ra, rb, field, display, nil, nil)
			default:
				c.addField(propertyChanged, ra, rb, field, display, valueA.v, valueB.v)
			}
		}
	}

	for _, key := range sortedKeys(propsB) {
		valueB := propsB[key]
		if propsA[key].set || !valueB.set {
			continue
		}
		display := displayName(key, lookup(descB, key))
		if isParameterReference(valueB.v) {
			c.addField(propertyParameterized, ra, rb, str(key), display, nil, nil)
		} else {
			// Raw value: this pass does not decrypt.
			c.addField(propertyAdded, ra, rb, str(key), display, nil, valueB.v)
		}
	}
}

// lookup returns the descriptor of a property, or nil if there is none.
func lookup(m map[string]propertyDescriptor, key string) *propertyDescriptor {
	if d, ok := m[key]; ok {
		return &d
	}
	return nil
}

func displayName(key string, d *propertyDescriptor) optString {
	switch {
	case d == nil:
		return str(key)
	case d.DisplayName.set:
		return d.DisplayName
	}
	return d.Name
}

// decrypt unwraps "enc{...}" values of sensitive (or undescribed)
// properties. The registry's decryptor is the identity function, so the
// ciphertext itself is what gets compared.
func decrypt(v optString, d *propertyDescriptor) optString {
	if !v.set {
		return v
	}
	sensitive := d == nil || d.Sensitive.v
	if sensitive && strings.HasPrefix(v.v, "enc{") && strings.HasSuffix(v.v, "}") {
		return str(v.v[len("enc{") : len(v.v)-len("}")])
	}
	return v
}

// isParameterReference reports whether s is exactly one parameter
// reference, matching #\{[A-Za-z0-9\-_. ]+}.
func isParameterReference(s string) bool {
	if len(s) < 4 || !strings.HasPrefix(s, "#{") || s[len(s)-1] != '}' {
		return false
	}
	for i := 2; i < len(s)-1; i++ {
		ch := s[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			ch == '-' || ch == '_' || ch == '.' || ch == ' '
		if !ok {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
