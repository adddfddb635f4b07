package flowgen

import (
	"strconv"
	"strings"
)

// The catalog describes the processors and controller services the
// generator knows: NiFi class names, NAR coordinates, relationships and
// property descriptors (real NiFi 2.x property names), each with a value
// generator. Values are drawn per instance, so two ConvertRecord processors
// share descriptors (as in real flows, where descriptors repeat a lot) but
// not necessarily values.

// api is a controller service interface and the NAR that defines it.
type api struct{ typ, artifact string }

var (
	apiReader         = api{"org.apache.nifi.serialization.RecordReaderFactory", "nifi-standard-services-api-nar"}
	apiWriter         = api{"org.apache.nifi.serialization.RecordSetWriterFactory", "nifi-standard-services-api-nar"}
	apiSchemaRegistry = api{"org.apache.nifi.schemaregistry.services.SchemaRegistry", "nifi-standard-services-api-nar"}
	apiDBCP           = api{"org.apache.nifi.dbcp.DBCPService", "nifi-standard-services-api-nar"}
	apiSSL            = api{"org.apache.nifi.ssl.SSLContextService", "nifi-standard-services-api-nar"}
	apiRestrictedSSL  = api{"org.apache.nifi.ssl.RestrictedSSLContextService", "nifi-standard-services-api-nar"}
	apiAWS            = api{"org.apache.nifi.processors.aws.credentials.provider.service.AWSCredentialsProviderService", "nifi-aws-service-api-nar"}
	apiAWSv2          = api{"org.apache.nifi.processors.aws.credentials.provider.AwsCredentialsProviderService", "nifi-aws-service-api-nar"}
	apiKafka          = api{"org.apache.nifi.kafka.service.api.KafkaConnectionService", "nifi-kafka-service-api-nar"}
	apiCache          = api{"org.apache.nifi.distributed.cache.client.DistributedMapCacheClient", "nifi-standard-services-api-nar"}
	apiProxy          = api{"org.apache.nifi.proxy.ProxyConfigurationService", "nifi-standard-services-api-nar"}
	apiOAuth2         = api{"org.apache.nifi.oauth2.OAuth2AccessTokenProvider", "nifi-standard-services-api-nar"}
	apiKerberos       = api{"org.apache.nifi.kerberos.KerberosUserService", "nifi-standard-services-api-nar"}
	apiRecordLookup   = api{"org.apache.nifi.lookup.LookupService", "nifi-standard-services-api-nar"}
)

// val draws a property value; nil means "not set" (null in the JSON).
type val func(c *pctx) *string

type propSpec struct {
	name, display string
	svc           *api    // the property names a controller service of this API
	svcProb       float64 // how often such a property is set
	sensitive     bool
	res           *resourceDefinition
	listen        *listenPortDefinition
	v             val
}

type dynProp struct{ name, value string }

const (
	roleSource = iota
	roleTransform
	roleSink
)

type procKind struct {
	key, typ, artifact string
	role               int
	rels               []string
	primary            string   // relationship that continues the pipeline
	failure            []string // relationships that carry failed FlowFiles
	props              []propSpec
	dyn                func(c *pctx) []dynProp
	dynRels            bool // dynamic property names are also relationships
	sched              func(c *pctx) (strategy, period string)
	name               func(c *pctx) string
	longText           bool // carries a script/SQL/spec; keep it out of tight budgets
}

type serviceKind struct {
	key, typ, artifact string
	apis               []api
	name               func(c *pctx) string
	props              []propSpec
	dyn                func(c *pctx) []dynProp
}

// --- property spec helpers ---

func p(name string, v val) propSpec           { return propSpec{name: name, display: name, v: v} }
func pd(name, display string, v val) propSpec { return propSpec{name: name, display: display, v: v} }
func svcp(name string, a api, prob float64) propSpec {
	return propSpec{name: name, display: name, svc: &a, svcProb: prob}
}
func svcpd(name, display string, a api, prob float64) propSpec {
	return propSpec{name: name, display: display, svc: &a, svcProb: prob}
}

// sens is a sensitive property. NiFi never writes a sensitive value into a
// versioned flow; only a parameter reference survives.
func sens(name, display, param string) propSpec {
	return propSpec{name: name, display: display, sensitive: true, v: func(c *pctx) *string {
		if param == "" || c.r.chance(0.25) {
			return nil
		}
		return c.param(param, "", true, "")
	}}
}

func withRes(ps propSpec, card string, types ...string) propSpec {
	ps.res = &resourceDefinition{Cardinality: card, ResourceTypes: types}
	return ps
}

func str(s string) *string { return &s }

// lit is a literal value.
func lit(s string) val { return func(*pctx) *string { return str(s) } }

// unset is a property that is not set.
var unset val = nil

// oneOf picks one of the given literals.
func oneOf(xs ...string) val { return func(c *pctx) *string { return str(pick(c.r, xs)) } }

// maybe sets the property with probability p, using v.
func maybe(prob float64, v val) val {
	return func(c *pctx) *string {
		if c.r.chance(prob) {
			return v(c)
		}
		return nil
	}
}

// computed computes a value from the stage context.
func computed(f func(c *pctx) string) val { return func(c *pctx) *string { return str(f(c)) } }

// paramRef references a parameter, creating it in the group's parameter context on
// first use with the value f draws.
func paramRef(name string, f func(c *pctx) string) val {
	return func(c *pctx) *string { return c.param(name, f(c), false, "") }
}

// paramRefDesc is paramRef with a parameter description.
func paramRefDesc(name, desc string, f func(c *pctx) string) val {
	return func(c *pctx) *string { return c.param(name, f(c), false, desc) }
}

func dur(c *pctx, xs ...string) string { return pick(c.r, xs) }

func timerSched(periods ...string) func(c *pctx) (string, string) {
	return func(c *pctx) (string, string) { return "TIMER_DRIVEN", pick(c.r, periods) }
}

func named(defaults ...string) func(c *pctx) string {
	return func(c *pctx) string {
		s := pick(c.r, defaults)
		return strings.ReplaceAll(s, "{E}", c.st.e.title)
	}
}

// --- shared value generators ---

func topicIn(c *pctx) string  { return c.st.topicIn }
func topicOut(c *pctx) string { return c.st.topicOut }
func entityName(c *pctx) string {
	return c.st.e.name
}

func kafkaServers(c *pctx) string {
	n := c.r.between(2, 4)
	env := c.g.env
	var hs []string
	for i := 0; i < n; i++ {
		hs = append(hs, "kafka-"+strconv.Itoa(i)+"."+env+".data.acme.internal:9093")
	}
	return strings.Join(hs, ",")
}

func s3Key(c *pctx) string {
	if c.r.chance(0.25) {
		c.param("S3 Prefix", pick(c.r, []string{"landing", "raw", "bronze"}), false, "Key prefix inside the bucket")
		return "${#{S3 Prefix}:append('/')}" + c.st.e.name + "/${now():format('yyyy/MM/dd/HH', 'UTC')}/${uuid}.${format}"
	}
	return pick(c.r, []string{
		c.st.e.name + "/dt=${now():format('yyyy-MM-dd')}/${filename}",
		"raw/${kafka.topic}/${kafka.partition}/${kafka.offset}.json",
		"${s3.prefix:replaceNull('landing')}/" + c.st.e.name + "/${uuid}.avro",
	})
}

func jdbcURL(c *pctx) string {
	return pick(c.r, []string{
		"jdbc:postgresql://pg-" + c.g.env + ".acme.internal:5432/warehouse?sslmode=require",
		"jdbc:mysql://mysql-" + c.g.env + ".acme.internal:3306/ops?useSSL=true&serverTimezone=UTC",
		"jdbc:sqlserver://mssql-" + c.g.env + ".acme.internal:1433;databaseName=erp;encrypt=true",
		"jdbc:oracle:thin:@//ora-" + c.g.env + ".acme.internal:1521/ORCLPDB1",
	})
}

func attrName(c *pctx) string {
	return pick(c.r, []string{"record.count", c.st.e.name + ".count", "processed.count", "batch.size"})
}

// --- processors ---

var recordSchemaProps = []propSpec{
	pd("Schema Access Strategy", "Schema Access Strategy", oneOf("schema-name", "inherit-record-schema", "infer-schema", "schema-text-property")),
	svcp("Schema Registry", apiSchemaRegistry, 0.3),
	p("Schema Name", oneOf("${schema.name}", "${kafka.topic}")),
	p("Schema Version", unset),
	p("Schema Branch", unset),
	p("Schema Text", lit("${avro.schema}")),
	svcp("Schema Reference Reader", apiSchemaRegistry, 0),
}

var procKinds = []*procKind{
	{
		key: "GenerateFlowFile", typ: "org.apache.nifi.processors.standard.GenerateFlowFile", artifact: "nifi-standard-nar",
		role: roleSource, rels: []string{"success"}, primary: "success",
		sched: timerSched("1 min", "30 sec", "5 min", "10 sec", "1 hour"),
		name:  named("GenerateFlowFile", "Generate test {E}", "Trigger nightly run", "Heartbeat"),
		props: []propSpec{
			p("File Size", oneOf("0B", "1 KB", "10 KB")),
			p("Batch Size", oneOf("1", "1", "10", "100")),
			p("Data Format", oneOf("Text", "Binary")),
			p("Unique FlowFiles", oneOf("false", "true")),
			pd("generate-ff-custom-text", "Custom Text", func(c *pctx) *string {
				if c.tight || c.r.chance(0.3) {
					return nil
				}
				return str(sampleRecord(c.r, c.st.e))
			}),
			pd("character-set", "Character Set", lit("UTF-8")),
			pd("mime-type", "Mime Type", maybe(0.6, lit("application/json"))),
		},
		dyn: func(c *pctx) []dynProp {
			if c.r.chance(0.6) {
				return nil
			}
			return []dynProp{{"tenant.id", pick(c.r, []string{"acme", "acme-eu", "globex"})}, {"source.system", "generator"}}
		},
	},
	{
		key: "ConsumeKafka", typ: "org.apache.nifi.kafka.processors.ConsumeKafka", artifact: "nifi-kafka-nar",
		role: roleSource, rels: []string{"success", "parse failure"}, primary: "success", failure: []string{"parse failure"},
		sched: timerSched("0 sec"),
		name:  named("ConsumeKafka", "Consume {E}", "Consume {E} events", "Read from Kafka"),
		props: []propSpec{
			svcp("Kafka Connection Service", apiKafka, 1),
			p("Group ID", paramRef("Consumer Group ID", func(c *pctx) string { return "nifi-" + c.g.env + "-" + c.st.e.name })),
			p("Topic Format", lit("names")),
			p("Topics", computed(topicIn)),
			pd("auto.offset.reset", "Auto Offset Reset", oneOf("latest", "earliest")),
			p("Commit Offsets", lit("true")),
			p("Max Uncommitted Size", unset),
			p("Max Uncommitted Time", oneOf("1 sec", "5 secs", "1 sec")),
			p("Header Encoding", lit("UTF-8")),
			p("Header Name Pattern", maybe(0.3, lit("x-.*"))),
			p("Processing Strategy", lit("RECORD")),
			svcp("Record Reader", apiReader, 1),
			svcp("Record Writer", apiWriter, 1),
			p("Output Strategy", oneOf("USE_VALUE", "USE_WRAPPER")),
			p("Key Attribute Encoding", lit("utf-8")),
			p("Key Format", lit("byte-array")),
			svcp("Key Record Reader", apiReader, 0),
			p("Message Demarcator", unset),
			p("Separate By Key", lit("false")),
		},
	},
	{
		key: "ListFile", typ: "org.apache.nifi.processors.standard.ListFile", artifact: "nifi-standard-nar",
		role: roleSource, rels: []string{"success"}, primary: "success",
		sched: timerSched("1 min", "5 min", "30 sec"),
		name:  named("ListFile", "List {E} drop folder", "List inbound files"),
		props: []propSpec{
			p("Input Directory", computed(func(c *pctx) string { return "/data/inbound/" + c.st.e.name })),
			p("listing-strategy", lit("timestamps")),
			p("Recurse Subdirectories", oneOf("true", "false")),
			svcp("record-writer", apiWriter, 0),
			p("File Filter", computed(func(c *pctx) string { return "[^\\.].*\\." + c.st.format })),
			p("Path Filter", unset),
			p("Include File Attributes", lit("true")),
			p("Minimum File Age", oneOf("0 sec", "30 sec")),
			p("Maximum File Age", unset),
			p("Minimum File Size", lit("0 B")),
			p("Maximum File Size", unset),
			p("Ignore Hidden Files", lit("true")),
			pd("target-system-timestamp-precision", "Target System Timestamp Precision", lit("auto-detect")),
			svcpd("et-state-cache", "Entity Tracking State Cache", apiCache, 0),
			pd("et-time-window", "Entity Tracking Time Window", lit("3 hours")),
			pd("et-initial-listing-target", "Entity Tracking Initial Listing Target", lit("all")),
			pd("max-listing-time", "Max Directory Listing Time", lit("3 mins")),
			pd("max-operation-time", "Max Disk Operation Time", lit("10 secs")),
			pd("max-performance-metrics", "Maximum Number of Files to Track", lit("100000")),
		},
	},
	{
		key: "FetchFile", typ: "org.apache.nifi.processors.standard.FetchFile", artifact: "nifi-standard-nar",
		role: roleTransform, rels: []string{"success", "not.found", "permission.denied", "failure"}, primary: "success",
		failure: []string{"failure", "not.found", "permission.denied"},
		name:    named("FetchFile", "Fetch {E} file"),
		props: []propSpec{
			p("File to Fetch", lit("${absolute.path}/${filename}")),
			p("Completion Strategy", oneOf("None", "Move File", "Delete File")),
			p("Move Destination Directory", maybe(0.4, computed(func(c *pctx) string { return "/data/processed/" + c.st.e.name }))),
			p("Move Conflict Strategy", lit("Rename")),
			p("Log level when file not found", lit("ERROR")),
			p("Log level when permission denied", lit("ERROR")),
		},
	},
	{
		key: "ListenHTTP", typ: "org.apache.nifi.processors.standard.ListenHTTP", artifact: "nifi-standard-nar",
		role: roleSource, rels: []string{"success"}, primary: "success",
		sched: timerSched("0 sec"),
		name:  named("ListenHTTP", "Receive {E} webhooks", "Partner push endpoint"),
		props: []propSpec{
			p("Base Path", computed(func(c *pctx) string { return "api/" + c.st.e.name })),
			{name: "Listening Port", display: "Listening Port", v: paramRef("HTTP Listen Port", func(c *pctx) string { return strconv.Itoa(c.r.between(8081, 9099)) }),
				listen: &listenPortDefinition{TransportProtocol: "TCP", ApplicationProtocols: []string{"http/1.1", "h2"}}},
			p("Health Check Port", unset),
			p("Max Data to Receive per Second", unset),
			svcp("SSL Context Service", apiRestrictedSSL, 0.7),
			p("HTTP Protocols", oneOf("HTTP_1_1", "H2_HTTP_1_1")),
			p("Client Authentication", oneOf("AUTO", "REQUIRED")),
			p("Authorized Subject DN Pattern", lit(".*")),
			p("Authorized Issuer DN Pattern", lit(".*")),
			p("Max Unconfirmed Flowfile Time", lit("60 secs")),
			p("HTTP Headers to receive as Attributes (Regex)", maybe(0.5, lit("X-.*"))),
			p("Return Code", lit("200")),
			p("Multipart Request Max Size", lit("1 MB")),
			p("Multipart Read Buffer Size", lit("512 KB")),
			p("Maximum Thread Pool Size", lit("200")),
			p("Request Header Maximum Size", lit("8 KB")),
			svcp("Record Reader", apiReader, 0),
			svcp("Record Writer", apiWriter, 0),
		},
	},
	{
		key: "ExecuteSQLRecord", typ: "org.apache.nifi.processors.standard.ExecuteSQLRecord", artifact: "nifi-standard-nar",
		role: roleSource, rels: []string{"success", "failure"}, primary: "success", failure: []string{"failure"}, longText: true,
		sched: func(c *pctx) (string, string) {
			if c.r.chance(0.5) {
				return "CRON_DRIVEN", pick(c.r, []string{"0 0/15 * * * ?", "0 0 2 * * ?", "0 30 * * * ?"})
			}
			return "TIMER_DRIVEN", pick(c.r, []string{"5 min", "1 hour", "15 min"})
		},
		name: named("ExecuteSQLRecord", "Extract {E} delta", "Query {E} since last run"),
		props: []propSpec{
			svcpd("Database Connection Pooling Service", "Database Connection Pooling Service", apiDBCP, 1),
			pd("sql-pre-query", "SQL Pre-Query", unset),
			pd("SQL select query", "SQL select query", computed(func(c *pctx) string { return selectSQL(c.r, c.st.e, c.st.schema) })),
			pd("sql-post-query", "SQL Post-Query", unset),
			p("Max Wait Time", oneOf("0 seconds", "30 seconds")),
			svcpd("esqlrecord-record-writer", "Record Writer", apiWriter, 1),
			pd("esqlrecord-normalize", "Normalize Table/Column Names", lit("false")),
			pd("dbf-user-logical-types", "Use Avro Logical Types", oneOf("false", "true")),
			pd("dbf-default-precision", "Default Decimal Precision", lit("10")),
			pd("dbf-default-scale", "Default Decimal Scale", lit("0")),
			pd("esql-max-rows", "Max Rows Per Flow File", oneOf("0", "10000")),
			pd("esql-output-batch-size", "Output Batch Size", lit("0")),
			pd("esql-fetch-size", "Fetch Size", oneOf("0", "1000")),
			pd("esql-auto-commit", "Set Auto Commit", lit("true")),
		},
	},
	{
		key: "UpdateAttribute", typ: "org.apache.nifi.processors.attributes.UpdateAttribute", artifact: "nifi-update-attribute-nar",
		role: roleTransform, rels: []string{"success"}, primary: "success",
		name: named("UpdateAttribute", "Set {E} attributes", "Set S3 key", "Tag tenant", "Add lineage attributes"),
		props: []propSpec{
			p("Delete Attributes Expression", maybe(0.2, lit("kafka\\..*"))),
			p("Store State", lit("Do not store state")),
			p("Stateful Variables Initial Value", unset),
			pd("canonical-value-lookup-cache-size", "Cache Value Lookup Cache Size", lit("100")),
		},
		dyn: func(c *pctx) []dynProp {
			all := []dynProp{
				{"s3.key", c.st.e.name + "/${now():format('yyyy/MM/dd/HH', 'UTC')}/${uuid}.json"},
				{"schema.name", c.st.e.name + "-value"},
				{"tenant", "${tenant:toLower():trim():replaceEmpty('default')}"},
				{"retry.count", "${retry.count:replaceNull(0):plus(1)}"},
				{"mime.type", "application/json"},
				{"ingest.ts", "${now():toNumber()}"},
				{"target.topic", "#{Target Topic}"},
				{"filename", "${" + c.st.e.key + "}-${now():format('yyyyMMddHHmmssSSS')}.json"},
				{"correlation.id", "${" + c.st.e.key + ":append('-'):append(${uuid:substring(0,8)})}"},
				{"env", "#{Environment}"},
				{"priority", "${" + pick(c.r, c.st.e.fields) + ":equals('HIGH'):ifElse('1','5')}"},
			}
			n := c.r.between(1, 5)
			start := c.r.intn(len(all))
			out := make([]dynProp, 0, n)
			for i := 0; i < n; i++ {
				d := all[(start+i)%len(all)]
				if strings.Contains(d.value, "#{Target Topic}") {
					c.param("Target Topic", c.st.topicOut, false, "")
				}
				if strings.Contains(d.value, "#{Environment}") {
					c.param("Environment", c.g.env, false, "Deployment environment (dev, test, prod)")
				}
				out = append(out, d)
			}
			return out
		},
	},
	{
		key: "RouteOnAttribute", typ: "org.apache.nifi.processors.standard.RouteOnAttribute", artifact: "nifi-standard-nar",
		role: roleTransform, rels: []string{"unmatched"}, dynRels: true,
		name: named("RouteOnAttribute", "Route by {E} type", "Route by region", "Is priority?"),
		props: []propSpec{
			p("Routing Strategy", lit("Route to Property name")),
		},
		dyn: func(c *pctx) []dynProp {
			f := pick(c.r, c.st.e.fields)
			all := []dynProp{
				{"priority", "${" + f + ":equals('HIGH')}"},
				{"eu", "${region:in('eu-west-1','eu-central-1')}"},
				{"large", "${record.count:gt(1000)}"},
				{"valid", "${" + c.st.e.key + ":isEmpty():not()}"},
				{"retry", "${retry.count:lt(5)}"},
				{"late", "${" + c.st.e.ts + ":toNumber():lt(${now():toNumber():minus(3600000)})}"},
			}
			n := c.r.between(1, 3)
			start := c.r.intn(len(all))
			out := make([]dynProp, 0, n)
			for i := 0; i < n; i++ {
				out = append(out, all[(start+i)%len(all)])
			}
			return out
		},
	},
	{
		key: "ConvertRecord", typ: "org.apache.nifi.processors.standard.ConvertRecord", artifact: "nifi-standard-nar",
		role: roleTransform, rels: []string{"success", "failure"}, primary: "success", failure: []string{"failure"},
		name: named("ConvertRecord", "Convert {E} to Avro", "Convert CSV to JSON"),
		props: []propSpec{
			svcp("Record Reader", apiReader, 1),
			svcp("Record Writer", apiWriter, 1),
			p("Include Zero Record FlowFiles", oneOf("true", "false")),
		},
	},
	{
		key: "UpdateRecord", typ: "org.apache.nifi.processors.standard.UpdateRecord", artifact: "nifi-standard-nar",
		role: roleTransform, rels: []string{"success", "failure"}, primary: "success", failure: []string{"failure"},
		name: named("UpdateRecord", "Stamp {E} records", "Add ingest metadata"),
		props: []propSpec{
			svcp("Record Reader", apiReader, 1),
			svcp("Record Writer", apiWriter, 1),
			p("Replacement Value Strategy", oneOf("literal-value", "record-path-value")),
		},
		dyn: func(c *pctx) []dynProp {
			out := []dynProp{{"/ingest_ts", "${now():toNumber()}"}, {"/source", "nifi-${hostname()}"}}
			if c.r.chance(0.5) {
				f := pick(c.r, c.st.e.fields)
				out = append(out, dynProp{"/" + f, "${field.value:trim():toUpper()}"})
			}
			return out
		},
	},
	{
		key: "ValidateRecord", typ: "org.apache.nifi.processors.standard.ValidateRecord", artifact: "nifi-standard-nar",
		role: roleTransform, rels: []string{"valid", "invalid", "failure"}, primary: "valid", failure: []string{"invalid", "failure"},
		name: named("ValidateRecord", "Validate {E} against schema"),
		props: []propSpec{
			svcp("Record Reader", apiReader, 1),
			svcp("Record Writer", apiWriter, 1),
			svcp("Record Writer for Invalid Records", apiWriter, 0.2),
			p("Schema Access Strategy", oneOf("reader-schema", "schema-name-property")),
			svcp("Schema Registry", apiSchemaRegistry, 0.2),
			p("Schema Name", maybe(0.3, computed(func(c *pctx) string { return c.st.e.name }))),
			p("Schema Text", unset),
			p("Allow Extra Fields", oneOf("true", "false")),
			p("Strict Type Checking", oneOf("true", "false")),
			p("Coerce Types", lit("false")),
			p("Validation Details Attribute Name", maybe(0.4, lit("validation.details"))),
			p("Maximum Validation Details Length", lit("1024")),
		},
	},
	{
		key: "QueryRecord", typ: "org.apache.nifi.processors.standard.QueryRecord", artifact: "nifi-standard-nar",
		role: roleTransform, rels: []string{"original", "failure"}, failure: []string{"failure"}, dynRels: true, longText: true,
		name: named("QueryRecord", "Filter {E}", "Split valid/invalid {E}"),
		props: []propSpec{
			svcpd("record-reader", "Record Reader", apiReader, 1),
			svcpd("record-writer", "Record Writer", apiWriter, 1),
			pd("include-zero-record-flowfiles", "Include Zero Record FlowFiles", lit("true")),
			pd("cache-schema", "Cache Schema", lit("true")),
			pd("dbf-default-precision", "Default Decimal Precision", lit("10")),
			pd("dbf-default-scale", "Default Decimal Scale", lit("0")),
		},
		dyn: func(c *pctx) []dynProp {
			out := []dynProp{{pick(c.r, []string{"matched", "valid", "recent", "selected"}), recordSQL(c.r, c.st.e)}}
			if c.r.chance(0.3) {
				out = append(out, dynProp{"rejected", "SELECT * FROM FLOWFILE WHERE " + c.st.e.key + " IS NULL"})
			}
			return out
		},
	},
	{
		key: "EvaluateJsonPath", typ: "org.apache.nifi.processors.standard.EvaluateJsonPath", artifact: "nifi-standard-nar",
		role: roleTransform, rels: []string{"matched", "unmatched", "failure"}, primary: "matched", failure: []string{"failure", "unmatched"},
		name: named("EvaluateJsonPath", "Extract {E} key", "Pull ids into attributes"),
		props: []propSpec{
			p("Destination", lit("flowfile-attribute")),
			p("Return Type", oneOf("auto-detect", "scalar")),
			p("Path Not Found Behavior", oneOf("ignore", "warn")),
			p("Null Value Representation", lit("empty string")),
			p("Max String Length", lit("20 MB")),
		},
		dyn: func(c *pctx) []dynProp {
			out := []dynProp{{c.st.e.name + ".id", "$." + c.st.e.key}}
			for _, f := range c.r.someFields(c.st.e, 1, 3) {
				out = append(out, dynProp{c.st.e.name + "." + f, "$." + f})
			}
			return out
		},
	},
	{
		key: "JoltTransformJSON", typ: "org.apache.nifi.processors.jolt.JoltTransformJSON", artifact: "nifi-jolt-nar",
		role: roleTransform, rels: []string{"success", "failure"}, primary: "success", failure: []string{"failure"}, longText: true,
		name: named("JoltTransformJSON", "Reshape {E} payload", "Map to canonical model"),
		props: []propSpec{
			pd("Jolt Transform", "Jolt Transformation DSL", lit("jolt-transform-chain")),
			pd("Jolt Specification", "Jolt Specification", computed(func(c *pctx) string { return joltSpec(c.r, c.st.e) })),
			pd("Custom Transformation Class Name", "Custom Transformation Class Name", unset),
			withRes(pd("Custom Module Directory", "Custom Module Directory", unset), "MULTIPLE", "FILE", "DIRECTORY"),
			pd("Transform Cache Size", "Transform Cache Size", lit("1")),
			pd("Pretty Print", "Pretty Print", lit("false")),
			p("Max String Length", lit("20 MB")),
		},
	},
	{
		key: "ExecuteScript", typ: "org.apache.nifi.processors.script.ExecuteScript", artifact: "nifi-scripting-nar",
		role: roleTransform, rels: []string{"success", "failure"}, primary: "success", failure: []string{"failure"}, longText: true,
		name: named("ExecuteScript", "Clean {E} (Groovy)", "Fix legacy timestamps"),
		props: []propSpec{
			p("Script Engine", lit("Groovy")),
			withRes(p("Script File", unset), "SINGLE", "FILE"),
			p("Script Body", computed(func(c *pctx) string { return groovyScript(c.r, c.st.e, attrName(c)) })),
			withRes(p("Module Directory", unset), "MULTIPLE", "FILE", "DIRECTORY"),
		},
	},
	{
		key: "ReplaceText", typ: "org.apache.nifi.processors.standard.ReplaceText", artifact: "nifi-standard-nar",
		role: roleTransform, rels: []string{"success", "failure"}, primary: "success", failure: []string{"failure"},
		name: named("ReplaceText", "Strip BOM", "Mask e-mail addresses", "Wrap in envelope"),
		props: []propSpec{
			p("Replacement Strategy", oneOf("Regex Replace", "Literal Replace", "Always Replace")),
			pd("Regular Expression", "Search Value", oneOf("(?s)(^.*$)", "\\uFEFF", "[\\w.+-]+@[\\w-]+\\.[\\w.]+", "\\r\\n")),
			p("Replacement Value", oneOf("$1", "", "***@***", "\\n", "{\"data\": $1}")),
			p("Text to Prepend", unset),
			p("Text to Append", unset),
			p("Character Set", lit("UTF-8")),
			p("Maximum Buffer Size", lit("1 MB")),
			p("Evaluation Mode", oneOf("Entire text", "Line-by-Line")),
			p("Line-by-Line Evaluation Mode", lit("All")),
		},
	},
	{
		key: "DetectDuplicate", typ: "org.apache.nifi.processors.standard.DetectDuplicate", artifact: "nifi-standard-nar",
		role: roleTransform, rels: []string{"duplicate", "non-duplicate", "failure"}, primary: "non-duplicate", failure: []string{"failure", "duplicate"},
		name: named("DetectDuplicate", "Drop duplicate {E}"),
		props: []propSpec{
			p("Cache Entry Identifier", computed(func(c *pctx) string { return "${" + c.st.e.name + ".id}" })),
			p("FlowFile Description", lit("")),
			p("Age Off Duration", oneOf("24 hours", "1 hour", "7 days")),
			svcp("Distributed Cache Service", apiCache, 1),
			p("Cache The Entry Identifier", lit("true")),
		},
	},
	{
		key: "InvokeHTTP", typ: "org.apache.nifi.processors.standard.InvokeHTTP", artifact: "nifi-standard-nar",
		role: roleTransform, rels: []string{"Original", "Response", "Retry", "No Retry", "Failure"}, primary: "Response",
		failure: []string{"Failure", "No Retry", "Retry"},
		name:    named("InvokeHTTP", "Call {E} API", "Enrich from CRM", "POST to partner"),
		props: []propSpec{
			p("HTTP Method", oneOf("GET", "POST", "GET", "PUT")),
			p("HTTP URL", computed(func(c *pctx) string {
				c.param("API Base URL", "https://api."+c.g.env+".acme.example/v2", false, "")
				return "#{API Base URL}/" + c.st.e.name + "/${" + c.st.e.name + ".id:urlEncode()}"
			})),
			p("HTTP/2 Disabled", lit("False")),
			svcp("SSL Context Service", apiSSL, 0.6),
			p("Connection Timeout", lit("5 secs")),
			p("Socket Read Timeout", oneOf("15 secs", "30 secs", "1 min")),
			p("Socket Idle Timeout", lit("5 mins")),
			p("Socket Idle Connections", lit("5")),
			svcp("Proxy Configuration Service", apiProxy, 0),
			svcp("Request OAuth2 Access Token Provider", apiOAuth2, 0),
			p("Request Username", unset),
			sens("Request Password", "Request Password", "API Password"),
			p("Request Digest Authentication Enabled", lit("false")),
			p("Request Failure Penalization Enabled", lit("false")),
			p("Request Body Enabled", lit("true")),
			p("Request Multipart Form-Data Name", unset),
			p("Request Multipart Form-Data Filename Enabled", lit("true")),
			p("Request Chunked Transfer-Encoding Enabled", lit("false")),
			p("Request Content-Encoding", lit("DISABLED")),
			p("Request Content-Type", lit("${mime.type}")),
			p("Request Date Header Enabled", lit("True")),
			p("Request Header Attributes Pattern", maybe(0.4, lit("X-Correlation-Id|X-Tenant"))),
			p("Request User-Agent", maybe(0.3, lit("Apache NiFi (Acme dataflow)"))),
			p("Response Body Attribute Name", unset),
			p("Response Body Attribute Size", lit("256")),
			p("Response Body Ignored", lit("false")),
			p("Response Cache Enabled", lit("false")),
			p("Response Cache Size", lit("10MB")),
			p("Response Cookie Strategy", lit("DISABLED")),
			p("Response Generation Required", lit("false")),
			p("Response FlowFile Naming Strategy", lit("RANDOM")),
			p("Response Header Request Attributes Enabled", lit("false")),
			p("Response Redirects Enabled", lit("True")),
		},
		dyn: func(c *pctx) []dynProp {
			if c.r.chance(0.5) {
				return nil
			}
			return []dynProp{{"X-Correlation-Id", "${correlation.id}"}, {"Accept", "application/json"}}
		},
	},
	{
		key: "MergeRecord", typ: "org.apache.nifi.processors.standard.MergeRecord", artifact: "nifi-standard-nar",
		role: roleTransform, rels: []string{"merged", "original", "failure"}, primary: "merged", failure: []string{"failure"},
		name: named("MergeRecord", "Batch {E} for S3", "Merge into 128 MB files"),
		props: []propSpec{
			svcpd("record-reader", "Record Reader", apiReader, 1),
			svcpd("record-writer", "Record Writer", apiWriter, 1),
			pd("merge-strategy", "Merge Strategy", lit("Bin-Packing Algorithm")),
			pd("correlation-attribute-name", "Correlation Attribute Name", maybe(0.5, oneOf("kafka.topic", "tenant", "schema.name"))),
			p("Attribute Strategy", lit("Keep Only Common Attributes")),
			pd("min-records", "Minimum Number of Records", oneOf("1", "1000", "10000")),
			pd("max-records", "Maximum Number of Records", oneOf("1000000000", "100000", "1000000")),
			pd("min-bin-size", "Minimum Bin Size", oneOf("0 B", "64 MB")),
			pd("max-bin-size", "Maximum Bin Size", maybe(0.6, func(c *pctx) *string {
				if c.r.chance(0.3) {
					return c.param("Maximum Object Size", "256 MB", false, "")
				}
				return str(pick(c.r, []string{"128 MB", "256 MB"}))
			})),
			pd("max-bin-age", "Max Bin Age", oneOf("5 mins", "1 min", "10 mins")),
			pd("max.bin.count", "Maximum Number of Bins", lit("10")),
		},
	},
	{
		key: "SplitRecord", typ: "org.apache.nifi.processors.standard.SplitRecord", artifact: "nifi-standard-nar",
		role: roleTransform, rels: []string{"splits", "original", "failure"}, primary: "splits", failure: []string{"failure"},
		name: named("SplitRecord", "Split {E} batches"),
		props: []propSpec{
			svcp("Record Reader", apiReader, 1),
			svcp("Record Writer", apiWriter, 1),
			p("Records Per Split", oneOf("1", "100", "1000", "10000")),
		},
	},
	{
		key: "CompressContent", typ: "org.apache.nifi.processors.standard.CompressContent", artifact: "nifi-compress-nar",
		role: roleTransform, rels: []string{"success", "failure"}, primary: "success", failure: []string{"failure"},
		name: named("CompressContent", "Gzip {E}"),
		props: []propSpec{
			p("Mode", lit("compress")),
			p("Compression Format", oneOf("gzip", "gzip", "zstd", "snappy")),
			p("Compression Level", oneOf("1", "6")),
			p("Update Filename", lit("true")),
		},
	},
	{
		key: "PutS3Object", typ: "org.apache.nifi.processors.aws.s3.PutS3Object", artifact: "nifi-aws-nar",
		role: roleSink, rels: []string{"success", "failure"}, failure: []string{"failure"},
		name: named("PutS3Object", "Write {E} to S3", "Land {E} in raw zone"),
		props: []propSpec{
			p("Bucket", paramRef("S3 Bucket", func(c *pctx) string { return "acme-datalake-" + c.g.env + "-" + c.g.region })),
			p("Object Key", computed(s3Key)),
			p("Region", paramRef("S3 Region", func(c *pctx) string { return c.g.region })),
			svcp("AWS Credentials Provider service", apiAWS, 1),
			p("Storage Class", oneOf("Standard", "Standard", "IntelligentTiering")),
			p("Server Side Encryption", oneOf("None", "AES256")),
			svcp("Encryption Service", apiAWS, 0),
			p("Content Type", lit("${mime.type}")),
			p("Content Disposition", unset),
			p("Cache Control", unset),
			p("Object Tags Prefix", unset),
			p("Remove Tag Prefix", lit("false")),
			p("Resource Transfer Source", lit("FLOWFILE_CONTENT")),
			svcp("File Resource Service", apiProxy, 0),
			p("Multipart Threshold", lit("5 GB")),
			p("Multipart Part Size", lit("5 GB")),
			p("Multipart Upload AgeOff Interval", lit("60 min")),
			p("Multipart Upload Max Age Threshold", lit("7 days")),
			p("Temporary Directory Multipart State", lit("${java.io.tmpdir}")),
			p("FullControl User List", lit("${s3.permissions.full.users}")),
			p("Read Permission User List", lit("${s3.permissions.read.users}")),
			p("Write Permission User List", lit("${s3.permissions.write.users}")),
			p("Read ACL User List", lit("${s3.permissions.readacl.users}")),
			p("Write ACL User List", lit("${s3.permissions.writeacl.users}")),
			p("Owner", lit("${s3.owner}")),
			p("Canned ACL", lit("${s3.permissions.cannedacl}")),
			p("Expiration Time Rule", unset),
			p("Communications Timeout", lit("30 secs")),
			svcp("SSL Context Service", apiSSL, 0),
			p("Endpoint Override URL", maybe(0.3, paramRef("S3 Endpoint Override URL", func(c *pctx) string { return "https://minio." + c.g.env + ".acme.internal:9000" }))),
			p("Signer Override", lit("Default Signature")),
			p("Custom Signer Class Name", unset),
			withRes(p("Custom Signer Module Location", unset), "MULTIPLE", "FILE", "DIRECTORY"),
			p("Use Chunked Encoding", lit("true")),
			p("Use Path Style Access", oneOf("false", "true")),
			svcpd("proxy-configuration-service", "Proxy Configuration Service", apiProxy, 0),
		},
	},
	{
		key: "PublishKafka", typ: "org.apache.nifi.kafka.processors.PublishKafka", artifact: "nifi-kafka-nar",
		role: roleSink, rels: []string{"success", "failure"}, failure: []string{"failure"},
		name: named("PublishKafka", "Publish {E}", "Publish to curated topic"),
		props: []propSpec{
			svcp("Kafka Connection Service", apiKafka, 1),
			p("Topic Name", computed(topicOut)),
			p("Failure Strategy", oneOf("Route to Failure", "Rollback")),
			p("Transactions Enabled", oneOf("true", "false")),
			p("Transactional ID Prefix", unset),
			p("Delivery Guarantee", oneOf("DELIVERY_REPLICATED", "DELIVERY_ONE_NODE")),
			p("Compression Type", oneOf("none", "snappy", "zstd", "lz4")),
			p("Max Request Size", lit("1 MB")),
			p("Partitioner Class", lit("org.apache.kafka.clients.producer.internals.DefaultPartitioner")),
			p("Partition", unset),
			svcp("Record Reader", apiReader, 0.8),
			svcp("Record Writer", apiWriter, 0.8),
			p("Publish Strategy", lit("USE_VALUE")),
			p("Message Key Field", maybe(0.5, computed(func(c *pctx) string { return c.st.e.key }))),
			p("FlowFile Attribute Header Pattern", unset),
			p("Header Encoding", lit("UTF-8")),
			p("Kafka Key", unset),
			p("Kafka Key Attribute Encoding", lit("utf-8")),
			p("Message Demarcator", unset),
			p("Record Metadata Strategy", lit("FROM_PROPERTIES")),
		},
	},
	{
		key: "PutDatabaseRecord", typ: "org.apache.nifi.processors.standard.PutDatabaseRecord", artifact: "nifi-standard-nar",
		role: roleSink, rels: []string{"success", "failure", "retry"}, failure: []string{"failure", "retry"},
		name: named("PutDatabaseRecord", "Upsert {E}", "Load {E} into warehouse"),
		props: []propSpec{
			svcpd("put-db-record-record-reader", "Record Reader", apiReader, 1),
			pd("db-type", "Database Type", oneOf("PostgreSQL", "Generic", "MySQL", "MS SQL 2012+")),
			pd("put-db-record-statement-type", "Statement Type", oneOf("INSERT", "UPSERT", "UPDATE")),
			pd("put-db-record-dcbp-service", "Database Connection Pooling Service", func(c *pctx) *string { return c.service(apiDBCP) }),
			pd("put-db-record-catalog-name", "Catalog Name", unset),
			pd("put-db-record-schema-name", "Schema Name", computed(func(c *pctx) string { return c.st.schema })),
			pd("put-db-record-table-name", "Table Name", computed(entityName)),
			pd("put-db-record-binary-format", "Binary String Format", lit("UTF-8")),
			pd("put-db-record-translate-field-names", "Translate Field Names", lit("true")),
			pd("put-db-record-unmatched-field-behavior", "Unmatched Field Behavior", lit("Ignore Unmatched Fields")),
			pd("put-db-record-unmatched-column-behavior", "Unmatched Column Behavior", oneOf("Fail on Unmatched Columns", "Warn on Unmatched Columns")),
			pd("put-db-record-update-keys", "Update Keys", maybe(0.6, computed(func(c *pctx) string { return c.st.e.key }))),
			pd("put-db-record-field-containing-sql", "Field Containing SQL", unset),
			pd("put-db-record-allow-multiple-statements", "Allow Multiple SQL Statements", lit("false")),
			pd("put-db-record-quoted-identifiers", "Quote Column Identifiers", lit("false")),
			pd("put-db-record-quoted-table-identifiers", "Quote Table Identifiers", lit("false")),
			pd("put-db-record-query-timeout", "Max Wait Time", lit("0 seconds")),
			pd("rollback-on-failure", "Rollback On Failure", lit("false")),
			pd("table-schema-cache-size", "Table Schema Cache Size", lit("100")),
			pd("put-db-record-max-batch-size", "Maximum Batch Size", oneOf("1000", "0", "500")),
			pd("database-session-autocommit", "Database Session AutoCommit", lit("false")),
		},
	},
	{
		key: "PutFile", typ: "org.apache.nifi.processors.standard.PutFile", artifact: "nifi-standard-nar",
		role: roleSink, rels: []string{"success", "failure"}, failure: []string{"failure"},
		name: named("PutFile", "Write {E} to NFS export"),
		props: []propSpec{
			p("Directory", computed(func(c *pctx) string { return "/mnt/exports/" + c.st.e.name + "/${now():format('yyyy-MM-dd')}" })),
			p("Conflict Resolution Strategy", oneOf("fail", "replace", "ignore")),
			p("Create Missing Directories", lit("true")),
			p("Maximum File Count", unset),
			p("Last Modified Time", unset),
			p("Permissions", maybe(0.4, lit("rw-r-----"))),
			p("Owner", unset),
			p("Group", unset),
		},
	},
	{
		key: "LogAttribute", typ: "org.apache.nifi.processors.standard.LogAttribute", artifact: "nifi-standard-nar",
		role: roleSink, rels: []string{"success"},
		name: named("LogAttribute", "Log failure", "Debug: log attributes"),
		props: []propSpec{
			p("Log Level", oneOf("info", "warn", "error", "debug")),
			p("Log Payload", lit("false")),
			p("Attributes to Log", unset),
			pd("attributes-to-log-regex", "Attributes to Log by Regular Expression", lit(".*")),
			p("Attributes to Ignore", unset),
			pd("attributes-to-ignore-regex", "Attributes to Ignore by Regular Expression", unset),
			p("Log FlowFile Properties", lit("true")),
			p("Output Format", lit("Line per Attribute")),
			p("Log prefix", maybe(0.5, computed(func(c *pctx) string { return "[" + c.st.e.name + "] " }))),
			pd("character-set", "Character Set", lit("UTF-8")),
		},
	},
	{
		key: "LogMessage", typ: "org.apache.nifi.processors.standard.LogMessage", artifact: "nifi-standard-nar",
		role: roleSink, rels: []string{"success"},
		name: named("LogMessage", "Log failure", "Alert: {E} rejected"),
		props: []propSpec{
			p("Log Level", oneOf("warn", "error")),
			p("Log prefix", computed(func(c *pctx) string { return "[" + c.st.e.name + "] " })),
			p("Log message", computed(func(c *pctx) string {
				return "Failed to process ${filename} (" + c.st.e.key + "=${" + c.st.e.name + ".id}): ${error.message:replaceNull('unknown')}"
			})),
		},
	},
}

// --- controller services ---

func readerSchemaProps(extra ...propSpec) []propSpec {
	out := append([]propSpec{}, recordSchemaProps...)
	return append(out, extra...)
}

var serviceKinds = []*serviceKind{
	{
		key: "json-reader", typ: "org.apache.nifi.json.JsonTreeReader", artifact: "nifi-record-serialization-services-nar",
		apis: []api{apiReader}, name: named("JsonTreeReader", "JSON Reader", "{E} JSON Reader"),
		props: readerSchemaProps(
			svcpd("schema-inference-cache", "Schema Inference Cache", apiRecordLookup, 0),
			pd("schema-application-strategy", "Schema Application Strategy", lit("SELECTED_PART")),
			pd("starting-field-strategy", "Starting Field Strategy", oneOf("ROOT_NODE", "NESTED_FIELD")),
			pd("starting-field-name", "Starting Field Name", unset),
			p("Date Format", unset),
			p("Time Format", unset),
			p("Timestamp Format", maybe(0.3, lit("yyyy-MM-dd'T'HH:mm:ss.SSSX"))),
			p("Max String Length", lit("20 MB")),
			p("Allow Comments", lit("false")),
		),
	},
	{
		key: "json-writer", typ: "org.apache.nifi.json.JsonRecordSetWriter", artifact: "nifi-record-serialization-services-nar",
		apis: []api{apiWriter}, name: named("JsonRecordSetWriter", "JSON Writer", "{E} JSON Writer"),
		props: readerSchemaProps(
			p("Schema Write Strategy", oneOf("no-schema", "schema-name")),
			svcp("Schema Cache", apiRecordLookup, 0),
			svcp("Schema Reference Writer", apiSchemaRegistry, 0),
			p("Date Format", unset),
			p("Time Format", unset),
			p("Timestamp Format", unset),
			p("Pretty Print JSON", lit("false")),
			pd("suppress-nulls", "Suppress Null Values", oneOf("never-suppress", "suppress-missing")),
			p("Allow Scientific Notation", lit("false")),
			pd("output-grouping", "Output Grouping", oneOf("output-array", "output-oneline")),
			pd("compression-format", "Compression Format", lit("none")),
			pd("compression-level", "Compression Level", lit("1")),
		),
	},
	{
		key: "avro-reader", typ: "org.apache.nifi.avro.AvroReader", artifact: "nifi-record-serialization-services-nar",
		apis: []api{apiReader}, name: named("AvroReader", "Avro Reader"),
		props: readerSchemaProps(pd("cache-size", "Cache Size", lit("1000"))),
	},
	{
		key: "avro-writer", typ: "org.apache.nifi.avro.AvroRecordSetWriter", artifact: "nifi-record-serialization-services-nar",
		apis: []api{apiWriter}, name: named("AvroRecordSetWriter", "Avro Writer"),
		props: readerSchemaProps(
			p("Schema Write Strategy", oneOf("avro-embedded", "schema-name")),
			svcp("Schema Cache", apiRecordLookup, 0),
			svcp("Schema Reference Writer", apiSchemaRegistry, 0),
			pd("compression-format", "Compression Format", oneOf("NONE", "SNAPPY", "DEFLATE")),
			pd("cache-size", "Cache Size", lit("1000")),
			pd("encoder-pool-size", "Encoder Pool Size", lit("32")),
		),
	},
	{
		key: "csv-reader", typ: "org.apache.nifi.csv.CSVReader", artifact: "nifi-record-serialization-services-nar",
		apis: []api{apiReader}, name: named("CSVReader", "CSV Reader"),
		props: readerSchemaProps(
			pd("csv-reader-csv-parser", "CSV Parser", lit("commons-csv")),
			p("CSV Format", oneOf("custom", "rfc-4180", "excel")),
			p("Value Separator", oneOf(",", ";", "|")),
			p("Record Separator", lit("\\n")),
			pd("Skip Header Line", "Treat First Line as Header", lit("true")),
			pd("ignore-csv-header", "Ignore CSV Header Column Names", lit("false")),
			p("Quote Character", lit("\"")),
			p("Escape Character", lit("\\")),
			p("Comment Marker", unset),
			p("Null String", unset),
			p("Trim Fields", lit("true")),
			pd("csvutils-character-set", "Character Set", lit("UTF-8")),
			pd("csvutils-allow-duplicate-header-names", "Allow Duplicate Header Names", lit("true")),
			p("Date Format", unset),
			p("Time Format", unset),
			p("Timestamp Format", unset),
		),
	},
	{
		key: "csv-writer", typ: "org.apache.nifi.csv.CSVRecordSetWriter", artifact: "nifi-record-serialization-services-nar",
		apis: []api{apiWriter}, name: named("CSVRecordSetWriter", "CSV Writer"),
		props: readerSchemaProps(
			p("Schema Write Strategy", lit("no-schema")),
			p("CSV Format", lit("custom")),
			p("Value Separator", lit(",")),
			p("Include Header Line", lit("true")),
			p("Quote Mode", lit("MINIMAL")),
			p("Record Separator", lit("\\n")),
			pd("csvutils-character-set", "Character Set", lit("UTF-8")),
		),
	},
	{
		key: "avro-registry", typ: "org.apache.nifi.schemaregistry.services.AvroSchemaRegistry", artifact: "nifi-registry-nar",
		apis: []api{apiSchemaRegistry}, name: named("AvroSchemaRegistry", "Schemas"),
		props: []propSpec{pd("avro-reg-validated-field-names", "Validate Field Names", lit("true"))},
		dyn: func(c *pctx) []dynProp {
			if c.tight {
				return nil
			}
			return []dynProp{{c.st.e.name, avroSchema(c.r, c.st.e, c.st.ns)}}
		},
	},
	{
		key: "confluent-registry", typ: "org.apache.nifi.confluent.schemaregistry.ConfluentSchemaRegistry", artifact: "nifi-confluent-platform-nar",
		apis: []api{apiSchemaRegistry}, name: named("ConfluentSchemaRegistry", "Schema Registry"),
		props: []propSpec{
			p("Schema Registry URLs", paramRef("Schema Registry URLs", func(c *pctx) string { return "https://schema-registry." + c.g.env + ".acme.internal:8081" })),
			svcp("SSL Context Service", apiSSL, 0.6),
			p("Communications Timeout", lit("30 secs")),
			p("Cache Size", lit("1000")),
			p("Cache Expiration", lit("1 hour")),
			p("Authentication Type", oneOf("BASIC", "NONE")),
			p("Username", maybe(0.6, paramRef("Schema Registry Username", func(c *pctx) string { return "svc-nifi-" + c.g.env }))),
			sens("Password", "Password", "Schema Registry Password"),
		},
	},
	{
		key: "dbcp", typ: "org.apache.nifi.dbcp.DBCPConnectionPool", artifact: "nifi-dbcp-service-nar",
		apis: []api{apiDBCP}, name: named("DBCPConnectionPool", "Warehouse DB", "Operational DB (read replica)"),
		props: []propSpec{
			p("Database Connection URL", paramRefDesc("Database URL", "JDBC URL of the target database", jdbcURL)),
			p("Database Driver Class Name", oneOf("org.postgresql.Driver", "com.mysql.cj.jdbc.Driver", "com.microsoft.sqlserver.jdbc.SQLServerDriver")),
			withRes(p("Database Driver Locations", paramRef("JDBC Driver Directory", func(c *pctx) string { return "/opt/nifi/drivers/" })), "MULTIPLE", "FILE", "DIRECTORY", "URL"),
			svcp("Kerberos User Service", apiKerberos, 0),
			p("Database User", paramRef("Database User", func(c *pctx) string { return "nifi_" + c.g.env })),
			sens("Password", "Password", "Database Password"),
			p("Max Wait Time", lit("500 millis")),
			p("Max Total Connections", oneOf("8", "16", "4")),
			p("Validation query", maybe(0.6, lit("SELECT 1"))),
			pd("dbcp-min-idle-conns", "Minimum Idle Connections", lit("0")),
			pd("dbcp-max-idle-conns", "Max Idle Connections", lit("8")),
			pd("dbcp-max-conn-lifetime", "Max Connection Lifetime", lit("-1")),
			pd("dbcp-time-between-eviction-runs", "Time Between Eviction Runs", lit("-1")),
			pd("dbcp-min-evictable-idle-time", "Minimum Evictable Idle Time", lit("30 mins")),
			pd("dbcp-soft-min-evictable-idle-time", "Soft Minimum Evictable Idle Time", lit("-1")),
		},
	},
	{
		key: "ssl", typ: "org.apache.nifi.ssl.StandardRestrictedSSLContextService", artifact: "nifi-ssl-context-service-nar",
		apis: []api{apiRestrictedSSL, apiSSL}, name: named("StandardRestrictedSSLContextService", "TLS (mTLS client)", "SSL Context"),
		props: []propSpec{
			withRes(p("Keystore Filename", paramRef("Keystore Path", func(c *pctx) string { return "/opt/nifi/tls/keystore.p12" })), "SINGLE", "FILE"),
			sens("Keystore Password", "Keystore Password", "Keystore Password"),
			sens("key-password", "Key Password", ""),
			p("Keystore Type", lit("PKCS12")),
			withRes(p("Truststore Filename", paramRef("Truststore Path", func(c *pctx) string { return "/opt/nifi/tls/truststore.p12" })), "SINGLE", "FILE"),
			sens("Truststore Password", "Truststore Password", "Truststore Password"),
			p("Truststore Type", lit("PKCS12")),
			pd("SSL Protocol", "TLS Protocol", oneOf("TLS", "TLSv1.3")),
		},
	},
	{
		key: "aws", typ: "org.apache.nifi.processors.aws.credentials.provider.service.AWSCredentialsProviderControllerService", artifact: "nifi-aws-nar",
		apis: []api{apiAWS, apiAWSv2}, name: named("AWSCredentialsProviderControllerService", "AWS Credentials", "S3 writer role"),
		props: []propSpec{
			p("Use Default Credentials", oneOf("false", "true")),
			sens("Access Key ID", "Access Key ID", "AWS Access Key ID"),
			sens("Secret Access Key", "Secret Access Key", "AWS Secret Access Key"),
			withRes(p("Credentials File", unset), "SINGLE", "FILE"),
			p("Profile Name", unset),
			p("Use Anonymous Credentials", lit("false")),
			p("Assume Role ARN", maybe(0.4, computed(func(c *pctx) string {
				return "arn:aws:iam::" + strconv.FormatInt(100000000000+int64(c.r.intn(899999999999)), 10) + ":role/nifi-" + c.g.env + "-writer"
			}))),
			p("Assume Role Session Name", maybe(0.4, lit("nifi"))),
			p("Assume Role Session Time", lit("3600")),
			p("Assume Role External ID", unset),
			svcp("Assume Role SSL Context Service", apiSSL, 0),
			svcp("Assume Role Proxy Configuration Service", apiProxy, 0),
			p("Assume Role STS Region", lit("us-west-2")),
			p("Assume Role STS Endpoint Override", unset),
			p("Assume Role STS Signer Override", lit("Default Signature")),
			p("Custom Signer Class Name", unset),
			withRes(p("Custom Signer Module Location", unset), "MULTIPLE", "FILE", "DIRECTORY"),
		},
	},
	{
		key: "kafka", typ: "org.apache.nifi.kafka.service.Kafka3ConnectionService", artifact: "nifi-kafka-3-service-nar",
		apis: []api{apiKafka}, name: named("Kafka3ConnectionService", "Kafka (MSK)", "Kafka Cluster"),
		props: []propSpec{
			pd("bootstrap.servers", "Bootstrap Servers", paramRef("Kafka Bootstrap Servers", kafkaServers)),
			pd("security.protocol", "Security Protocol", oneOf("SASL_SSL", "SSL", "PLAINTEXT")),
			pd("sasl.mechanism", "SASL Mechanism", oneOf("SCRAM-SHA-512", "PLAIN", "AWS_MSK_IAM")),
			pd("sasl.username", "SASL Username", paramRef("Kafka SASL Username", func(c *pctx) string { return "nifi-" + c.g.env })),
			propSpec{name: "sasl.password", display: "SASL Password", sensitive: true, v: func(c *pctx) *string { return c.param("Kafka SASL Password", "", true, "") }},
			svcp("SSL Context Service", apiSSL, 0.4),
			svcpd("kerberos-user-service", "Kerberos User Service", apiKerberos, 0),
			pd("sasl.kerberos.service.name", "Kerberos Service Name", unset),
			svcpd("oauth2-access-token-provider-service", "OAuth2 Access Token Provider Service", apiOAuth2, 0),
			pd("max.poll.records", "Max Poll Records", oneOf("10000", "500")),
			pd("default.api.timeout.ms", "Client Timeout", lit("60 sec")),
			pd("max.block.ms", "Max Metadata Wait Time", lit("5 sec")),
			pd("ack.wait.time", "Acknowledgment Wait Time", lit("5 sec")),
			pd("isolation.level", "Transaction Isolation Level", lit("read_committed")),
		},
	},
	{
		key: "cache", typ: "org.apache.nifi.distributed.cache.client.MapCacheClientService", artifact: "nifi-distributed-cache-services-nar",
		apis: []api{apiCache}, name: named("MapCacheClientService", "Dedup Cache"),
		props: []propSpec{
			p("Server Hostname", computed(func(c *pctx) string { return "nifi-cache." + c.g.env + ".acme.internal" })),
			p("Server Port", lit("4557")),
			svcp("SSL Context Service", apiSSL, 0.3),
			p("Communications Timeout", lit("30 secs")),
		},
	},
}

var (
	procByKey    = map[string]*procKind{}
	serviceByKey = map[string]*serviceKind{}
	procByType   = map[string]*procKind{}
)

func init() {
	for _, k := range procKinds {
		procByKey[k.key] = k
		procByType[k.typ] = k
	}
	for _, k := range serviceKinds {
		serviceByKey[k.key] = k
	}
}

// serviceKindFor picks the implementation a stage would use for an API:
// its data format decides between JSON, Avro and CSV readers and writers.
func serviceKindFor(a api, format string, r *rng) *serviceKind {
	switch a {
	case apiReader:
		return serviceByKey[format+"-reader"]
	case apiWriter:
		if format == "csv" && r.chance(0.5) {
			return serviceByKey["json-writer"]
		}
		return serviceByKey[format+"-writer"]
	case apiSchemaRegistry:
		if r.chance(0.5) {
			return serviceByKey["avro-registry"]
		}
		return serviceByKey["confluent-registry"]
	case apiDBCP:
		return serviceByKey["dbcp"]
	case apiSSL, apiRestrictedSSL:
		return serviceByKey["ssl"]
	case apiAWS, apiAWSv2:
		return serviceByKey["aws"]
	case apiKafka:
		return serviceByKey["kafka"]
	case apiCache:
		return serviceByKey["cache"]
	}
	return nil
}

func implements(s *controllerService, a api) bool {
	for _, x := range s.ControllerServiceApis {
		if x.Type == a.typ {
			return true
		}
	}
	return false
}
