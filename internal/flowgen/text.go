package flowgen

import (
	"fmt"
	"strconv"
	"strings"
)

// Long property values. Real flows carry scripts, SQL, JOLT specs, Avro
// schemas and explanatory labels; these dominate the compressible part of a
// snapshot, so they are built from templates filled with the stage's own
// fields rather than repeated verbatim.

func (r *rng) someFields(e *entity, min, max int) []string {
	n := r.between(min, max)
	if n > len(e.fields) {
		n = len(e.fields)
	}
	start := r.intn(len(e.fields))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, e.fields[(start+i)%len(e.fields)])
	}
	return out
}

func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func groovyScript(r *rng, e *entity, attr string) string {
	var b strings.Builder
	b.WriteString("import org.apache.commons.io.IOUtils\nimport org.apache.nifi.processor.io.StreamCallback\nimport java.nio.charset.StandardCharsets\n")
	b.WriteString("import groovy.json.JsonSlurper\nimport groovy.json.JsonOutput\n")
	b.WriteString("import java.time.Instant\n")
	b.WriteString("\ndef flowFile = session.get()\nif (!flowFile) return\n\n")
	b.WriteString("def count = 0\ntry {\n    flowFile = session.write(flowFile, { inputStream, outputStream ->\n")
	b.WriteString("        def text = IOUtils.toString(inputStream, StandardCharsets.UTF_8)\n")
	b.WriteString("        def records = new JsonSlurper().parseText(text)\n")
	b.WriteString("        if (!(records instanceof List)) records = [records]\n")
	b.WriteString("        records.each { r ->\n")
	for _, f := range r.someFields(e, 2, 7) {
		switch r.intn(5) {
		case 0:
			b.WriteString("            r." + f + " = r." + f + "?.toString()?.trim()\n")
		case 1:
			b.WriteString("            if (r." + f + " == null) { r." + f + " = '" + pick(r, []string{"UNKNOWN", "n/a", "0", ""}) + "' }\n")
		case 2:
			b.WriteString("            r." + camel(f) + " = r.remove('" + f + "')\n")
		case 3:
			b.WriteString("            r." + f + " = (r." + f + " ?: '').toString().toLowerCase(Locale.ROOT)\n")
		default:
			b.WriteString("            r." + f + "_hash = r." + f + " ? r." + f + ".toString().digest('SHA-256') : null\n")
		}
	}
	b.WriteString("            r." + e.ts + " = r." + e.ts + " ?: Instant.now().toEpochMilli()\n")
	b.WriteString("            count++\n        }\n")
	b.WriteString("        outputStream.write(JsonOutput.toJson(records).getBytes(StandardCharsets.UTF_8))\n")
	b.WriteString("    } as StreamCallback)\n")
	b.WriteString("    flowFile = session.putAttribute(flowFile, '" + attr + "', String.valueOf(count))\n")
	b.WriteString("    session.transfer(flowFile, REL_SUCCESS)\n")
	b.WriteString("} catch (Exception e) {\n")
	b.WriteString("    log.error(\"Failed to process " + e.name + " in {}: {}\", [flowFile, e.message] as Object[], e)\n")
	b.WriteString("    flowFile = session.putAttribute(flowFile, 'error.message', String.valueOf(e.message))\n")
	b.WriteString("    session.transfer(flowFile, REL_FAILURE)\n}\n")
	return b.String()
}

func selectSQL(r *rng, e *entity, schema string) string {
	var b strings.Builder
	b.WriteString("SELECT\n    t." + e.key)
	for _, f := range r.someFields(e, 3, len(e.fields)) {
		b.WriteString(",\n    t." + f)
	}
	b.WriteString(",\n    t." + e.ts)
	join := r.chance(0.4)
	if join {
		b.WriteString(",\n    r.region_name")
	}
	b.WriteString("\nFROM " + schema + "." + e.name + " t\n")
	if join {
		b.WriteString("LEFT JOIN " + schema + ".ref_regions r ON r.region_code = t." + pick(r, e.fields) + "\n")
	}
	b.WriteString("WHERE t." + e.ts + " > '${last.max." + e.ts + ":replaceNull('1970-01-01 00:00:00')}'\n")
	if r.chance(0.5) {
		b.WriteString("  AND t." + pick(r, e.fields) + " IS NOT NULL\n")
	}
	b.WriteString("ORDER BY t." + e.ts + "\nLIMIT " + strconv.Itoa(pick(r, []int{1000, 5000, 10000, 50000})))
	return b.String()
}

func recordSQL(r *rng, e *entity) string {
	fs := r.someFields(e, 2, 5)
	var b strings.Builder
	b.WriteString("SELECT " + e.key + ", " + strings.Join(fs, ", ") + ", " + e.ts + "\nFROM FLOWFILE\nWHERE ")
	switch r.intn(3) {
	case 0:
		b.WriteString(fs[0] + " IS NOT NULL AND " + e.key + " <> ''")
	case 1:
		b.WriteString("RPATH_STRING(*, '/" + fs[0] + "') IN ('" + pick(r, []string{"ACTIVE", "NEW", "OPEN", "CAPTURED"}) + "', '" + pick(r, []string{"PENDING", "RETRY", "HELD"}) + "')")
	default:
		b.WriteString(e.ts + " >= CURRENT_TIMESTAMP - INTERVAL '" + strconv.Itoa(r.between(1, 48)) + "' HOUR")
	}
	return b.String()
}

func joltSpec(r *rng, e *entity) string {
	var b strings.Builder
	b.WriteString("[\n  {\n    \"operation\": \"shift\",\n    \"spec\": {\n")
	fs := r.someFields(e, 3, len(e.fields))
	prefix := pick(r, []string{"payload.", "data.", "", "body.after."})
	b.WriteString("      \"" + e.key + "\": \"" + camel(e.key) + "\",\n")
	for _, f := range fs {
		b.WriteString("      \"" + prefix + f + "\": \"" + camel(f) + "\",\n")
	}
	b.WriteString("      \"" + e.ts + "\": \"meta.eventTime\"\n    }\n  }")
	if r.chance(0.6) {
		b.WriteString(",\n  {\n    \"operation\": \"default\",\n    \"spec\": {\n      \"meta\": {\n        \"source\": \"nifi\",\n        \"schemaVersion\": \"" + strconv.Itoa(r.between(1, 5)) + "\"\n      }\n    }\n  }")
	}
	if r.chance(0.4) {
		b.WriteString(",\n  {\n    \"operation\": \"remove\",\n    \"spec\": {\n      \"" + camel(pick(r, fs)) + "_raw\": \"\"\n    }\n  }")
	}
	b.WriteString("\n]")
	return b.String()
}

func avroSchema(r *rng, e *entity, namespace string) string {
	var b strings.Builder
	b.WriteString("{\n  \"type\": \"record\",\n  \"name\": \"" + e.record + "\",\n  \"namespace\": \"" + namespace + "\",\n  \"fields\": [\n")
	b.WriteString("    { \"name\": \"" + e.key + "\", \"type\": \"string\" },\n")
	for _, f := range e.fields {
		var t string
		switch {
		case strings.HasSuffix(f, "_at") || strings.HasSuffix(f, "_ts") || strings.HasSuffix(f, "_date"):
			t = "[\"null\", { \"type\": \"long\", \"logicalType\": \"timestamp-millis\" }]"
		case strings.Contains(f, "amount") || strings.Contains(f, "cost") || f == "kwh":
			t = "[\"null\", { \"type\": \"bytes\", \"logicalType\": \"decimal\", \"precision\": 18, \"scale\": " + strconv.Itoa(r.between(2, 4)) + " }]"
		case strings.HasSuffix(f, "_count") || strings.HasSuffix(f, "_mv") || strings.HasSuffix(f, "_ft") || f == "on_hand" || f == "reserved":
			t = "[\"null\", \"long\"]"
		case strings.HasSuffix(f, "_score") || strings.HasSuffix(f, "_c") || strings.HasSuffix(f, "_pct") || f == "lat" || f == "lon":
			t = "[\"null\", \"double\"]"
		default:
			t = "[\"null\", \"string\"]"
		}
		b.WriteString("    { \"name\": \"" + f + "\", \"type\": " + t + ", \"default\": null },\n")
	}
	b.WriteString("    { \"name\": \"" + e.ts + "\", \"type\": { \"type\": \"long\", \"logicalType\": \"timestamp-millis\" } }\n  ]\n}")
	return b.String()
}

// sampleRecord is a GenerateFlowFile test payload. It holds a 64-bit id as
// text: property values are strings, and a long stays exact there.
func sampleRecord(r *rng, e *entity) string {
	var b strings.Builder
	b.WriteString("{\n  \"" + e.key + "\": \"" + r.uuid()[:18] + "\",\n")
	for _, f := range r.someFields(e, 3, 6) {
		switch {
		case strings.Contains(f, "amount") || strings.Contains(f, "cost"):
			b.WriteString("  \"" + f + "\": " + strconv.Itoa(r.between(1, 99999)) + "." + strconv.Itoa(r.between(10, 99)) + ",\n")
		case strings.HasSuffix(f, "_id"):
			b.WriteString("  \"" + f + "\": " + strconv.FormatInt(int64(r.u64()>>1), 10) + ",\n")
		default:
			b.WriteString("  \"" + f + "\": \"${" + pick(r, []string{"random():mod(100)", "UUID()", "now():format('yyyy-MM-dd')", "hostname()"}) + "}\",\n")
		}
	}
	b.WriteString("  \"" + e.ts + "\": ${now():toNumber()},\n  \"note\": \"" + pick(r, []string{"Grüße aus Köln", "テストデータ", "café ☕", "naïve façade", "test – ignore"}) + "\"\n}")
	return b.String()
}

var proseOpeners = []string{
	"This group %s %s events and hands them to the next stage.",
	"Reads %s from the source system and writes %s records to the lake.",
	"%s: do not change the consumer group without telling %s.",
	"Owner: %s. Escalation via the #dataflow-oncall channel.",
	"⚠️ The partner API is rate limited; back pressure here is intentional (%s, %s).",
	"Stage for %s. Schema changes must be agreed with %s first.",
	"Nota bene: %s are replayed from the archive when %s asks for a backfill.",
}

var proseSentences = []string{
	"Failures are routed to the failure port and retried with exponential back-off.",
	"Records that do not match the schema are parked in the invalid queue for inspection.",
	"The merge step waits up to five minutes or 128 MB, whichever comes first.",
	"Credentials come from the parameter context; never hard-code them here.",
	"Timestamps are normalised to UTC before the write.",
	"Load balancing is enabled on the connection after the merge so that every node shares the work.",
	"Die Verarbeitung läuft nur auf dem Primärknoten.",
	"バックプレッシャーは意図的に低く設定されています。",
	"See the runbook in Confluence (DATA/NiFi) before restarting this group.",
	"Do not enable the debug LogAttribute in production; it logs payloads.",
	"Duplicates are detected on the business key within a 24 hour window.",
	"The SQL runs against the read replica, not the primary.",
	"Retries stop after the configured count; then the FlowFile goes to the failure port.",
	"Attributes prefixed with kafka. are dropped before publishing.",
}

// prose returns label or comment text of roughly n bytes.
func prose(r *rng, e *entity, team string, n int) string {
	var b strings.Builder
	o := pick(r, proseOpeners)
	args := []any{e.title, team}
	if strings.Count(o, "%s") == 1 {
		args = args[1:]
	}
	fmt.Fprintf(&b, o, args...)
	for b.Len() < n {
		b.WriteString(" ")
		if r.chance(0.15) {
			b.WriteString("\n")
		}
		b.WriteString(pick(r, proseSentences))
	}
	return b.String()
}

var asciiSentences = []string{
	"Notes for whoever is on call this week.",
	"Failures are routed to the failure port and retried with exponential back-off.",
	"Records that do not match the schema are parked in the invalid queue for inspection.",
	"The merge step waits up to five minutes or 128 MB, whichever comes first.",
	"Credentials come from the parameter context; never hard-code them here.",
	"Timestamps are normalised to UTC before the write.",
	"See the runbook in Confluence (DATA/NiFi) before restarting this group.",
	"Do not enable the debug LogAttribute in production; it logs payloads.",
	"The disabled processors on the left are kept for the next backfill.",
	"Ask the owning team before changing back pressure on the merge queue.",
	"Partner API limits: 600 requests per minute per tenant, 10 concurrent.",
	"Replays read from the archive bucket, never from the live topic.",
	"Schema changes go through the contract repository first (JIRA DATA board).",
	"Nightly batch starts at 02:00 UTC and must finish before 06:00 UTC.",
}

// asciiProse returns exactly n bytes of ASCII prose with no character that
// JSON escapes. Padding uses it, so its encoded length is its length.
func asciiProse(r *rng, n int) string {
	if n <= 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(n + 96)
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(pick(r, asciiSentences))
	}
	s := b.String()[:n]
	if n > 1 && s[n-1] == ' ' {
		s = s[:n-1] + "."
	}
	return s
}
