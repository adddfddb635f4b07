package systest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Request generation for TestAPIFuzzCluster (apifuzz_test.go): the
// operations of NiFi Registry's OpenAPI document plus Weir's own
// endpoints, path and query values, JSON bodies built from the request
// schemas, and the mutations applied to them. Every choice is drawn from
// the fuzzer's seeded random source in a fixed order, so a seed replays
// the same choices (server-made ids differ from run to run).

const apifuzzSpecName = "nifi-registry-openapi-2.7.2.json"

// apifuzzSpec loads the OpenAPI document as tests/contract does (same file,
// same WEIR_REGISTRY_OPENAPI override); refs are resolved by the loader.
// Only the schemas are used, so the document is not validated.
func apifuzzSpec(t *testing.T) *openapi3.T {
	t.Helper()
	paths := []string{
		filepath.Join("..", "..", "shared", "reference", apifuzzSpecName),
		filepath.Join("/work", "shared", "reference", apifuzzSpecName),
	}
	if p := os.Getenv("WEIR_REGISTRY_OPENAPI"); p != "" {
		paths = []string{p}
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		doc, err := openapi3.NewLoader().LoadFromFile(p)
		if err != nil {
			t.Fatalf("load %s: %v", p, err)
		}
		return doc
	}
	t.Skipf("%s not found (set WEIR_REGISTRY_OPENAPI); the fuzzer is generated from it", apifuzzSpecName)
	return nil
}

// fzOp is one operation: a method and a path template.
type fzOp struct {
	method    string
	template  string // whole path, e.g. /nifi-registry-api/buckets/{bucketId}
	pathTypes map[string]*openapi3.Schema
	query     []fzParam
	headers   []fzParam
	body      *openapi3.Schema // JSON request body schema (nil: none)
	bodyTypes []string         // declared request media types (empty: takes no body)
	weight    int
	// admin names Weir's administrative operations, which must be
	// refused without credentials: "maintenance", "backup", "recompute"
	// (GET /weir-api/cluster/local?recompute), "join", "remove",
	// "transfer-leader".
	admin string
	weir  bool // Weir's own endpoint (not in NiFi's document)
}

func (o *fzOp) String() string { return o.method + " " + o.template }

type fzParam struct {
	name   string
	schema *openapi3.Schema
}

// takesJSON reports whether the operation's body is parsed as JSON.
func (o *fzOp) takesJSON() bool {
	for _, mt := range o.bodyTypes {
		if mt == "application/json" || mt == "*/*" {
			return true
		}
	}
	return false
}

// accepts reports whether a body sent with Content-Type ct (empty:
// missing, which HTTP and JAX-RS treat as application/octet-stream) is of
// a media type the operation declares.
func (o *fzOp) accepts(ct string) bool {
	mt := strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
	if mt == "" {
		mt = "application/octet-stream"
	}
	for _, d := range o.bodyTypes {
		if d == "*/*" || d == mt {
			return true
		}
	}
	return false
}

const apifuzzBase = "/nifi-registry-api"

// apifuzzOps lists every operation of the document plus Weir's own.
func apifuzzOps(t *testing.T) []*fzOp {
	doc := apifuzzSpec(t)
	var ops []*fzOp
	pm := doc.Paths.Map()
	for _, tmpl := range slices.Sorted(maps.Keys(pm)) {
		item := pm[tmpl]
		for _, m := range slices.Sorted(maps.Keys(item.Operations())) {
			op := item.GetOperation(m)
			o := &fzOp{method: m, template: apifuzzBase + tmpl, pathTypes: map[string]*openapi3.Schema{}, weight: 1}
			params := append(append(openapi3.Parameters{}, item.Parameters...), op.Parameters...)
			for _, pr := range params {
				if pr == nil || pr.Value == nil {
					continue
				}
				p := pr.Value
				var s *openapi3.Schema
				if p.Schema != nil {
					s = p.Schema.Value
				}
				switch p.In {
				case "path":
					o.pathTypes[p.Name] = s
				case "query":
					o.query = append(o.query, fzParam{p.Name, s})
				case "header":
					o.headers = append(o.headers, fzParam{p.Name, s})
				}
			}
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				for _, mt := range slices.Sorted(maps.Keys(rb.Value.Content)) {
					o.bodyTypes = append(o.bodyTypes, mt)
					if c := rb.Value.Content[mt]; (mt == "application/json" || mt == "*/*") && c.Schema != nil {
						o.body = c.Schema.Value
					}
				}
			}
			// The registry proper gets more cases than the fixed surfaces
			// (tenants, policies, bundles, extensions, access).
			switch {
			case strings.HasPrefix(tmpl, "/buckets"), strings.HasPrefix(tmpl, "/flows"), strings.HasPrefix(tmpl, "/items"):
				o.weight = 3
			}
			if o.body != nil {
				o.weight++
			}
			ops = append(ops, o)
		}
	}
	return append(ops, apifuzzWeirOps()...)
}

// apifuzzWeirOps are Weir's endpoints outside NiFi's document. Their
// bodies get hand-written schemas so the same generator and mutations
// apply.
func apifuzzWeirOps() []*fzOp {
	str := openapi3.NewStringSchema
	maint := openapi3.NewObjectSchema().
		WithProperty("enabled", openapi3.NewBoolSchema()).
		WithProperty("reason", str()).
		WithProperty("by", str()).
		WithRequired([]string{"enabled"})
	join := openapi3.NewObjectSchema().
		WithProperty("id", str()).WithProperty("raftAddr", str()).
		WithProperty("apiUrl", str()).WithProperty("zone", str()).
		WithRequired([]string{"id", "raftAddr", "apiUrl"})
	remove := openapi3.NewObjectSchema().
		WithProperty("id", str()).WithProperty("force", openapi3.NewBoolSchema()).
		WithRequired([]string{"id"})
	transfer := openapi3.NewObjectSchema().WithProperty("id", str()).WithRequired([]string{"id"})
	json := []string{"application/json"}
	act := apifuzzBase + "/actuator"
	get := func(p string, w int) *fzOp {
		return &fzOp{method: "GET", template: p, pathTypes: map[string]*openapi3.Schema{}, weight: w, weir: true}
	}
	ops := []*fzOp{
		get(act+"/maintenance", 2),
		{method: "POST", template: act + "/maintenance", body: maint, bodyTypes: json, weight: 4, admin: "maintenance", weir: true,
			query: []fzParam{{"by", str()}}},
		get(act+"/health", 1),
		get(act+"/health/{component}", 2),
		get(act+"/prometheus", 1),
		get("/weir-api/cluster/status", 1),
		{method: "GET", template: "/weir-api/cluster/local", weight: 2, admin: "recompute", weir: true,
			query: []fzParam{{"recompute", str()}}},
		{method: "GET", template: act + "/backup", weight: 1, admin: "backup", weir: true},
		{method: "POST", template: act + "/backup", weight: 1, admin: "backup", weir: true},
		{method: "POST", template: "/weir-api/cluster/join", body: join, bodyTypes: json, weight: 2, admin: "join", weir: true},
		{method: "POST", template: "/weir-api/cluster/remove", body: remove, bodyTypes: json, weight: 2, admin: "remove", weir: true},
		{method: "POST", template: "/weir-api/cluster/transfer-leader", body: transfer, bodyTypes: json, weight: 2, admin: "transfer-leader", weir: true},
	}
	for _, c := range []string{"liveness", "readiness", "leader", "storage", "cluster", "maintenance"} {
		ops = append(ops, get(act+"/health/"+c, 1))
	}
	for _, o := range ops {
		if o.pathTypes == nil {
			o.pathTypes = map[string]*openapi3.Schema{}
		}
	}
	return ops
}

// ---- values

// fzHostileSegs are path segments as sent (already percent-encoded where
// that is the point): dot segments in every spelling, encoded slashes,
// invalid UTF-8, NULs, spaces, unicode, numbers at the edges, words of the
// API itself, and invalid escapes.
var fzHostileSegs = []string{
	"", ".", "..", "...", "%2e", "%2E", "%2e%2e", "%2E%2E", ".%2e", "%2e.",
	"%2F", "a%2Fb", "..%2F..", "%2F..", "%5C", "..%5C..", "%2f%2e%2e",
	"%FF", "%C3%28", "%ED%A0%80", "%C0%AF", "%F8%88%80%80%80", "%00", "a%00b",
	"%20", "id%20with%20spaces", "%20lead", "trail%20", "+", "%2B", "~",
	"%E6%97%A5%E6%9C%AC", "日本", "%F0%9F%99%82", "e%CC%81", "%EF%BB%BF", "%E2%80%AE",
	"%0A", "%0D%0A", "%09", "%25", "%", "%zz", "%2",
	"latest", "fields", "versions", "import", "export", "metadata", "diff",
	"-1", "0", "1", "2", "2147483647", "2147483648", "-2147483649", "99999999999999999999",
	"1e3", "0x10", "01", "+1", "1.0", "null", "undefined", "true",
	"%22", "'", "%27", "%3Cscript%3E", "%3B", "a;b", "%3F", "%23", "*", "%2A",
	"$", "@", ":", "a:b", "=", "&", ",", "%7B%7D", "%7BbucketId%7D",
}

var fzAlnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (f *apiFuzzer) pick(n int) int        { return f.rng.Intn(n) }
func (f *apiFuzzer) chance(p float64) bool { return f.rng.Float64() < p }

// someBucket and someFlow pick one of the known buckets or flows (there
// must be one).
func (f *apiFuzzer) someBucket() fzBucket { return f.buckets[f.pick(len(f.buckets))] }
func (f *apiFuzzer) someFlow() fzFlow     { return f.flows[f.pick(len(f.flows))] }

func (f *apiFuzzer) alnum(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = fzAlnum[f.rng.Intn(len(fzAlnum))]
	}
	return string(b)
}

// uuid is a random version-4 shaped id from the seeded source.
func (f *apiFuzzer) uuid() string {
	var b [16]byte
	f.rng.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// hostileSeg returns a raw path segment nobody would send by accident.
func (f *apiFuzzer) hostileSeg() string {
	switch f.pick(10) {
	case 0:
		return strings.Repeat("a", []int{300, 5000, 40000}[f.pick(3)])
	case 1:
		return strings.Repeat("%E6%97%A5", 1+f.pick(600))
	case 2:
		return f.alnum(1 + f.pick(40))
	case 3:
		return f.uuid()
	default:
		return fzHostileSegs[f.pick(len(fzHostileSegs))]
	}
}

// decorate spoils a real id so it is almost, but not quite, that id.
func (f *apiFuzzer) decorate(id string) string {
	if id == "" {
		return f.hostileSeg()
	}
	switch f.pick(10) {
	case 0:
		return id + "%20"
	case 1:
		return "%20" + id
	case 2:
		return strings.ToUpper(id)
	case 3:
		return id + "."
	case 4:
		return id + "/"
	case 5:
		return id + "/.."
	case 6:
		return id + "%2F.."
	case 7:
		return id + "%00"
	case 8:
		return id + "%FF"
	default:
		return id[:len(id)/2]
	}
}

// fzHostileText are JSON string values (raw Go strings; invalid UTF-8 is
// injected separately by the mutations).
var fzHostileText = []string{
	"", " ", "  x  ", ".", "..", "../..", "a/b", "/", "\\", "\x00", "a\x00b", "\u2028", "\u202e", "\ufeff",
	"日本語", "🙂", "e\u0301", "\t\n\r", "<script>alert(1)</script>", "' OR 1=1 --", "%s%n%x", "${jndi:ldap://x/a}",
	"null", "-1", "0", "\"quoted\"", "%FF", "%2e%2e", "latest", "id with spaces",
}

func (f *apiFuzzer) hostileText() string {
	switch f.pick(8) {
	case 0:
		return strings.Repeat("x", []int{51, 300, 5000, 70000}[f.pick(4)])
	case 1:
		return strings.Repeat("日", 1+f.pick(3000))
	default:
		return fzHostileText[f.pick(len(fzHostileText))]
	}
}

func (f *apiFuzzer) name() string {
	f.seq++
	return fmt.Sprintf("fz-%d-%s", f.seq, f.alnum(5))
}

// fzPath is what was chosen for the path of one case; the body generator
// uses the same ids so that many bodies are consistent with their path.
type fzPath struct {
	bucket, flow string // live ids chosen (empty if none)
	next         int    // next version of flow (0: unknown)
	// self is the id the path names for a PUT (its body's identifier
	// must match it).
	self string
}

// genPath fills a template's {params}, returning the raw path. Ids the
// server handed out are percent-encoded as a client would (an id with a
// space is sent as %20); the hostile values are sent as they are.
func (f *apiFuzzer) genPath(o *fzOp) (string, fzPath) {
	var pc fzPath
	var fl *fzFlow
	if strings.Contains(o.template, "{flowId}") && len(f.flows) > 0 && f.chance(0.7) {
		fl = &f.flows[f.pick(len(f.flows))]
		pc.flow, pc.bucket, pc.next = fl.id, fl.bucket, fl.versions+1
	}
	if pc.bucket == "" && len(f.buckets) > 0 && f.chance(0.7) {
		pc.bucket = f.someBucket().id
	}
	segs := strings.Split(o.template, "/")
	for i, s := range segs {
		if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
			continue
		}
		name := s[1 : len(s)-1]
		segs[i] = f.pathValue(o, name, pc, fl)
		if o.method == "PUT" && i == len(segs)-1 {
			pc.self, _ = url.PathUnescape(segs[i])
		}
	}
	return strings.Join(segs, "/"), pc
}

func (f *apiFuzzer) pathValue(o *fzOp, name string, pc fzPath, fl *fzFlow) string {
	r := f.rng.Float64()
	switch name {
	case "bucketId":
		switch {
		case r < 0.65 && pc.bucket != "":
			return url.PathEscape(pc.bucket)
		case r < 0.72 && len(f.seenBuckets) > 0:
			return url.PathEscape(f.seenBuckets[f.pick(len(f.seenBuckets))])
		case r < 0.78 && pc.bucket != "":
			return f.decorate(url.PathEscape(pc.bucket))
		case r < 0.82 && len(f.flows) > 0:
			return url.PathEscape(f.someFlow().id) // a flow id where a bucket id goes
		}
		return f.hostileSeg()
	case "flowId":
		switch {
		case r < 0.65 && pc.flow != "":
			return url.PathEscape(pc.flow)
		case r < 0.72 && len(f.seenFlows) > 0:
			return url.PathEscape(f.seenFlows[f.pick(len(f.seenFlows))])
		case r < 0.78 && pc.flow != "":
			return f.decorate(url.PathEscape(pc.flow))
		case r < 0.82 && len(f.buckets) > 0:
			return url.PathEscape(f.someBucket().id)
		}
		return f.hostileSeg()
	case "versionNumber", "versionA", "versionB":
		switch {
		case r < 0.55 && fl != nil && fl.versions > 0:
			return strconv.Itoa(1 + f.pick(fl.versions))
		case r < 0.65 && fl != nil:
			return strconv.Itoa(fl.versions + 1)
		case r < 0.8:
			return []string{"0", "-1", "-2", "1", "2147483647", "2147483648", "9223372036854775808", "latest", "1.5", "01", "+1", "1e2", "0x1"}[f.pick(13)]
		}
		return f.hostileSeg()
	case "bucketName":
		if r < 0.4 && len(f.buckets) > 0 {
			return url.PathEscape(f.someBucket().name)
		}
	case "bundleType":
		if r < 0.5 {
			return []string{"nifi-nar", "minifi-cpp", "NIFI_NAR", "MINIFI_CPP"}[f.pick(4)]
		}
	case "action":
		if r < 0.5 {
			return []string{"read", "write", "delete", "READ"}[f.pick(4)]
		}
	case "resource":
		if r < 0.4 && pc.bucket != "" {
			return "buckets/" + url.PathEscape(pc.bucket)
		}
	case "component":
		if r < 0.4 {
			return []string{"liveness", "readiness", "leader", "storage", "cluster", "maintenance", "backup", "LEADER"}[f.pick(8)]
		}
	}
	if s := o.pathTypes[name]; s != nil && (s.Type.Is("integer") || s.Type.Is("number")) && r < 0.7 {
		return strconv.Itoa(f.pick(5) - 1)
	}
	if r < 0.85 {
		return f.hostileSeg()
	}
	return url.PathEscape(f.alnum(1 + f.pick(12)))
}

// queryValue is a raw (encoded) query value for a parameter of schema s.
func (f *apiFuzzer) queryValue(name string, s *openapi3.Schema, pc fzPath) string {
	if f.chance(0.15) {
		return f.hostileSeg()
	}
	switch {
	case s != nil && s.Type.Is("boolean"):
		return []string{"true", "false", "TRUE", "True", "1", "0", "yes", "", "t"}[f.pick(9)]
	case s != nil && (s.Type.Is("integer") || s.Type.Is("number")):
		return []string{"0", "1", "-1", "42", "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1.5", "abc", "", "1e3"}[f.pick(11)]
	}
	switch name {
	case "clientId":
		return f.uuid()
	case "bucketName":
		if len(f.buckets) > 0 && f.chance(0.5) {
			return url.QueryEscape(f.someBucket().name)
		}
	case "recompute":
		return []string{"1", "true", "0", ""}[f.pick(4)]
	}
	return url.QueryEscape(f.alnum(f.pick(20)))
}

// genQuery builds the raw query: declared parameters, Weir's own flags,
// unknown and repeated ones.
func (f *apiFuzzer) genQuery(o *fzOp, pc fzPath) string {
	var kv []string
	add := func(k, v string) { kv = append(kv, url.QueryEscape(k)+"="+v) }
	for _, p := range o.query {
		if f.chance(0.6) {
			add(p.name, f.queryValue(p.name, p.schema, pc))
		}
	}
	boolSchema := openapi3.NewBoolSchema()
	intSchema := openapi3.NewInt64Schema()
	if f.chance(0.15) {
		add("preserveSourceProperties", f.queryValue("preserveSourceProperties", boolSchema, pc))
	}
	if f.chance(0.2) {
		add("consistency", []string{"stale", "STALE", "Stale", "linearizable", "", "%FF", "stale%00"}[f.pick(7)])
	}
	if f.chance(0.1) {
		add("version", f.queryValue("version", intSchema, pc))
	}
	if f.chance(0.1) {
		add("clientId", f.queryValue("clientId", nil, pc))
	}
	if f.chance(0.05) {
		add(f.alnum(1+f.pick(8)), f.hostileSeg())
	}
	if len(kv) > 0 && f.chance(0.05) {
		kv = append(kv, kv[f.pick(len(kv))]) // a parameter twice
	}
	if f.chance(0.02) {
		kv = append(kv, []string{"&", "=", "==", "a", "%", "%zz=1", ";"}[f.pick(7)])
	}
	return strings.Join(kv, "&")
}

// ---- bodies

// genValue builds a value for schema s (field is its property name, used
// to pick realistic values: ids that exist, the next version number).
func (f *apiFuzzer) genValue(s *openapi3.Schema, field string, depth int, pc fzPath, admin string) any {
	if s == nil {
		return f.alnum(f.pick(10))
	}
	for _, alt := range [][]*openapi3.SchemaRef{s.OneOf, s.AnyOf, s.AllOf} {
		if len(alt) > 0 && alt[0] != nil && alt[0].Value != nil && len(s.Properties) == 0 && s.Type.IsEmpty() {
			return f.genValue(alt[f.pick(len(alt))].Value, field, depth, pc, admin)
		}
	}
	if field == "identifier" && depth == 1 && pc.self != "" && f.chance(0.6) {
		return pc.self
	}
	if len(s.Enum) > 0 && !f.chance(0.1) {
		return s.Enum[f.pick(len(s.Enum))]
	}
	switch {
	case s.Type.Is("object") || (s.Type.IsEmpty() && len(s.Properties) > 0):
		if depth > 6 {
			return map[string]any{}
		}
		m := map[string]any{}
		req := map[string]bool{}
		for _, r := range s.Required {
			req[r] = true
		}
		names := slices.Sorted(maps.Keys(s.Properties))
		p := []float64{0.5, 0.4, 0.2, 0.05, 0.02}[min(depth, 4)]
		for _, n := range names {
			ps := s.Properties[n]
			if ps == nil || ps.Value == nil {
				continue
			}
			q := p
			if fzKeyFields[n] && depth <= 2 {
				q = 0.9
			}
			if ps.Value.ReadOnly {
				q /= 3
			}
			if req[n] || f.chance(q) {
				m[n] = f.genValue(ps.Value, n, depth+1, pc, admin)
			}
		}
		if len(s.Properties) == 0 && s.AdditionalProperties.Schema != nil && s.AdditionalProperties.Schema.Value != nil && depth < 4 {
			for i := f.pick(3); i > 0; i-- {
				m[f.alnum(1+f.pick(8))] = f.genValue(s.AdditionalProperties.Schema.Value, "", depth+1, pc, admin)
			}
		}
		return m
	case s.Type.Is("array"):
		n := 0
		switch {
		case depth <= 2:
			n = f.pick(3)
		case depth == 3:
			n = f.pick(2)
		}
		a := make([]any, 0, n)
		for i := 0; i < n; i++ {
			var is *openapi3.Schema
			if s.Items != nil {
				is = s.Items.Value
			}
			a = append(a, f.genValue(is, field, depth+1, pc, admin))
		}
		return a
	case s.Type.Is("integer"):
		return f.genInt(field, s, pc)
	case s.Type.Is("number"):
		return []any{0, 1.5, -3, 1e10}[f.pick(4)]
	case s.Type.Is("boolean"):
		return f.chance(0.5)
	}
	return f.genString(field, pc, admin)
}

func (f *apiFuzzer) genInt(field string, s *openapi3.Schema, pc fzPath) any {
	switch field {
	case "version":
		r := f.rng.Float64()
		switch {
		case r < 0.4 && pc.next > 0:
			return pc.next
		case r < 0.75:
			return -1
		}
	case "createdTimestamp", "modifiedTimestamp", "timestamp":
		return []any{0, -1, 1700000000000, json.Number("9223372036854775807")}[f.pick(4)]
	}
	return []any{0, 1, -1, 2, 7, 1000, json.Number("2147483648"), json.Number("-9223372036854775808")}[f.pick(8)]
}

func (f *apiFuzzer) genString(field string, pc fzPath, admin string) string {
	if admin == "join" || admin == "remove" || admin == "transfer-leader" {
		switch field {
		case "id":
			return f.nonMember()
		case "raftAddr":
			return "127.0.0.1:1" // nothing listens there
		case "apiUrl":
			return "http://127.0.0.1:1"
		}
	}
	r := f.rng.Float64()
	switch field {
	case "identifier":
		switch {
		case r < 0.5:
			return f.uuid()
		case r < 0.6 && len(f.buckets) > 0:
			return f.someBucket().id
		case r < 0.7 && len(f.flows) > 0:
			return f.someFlow().id
		}
		return f.hostileText()
	case "bucketIdentifier":
		switch {
		case r < 0.7 && pc.bucket != "":
			return pc.bucket
		case r < 0.8 && len(f.buckets) > 0:
			return f.someBucket().id
		}
		return f.hostileText()
	case "flowIdentifier":
		switch {
		case r < 0.7 && pc.flow != "":
			return pc.flow
		case r < 0.8 && len(f.flows) > 0:
			return f.someFlow().id
		}
		return f.hostileText()
	case "name", "identity":
		if r < 0.85 {
			return f.name()
		}
		return f.hostileText()
	case "type":
		if r < 0.8 {
			return "Flow"
		}
	case "flowEncodingVersion":
		if r < 0.7 {
			return "1.0"
		}
	}
	if r < 0.75 {
		return f.alnum(f.pick(16)) + []string{"", " é", " 日本", " 🙂"}[f.pick(4)]
	}
	return f.hostileText()
}

// nonMember is a node id that is certainly not a member (members are
// n1..n3): membership calls are sent with it so that, even if one were
// accepted, no live node is removed or made leader.
func (f *apiFuzzer) nonMember() string {
	switch f.pick(6) {
	case 0:
		return "zz-" + strings.Repeat("x", 5000)
	case 1:
		return "zz-日本-" + f.alnum(4)
	case 2:
		return "zz-" + f.alnum(4) + " with spaces"
	}
	return "zz-nonmember-" + f.alnum(6)
}

// Sentinels replaced after marshalling, for what encoding/json will not
// write: invalid UTF-8 and nesting deeper than any decoder allows.
// fzBigNote marks the cases with a body above --max-body.
const fzBigNote = "33 MiB body"

const (
	fzBadUTF8 = "@@FZBADUTF8@@"
	fzDeep    = "@@FZDEEP@@"
)

var fzBadBytes = []string{"\xff", "\xfe\xff", "\xc3\x28", "\xed\xa0\x80", "\xc0\xaf", "\xf8\x88\x80\x80\x80", "\xe6\x97", "a\x80b"}

// fzKeyFields are the members the registry reads: generated nearly
// always, so that many bodies are complete enough to be accepted.
var fzKeyFields = map[string]bool{
	"version": true, "name": true, "identifier": true, "bucketIdentifier": true, "flowIdentifier": true,
	"comments": true, "processors": true, "type": true,
}

// fzSlot is a place in a generated JSON tree that a mutation can change.
type fzSlot struct {
	obj   map[string]any
	arr   []any
	key   string
	idx   int
	depth int
	req   bool // a required property of its object
}

func (s fzSlot) get() any {
	if s.obj != nil {
		return s.obj[s.key]
	}
	return s.arr[s.idx]
}

func (s fzSlot) set(v any) {
	if s.obj != nil {
		s.obj[s.key] = v
	} else {
		s.arr[s.idx] = v
	}
}

// slots lists every member and element of v in a fixed order.
func fzSlots(v any, depth int, out []fzSlot) []fzSlot {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			out = append(out, fzSlot{obj: x, key: k, depth: depth})
			out = fzSlots(x[k], depth+1, out)
		}
	case []any:
		for i := range x {
			out = append(out, fzSlot{arr: x, idx: i, depth: depth})
			out = fzSlots(x[i], depth+1, out)
		}
	}
	return out
}

// genBody builds the body of a case: JSON from the schema, then (often)
// mutated. It returns the bytes and a short description of what was done.
func (f *apiFuzzer) genBody(o *fzOp, pc fzPath) ([]byte, string) {
	if o.body == nil {
		if len(o.bodyTypes) > 0 { // multipart bundle upload
			return f.multipart(), "multipart"
		}
		return []byte(`{"name":"` + f.name() + `"}`), "body on an operation without one"
	}
	if f.chance(0.003) {
		// Above --max-body (32 MiB by default): 413, nothing buffered
		// on the leader.
		if f.big == nil {
			f.big = []byte(`{"name":"` + strings.Repeat("x", 33<<20) + `"}`)
		}
		return f.big, fzBigNote
	}
	v := f.genValue(o.body, "", 0, pc, o.admin)
	membership := o.admin == "join" || o.admin == "remove" || o.admin == "transfer-leader"
	var notes []string
	if f.chance(0.55) {
		for n := 1 + f.pick(2); n > 0; n-- {
			notes = append(notes, f.mutateTree(&v, o, membership))
		}
	}
	b, err := fzMarshal(v)
	if err != nil {
		f.t.Fatalf("marshal generated body: %v", err)
	}
	b = f.expandSentinels(b)
	if f.chance(0.12) {
		var note string
		b, note = f.mutateBytes(b, membership)
		notes = append(notes, note)
	}
	return b, strings.Join(notes, ", ")
}

func fzMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func (f *apiFuzzer) expandSentinels(b []byte) []byte {
	for bytes.Contains(b, []byte(fzBadUTF8)) {
		b = bytes.Replace(b, []byte(fzBadUTF8), []byte(fzBadBytes[f.pick(len(fzBadBytes))]), 1)
	}
	for bytes.Contains(b, []byte(`"`+fzDeep+`"`)) {
		n := []int{64, 1000, 10001, 100000}[f.pick(4)]
		deep := strings.Repeat("[", n) + strings.Repeat("]", n)
		if f.chance(0.3) {
			deep = strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
		}
		b = bytes.Replace(b, []byte(`"`+fzDeep+`"`), []byte(deep), 1)
	}
	return b
}

// mutateTree changes one place of the tree; membership bodies keep a
// non-member "id" (never removed, null, empty or a member).
func (f *apiFuzzer) mutateTree(v *any, o *fzOp, membership bool) string {
	root, isObj := (*v).(map[string]any)
	slots := fzSlots(*v, 0, nil)
	if len(slots) == 0 || !isObj {
		return "none"
	}
	s := slots[f.pick(len(slots))]
	protected := membership && s.obj != nil && s.depth == 0 && s.key == "id"
	switch k := f.pick(9); {
	case k == 0 && !protected: // missing (often required) field
		if s.obj != nil {
			// Prefer a required member of the top object.
			if o.body != nil && len(o.body.Required) > 0 && f.chance(0.5) {
				r := o.body.Required[f.pick(len(o.body.Required))]
				if !(membership && r == "id") {
					delete(root, r)
					return "without required " + r
				}
			}
			delete(s.obj, s.key)
			return "without " + s.key
		}
		s.set(nil)
		return "null element"
	case k == 1 && !protected:
		s.set(nil)
		return "null " + s.key
	case k == 2: // wrong type
		s.set(f.otherType(s.get()))
		return "wrong type for " + s.key
	case k == 3 && !protected:
		s.set("")
		return "empty " + s.key
	case k == 4:
		n := []int{1000, 65537, 300000, 1 << 20}[f.pick(4)]
		big := strings.Repeat("x", n)
		if protected {
			big = "zz-" + big
		}
		s.set(big)
		return fmt.Sprintf("%d-byte %s", n, s.key)
	case k == 5:
		cur, _ := s.get().(string)
		if protected {
			cur = "zz-" + cur
		}
		if f.chance(0.2) && s.obj != nil && !protected {
			// In a member name instead of a value.
			val := s.obj[s.key]
			delete(s.obj, s.key)
			s.obj[s.key+fzBadUTF8] = val
			return "invalid UTF-8 in the name " + s.key
		}
		s.set(cur + fzBadUTF8)
		return "invalid UTF-8 in " + s.key
	case k == 6: // extra members
		root[[]string{"zzExtra", "__proto__", "constructor", "", "日本", "identifier ", "NAME"}[f.pick(7)]] = f.otherType(nil)
		return "extra member"
	case k == 7 && !protected:
		s.set(fzDeep)
		return "deeply nested " + s.key
	default:
		if !protected && (s.obj != nil || s.arr != nil) {
			s.set([]any{f.hostileText(), nil, map[string]any{}})
			return "array for " + s.key
		}
		root["zzExtra"] = f.hostileText()
		return "extra member"
	}
}

// otherType returns a value of a JSON type different from v's.
func (f *apiFuzzer) otherType(v any) any {
	alts := []any{json.Number("12345678901234567890123"), "1", true, false, map[string]any{"x": 1}, []any{1, "a"}, json.Number("-0"), json.Number("1.5e300"), "", json.Number("1e400")}
	for {
		a := alts[f.pick(len(alts))]
		if fmt.Sprintf("%T", a) != fmt.Sprintf("%T", v) {
			return a
		}
	}
}

// mutateBytes spoils the encoded body.
func (f *apiFuzzer) mutateBytes(b []byte, membership bool) ([]byte, string) {
	// Replacements that a membership call decodes to a zero request
	// ("", "null", "{}") would mean "any node" for transfer-leader.
	whole := []string{"[]", "0", `"x"`, "true", "{{", "}", "[", `{"a":`, "\x00\x01\x02\xff\xfe", "<xml/>", "a=1&b=2"}
	if !membership {
		whole = append(whole, "", " ", "null", "{}", "\n\t \n")
	}
	switch k := f.pick(6); {
	case k == 0 && len(b) > 1:
		n := f.pick(len(b))
		if membership && n == 0 {
			n = 1 // an empty transfer-leader body means "any node"
		}
		return b[:n], fmt.Sprintf("truncated to %d of %d bytes", n, len(b))
	case k == 1:
		return append([]byte("\xef\xbb\xbf"), b...), "UTF-8 BOM"
	case k == 2:
		tails := []string{"}", "{}", " x", `,"a":1}`, "\x00", "[]"}
		return append(append([]byte{}, b...), tails[f.pick(len(tails))]...), "trailing garbage"
	case k == 3 && !membership && len(b) > 1 && b[0] == '{':
		dup := `{"name":"` + f.name() + `","identifier":"` + f.uuid() + `",`
		if b[1] == '}' {
			dup = dup[:len(dup)-1]
		}
		return append([]byte(dup), b[1:]...), "duplicate members"
	case k == 4:
		return bytes.ReplaceAll(b, []byte(`"`), []byte(`'`)), "single quotes"
	}
	w := whole[f.pick(len(whole))]
	return []byte(w), fmt.Sprintf("body %q", w)
}

func (f *apiFuzzer) multipart() []byte {
	var b strings.Builder
	b.WriteString("--zzb\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.nar\"\r\nContent-Type: application/octet-stream\r\n\r\n")
	b.WriteString(f.alnum(f.pick(200)))
	b.WriteString("\r\n--zzb--\r\n")
	return []byte(b.String())
}

// genContentType picks the Content-Type of a case with a body ("" means
// no header).
func (f *apiFuzzer) genContentType(o *fzOp) string {
	if len(o.bodyTypes) > 0 && o.bodyTypes[0] == "multipart/form-data" && f.chance(0.6) {
		return "multipart/form-data; boundary=zzb"
	}
	r := f.rng.Float64()
	switch {
	case r < 0.75:
		return "application/json"
	case r < 0.80:
		return "application/json; charset=utf-8"
	case r < 0.88:
		return ""
	case r < 0.96:
		return "text/plain"
	}
	return []string{"application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=zzb", "application/octet-stream", "APPLICATION/JSON", "application/json; charset=latin1"}[f.pick(6)]
}

// ---- the ids the fuzzer knows

type fzBucket struct{ id, name string }

type fzFlow struct {
	bucket, id, name string
	versions         int
}
