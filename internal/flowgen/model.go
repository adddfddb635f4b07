package flowgen

import (
	"bytes"
	"encoding/json"
)

// The types below are the generator's private picture of NiFi's versioned
// flow model (org.apache.nifi.flow.*). Fields are declared in the order
// NiFi 2.x's own Jackson mapper writes them, so that the output reads like a
// document NiFi produced. Encoding rules, chosen so that decoding our output
// and encoding it again gives back the same bytes (Mutate relies on this):
//   - a field NiFi always writes is a plain field without omitempty;
//   - a field NiFi leaves out when null is omitempty (string, pointer);
//   - slices and maps are never nil in generated values, so they encode as
//     [] and {} like NiFi's empty collections, never as null;
//   - the only nulls are property values (map[string]*string), which NiFi
//     writes as null for properties that are not set.

type flowSnapshot struct {
	SnapshotMetadata           *snapshotMetadata                `json:"snapshotMetadata,omitempty"`
	FlowContents               *processGroup                    `json:"flowContents"`
	ExternalControllerServices map[string]*externalService      `json:"externalControllerServices"`
	ParameterContexts          map[string]*parameterContext     `json:"parameterContexts"`
	ParameterProviders         map[string]*parameterProviderRef `json:"parameterProviders"`
	FlowEncodingVersion        string                           `json:"flowEncodingVersion"`
}

type snapshotMetadata struct {
	BucketIdentifier string `json:"bucketIdentifier,omitempty"`
	FlowIdentifier   string `json:"flowIdentifier,omitempty"`
	Version          int32  `json:"version,omitempty"`
	Timestamp        int64  `json:"timestamp"`
	Author           string `json:"author"`
	Comments         string `json:"comments"`
}

type position struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

type bundle struct {
	Group    string `json:"group"`
	Artifact string `json:"artifact"`
	Version  string `json:"version"`
}

type processGroup struct {
	Identifier                           string                `json:"identifier"`
	InstanceIdentifier                   string                `json:"instanceIdentifier,omitempty"`
	Name                                 string                `json:"name"`
	Comments                             string                `json:"comments"`
	Position                             *position             `json:"position,omitempty"`
	ProcessGroups                        []*processGroup       `json:"processGroups"`
	RemoteProcessGroups                  []*remoteProcessGroup `json:"remoteProcessGroups"`
	Processors                           []*processor          `json:"processors"`
	InputPorts                           []*port               `json:"inputPorts"`
	OutputPorts                          []*port               `json:"outputPorts"`
	Connections                          []*connection         `json:"connections"`
	Labels                               []*label              `json:"labels"`
	Funnels                              []*funnel             `json:"funnels"`
	ControllerServices                   []*controllerService  `json:"controllerServices"`
	ParameterContextName                 string                `json:"parameterContextName,omitempty"`
	DefaultFlowFileExpiration            string                `json:"defaultFlowFileExpiration"`
	DefaultBackPressureObjectThreshold   int64                 `json:"defaultBackPressureObjectThreshold"`
	DefaultBackPressureDataSizeThreshold string                `json:"defaultBackPressureDataSizeThreshold"`
	ScheduledState                       string                `json:"scheduledState"`
	ExecutionEngine                      string                `json:"executionEngine"`
	MaxConcurrentTasks                   int32                 `json:"maxConcurrentTasks"`
	StatelessFlowTimeout                 string                `json:"statelessFlowTimeout"`
	LogFileSuffix                        string                `json:"logFileSuffix,omitempty"`
	ComponentType                        string                `json:"componentType"`
	FlowFileConcurrency                  string                `json:"flowFileConcurrency"`
	FlowFileOutboundPolicy               string                `json:"flowFileOutboundPolicy"`
	GroupIdentifier                      string                `json:"groupIdentifier,omitempty"`
}

type propertyDescriptor struct {
	Name                        string                `json:"name"`
	DisplayName                 string                `json:"displayName"`
	IdentifiesControllerService bool                  `json:"identifiesControllerService"`
	Sensitive                   bool                  `json:"sensitive"`
	Dynamic                     bool                  `json:"dynamic"`
	ResourceDefinition          *resourceDefinition   `json:"resourceDefinition,omitempty"`
	ListenPortDefinition        *listenPortDefinition `json:"listenPortDefinition,omitempty"`
}

type resourceDefinition struct {
	Cardinality   string   `json:"cardinality"`
	ResourceTypes []string `json:"resourceTypes"`
}

type listenPortDefinition struct {
	TransportProtocol    string   `json:"transportProtocol"`
	ApplicationProtocols []string `json:"applicationProtocols"`
}

type processor struct {
	Identifier                       string                         `json:"identifier"`
	InstanceIdentifier               string                         `json:"instanceIdentifier,omitempty"`
	Name                             string                         `json:"name"`
	Comments                         string                         `json:"comments"`
	Position                         *position                      `json:"position,omitempty"`
	Type                             string                         `json:"type"`
	Bundle                           bundle                         `json:"bundle"`
	Properties                       map[string]*string             `json:"properties"`
	PropertyDescriptors              map[string]*propertyDescriptor `json:"propertyDescriptors"`
	Style                            map[string]string              `json:"style"`
	AnnotationData                   string                         `json:"annotationData,omitempty"`
	SchedulingPeriod                 string                         `json:"schedulingPeriod"`
	SchedulingStrategy               string                         `json:"schedulingStrategy"`
	ExecutionNode                    string                         `json:"executionNode"`
	PenaltyDuration                  string                         `json:"penaltyDuration"`
	YieldDuration                    string                         `json:"yieldDuration"`
	BulletinLevel                    string                         `json:"bulletinLevel"`
	RunDurationMillis                int64                          `json:"runDurationMillis"`
	ConcurrentlySchedulableTaskCount int32                          `json:"concurrentlySchedulableTaskCount"`
	AutoTerminatedRelationships      []string                       `json:"autoTerminatedRelationships"`
	ScheduledState                   string                         `json:"scheduledState"`
	RetryCount                       int32                          `json:"retryCount"`
	RetriedRelationships             []string                       `json:"retriedRelationships"`
	BackoffMechanism                 string                         `json:"backoffMechanism"`
	MaxBackoffPeriod                 string                         `json:"maxBackoffPeriod"`
	ComponentType                    string                         `json:"componentType"`
	GroupIdentifier                  string                         `json:"groupIdentifier"`
}

type controllerServiceAPI struct {
	Type   string `json:"type"`
	Bundle bundle `json:"bundle"`
}

type controllerService struct {
	Identifier            string                         `json:"identifier"`
	InstanceIdentifier    string                         `json:"instanceIdentifier,omitempty"`
	Name                  string                         `json:"name"`
	Comments              string                         `json:"comments"`
	Type                  string                         `json:"type"`
	Bundle                bundle                         `json:"bundle"`
	Properties            map[string]*string             `json:"properties"`
	PropertyDescriptors   map[string]*propertyDescriptor `json:"propertyDescriptors"`
	ControllerServiceApis []controllerServiceAPI         `json:"controllerServiceApis"`
	ScheduledState        string                         `json:"scheduledState"`
	BulletinLevel         string                         `json:"bulletinLevel"`
	ComponentType         string                         `json:"componentType"`
	GroupIdentifier       string                         `json:"groupIdentifier"`
}

// connectable is NiFi's ConnectableComponent: how a connection names its
// ends. groupId is the group that holds the end, which differs from the
// connection's group when the end is a port of a child group or of a remote
// process group.
type connectable struct {
	ID                 string  `json:"id"`
	Type               string  `json:"type"`
	GroupID            string  `json:"groupId"`
	Name               string  `json:"name"`
	Comments           *string `json:"comments,omitempty"`
	InstanceIdentifier string  `json:"instanceIdentifier,omitempty"`
}

type connection struct {
	Identifier                    string      `json:"identifier"`
	InstanceIdentifier            string      `json:"instanceIdentifier,omitempty"`
	Name                          string      `json:"name"`
	Source                        connectable `json:"source"`
	Destination                   connectable `json:"destination"`
	LabelIndex                    int32       `json:"labelIndex"`
	ZIndex                        int64       `json:"zIndex"`
	SelectedRelationships         []string    `json:"selectedRelationships"`
	BackPressureObjectThreshold   int64       `json:"backPressureObjectThreshold"`
	BackPressureDataSizeThreshold string      `json:"backPressureDataSizeThreshold"`
	FlowFileExpiration            string      `json:"flowFileExpiration"`
	Prioritizers                  []string    `json:"prioritizers"`
	Bends                         []position  `json:"bends"`
	LoadBalanceStrategy           string      `json:"loadBalanceStrategy"`
	PartitioningAttribute         string      `json:"partitioningAttribute"`
	LoadBalanceCompression        string      `json:"loadBalanceCompression"`
	ComponentType                 string      `json:"componentType"`
	GroupIdentifier               string      `json:"groupIdentifier"`
}

type port struct {
	Identifier                       string    `json:"identifier"`
	InstanceIdentifier               string    `json:"instanceIdentifier,omitempty"`
	Name                             string    `json:"name"`
	Position                         *position `json:"position,omitempty"`
	Type                             string    `json:"type"`
	ConcurrentlySchedulableTaskCount int32     `json:"concurrentlySchedulableTaskCount"`
	ScheduledState                   string    `json:"scheduledState"`
	AllowRemoteAccess                bool      `json:"allowRemoteAccess"`
	PortFunction                     string    `json:"portFunction"`
	ComponentType                    string    `json:"componentType"`
	GroupIdentifier                  string    `json:"groupIdentifier"`
}

type label struct {
	Identifier         string            `json:"identifier"`
	InstanceIdentifier string            `json:"instanceIdentifier,omitempty"`
	Position           *position         `json:"position,omitempty"`
	Label              string            `json:"label"`
	ZIndex             int64             `json:"zIndex"`
	Width              float64           `json:"width"`
	Height             float64           `json:"height"`
	Style              map[string]string `json:"style"`
	ComponentType      string            `json:"componentType"`
	GroupIdentifier    string            `json:"groupIdentifier"`
}

type funnel struct {
	Identifier         string    `json:"identifier"`
	InstanceIdentifier string    `json:"instanceIdentifier,omitempty"`
	Position           *position `json:"position,omitempty"`
	ComponentType      string    `json:"componentType"`
	GroupIdentifier    string    `json:"groupIdentifier"`
}

type batchSize struct {
	Count    int32  `json:"count,omitempty"`
	Size     string `json:"size,omitempty"`
	Duration string `json:"duration,omitempty"`
}

type remoteGroupPort struct {
	Identifier                       string     `json:"identifier"`
	InstanceIdentifier               string     `json:"instanceIdentifier,omitempty"`
	Name                             string     `json:"name"`
	Comments                         string     `json:"comments,omitempty"`
	RemoteGroupID                    string     `json:"remoteGroupId"`
	ConcurrentlySchedulableTaskCount int32      `json:"concurrentlySchedulableTaskCount"`
	UseCompression                   bool       `json:"useCompression"`
	BatchSize                        *batchSize `json:"batchSize,omitempty"`
	TargetID                         string     `json:"targetId"`
	ScheduledState                   string     `json:"scheduledState"`
	ComponentType                    string     `json:"componentType"`
	GroupIdentifier                  string     `json:"groupIdentifier"`
}

type remoteProcessGroup struct {
	Identifier            string             `json:"identifier"`
	InstanceIdentifier    string             `json:"instanceIdentifier,omitempty"`
	Name                  string             `json:"name"`
	Comments              string             `json:"comments"`
	Position              *position          `json:"position,omitempty"`
	TargetUris            string             `json:"targetUris"`
	TransportProtocol     string             `json:"transportProtocol"`
	LocalNetworkInterface string             `json:"localNetworkInterface"`
	ProxyHost             string             `json:"proxyHost,omitempty"`
	ProxyPort             int32              `json:"proxyPort,omitempty"`
	ProxyUser             string             `json:"proxyUser,omitempty"`
	CommunicationsTimeout string             `json:"communicationsTimeout"`
	YieldDuration         string             `json:"yieldDuration"`
	InputPorts            []*remoteGroupPort `json:"inputPorts"`
	OutputPorts           []*remoteGroupPort `json:"outputPorts"`
	ComponentType         string             `json:"componentType"`
	GroupIdentifier       string             `json:"groupIdentifier"`
}

type externalService struct {
	Identifier string `json:"identifier"`
	Name       string `json:"name"`
}

type parameterProviderRef struct {
	Identifier string `json:"identifier"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Bundle     bundle `json:"bundle"`
}

type parameterContext struct {
	Name                       string       `json:"name"`
	Parameters                 []*parameter `json:"parameters"`
	InheritedParameterContexts []string     `json:"inheritedParameterContexts"`
	Description                string       `json:"description"`
	ParameterProvider          string       `json:"parameterProvider,omitempty"`
	ParameterGroupName         string       `json:"parameterGroupName,omitempty"`
	Synchronized               *bool        `json:"synchronized,omitempty"`
	ComponentType              string       `json:"componentType"`
}

type parameter struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Sensitive   bool    `json:"sensitive"`
	Provided    bool    `json:"provided"`
	Value       *string `json:"value,omitempty"`
}

// encode marshals v the way Jackson does it: compact and without the HTML
// escaping (<, >, & as \u003c ...) that encoding/json applies by default,
// which NiFi never does and which would distort sizes and compression.
func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only plain structs, maps, strings and finite floats reach here.
		panic("flowgen: encode: " + err.Error())
	}
	b := buf.Bytes()
	return b[:len(b)-1] // drop the newline Encoder appends
}

// encodedLen is len(encode(v)).
func encodedLen(v any) int { return len(encode(v)) }
