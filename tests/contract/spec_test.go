package contract

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/weir-nifi/weir/internal/apidoc"
)

var (
	specOnce sync.Once
	specDoc  *openapi3.T
	specErr  error
)

// loadSpec returns the parsed and validated OpenAPI description the node
// serves (package apidoc: NiFi Registry 2.7.2's document and Weir's
// operations), which every answer is validated against.
func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		var b []byte
		if b, specErr = apidoc.JSON(); specErr != nil {
			return
		}
		loader := openapi3.NewLoader()
		if specDoc, specErr = loader.LoadFromData(b); specErr == nil {
			// VisitJSON needs a document that passed validation.
			specErr = specDoc.Validate(loader.Context, openapi3.DisableExamplesValidation(), openapi3.EnableMultiError())
		}
	})
	if specErr != nil {
		t.Fatalf("the served OpenAPI description: %v", specErr)
	}
	return specDoc
}

// covered records which operations (METHOD template) each test validated.
var covered = struct {
	sync.Mutex
	ops map[string]bool
}{ops: map[string]bool{}}

func markCovered(t testing.TB, method, template string) {
	covered.Lock()
	covered.ops[t.Name()+" "+method+" "+template] = true
	covered.Unlock()
}

func isCovered(t testing.TB, method, template string) bool {
	covered.Lock()
	defer covered.Unlock()
	return covered.ops[t.Name()+" "+method+" "+template]
}

// validate checks one answer of operation (method, template) against the
// contract:
//
//   - a 2xx status must be documented for the operation, the body must be
//     application/json and valid against the documented schema (as a
//     response: readOnly fields allowed, required fields enforced);
//   - every "link" member must be in the JAXB wire form (see checkLinks);
//   - any other status must carry NiFi's text/plain message. Error
//     statuses the spec leaves out (it documents no 409 for POST /buckets,
//     although NiFi answers one for a duplicate name) are only logged.
func validate(t testing.TB, method, template string, r *response) {
	t.Helper()
	doc := loadSpec(t)
	markCovered(t, method, template)
	item := doc.Paths.Value(template)
	if item == nil {
		t.Errorf("%s %s: path not in the served description", method, template)
		return
	}
	op := item.GetOperation(method)
	if op == nil {
		t.Errorf("%s %s: operation not in the served description", method, template)
		return
	}
	if r.status/100 != 2 {
		if !isText(r.header) {
			t.Errorf("%s: error answer must be text/plain, got %q", r, r.header.Get("Content-Type"))
		}
		if len(r.body) == 0 {
			t.Errorf("%s: error answer without a message", r)
		}
		if op.Responses.Status(r.status) == nil && op.Responses.Default() == nil {
			t.Logf("note: %s %s answered %d, a status the spec does not list for it", method, template, r.status)
		}
		return
	}
	ref := op.Responses.Status(r.status)
	if ref == nil {
		ref = op.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		t.Errorf("%s: status %d is not documented for %s %s", r, r.status, method, template)
		return
	}
	if len(ref.Value.Content) == 0 {
		return // nothing documented about the body
	}
	mt := ref.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		// text/plain tokens, octet-stream bundles, */* redirects: only the
		// media type can be checked.
		ct := r.header.Get("Content-Type")
		for mime := range ref.Value.Content {
			if mime == "*/*" || strings.HasPrefix(ct, mime) {
				return
			}
		}
		t.Errorf("%s: Content-Type %q is none of those documented for %s %s", r, ct, method, template)
		return
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", r, ct)
	}
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Errorf("%s: body is not JSON: %v", r, err)
		return
	}
	checkLinks(t, method+" "+template, strings.HasPrefix(template, "/extension-repository"), v)
	checkNoNulls(t, method+" "+template, "", v)
	if isExport(template) {
		v = restoreExportIdentifiers(t, v)
	}
	bundleTypesToSpec(t, method+" "+template, v)
	if err := mt.Schema.Value.VisitJSON(v, openapi3.VisitAsResponse(), openapi3.MultiErrors()); err != nil {
		t.Errorf("%s %s: body does not match the spec's schema:\n%v\nbody: %s", method, template, err, truncate(r.body, 1500))
	}
}

// isExport reports the export operation, whose body NiFi strips on
// purpose (see restoreExportIdentifiers).
func isExport(template string) bool {
	return strings.HasSuffix(template, "/versions/{versionNumber}/export")
}

// restoreExportIdentifiers handles the one place where NiFi's answer
// contradicts its own schema. VersionedFlowSnapshotMetadata lists
// bucketIdentifier and flowIdentifier as required, but the export
// operation removes them (and the link) so the file can be imported
// anywhere: StandardServiceFacade.exportFlowSnapshot, lines 409-411 of
// nifi-registry-web-api/.../web/service/StandardServiceFacade.java, and
// FlowsIT.testExportVersionedFlowSnapshot asserts they are null. The test
// first requires them to be absent, as NiFi sends it, then validates the
// rest of the body with placeholder identifiers put back, so every other
// constraint of the schema still applies.
func restoreExportIdentifiers(t testing.TB, v any) any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	md, _ := m["snapshotMetadata"].(map[string]any)
	if md == nil {
		t.Errorf("export: no snapshotMetadata")
		return v
	}
	for _, k := range []string{"bucketIdentifier", "flowIdentifier", "link"} {
		if _, present := md[k]; present {
			t.Errorf("export: snapshotMetadata.%s must be left out, as NiFi does", k)
		}
	}
	for _, k := range []string{"bucket", "flow"} {
		if _, present := m[k]; present {
			t.Errorf("export: %s must be left out, as NiFi does", k)
		}
	}
	md["bucketIdentifier"] = "exported"
	md["flowIdentifier"] = "exported"
	return v
}

// bundleTypesToSpec handles the second place where NiFi's wire form is not
// its spec's: the spec lists bundleType as the enum constants NIFI_NAR and
// MINIFI_CPP, but BundleType carries @XmlJavaTypeAdapter(BundleTypeAdapter)
// and NiFi's mapper uses the JAXB introspector
// (nifi-registry-data-model/.../extension/bundle/BundleType.java:24,
// ObjectMapperProvider.java:38), so the wire value is the display name,
// "nifi-nar" or "minifi-cpp" (registry-api.md §3.7). The function requires
// the display name on the wire and swaps in the constant for the schema
// check; any other value is left alone for the schema to reject.
func bundleTypesToSpec(t testing.TB, where string, v any) {
	t.Helper()
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			bundleTypesToSpec(t, where, e)
		}
	case map[string]any:
		for k, e := range x {
			if k == "flowContents" {
				continue
			}
			if k == "bundleType" {
				switch e {
				case "nifi-nar":
					x[k] = "NIFI_NAR"
				case "minifi-cpp":
					x[k] = "MINIFI_CPP"
				case "NIFI_NAR", "MINIFI_CPP":
					t.Errorf("%s: bundleType %q: NiFi sends the display name (BundleTypeAdapter)", where, e)
				}
				continue
			}
			bundleTypesToSpec(t, where, e)
		}
	}
}

// checkNoNulls requires an answer without null members or elements:
// NiFi's mapper includes only non-null values, for members and map
// contents alike (ObjectMapperProvider.java:37), and BucketsIT
// .testGetBuckets asserts the text has no "null". Flow document parts are
// the client's own JSON (see realflow_test.go) and are not looked into.
func checkNoNulls(t testing.TB, where, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case nil:
		t.Errorf("%s: null at %q; NiFi leaves null members out", where, path)
	case []any:
		for i, e := range x {
			checkNoNulls(t, where, fmt.Sprintf("%s[%d]", path, i), e)
		}
	case map[string]any:
		for k, e := range x {
			switch k {
			case "flowContents", "parameterContexts", "externalControllerServices", "parameterProviders":
				continue
			}
			checkNoNulls(t, where, path+"."+k, e)
		}
	}
}

// checkLinks requires every "link" member to be NiFi's wire form of a
// JAX-RS Link: {"href": <path relative to the API base>, "params":
// {"rel": ...}} and nothing else. The extension repository is the
// exception NiFi makes: ExtensionRepoResource builds its links from the
// request's base URI, so they are absolute (absolute set).
//
// The spec's Link schema describes the Java object (uri, rel, rels, title,
// type, uriBuilder, params), which NiFi never sends: Jackson serialises
// links through JAXB's Link.JaxbAdapter, whose JaxbLink has only href and
// params (BucketsIT and FlowsIT expect {"params":{"rel":"self"},"href":
// "buckets/1"}). The schema validation above accepts the JAXB form only
// because that schema declares no required members and does not forbid
// unknown ones (TestContractLinkSchema pins this), so this function is
// what actually checks links.
func checkLinks(t testing.TB, where string, absolute bool, v any) {
	t.Helper()
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			checkLinks(t, where, absolute, e)
		}
	case map[string]any:
		for k, e := range x {
			if k == "link" {
				checkLink(t, where, absolute, e)
				continue
			}
			// Flow documents are opaque; a component may have a member
			// called "link" of its own.
			if k == "flowContents" || k == "parameterContexts" || k == "externalControllerServices" || k == "parameterProviders" {
				continue
			}
			checkLinks(t, where, absolute, e)
		}
	}
}

func checkLink(t testing.TB, where string, absolute bool, v any) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s: link is not an object: %v", where, v)
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "href,params" {
		t.Errorf("%s: link members %v, want exactly href and params (JAXB form)", where, keys)
	}
	href, _ := m["href"].(string)
	switch {
	case absolute && !strings.HasPrefix(href, "http://") && !strings.HasPrefix(href, "https://"):
		t.Errorf("%s: link href %q must be an absolute URL", where, href)
	case !absolute && (href == "" || strings.HasPrefix(href, "/") || strings.Contains(href, "://")):
		t.Errorf("%s: link href %q must be relative to the API base", where, href)
	}
	params, _ := m["params"].(map[string]any)
	rel, _ := params["rel"].(string)
	if len(params) != 1 || (rel != "self" && rel != "content" && rel != "docs") {
		t.Errorf("%s: link params %v, want {rel: self|content|docs}", where, params)
	}
}

// TestContractLinkSchema pins the property of the spec's Link schema that
// lets NiFi's JAXB link form pass schema validation, so that a change of
// the spec cannot silently turn link validation into a no-op or a failure
// without this test saying why.
func TestContractLinkSchema(t *testing.T) {
	doc := loadSpec(t)
	ref := doc.Components.Schemas["Link"]
	if ref == nil || ref.Value == nil {
		t.Fatal("spec has no Link schema")
	}
	s := ref.Value
	if _, ok := s.Properties["href"]; ok {
		t.Fatal("the spec's Link schema now declares href: revisit checkLinks")
	}
	if len(s.Required) != 0 {
		t.Fatalf("Link schema requires %v, which NiFi's JAXB form does not send", s.Required)
	}
	if s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has {
		t.Fatal("Link schema forbids unknown members; NiFi's href would be rejected")
	}
	wire := map[string]any{"href": "buckets/1", "params": map[string]any{"rel": "self"}}
	if err := s.VisitJSON(wire, openapi3.VisitAsResponse()); err != nil {
		t.Fatalf("JAXB link rejected by the Link schema: %v", err)
	}
}

// TestContractValidationDetects shows that validate is not vacuous: a
// body missing a required member, a member of the wrong type, a link in
// another form, an export with identifiers and an error that is not
// text/plain are all reported.
func TestContractValidationDetects(t *testing.T) {
	loadSpec(t)
	js := http.Header{"Content-Type": {"application/json"}}
	link := `"link":{"href":"buckets/b","params":{"rel":"self"}}`
	cases := []struct {
		method, template string
		status           int
		header           http.Header
		body             string
		bad              bool
	}{
		{"GET", "/buckets/{bucketId}", 200, js, `{"identifier":"b","name":"n",` + link + `}`, false},
		{"GET", "/buckets/{bucketId}", 200, js, `{"identifier":"b",` + link + `}`, true},
		{"GET", "/buckets/{bucketId}", 200, js, `{"identifier":"b","name":"n","createdTimestamp":"now"}`, true},
		{"GET", "/buckets/{bucketId}", 200, js, `{"identifier":"b","name":"n","link":{"href":"/nifi-registry-api/buckets/b","params":{"rel":"self"}}}`, true},
		{"GET", "/buckets/{bucketId}", 200, js, `{"identifier":"b","name":"n","link":{"uri":"http://x/buckets/b","rel":"self"}}`, true},
		{"GET", "/buckets/{bucketId}/flows", 200, js, `[{"identifier":"f","name":"n","bucketIdentifier":"b","type":"Flow"}]`, false},
		{"GET", "/buckets/{bucketId}/flows", 200, js, `[{"identifier":"f","name":"n","bucketIdentifier":"b","type":"Thing"}]`, true},
		{"GET", "/buckets/{bucketId}/flows/{flowId}/versions/{versionNumber}/export", 200, js,
			`{"flowContents":{},"snapshotMetadata":{"author":"a","version":1}}`, false},
		{"GET", "/buckets/{bucketId}/flows/{flowId}/versions/{versionNumber}/export", 200, js,
			`{"flowContents":{},"snapshotMetadata":{"author":"a","version":1,"bucketIdentifier":"b","flowIdentifier":"f"}}`, true},
		{"GET", "/buckets/{bucketId}", 200, js, `{"identifier":"b","name":"n","description":null}`, true},
		{"GET", "/extensions", 200, js, `{"extensions":[],"filterParams":{"bundleType":"nifi-nar"},"numResults":0}`, false},
		{"GET", "/extensions", 200, js, `{"extensions":[],"filterParams":{"bundleType":"NIFI_NAR"},"numResults":0}`, true},
		{"GET", "/extensions", 200, js, `{"extensions":[],"filterParams":{"bundleType":"jar"},"numResults":0}`, true},
		{"GET", "/actuator/health/liveness", 200, js, `{"status":"UP"}`, false},
		{"GET", "/actuator/health/liveness", 200, js, `{}`, true},
		{"GET", "/actuator/health/liveness", 200, js, `{"status":"UP","extra":1}`, true},
		{"GET", "/weir-api/cluster/isolate", 200, js, `{"until":"2026-01-01T00:00:00Z"}`, true},
		{"POST", "/weir-api/cluster/isolate", 200, js, `{"until":"2026-01-01T00:00:00Z"}`, false},
		{"POST", "/weir-api/cluster/isolate", 200, js, `{"until":5}`, true},
		{"GET", "/buckets/{bucketId}", 404, http.Header{"Content-Type": {"text/plain"}}, `The specified bucket ID does not exist in this registry.`, false},
		{"GET", "/buckets/{bucketId}", 404, js, `{"message":"no"}`, true},
		{"GET", "/buckets/{bucketId}", 200, http.Header{"Content-Type": {"text/plain"}}, `{"identifier":"b","name":"n"}`, true},
	}
	for _, c := range cases {
		rec := &recorder{TB: t}
		validate(rec, c.method, c.template, &response{method: c.method, path: c.template, status: c.status, header: c.header, body: []byte(c.body)})
		if rec.failed != c.bad {
			t.Errorf("%s %s %d %s: reported %v, want %v", c.method, c.template, c.status, c.body, rec.failed, c.bad)
		}
	}
}
