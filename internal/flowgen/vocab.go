package flowgen

// Vocabulary of the made-up company whose flows the generator writes. The
// words are varied enough that the text compresses like real flows (names,
// topics and SQL differ from stage to stage) and repetitive enough that it
// still reads like one organisation's work.

// entity is a kind of business record a stage moves around.
type entity struct {
	name   string   // snake_case, used in topics, tables, attributes
	title  string   // human form, used in component names
	record string   // Avro record name
	key    string   // primary key field
	ts     string   // event-time field
	fields []string // other fields
}

var entities = []*entity{
	{"orders", "Orders", "Order", "order_id", "order_ts", []string{"customer_id", "status", "total_amount", "currency", "channel", "shipping_country", "discount_code", "line_item_count", "warehouse_id"}},
	{"payments", "Payments", "Payment", "payment_id", "captured_at", []string{"order_id", "amount", "currency", "method", "psp_reference", "status", "risk_score", "card_country", "settlement_batch"}},
	{"shipments", "Shipments", "Shipment", "shipment_id", "shipped_at", []string{"order_id", "carrier", "tracking_number", "delivered_at", "origin_hub", "destination_postcode", "weight_kg", "service_level"}},
	{"sensor_readings", "Sensor Readings", "SensorReading", "reading_id", "reading_ts", []string{"device_id", "site_id", "temperature_c", "humidity_pct", "battery_mv", "firmware", "lat", "lon", "rssi_dbm"}},
	{"customers", "Customers", "Customer", "customer_id", "updated_at", []string{"email", "first_name", "last_name", "country", "created_at", "loyalty_tier", "marketing_opt_in", "preferred_language"}},
	{"invoices", "Invoices", "Invoice", "invoice_id", "issued_at", []string{"account_id", "due_date", "amount_due", "tax_amount", "currency", "status", "pdf_url", "billing_period"}},
	{"clickstream", "Clickstream", "ClickEvent", "event_id", "event_ts", []string{"session_id", "user_id", "event_type", "page_url", "referrer", "user_agent", "ip_hash", "experiment_bucket"}},
	{"inventory", "Inventory", "StockLevel", "sku", "updated_at", []string{"warehouse_id", "on_hand", "reserved", "reorder_point", "supplier_id", "unit_cost", "bin_location"}},
	{"tickets", "Support Tickets", "Ticket", "ticket_id", "created_at", []string{"requester_id", "priority", "subject", "sla_breach_at", "assignee", "queue", "channel", "csat_score"}},
	{"flights", "Flight Positions", "FlightPosition", "position_id", "observed_at", []string{"icao24", "callsign", "origin", "destination", "altitude_ft", "ground_speed_kt", "heading", "squawk"}},
	{"meter_reads", "Meter Reads", "MeterRead", "read_id", "read_ts", []string{"meter_id", "premise_id", "kwh", "tariff_code", "quality_flag", "region", "estimated"}},
	{"claims", "Insurance Claims", "Claim", "claim_id", "filed_at", []string{"policy_id", "claimant_id", "loss_date", "claim_amount", "currency", "adjuster", "status", "fraud_score"}},
}

// Flow names: what a team calls the versioned process group. Some carry
// non-ASCII characters, as real ones do.
var flowNames = []string{
	"Orders Ingest", "Payments Reconciliation", "Logistics Tracking", "IoT Telemetry",
	"Customer 360 Sync", "Clickstream Analytics", "Données clients → Lakehouse",
	"Fleet Telemetry (München)", "Billing Pipeline", "Support Tickets Sync",
	"Smart Meter Readings", "Claims Intake", "データ連携 – 受注", "Inventory Feed",
	"Partner EDI Exchange", "Fraud Signals", "Near-real-time CDC to Iceberg",
}

var stageVerbs = []string{"Ingest", "Normalize", "Enrich", "Validate", "Route", "Publish", "Archive", "Deduplicate", "Load", "Extract", "Reconcile", "Transform", "Mask PII in", "Aggregate", "Replay"}

var domainNames = []string{
	"Sources", "Raw Zone", "Curated Zone", "Enrichment", "Delivery", "Error Handling",
	"Partner Feeds", "Reference Data", "Région EU", "Region US", "Archivierung", "監視 (Monitoring)",
	"Backfill", "Compliance", "Real-time", "Batch",
}

var teams = []string{
	"data-platform", "integration-team", "payments-eng", "logistics-data", "iot-edge",
	"Équipe Données", "データ基盤チーム", "Команда интеграции", "analytics-eng", "sre-dataflow",
}

var people = []string{
	"anonymous", "admin", "jdoe", "a.kowalski", "mmüller", "s.tanaka", "priya.n",
	"CN=nifi-svc, OU=Data, O=Acme", "zoë.ångström", "r.oliveira",
}

var regions = []string{"eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-northeast-1"}

var formats = []string{"json", "json", "json", "avro", "avro", "csv"}

var commitMessages = []string{
	"Tuned batch size after load test",
	"Moved failure handling into its own group",
	"Added retry on 503 from partner API",
	"Switched writer to Avro for the curated zone",
	"Fix: wrong topic for EU tenants",
	"Increase back pressure threshold on merge queue",
	"Parameterised the S3 bucket per environment",
	"Nettoyage des attributs inutilisés",
	"スケジュールを変更しました",
	"Removed obsolete debug LogAttribute",
	"Added dedup step before load",
	"Align schema with v3 of the contract (JIRA DATA-1432)",
	"",
}

var prioritizerTypes = []string{
	"org.apache.nifi.prioritizer.FirstInFirstOutPrioritizer",
	"org.apache.nifi.prioritizer.OldestFlowFileFirstPrioritizer",
	"org.apache.nifi.prioritizer.PriorityAttributePrioritizer",
	"org.apache.nifi.prioritizer.NewestFlowFileFirstPrioritizer",
}

var labelColors = []string{"#fff7d7", "#ffde93", "#e3f2fd", "#c8e6c9", "#ffcdd2", "#f3e5f5", "#203485"}

var labelFontSizes = []string{"12px", "14px", "16px", "18px", "20px", "24px"}

// nifiVersions are the framework releases a flow may have been built with;
// all bundles of one flow share one version, as they do in a real install.
var nifiVersions = []string{"2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0", "2.5.0", "2.6.0"}

// bigCounts are 64-bit values beyond 2^53. They appear where NiFi really
// stores Java longs (connection back pressure, label z-index) so that any
// code decoding the snapshot through float64 loses precision and fails.
var bigCounts = []int64{9223372036854775807, 9007199254740993, 18014398509481985, 4611686018427387903}
