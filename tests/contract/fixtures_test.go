package contract

import (
	"encoding/json"
	"strings"
)

// The contract flow: a root group with a GenerateFlowFile processor
// connected to a funnel, plus the maps next to flowContents that NiFi 2.x
// sends (an external controller service, a parameter context, a parameter
// provider) and flowEncodingVersion. Members are in NiFi's (alphabetical)
// order. Version 2 renames and reconfigures the processor, moves it and
// adds a label, which gives the diff endpoint something to report.

const flowV1Contents = `{
  "comments": "",
  "componentType": "PROCESS_GROUP",
  "connections": [{
    "backPressureDataSizeThreshold": "1 GB",
    "backPressureObjectThreshold": 10000,
    "bends": [],
    "componentType": "CONNECTION",
    "destination": {"groupId": "c0a80001-root", "id": "c0a80001-funnel", "name": "Funnel", "type": "FUNNEL"},
    "flowFileExpiration": "0 sec",
    "groupIdentifier": "c0a80001-root",
    "identifier": "c0a80001-conn",
    "labelIndex": 1,
    "loadBalanceCompression": "DO_NOT_COMPRESS",
    "loadBalanceStrategy": "DO_NOT_LOAD_BALANCE",
    "name": "",
    "partitioningAttribute": "",
    "prioritizers": [],
    "selectedRelationships": ["success"],
    "source": {"groupId": "c0a80001-root", "id": "c0a80001-proc", "name": "Generate", "type": "PROCESSOR"},
    "zIndex": 0
  }],
  "controllerServices": [],
  "defaultBackPressureDataSizeThreshold": "1 GB",
  "defaultBackPressureObjectThreshold": 10000,
  "defaultFlowFileExpiration": "0 sec",
  "executionEngine": "INHERITED",
  "flowFileConcurrency": "UNBOUNDED",
  "flowFileOutboundPolicy": "STREAM_WHEN_AVAILABLE",
  "funnels": [{
    "componentType": "FUNNEL",
    "groupIdentifier": "c0a80001-root",
    "identifier": "c0a80001-funnel",
    "position": {"x": 400.0, "y": 100.0}
  }],
  "identifier": "c0a80001-root",
  "inputPorts": [],
  "labels": [],
  "maxConcurrentTasks": 1,
  "name": "Contract flow",
  "outputPorts": [],
  "parameterContextName": "contract-params",
  "position": {"x": 0.0, "y": 0.0},
  "processGroups": [],
  "processors": [{
    "autoTerminatedRelationships": [],
    "backoffMechanism": "PENALIZE_FLOWFILE",
    "bulletinLevel": "WARN",
    "bundle": {"artifact": "nifi-standard-nar", "group": "org.apache.nifi", "version": "2.7.2"},
    "comments": "",
    "componentType": "PROCESSOR",
    "concurrentlySchedulableTaskCount": 1,
    "executionNode": "ALL",
    "groupIdentifier": "c0a80001-root",
    "identifier": "c0a80001-proc",
    "maxBackoffPeriod": "10 mins",
    "name": "Generate",
    "penaltyDuration": "30 sec",
    "position": {"x": 100.0, "y": 100.0},
    "properties": {"Batch Size": "1", "Data Format": "Text", "File Size": "1 KB", "Unique FlowFiles": "false"},
    "propertyDescriptors": {},
    "retriedRelationships": [],
    "retryCount": 10,
    "runDurationMillis": 0,
    "scheduledState": "ENABLED",
    "schedulingPeriod": "1 min",
    "schedulingStrategy": "TIMER_DRIVEN",
    "style": {},
    "type": "org.apache.nifi.processors.standard.GenerateFlowFile",
    "yieldDuration": "1 sec"
  }],
  "remoteProcessGroups": [],
  "scheduledState": "ENABLED",
  "statelessFlowTimeout": "1 min"
}`

// flowV2Contents derives version 2 from version 1.
func flowV2Contents() string {
	r := strings.NewReplacer(
		`"name": "Generate",`, `"name": "Generate data",`,
		`"File Size": "1 KB"`, `"File Size": "2 KB"`,
		`"position": {"x": 100.0, "y": 100.0}`, `"position": {"x": 160.0, "y": 120.0}`,
		`"labels": [],`, `"labels": [{"componentType": "LABEL", "groupIdentifier": "c0a80001-root", "height": 40.0, "identifier": "c0a80001-label", "label": "Generates test data", "position": {"x": 100.0, "y": 20.0}, "style": {"font-size": "12px"}, "width": 200.0, "zIndex": 0}],`,
	)
	out := r.Replace(flowV1Contents)
	if out == flowV1Contents {
		panic("flowV2Contents: no replacement applied")
	}
	return out
}

const flowMaps = `
  "externalControllerServices": {"c0a80001-ssl": {"identifier": "c0a80001-ssl", "name": "Shared SSL Context"}},
  "flowEncodingVersion": "1.0",
  "parameterContexts": {"contract-params": {"componentType": "PARAMETER_CONTEXT", "description": "", "identifier": "c0a80001-params", "inheritedParameterContexts": [], "name": "contract-params", "parameters": [{"description": "rate", "name": "rate", "provided": false, "sensitive": false, "value": "10"}]}},
  "parameterProviders": {}`

// snapshotBody builds a POST .../versions body around flow contents.
func snapshotBody(contents string, metadata map[string]any) []byte {
	md, err := json.Marshal(metadata)
	if err != nil {
		panic(err)
	}
	return []byte(`{` + flowMaps + `,
  "flowContents": ` + contents + `,
  "snapshotMetadata": ` + string(md) + `
}`)
}
