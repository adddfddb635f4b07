package flowdiff

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

type obj = map[string]any
type arr = []any

// with returns a deep copy of o with the given key/value pairs set; a nil
// value deletes the key.
func with(o obj, kv ...any) obj {
	out := clone(o).(obj)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func clone(v any) any {
	switch x := v.(type) {
	case obj:
		out := make(obj, len(x))
		for k, e := range x {
			out[k] = clone(e)
		}
		return out
	case arr:
		out := make(arr, len(x))
		for i, e := range x {
			out[i] = clone(e)
		}
		return out
	}
	return v
}

func proc(id string, kv ...any) obj {
	p := obj{
		"identifier": id, "groupIdentifier": "root", "name": "UpdateAttribute", "componentType": "PROCESSOR",
		"position": obj{"x": 1, "y": 2}, "type": "org.apache.nifi.processors.attributes.UpdateAttribute",
		"bundle":                           obj{"group": "org.apache.nifi", "artifact": "nifi-update-attribute-nar", "version": "2.0.0"},
		"properties":                       obj{"Store State": "Do not store state"},
		"propertyDescriptors":              obj{"Store State": obj{"name": "Store State", "displayName": "Store State", "sensitive": false}},
		"style":                            obj{},
		"schedulingPeriod":                 "0 sec",
		"schedulingStrategy":               "TIMER_DRIVEN",
		"executionNode":                    "ALL",
		"concurrentlySchedulableTaskCount": 1,
		"scheduledState":                   "ENABLED",
		"autoTerminatedRelationships":      arr{},
		"runDurationMillis":                0,
		"yieldDuration":                    "1 sec",
		"penaltyDuration":                  "30 sec",
		"bulletinLevel":                    "WARN",
	}
	return with(p, kv...)
}

func conn(id, src, dst string, kv ...any) obj {
	end := func(id string) obj {
		return obj{"id": id, "type": "PROCESSOR", "groupId": "root", "name": "P " + id}
	}
	c := obj{
		"identifier": id, "groupIdentifier": "root", "name": "", "componentType": "CONNECTION",
		"source": end(src), "destination": end(dst), "selectedRelationships": arr{"success"},
		"backPressureObjectThreshold": 10000, "backPressureDataSizeThreshold": "1 GB", "flowFileExpiration": "0 sec",
		"bends": arr{}, "prioritizers": arr{}, "zIndex": 0, "labelIndex": 1,
	}
	return with(c, kv...)
}

func child(id string, kv ...any) obj {
	g := obj{"identifier": id, "groupIdentifier": "root", "name": "Child " + id, "componentType": "PROCESS_GROUP",
		"position": obj{"x": 0, "y": 0}}
	return with(g, kv...)
}

// root is the flowContents of a minimal flow; kv are set on it.
func root(kv ...any) obj {
	r := obj{
		"identifier": "root", "name": "My Flow", "componentType": "PROCESS_GROUP", "position": obj{"x": 0, "y": 0},
		"processors": arr{}, "connections": arr{}, "processGroups": arr{}, "inputPorts": arr{}, "outputPorts": arr{},
		"labels": arr{}, "funnels": arr{}, "controllerServices": arr{}, "remoteProcessGroups": arr{},
		"flowFileConcurrency": "UNBOUNDED", "flowFileOutboundPolicy": "STREAM_WHEN_AVAILABLE",
		"defaultFlowFileExpiration": "0 sec", "defaultBackPressureObjectThreshold": 10000,
		"defaultBackPressureDataSizeThreshold": "1 GB", "executionEngine": "INHERITED", "scheduledState": "ENABLED",
		"maxConcurrentTasks": 1, "statelessFlowTimeout": "1 min",
	}
	return with(r, kv...)
}

// summarize renders groups one difference per line, in output order:
// "componentId Type pg=processGroupId DIFF_TYPE a=valueA b=valueB: description"
// with ∅ for null.
func summarize(groups []Group) []string {
	s := func(p *string) string {
		if p == nil {
			return "∅"
		}
		return *p
	}
	var lines []string
	for _, g := range groups {
		for _, d := range g.Differences {
			lines = append(lines, s(g.ComponentID)+" "+g.ComponentType+" pg="+s(g.ProcessGroupID)+" "+
				d.DifferenceType+" a="+s(d.ValueA)+" b="+s(d.ValueB)+": "+d.ChangeDescription)
		}
	}
	return lines
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type compareCase struct {
	name string
	a, b obj
	want []string
}

// compareCases are the table for TestCompare. Every expectation was also
// checked against NiFi's own comparator (see oracle_test.go), except where
// a comment says NiFi fails on the input.
func compareCases() []compareCase {
	p1 := proc("p1")
	return []compareCase{
		{name: "identical", a: root("processors", arr{p1}), b: root("processors", arr{p1})},
		{
			name: "processor added",
			a:    root(), b: root("processors", arr{p1}),
			want: []string{"p1 Processor pg=root COMPONENT_ADDED a=∅ b=p1: Processor was added"},
		},
		{
			name: "processor removed",
			a:    root("processors", arr{p1}), b: root(),
			want: []string{"p1 Processor pg=root COMPONENT_REMOVED a=p1 b=∅: Processor was removed"},
		},
		{
			name: "processor renamed and moved",
			a:    root("processors", arr{p1}),
			b:    root("processors", arr{proc("p1", "name", "Tag", "position", obj{"x": 1e7, "y": -0.5})}),
			want: []string{
				"p1 Processor pg=root NAME_CHANGED a=UpdateAttribute b=Tag: From 'UpdateAttribute' to 'Tag'",
				"p1 Processor pg=root POSITION_CHANGED a=[x=1.0, y=2.0] b=[x=1.0E7, y=-0.5]: Position was changed",
			},
		},
		{
			name: "processor scheduling",
			a:    root("processors", arr{p1}),
			b: root("processors", arr{proc("p1", "schedulingPeriod", "* * * * * ?", "schedulingStrategy", "CRON_DRIVEN",
				"concurrentlySchedulableTaskCount", "4", "scheduledState", "RUNNING", "runDurationMillis", 25,
				"executionNode", "PRIMARY")}),
			want: []string{
				"p1 Processor pg=root CONCURRENT_TASKS_CHANGED a=1 b=4: From '1' to '4'",
				"p1 Processor pg=root EXECUTION_MODE_CHANGED a=ALL b=PRIMARY: From 'ALL' to 'PRIMARY'",
				"p1 Processor pg=root RUN_DURATION_CHANGED a=0 b=25: From '0' to '25'",
				"p1 Processor pg=root RUN_SCHEDULE_CHANGED a=0 sec b=* * * * * ?: From '0 sec' to '* * * * * ?'",
				"p1 Processor pg=root SCHEDULED_STATE_CHANGED a=ENABLED b=RUNNING: Processor was started",
				"p1 Processor pg=root SCHEDULING_STRATEGY_CHANGED a=TIMER_DRIVEN b=CRON_DRIVEN: From 'TIMER_DRIVEN' to 'CRON_DRIVEN'",
			},
		},
		{
			name: "processor disabled",
			a:    root("processors", arr{p1}), b: root("processors", arr{proc("p1", "scheduledState", "DISABLED")}),
			want: []string{"p1 Processor pg=root SCHEDULED_STATE_CHANGED a=ENABLED b=DISABLED: Processor was disabled"},
		},
		{
			name: "processor properties",
			a: root("processors", arr{proc("p1",
				"properties", obj{"Store State": "Do not store state", "Old": "x", "Param": "#{p}", "Plain": "v", "Secret": "enc{AAA}", "Flag": "1"},
				"propertyDescriptors", obj{
					"Secret": obj{"name": "Secret", "displayName": "Secret Key", "sensitive": true},
					"Flag":   obj{"name": "Flag", "sensitive": false},
				})}),
			b: root("processors", arr{proc("p1",
				"properties", obj{"Store State": "Store state locally", "Param": "literal", "Plain": "#{q}", "Secret": "enc{BBB}", "Flag": "1", "New": "n"},
				"propertyDescriptors", obj{
					"Secret": obj{"name": "Secret", "displayName": "Secret Key", "sensitive": true},
					"Flag":   obj{"name": "Flag", "sensitive": true},
				})}),
			want: []string{
				"p1 Processor pg=root PROPERTY_ADDED a=∅ b=n: Property 'New' was added",
				"p1 Processor pg=root PROPERTY_CHANGED a=AAA b=BBB: From 'AAA' to 'BBB'",
				"p1 Processor pg=root PROPERTY_CHANGED a=Do not store state b=Store state locally: From 'Do not store state' to 'Store state locally'",
				"p1 Processor pg=root PROPERTY_PARAMETERIZATION_REMOVED a=∅ b=∅: Property 'Param' is no longer a parameter reference",
				"p1 Processor pg=root PROPERTY_PARAMETERIZED a=∅ b=∅: Property 'Plain' was parameterized",
				"p1 Processor pg=root PROPERTY_REMOVED a=x b=∅: Property 'Old' was removed",
				"p1 Processor pg=root PROPERTY_SENSITIVITY_CHANGED a=false b=true: From 'false' to 'true'",
			},
		},
		{
			name: "processor bundle and relationships",
			a:    root("processors", arr{proc("p1", "autoTerminatedRelationships", arr{"success", "failure"})}),
			b: root("processors", arr{proc("p1",
				"bundle", obj{"group": "org.apache.nifi", "artifact": "nifi-update-attribute-nar", "version": "2.1.0"},
				"autoTerminatedRelationships", arr{"failure"})}),
			want: []string{
				"p1 Processor pg=root AUTO_TERMINATED_RELATIONSHIPS_CHANGED a=[success, failure] b=[failure]: From '[success, failure]' to '[failure]'",
				"p1 Processor pg=root BUNDLE_CHANGED a=Bundle[group='org.apache.nifi', artifact='nifi-update-attribute-nar', version='2.0.0'] " +
					"b=Bundle[group='org.apache.nifi', artifact='nifi-update-attribute-nar', version='2.1.0']: nifi-update-attribute-nar version 2.0.0 to 2.1.0",
			},
		},
		{
			name: "equivalent values are not changes",
			a: root("processors", arr{proc("p1", "autoTerminatedRelationships", arr{"success", "failure"},
				"comments", nil, "style", obj{"a": "1", "b": "2"})}),
			b: root("processors", arr{proc("p1", "autoTerminatedRelationships", arr{"failure", "success"},
				"comments", "", "style", obj{"b": "2", "a": "1"})}),
		},
		{
			name: "empty collection equals null",
			a:    root("processors", arr{proc("p1", "autoTerminatedRelationships", nil, "retriedRelationships", arr{})}),
			b:    root("processors", arr{proc("p1", "autoTerminatedRelationships", arr{}, "retriedRelationships", nil)}),
		},
		{
			name: "comments",
			a:    root("processors", arr{proc("p1", "comments", "")}), b: root("processors", arr{proc("p1", "comments", "why")}),
			want: []string{"p1 Processor pg=root COMMENTS_CHANGED a= b=why: From '' to 'why'"},
		},
		{
			name: "connection changes",
			a: root("processors", arr{proc("p1"), proc("p2"), proc("p3")},
				"connections", arr{conn("c1", "p1", "p2")}),
			b: root("processors", arr{proc("p1"), proc("p2"), proc("p3")},
				"connections", arr{conn("c1", "p3", "p2",
					"bends", arr{obj{"x": 10, "y": 20.5}}, "prioritizers", arr{"org.FirstInFirstOut"},
					"selectedRelationships", arr{"success", "failure"}, "loadBalanceStrategy", "ROUND_ROBIN",
					"backPressureObjectThreshold", 20000, "zIndex", 3)}),
			want: []string{
				"c1 Connection pg=root BACKPRESSURE_OBJECT_THRESHOLD_CHANGED a=10000 b=20000: From '10000' to '20000'",
				"c1 Connection pg=root BENDPOINTS_CHANGED a=[] b=[[x=10.0, y=20.5]]: Connection Bendpoints changed",
				"c1 Connection pg=root LOAD_BALANCE_STRATEGY_CHANGED a=DO_NOT_LOAD_BALANCE b=ROUND_ROBIN: From 'DO_NOT_LOAD_BALANCE' to 'ROUND_ROBIN'",
				"c1 Connection pg=root PRIORITIZERS_CHANGED a=[] b=[org.FirstInFirstOut]: From '[]' to '[org.FirstInFirstOut]'",
				"c1 Connection pg=root SELECTED_RELATIONSHIPS_CHANGED a=[success] b=[success, failure]: From '[success]' to '[success, failure]'",
				"c1 Connection pg=root SOURCE_CHANGED a=p1 b=p3: From 'p1' to 'p3'",
				"c1 Connection pg=root ZINDEX_CHANGED a=0 b=3: From '0' to '3'",
			},
		},
		{
			name: "connection destination",
			a:    root("connections", arr{conn("c1", "p1", "p2")}),
			b:    root("connections", arr{conn("c1", "p1", "p3")}),
			want: []string{
				"c1 Connection pg=root DESTINATION_CHANGED " +
					"a=ConnectableComponent{id='p2', instanceId='null', type=PROCESSOR, groupId='root', name='P p2'} " +
					"b=ConnectableComponent{id='p3', instanceId='null', type=PROCESSOR, groupId='root', name='P p3'}: " +
					"From 'ConnectableComponent{id='p2', instanceId='null', type=PROCESSOR, groupId='root', name='P p2'}' " +
					"to 'ConnectableComponent{id='p3', instanceId='null', type=PROCESSOR, groupId='root', name='P p3'}'",
			},
		},
		{
			// ConnectableComponent.equals compares ids; defaults hide null.
			name: "connection equivalences",
			a:    root("connections", arr{conn("c1", "p1", "p2", "loadBalanceStrategy", "DO_NOT_LOAD_BALANCE")}),
			b: root("connections", arr{conn("c1", "p1", "p2",
				"destination", obj{"id": "p2", "type": "PROCESSOR", "groupId": "root", "name": "Renamed"},
				"partitioningAttribute", "", "loadBalanceCompression", "DO_NOT_COMPRESS")}),
		},
		{
			// Java collects differences in a set: height and width
			// changing identically is one SIZE_CHANGED.
			name: "label size collapses",
			a: root("labels", arr{obj{"identifier": "l1", "componentType": "LABEL", "label": "note",
				"width": 100, "height": 100, "style": obj{"font-size": "12px"}}}),
			b: root("labels", arr{obj{"identifier": "l1", "componentType": "LABEL", "label": "Note",
				"width": 200.0, "height": 200, "style": obj{"font-size": "18px"}, "zIndex": 2}}),
			want: []string{
				"l1 Label pg=∅ LABEL_VALUE_CHANGED a=note b=Note: From 'note' to 'Note'",
				"l1 Label pg=∅ SIZE_CHANGED a=100.0 b=200.0: Size was changed",
				"l1 Label pg=∅ STYLE_CHANGED a={font-size=12px} b={font-size=18px}: From '{font-size=12px}' to '{font-size=18px}'",
				"l1 Label pg=∅ ZINDEX_CHANGED a=∅ b=2: From 'null' to '2'",
			},
		},
		{
			// Concurrent tasks count only when both sides allow remote access.
			name: "ports",
			a: root(
				"inputPorts", arr{obj{"identifier": "in", "componentType": "INPUT_PORT", "type": "INPUT_PORT",
					"concurrentlySchedulableTaskCount": 1, "allowRemoteAccess": true, "scheduledState": "ENABLED"}},
				"outputPorts", arr{obj{"identifier": "out", "componentType": "OUTPUT_PORT", "type": "OUTPUT_PORT",
					"concurrentlySchedulableTaskCount": 1, "allowRemoteAccess": false}}),
			b: root(
				"inputPorts", arr{obj{"identifier": "in", "componentType": "INPUT_PORT", "type": "INPUT_PORT",
					"concurrentlySchedulableTaskCount": 2, "allowRemoteAccess": true, "scheduledState": "ENABLED",
					"portFunction": "STANDARD"}},
				"outputPorts", arr{obj{"identifier": "out", "componentType": "OUTPUT_PORT", "type": "OUTPUT_PORT",
					"concurrentlySchedulableTaskCount": 2, "allowRemoteAccess": false, "portFunction": "FAILURE"}}),
			want: []string{
				"in Input Port pg=∅ CONCURRENT_TASKS_CHANGED a=1 b=2: From '1' to '2'",
				"out Output Port pg=∅ PORT_FUNCTION_CHANGED a=STANDARD b=FAILURE: From 'STANDARD' to 'FAILURE'",
			},
		},
		{
			// VersionedPort decides its type from "type", not from the list.
			name: "port type comes from the port",
			a:    root(), b: root("outputPorts", arr{obj{"identifier": "o", "componentType": "OUTPUT_PORT"}}),
			want: []string{"o Input Port pg=∅ COMPONENT_ADDED a=∅ b=o: Input Port was added"},
		},
		{
			// Name and comments of a remote group come from the remote
			// instance and are not compared.
			name: "remote process group",
			a: root("remoteProcessGroups", arr{obj{"identifier": "rpg", "name": "remote", "comments": "from remote",
				"targetUris": "http://a:8080/nifi", "transportProtocol": "RAW",
				"inputPorts": arr{obj{"identifier": "rp", "name": "in", "componentType": "REMOTE_INPUT_PORT",
					"batchSize": obj{"count": 5, "size": "1 MB", "duration": "1 sec"}, "useCompression": false}}}}),
			b: root("remoteProcessGroups", arr{obj{"identifier": "rpg", "name": "renamed", "comments": "other",
				"targetUris": "http://b:8080/nifi", "transportProtocol": "HTTP", "proxyPort": 3128,
				"inputPorts": arr{obj{"identifier": "rp", "name": "in",
					"batchSize": obj{}, "useCompression": true}}}}),
			want: []string{
				"rp Remote Input Port pg=∅ REMOTE_PORT_BATCH_SIZE_CHANGED a=org.apache.nifi.flow.BatchSize@55ad8366 " +
					"b=org.apache.nifi.flow.BatchSize@745f: From 'org.apache.nifi.flow.BatchSize@55ad8366' to 'org.apache.nifi.flow.BatchSize@745f'",
				"rp Remote Input Port pg=∅ REMOTE_PORT_COMPRESSION_CHANGED a=false b=true: From 'false' to 'true'",
				"rpg Remote Process Group pg=∅ RPG_PROXY_PORT_CHANGED a=∅ b=3128: From 'null' to '3128'",
				"rpg Remote Process Group pg=∅ RPG_TRANSPORT_PROTOCOL_CHANGED a=RAW b=HTTP: From 'RAW' to 'HTTP'",
				"rpg Remote Process Group pg=∅ RPG_URL_CHANGED a=http://a:8080/nifi b=http://b:8080/nifi: From 'http://a:8080/nifi' to 'http://b:8080/nifi'",
			},
		},
		{
			name: "controller service",
			a: root("controllerServices", arr{obj{"identifier": "cs", "groupIdentifier": "root", "name": "Pool",
				"scheduledState": "DISABLED", "bulletinLevel": "WARN", "properties": obj{"URL": "jdbc:a"}}}),
			b: root("controllerServices", arr{obj{"identifier": "cs", "groupIdentifier": "root", "name": "Pool",
				"scheduledState": "ENABLED", "properties": obj{"URL": "jdbc:b"}}}),
			want: []string{
				"cs Controller Service pg=root PROPERTY_CHANGED a=jdbc:a b=jdbc:b: From 'jdbc:a' to 'jdbc:b'",
				"cs Controller Service pg=root SCHEDULED_STATE_CHANGED a=DISABLED b=ENABLED: Controller Service was enabled",
			},
		},
		{
			// The root group's name and position are not compared (an
			// imported flow is often renamed); its comments and settings are.
			name: "root group",
			a:    root(),
			b: root("name", "Renamed", "position", obj{"x": 5, "y": 5}, "comments", "c",
				"parameterContextName", "ctx", "flowFileConcurrency", nil, "defaultBackPressureObjectThreshold", nil),
			want: []string{
				"root Process Group pg=∅ COMMENTS_CHANGED a=∅ b=c: From 'null' to 'c'",
				"root Process Group pg=∅ PARAMETER_CONTEXT_CHANGED a=∅ b=ctx: From 'null' to 'ctx'",
			},
		},
		{
			name: "nested group changes",
			a:    root("processGroups", arr{child("g1", "processors", arr{proc("p1", "groupIdentifier", "g1")})}),
			b: root("processGroups", arr{child("g1", "name", "Renamed",
				"processors", arr{proc("p1", "groupIdentifier", "g1", "yieldDuration", "5 sec")})}),
			want: []string{
				"g1 Process Group pg=root NAME_CHANGED a=Child g1 b=Renamed: From 'Child g1' to 'Renamed'",
				"p1 Processor pg=g1 YIELD_DURATION_CHANGED a=1 sec b=5 sec: From '1 sec' to '5 sec'",
			},
		},
		{
			// DEEP strategy: an added group brings its contents and its
			// settings (compared with the defaults). A disabled added group
			// makes NiFi throw; it is described from the new side here.
			name: "nested group added",
			a:    root(),
			b: root("processGroups", arr{child("g1", "flowFileConcurrency", "SINGLE_FLOWFILE_PER_NODE",
				"defaultBackPressureObjectThreshold", 10000, "scheduledState", "DISABLED",
				"processors", arr{proc("p1", "groupIdentifier", "g1")},
				"processGroups", arr{child("g2", "groupIdentifier", "g1")})}),
			want: []string{
				"g1 Process Group pg=root COMPONENT_ADDED a=∅ b=g1: Process Group was added",
				"g1 Process Group pg=root FLOWFILE_CONCURRENCY_CHANGED a=UNBOUNDED b=SINGLE_FLOWFILE_PER_NODE: From 'UNBOUNDED' to 'SINGLE_FLOWFILE_PER_NODE'",
				"g1 Process Group pg=root SCHEDULED_STATE_CHANGED a=ENABLED b=DISABLED: Process Group was disabled",
				"g2 Process Group pg=g1 COMPONENT_ADDED a=∅ b=g2: Process Group was added",
				"p1 Processor pg=g1 COMPONENT_ADDED a=∅ b=p1: Processor was added",
			},
		},
		{
			name: "nested group removed",
			a: root("processGroups", arr{child("g1", "flowFileConcurrency", "SINGLE_FLOWFILE_PER_NODE",
				"processors", arr{proc("p1", "groupIdentifier", "g1")})}),
			b: root(),
			want: []string{
				"g1 Process Group pg=root COMPONENT_REMOVED a=g1 b=∅: Process Group was removed",
				"p1 Processor pg=g1 COMPONENT_REMOVED a=p1 b=∅: Processor was removed",
			},
		},
		{
			// Same coordinates on both sides: contents are not looked at,
			// but the group itself still is.
			name: "versioned child at same version",
			a: root("processGroups", arr{child("g1",
				"versionedFlowCoordinates", obj{"registryId": "r1", "bucketId": "b", "flowId": "f", "version": 3},
				"processors", arr{proc("p1")})}),
			b: root("processGroups", arr{child("g1", "comments", "x",
				"versionedFlowCoordinates", obj{"registryId": "r2", "bucketId": "b", "flowId": "f", "version": "3"},
				"processors", arr{proc("p2")})}),
			want: []string{"g1 Process Group pg=root COMMENTS_CHANGED a=∅ b=x: From 'null' to 'x'"},
		},
		{
			name: "versioned child at new version",
			a: root("processGroups", arr{child("g1",
				"versionedFlowCoordinates", obj{"bucketId": "b", "flowId": "f", "version": 1},
				"processors", arr{proc("p1")})}),
			b: root("processGroups", arr{child("g1",
				"versionedFlowCoordinates", obj{"bucketId": "b", "flowId": "f", "version": 2},
				"processors", arr{proc("p1", "penaltyDuration", "1 min")})}),
			want: []string{
				"g1 Process Group pg=root VERSIONED_FLOW_COORDINATES_CHANGED " +
					"a=VersionedFlowCoordinates[branch=null, bucketId=b, flowId=f, version=1, storageLocation=null] " +
					"b=VersionedFlowCoordinates[branch=null, bucketId=b, flowId=f, version=2, storageLocation=null]: Flow Version changed from 1 to 2",
				"p1 Processor pg=root PENALTY_DURATION_CHANGED a=30 sec b=1 min: From '30 sec' to '1 min'",
			},
		},
		{
			name: "child put under version control",
			a:    root("processGroups", arr{child("g1")}),
			b: root("processGroups", arr{child("g1",
				"versionedFlowCoordinates", obj{"bucketId": "b", "flowId": "f", "version": 1})}),
			want: []string{
				"g1 Process Group pg=root VERSIONED_FLOW_COORDINATES_CHANGED a=∅ " +
					"b=VersionedFlowCoordinates[branch=null, bucketId=b, flowId=f, version=1, storageLocation=null]: " +
					"From 'null' to 'VersionedFlowCoordinates[branch=null, bucketId=b, flowId=f, version=1, storageLocation=null]'",
			},
		},
		{
			// A component that moves to another group is removed there and
			// added here, in one group that describes the older component.
			name: "processor moved between groups",
			a:    root("processors", arr{p1}, "processGroups", arr{child("g1")}),
			b:    root("processGroups", arr{child("g1", "processors", arr{proc("p1", "groupIdentifier", "g1")})}),
			want: []string{
				"p1 Processor pg=root COMPONENT_ADDED a=∅ b=p1: Processor was added",
				"p1 Processor pg=root COMPONENT_REMOVED a=p1 b=∅: Processor was removed",
			},
		},
		{
			name: "64-bit numbers survive",
			a:    root("processors", arr{proc("p1", "runDurationMillis", json.Number("9007199254740993"))}),
			b:    root("processors", arr{proc("p1", "runDurationMillis", json.Number("9007199254740994"))}),
			want: []string{"p1 Processor pg=root RUN_DURATION_CHANGED a=9007199254740993 b=9007199254740994: From '9007199254740993' to '9007199254740994'"},
		},
		{
			// Documents list components in any order; so does the result.
			name: "component order is irrelevant",
			a:    root("processors", arr{proc("p1"), proc("p2"), proc("p3")}),
			b:    root("processors", arr{proc("p3"), proc("p1"), proc("p2")}),
		},
	}
}

func TestCompare(t *testing.T) {
	for _, tt := range compareCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compare(mustJSON(t, tt.a), mustJSON(t, tt.b))
			if err != nil {
				t.Fatal(err)
			}
			if lines := summarize(got); !slices.Equal(lines, tt.want) {
				t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// TestGroupJSON pins the wire shape: Java nulls are omitted, as with the
// registry's NON_NULL Jackson mapper, and no differences is an empty array.
func TestGroupJSON(t *testing.T) {
	same, err := Compare(mustJSON(t, root()), mustJSON(t, root()))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(mustJSON(t, same)); s != "[]" {
		t.Errorf("identical flows marshal as %s, want []", s)
	}

	a := root("labels", arr{obj{"identifier": "l1", "label": "x"}})
	b := root("labels", arr{obj{"identifier": "l1", "label": "x", "name": ""}})
	got, err := Compare(mustJSON(t, a), mustJSON(t, b))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"componentId":"l1","componentType":"Label","differences":[` +
		`{"changeDescription":"From 'null' to ''","differenceType":"NAME_CHANGED","differenceTypeDescription":"Component Name Changed","valueB":""}]}]`
	if s := string(mustJSON(t, got)); s != want {
		t.Errorf("got  %s\nwant %s", s, want)
	}
}

func TestCompareOrdering(t *testing.T) {
	var procsA, procsB arr
	for _, id := range []string{"z", "b", "m", "a"} {
		procsA = append(procsA, proc(id))
		procsB = append(procsB, proc(id, "name", "N", "comments", "c", "yieldDuration", "9 sec"))
	}
	a, b := mustJSON(t, root("processors", procsA)), mustJSON(t, root("processors", procsB))
	first, err := Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(first))
	for i, g := range first {
		ids[i] = *g.ComponentID
		types := make([]string, len(g.Differences))
		for j, d := range g.Differences {
			types[j] = d.DifferenceType
		}
		if !slices.IsSorted(types) {
			t.Errorf("differences of %s not sorted: %v", ids[i], types)
		}
	}
	if !slices.Equal(ids, []string{"a", "b", "m", "z"}) {
		t.Errorf("group order %v", ids)
	}
	for range 5 {
		again, _ := Compare(a, b)
		if !slices.Equal(summarize(first), summarize(again)) {
			t.Fatal("output is not deterministic")
		}
	}
}

func TestCompareLenientDecoding(t *testing.T) {
	// Jackson coerces scalars; unknown members and nulls are fine; keys are
	// case-sensitive, so "Name" is an unknown member; escapes decode.
	a := `{"identifier":"root","unknown":{"deep":[1,2]},"processors":[null,
		{"identifier":"p1","concurrentlySchedulableTaskCount":"2","runDurationMillis":25.9,"position":{"x":"1.5","y":null},
		 "scheduledState":"ENABLED","properties":{"k":null,"q":"a&b \"c\"\n\u00e9😀"},
		 "style":{"a":1,"b":true,"c":null},"Name":"ignored"}],
		"labels":null,"processGroups":[]}`
	b := `{"identifier":"root","processors":[
		{"identifier":"p1","concurrentlySchedulableTaskCount":2,"runDurationMillis":"25","position":{"x":1.5},
		 "scheduledState":"ENABLED","properties":{"q":"a\u0026b \u0022c\"\u000a\u00e9\ud83d\ude00"},
		 "style":{"a":"1","b":"true","c":null}},
		{"identifier":"p1","name":"duplicate: the first element with an id wins"}]}`
	got, err := Compare(json.RawMessage(a), json.RawMessage(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("expected no differences, got %v", summarize(got))
	}
}

func TestCompareErrors(t *testing.T) {
	valid := `{"identifier":"root"}`
	for name, doc := range map[string]string{
		"empty":               ``,
		"blank":               " \n",
		"not json":            `{"identifier":`,
		"null":                `null`,
		"array":               `[]`,
		"string":              `"x"`,
		"trailing data":       valid + `{}`,
		"trailing NUL":        valid + "\x00",
		"processors object":   `{"processors":{}}`,
		"processor is string": `{"processors":["p"]}`,
		"name is object":      `{"name":{}}`,
		"bad integer":         `{"processors":[{"identifier":"p","retryCount":"many"}]}`,
		"integer overflow":    `{"maxConcurrentTasks":4294967296}`,
		"bad boolean":         `{"inputPorts":[{"allowRemoteAccess":"maybe"}]}`,
		"set of objects":      `{"processors":[{"autoTerminatedRelationships":[{}]}]}`,
		"style is array":      `{"processors":[{"style":[]}]}`,
		"nested style":        `{"labels":[{"style":{"a":{}}}]}`,
		"bad escape":          `{"name":"\x"}`,
		"bad ignored member":  `{"unknown":[1,}`,
		"deep nesting":        `{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Compare(json.RawMessage(doc), json.RawMessage(valid)); err == nil {
				t.Error("no error for A")
			} else if !strings.Contains(err.Error(), "flow contents A") {
				t.Errorf("error does not name the document: %v", err)
			}
			if _, err := Compare(json.RawMessage(valid), json.RawMessage(doc)); err == nil {
				t.Error("no error for B")
			}
		})
	}
}

func TestMatchComponentsKeepsFirstDuplicate(t *testing.T) {
	type pair struct{ a, b string }
	var got []pair
	name := func(p *processor) string {
		if p == nil {
			return "-"
		}
		return p.Name.v
	}
	as := []*processor{{base: base{Identifier: str("x"), Name: str("first")}}, nil, {base: base{Identifier: str("x"), Name: str("second")}}}
	bs := []*processor{{base: base{Identifier: str("y"), Name: str("y")}}}
	matchComponents(as, bs, identifier, func(a, b *processor) { got = append(got, pair{name(a), name(b)}) })
	if want := []pair{{"first", "-"}, {"-", "y"}}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
