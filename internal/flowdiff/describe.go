package flowdiff

import "fmt"

// diffType is NiFi's DifferenceType. Only the constants a registry diff of
// two flowContents documents can produce are listed: parameter-context,
// reporting-task, flow-analysis-rule, parameter-provider and registry-client
// differences need flow parts the registry never passes to the comparator.
type diffType uint8

const (
	componentAdded diffType = iota
	componentRemoved
	nameChanged
	bundleChanged
	penaltyDurationChanged
	yieldDurationChanged
	retryCountChanged
	retriedRelationshipsChanged
	backoffMechanismChanged
	maxBackoffPeriodChanged
	bulletinLevelChanged
	autoTerminatedRelationshipsChanged
	schedulingStrategyChanged
	concurrentTasksChanged
	timeoutChanged
	runScheduleChanged
	scheduledStateChanged
	executionModeChanged
	runDurationChanged
	portFunctionChanged
	propertyChanged
	propertyAdded
	propertyRemoved
	propertySensitivityChanged
	propertyParameterized
	propertyParameterizationRemoved
	parameterContextChanged
	annotationDataChanged
	commentsChanged
	positionChanged
	sizeChanged
	styleChanged
	selectedRelationshipsChanged
	prioritizersChanged
	flowFileExpirationChanged
	backpressureObjectThresholdChanged
	backpressureDataSizeThresholdChanged
	loadBalanceStrategyChanged
	partitioningAttributeChanged
	loadBalanceCompressionChanged
	bendpointsChanged
	sourceChanged
	destinationChanged
	labelValueChanged
	zIndexChanged
	rpgTransportProtocolChanged
	rpgProxyHostChanged
	rpgProxyPortChanged
	rpgProxyUserChanged
	rpgNetworkInterfaceChanged
	rpgCommsTimeoutChanged
	rpgURLChanged
	remotePortBatchSizeChanged
	remotePortCompressionChanged
	versionedFlowCoordinatesChanged
	flowFileConcurrencyChanged
	flowFileOutboundPolicyChanged
	defaultBackpressureDataSizeChanged
	defaultBackpressureObjectCountChanged
	defaultFlowFileExpirationChanged
	logFileSuffixChanged
	executionEngineChanged
	numDiffTypes
)

// diffTypes holds each type's enum name (differenceType) and description
// (differenceTypeDescription), exactly as DifferenceType declares them.
var diffTypes = [numDiffTypes]struct{ name, description string }{
	componentAdded:                        {"COMPONENT_ADDED", "Component Added"},
	componentRemoved:                      {"COMPONENT_REMOVED", "Component Removed"},
	nameChanged:                           {"NAME_CHANGED", "Component Name Changed"},
	bundleChanged:                         {"BUNDLE_CHANGED", "Component Bundle Changed"},
	penaltyDurationChanged:                {"PENALTY_DURATION_CHANGED", "Penalty Duration Changed"},
	yieldDurationChanged:                  {"YIELD_DURATION_CHANGED", "Yield Duration Changed"},
	retryCountChanged:                     {"RETRY_COUNT_CHANGED", "Retry Count Changed"},
	retriedRelationshipsChanged:           {"RETRIED_RELATIONSHIPS_CHANGED", "Retried Relationships Changed"},
	backoffMechanismChanged:               {"BACKOFF_MECHANISM_CHANGED", "Backoff Mechanism Changed"},
	maxBackoffPeriodChanged:               {"MAX_BACKOFF_PERIOD_CHANGED", "Max Backoff Period Changed"},
	bulletinLevelChanged:                  {"BULLETIN_LEVEL_CHANGED", "Bulletin Level Changed"},
	autoTerminatedRelationshipsChanged:    {"AUTO_TERMINATED_RELATIONSHIPS_CHANGED", "Auto-Terminated Relationships Changed"},
	schedulingStrategyChanged:             {"SCHEDULING_STRATEGY_CHANGED", "Scheduling Strategy Changed"},
	concurrentTasksChanged:                {"CONCURRENT_TASKS_CHANGED", "Concurrent Tasks Changed"},
	timeoutChanged:                        {"TIMEOUT_CHANGED", "Timeout Changed"},
	runScheduleChanged:                    {"RUN_SCHEDULE_CHANGED", "Run Schedule Changed"},
	scheduledStateChanged:                 {"SCHEDULED_STATE_CHANGED", "Scheduled State Changed"},
	executionModeChanged:                  {"EXECUTION_MODE_CHANGED", "Execution Mode Changed"},
	runDurationChanged:                    {"RUN_DURATION_CHANGED", "Run Duration Changed"},
	portFunctionChanged:                   {"PORT_FUNCTION_CHANGED", "Port Function Changed"},
	propertyChanged:                       {"PROPERTY_CHANGED", "Property Value Changed"},
	propertyAdded:                         {"PROPERTY_ADDED", "Property Added"},
	propertyRemoved:                       {"PROPERTY_REMOVED", "Property Removed"},
	propertySensitivityChanged:            {"PROPERTY_SENSITIVITY_CHANGED", "Property Sensitivity Changed"},
	propertyParameterized:                 {"PROPERTY_PARAMETERIZED", "Property Parameterized"},
	propertyParameterizationRemoved:       {"PROPERTY_PARAMETERIZATION_REMOVED", "Property Parameterization Removed"},
	parameterContextChanged:               {"PARAMETER_CONTEXT_CHANGED", "Parameter Context Changed"},
	annotationDataChanged:                 {"ANNOTATION_DATA_CHANGED", "Annotation Data (Advanced UI Configuration) Changed"},
	commentsChanged:                       {"COMMENTS_CHANGED", "Comments Changed"},
	positionChanged:                       {"POSITION_CHANGED", "Position Changed"},
	sizeChanged:                           {"SIZE_CHANGED", "Size Changed"},
	styleChanged:                          {"STYLE_CHANGED", "Style Changed"},
	selectedRelationshipsChanged:          {"SELECTED_RELATIONSHIPS_CHANGED", "Selected Relationships Changed"},
	prioritizersChanged:                   {"PRIORITIZERS_CHANGED", "Prioritizers Changed"},
	flowFileExpirationChanged:             {"FLOWFILE_EXPIRATION_CHANGED", "FlowFile Expiration Changed"},
	backpressureObjectThresholdChanged:    {"BACKPRESSURE_OBJECT_THRESHOLD_CHANGED", "Backpressure Object Threshold Changed"},
	backpressureDataSizeThresholdChanged:  {"BACKPRESSURE_DATA_SIZE_THRESHOLD_CHANGED", "Backpressure Data Size Threshold Changed"},
	loadBalanceStrategyChanged:            {"LOAD_BALANCE_STRATEGY_CHANGED", "Load-Balance Strategy Changed"},
	partitioningAttributeChanged:          {"PARTITIONING_ATTRIBUTE_CHANGED", "Partitioning Attribute Changed"},
	loadBalanceCompressionChanged:         {"LOAD_BALANCE_COMPRESSION_CHANGED", "Load-Balance Compression Changed"},
	bendpointsChanged:                     {"BENDPOINTS_CHANGED", "Connection Bend Points Changed"},
	sourceChanged:                         {"SOURCE_CHANGED", "Connection Source Changed"},
	destinationChanged:                    {"DESTINATION_CHANGED", "Connection Destination Changed"},
	labelValueChanged:                     {"LABEL_VALUE_CHANGED", "Label Text Changed"},
	zIndexChanged:                         {"ZINDEX_CHANGED", "z-index Changed"},
	rpgTransportProtocolChanged:           {"RPG_TRANSPORT_PROTOCOL_CHANGED", "Remote Process Group Transport Protocol Changed"},
	rpgProxyHostChanged:                   {"RPG_PROXY_HOST_CHANGED", "Remote Process Group Proxy Host Changed"},
	rpgProxyPortChanged:                   {"RPG_PROXY_PORT_CHANGED", "Remote Process Group Proxy Port Changed"},
	rpgProxyUserChanged:                   {"RPG_PROXY_USER_CHANGED", "Remote Process Group Proxy User Changed"},
	rpgNetworkInterfaceChanged:            {"RPG_NETWORK_INTERFACE_CHANGED", "Remote Process Group Network Interface Changed"},
	rpgCommsTimeoutChanged:                {"RPG_COMMS_TIMEOUT_CHANGED", "Remote Process Group Communications Timeout Changed"},
	rpgURLChanged:                         {"RPG_URL_CHANGED", "Remote Process Group URL Changed"},
	remotePortBatchSizeChanged:            {"REMOTE_PORT_BATCH_SIZE_CHANGED", "Remote Process Group Port's Batch Size Changed"},
	remotePortCompressionChanged:          {"REMOTE_PORT_COMPRESSION_CHANGED", "Remote Process Group Port's Compression Flag Changed"},
	versionedFlowCoordinatesChanged:       {"VERSIONED_FLOW_COORDINATES_CHANGED", "Versioned Flow Coordinates Changed"},
	flowFileConcurrencyChanged:            {"FLOWFILE_CONCURRENCY_CHANGED", "FlowFile Concurrency Changed"},
	flowFileOutboundPolicyChanged:         {"FLOWFILE_OUTBOUND_POLICY_CHANGED", "FlowFile Outbound Policy Changed"},
	defaultBackpressureDataSizeChanged:    {"DEFAULT_BACKPRESSURE_DATA_SIZE_CHANGED", "Default Back Pressure Data Size Changed"},
	defaultBackpressureObjectCountChanged: {"DEFAULT_BACKPRESSURE_OBJECT_COUNT_CHANGED", "Default Back Pressure Object Count Changed"},
	defaultFlowFileExpirationChanged:      {"DEFAULT_FLOWFILE_EXPIRATION_CHANGED", "Default FlowFile Expiration Changed"},
	logFileSuffixChanged:                  {"LOG_FILE_SUFFIX_CHANGED", "Log File Suffix Changed"},
	executionEngineChanged:                {"EXECUTION_ENGINE_CHANGED", "Execution Engine Changed"},
}

func (t diffType) String() string { return diffTypes[t].name }

// describe produces changeDescription the way the registry's
// ConciseEvolvingDifferenceDescriptor does (the registry always uses that
// descriptor for the diff endpoint). field is the pretty field name
// (a property's display name, or "Flow Version").
//
// Where the Java code would throw a NullPointerException (a disabled
// process group inside an added group, a processor bundle missing on one
// side, a remote port without componentType) the registry answers 500;
// here the description falls back to the component that does exist, or to
// "null", so one odd component cannot break the whole diff.
func describe(t diffType, a, b *compRef, field optString, va, vb any) string {
	switch t {
	case componentAdded:
		return b.typeName + " was added"
	case componentRemoved:
		return a.typeName + " was removed"
	case scheduledStateChanged:
		switch vb {
		case "RUNNING":
			return either(b, a).typeName + " was started"
		case "ENABLED":
			return either(b, a).typeName + " was enabled"
		}
		return either(a, b).typeName + " was disabled"
	case propertyAdded:
		return "Property '" + field.String() + "' was added"
	case propertyRemoved:
		return "Property '" + field.String() + "' was removed"
	case propertyParameterized:
		return "Property '" + field.String() + "' was parameterized"
	case propertyParameterizationRemoved:
		return "Property '" + field.String() + "' is no longer a parameter reference"
	case positionChanged:
		return "Position was changed"
	case sizeChanged:
		return "Size was changed"
	case bendpointsChanged:
		return "Connection Bendpoints changed"
	case versionedFlowCoordinatesChanged:
		ca, okA := va.(*coordinates)
		cb, okB := vb.(*coordinates)
		if okA && okB && ca.StorageLocation == cb.StorageLocation && ca.BucketID == cb.BucketID &&
			ca.FlowID == cb.FlowID && ca.Version != cb.Version {
			return "Flow Version changed from " + ca.Version.String() + " to " + cb.Version.String()
		}
	case bundleChanged:
		if a != nil && b != nil && a.processor && b.processor {
			ba, _ := va.(*bundle)
			bb, _ := vb.(*bundle)
			return bundleArtifact(ba) + " version " + bundleVersion(ba) + " to " + bundleVersion(bb)
		}
	}
	return fmt.Sprintf("From '%s' to '%s'", javaString(va), javaString(vb))
}

func either(first, second *compRef) *compRef {
	if first != nil {
		return first
	}
	return second
}

func bundleArtifact(b *bundle) string {
	if b == nil {
		return "null"
	}
	return b.Artifact.String()
}

func bundleVersion(b *bundle) string {
	if b == nil {
		return "null"
	}
	return b.Version.String()
}
