package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/flowgen"
)

// The real NiFi flow corpus (see its SOURCES.md). It is not part of the
// project; the corpus test is skipped where it is absent.
var corpusCandidates = []string{
	filepath.Join("..", "..", "..", "shared", "testdata", "flows"),
	filepath.Join("/work", "shared", "testdata", "flows"),
}

func corpusDir() string {
	if d := os.Getenv("WEIR_FLOW_CORPUS"); d != "" {
		return d
	}
	for _, d := range corpusCandidates {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	return ""
}

// docParts are the members of a snapshot that hold the flow itself; the
// registry must give them back unchanged in meaning.
var docParts = []string{"externalControllerServices", "flowContents", "flowEncodingVersion", "parameterContexts", "parameterProviders"}

// flowDoc is one flow document in one of the corpus' three formats.
type flowDoc struct {
	format string // "snapshot", "definition" or "wrapper"
	// snapshot is the VersionedFlowSnapshot (for the wrapper: the inner
	// content.flowSnapshot), members kept raw.
	snapshot map[string]json.RawMessage
}

// parseFlowDoc recognises the three formats: a VersionedFlowSnapshot
// (snapshotMetadata + flowContents), a flow definition as NiFi downloads
// it (flowContents without snapshotMetadata) and the registry's storage
// wrapper {"header":…,"content":{"flowSnapshot":…}}.
func parseFlowDoc(b []byte) (flowDoc, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return flowDoc{}, err
	}
	if content, ok := top["content"]; ok {
		var c struct {
			FlowSnapshot map[string]json.RawMessage `json:"flowSnapshot"`
		}
		if err := json.Unmarshal(content, &c); err != nil || c.FlowSnapshot == nil {
			return flowDoc{}, fmt.Errorf("wrapper without content.flowSnapshot: %v", err)
		}
		return flowDoc{format: "wrapper", snapshot: c.FlowSnapshot}, nil
	}
	if _, ok := top["flowContents"]; !ok {
		return flowDoc{}, fmt.Errorf("no flowContents")
	}
	if _, ok := top["snapshotMetadata"]; ok {
		return flowDoc{format: "snapshot", snapshot: top}, nil
	}
	return flowDoc{format: "definition", snapshot: top}, nil
}

// commitBody is the document as a commit body: the client's members as
// they are (including ones the registry does not know, such as "latest",
// and explicit nulls) with metadata asking for the next version.
func (d flowDoc) commitBody(t testing.TB, comments string) []byte {
	t.Helper()
	m := make(map[string]json.RawMessage, len(d.snapshot)+1)
	for k, v := range d.snapshot {
		m[k] = v
	}
	m["snapshotMetadata"] = jsonBody(t, map[string]any{"version": -1, "comments": comments})
	return rawBody(t, m)
}

// rawBody marshals a document without HTML escaping, so what is sent has
// the file's own spelling of every string.
func rawBody(t testing.TB, m map[string]json.RawMessage) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// importBody is the document as the import endpoint receives it: as is
// (its metadata is discarded except the comments).
func (d flowDoc) importBody(t testing.TB) []byte { return rawBody(t, d.snapshot) }

// nullParts lists the document parts that are explicitly null.
func (d flowDoc) nullParts() []string {
	var out []string
	for _, p := range docParts {
		if v, ok := d.snapshot[p]; ok && string(bytes.TrimSpace(v)) == "null" {
			out = append(out, p)
		}
	}
	return out
}

// decodeExact decodes JSON keeping numbers as written, so 400.0 and 400
// stay different and large integers are not rounded.
func decodeExact(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// compareParts requires every flow part of got (a registry answer) to be
// JSON-equal to the document's. An absent and an explicitly null part are
// the same thing (NiFi's Jackson leaves nulls out); the answer itself must
// never carry a null part.
func compareParts(t testing.TB, what string, want flowDoc, got []byte) {
	t.Helper()
	var answer map[string]json.RawMessage
	if err := json.Unmarshal(got, &answer); err != nil {
		t.Errorf("%s: answer is not a JSON object: %v", what, err)
		return
	}
	for _, p := range docParts {
		a, aok := answer[p]
		if aok && string(bytes.TrimSpace(a)) == "null" {
			t.Errorf("%s: answer has %s: null; NiFi leaves null members out", what, p)
		}
		w, wok := want.snapshot[p]
		if wok && string(bytes.TrimSpace(w)) == "null" {
			wok = false
		}
		if !wok {
			if aok {
				t.Errorf("%s: %s is absent or null in the document but answered as %s", what, p, truncate(a, 120))
			}
			continue
		}
		if !aok {
			t.Errorf("%s: %s missing from the answer", what, p)
			continue
		}
		wv, err1 := decodeExact(w)
		av, err2 := decodeExact(a)
		if err1 != nil || err2 != nil {
			t.Errorf("%s: %s: decode: %v %v", what, p, err1, err2)
			continue
		}
		if !reflect.DeepEqual(wv, av) {
			t.Errorf("%s: %s differs from the document (%s)", what, p, firstDifference(wv, av, p))
		}
	}
}

// firstDifference names the first JSON path at which two values differ.
func firstDifference(a, b any, path string) string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return path + ": object vs " + fmt.Sprintf("%T", b)
		}
		keys := make([]string, 0, len(x)+len(y))
		for k := range x {
			keys = append(keys, k)
		}
		for k := range y {
			if _, ok := x[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !reflect.DeepEqual(x[k], y[k]) {
				return firstDifference(x[k], y[k], path+"."+k)
			}
		}
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return path + ": array length"
		}
		for i := range x {
			if !reflect.DeepEqual(x[i], y[i]) {
				return firstDifference(x[i], y[i], fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	return fmt.Sprintf("%s: %v vs %v", path, a, b)
}

// roundTrip commits doc to a new flow and reads it back every way a client
// can: by number, latest, by flow id, export, import of the export and
// import of the document itself.
func roundTrip(t *testing.T, s *server, bucketID, name string, doc flowDoc) {
	t.Helper()
	fl := obj(t, s.expect(s.do("POST", "/buckets/"+bucketID+"/flows", jsonBody(t, map[string]any{"name": name}), nil), 200).body)
	fp := "/buckets/" + bucketID + "/flows/" + str(fl, "identifier")

	r := s.do("POST", fp+"/versions", doc.commitBody(t, name), nil)
	if r.status != 200 {
		t.Fatalf("commit: %s", r)
	}
	md := sub(obj(t, r.body), "snapshotMetadata")
	if num(md, "version") != 1 {
		t.Errorf("commit: version %v, want 1", md["version"])
	}
	compareParts(t, "commit answer", doc, r.body)
	compareParts(t, "GET version 1", doc, s.expect(s.do("GET", fp+"/versions/1", nil, nil), 200).body)
	compareParts(t, "GET latest", doc, s.expect(s.do("GET", fp+"/versions/latest", nil, nil), 200).body)
	compareParts(t, "GET /flows/{id}/versions/1", doc, s.expect(s.do("GET", "/flows/"+str(fl, "identifier")+"/versions/1", nil, nil), 200).body)

	exp := s.expect(s.do("GET", fp+"/versions/1/export", nil, nil), 200)
	compareParts(t, "export", doc, exp.body)
	imp := s.do("POST", fp+"/versions/import", exp.body, nil)
	if imp.status != 201 {
		t.Fatalf("import of the export: %s", imp)
	}
	compareParts(t, "import of the export", doc, imp.body)
	if v := num(sub(obj(t, imp.body), "snapshotMetadata"), "version"); v != 2 {
		t.Errorf("import of the export: version %v, want 2", v)
	}
	imp = s.do("POST", fp+"/versions/import", doc.importBody(t), http.Header{"Comments": {"imported as is"}})
	if imp.status != 201 {
		t.Fatalf("import of the document as is: %s", imp)
	}
	compareParts(t, "import of the document", doc, imp.body)
	compareParts(t, "GET version 3", doc, s.expect(s.do("GET", fp+"/versions/3", nil, nil), 200).body)
	f := obj(t, s.expect(s.do("GET", fp, nil, nil), 200).body)
	if num(f, "versionCount") != 3 {
		t.Errorf("versionCount %v after three versions", f["versionCount"])
	}
	// Versions of the same document have nothing to show in a diff.
	d := obj(t, s.expect(s.do("GET", fp+"/diff/1/3", nil, nil), 200).body)
	if g, _ := d["componentDifferenceGroups"].([]any); len(g) != 0 {
		t.Errorf("diff of identical versions: %d groups", len(g))
	}
}

// TestRealFlowCorpus commits every document of the real flow corpus as a
// version and reads it back unchanged in meaning, also through export and
// import.
func TestRealFlowCorpus(t *testing.T) {
	dir := corpusDir()
	if dir == "" {
		t.Skip("flow corpus not found (/work/shared/testdata/flows or WEIR_FLOW_CORPUS)")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Skipf("no flow documents in %s", dir)
	}
	s := startServer(t, nil)
	b := str(obj(t, s.expect(s.do("POST", "/buckets", []byte(`{"name":"Real flows"}`), nil), 200).body), "identifier")
	formats := map[string]int{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := parseFlowDoc(raw)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			formats[doc.format]++
			if nulls := doc.nullParts(); len(nulls) > 0 {
				t.Logf("%s (%s, %d bytes): explicit nulls %v, answered as absent", name, doc.format, len(raw), nulls)
			}
			roundTrip(t, s, b, name, doc)
		})
	}
	t.Logf("formats: %v", formats)
}

// TestRealFlowGenerated does the same with generated realistic flows
// (package flowgen) of 4 KB, 64 KB, 1 MB and 5 MB.
func TestRealFlowGenerated(t *testing.T) {
	s := startServer(t, nil)
	b := str(obj(t, s.expect(s.do("POST", "/buckets", []byte(`{"name":"Generated flows"}`), nil), 200).body), "identifier")
	for i, size := range []int{4 << 10, 64 << 10, 1 << 20, 5 << 20} {
		name := fmt.Sprintf("generated-%dKB", size>>10)
		t.Run(name, func(t *testing.T) {
			raw := flowgen.Snapshot(flowgen.Options{Seed: int64(1000 + i), TargetBytes: size})
			if d := len(raw) - size; d < -size/10 || d > size/10 {
				t.Fatalf("flowgen made %d bytes for a target of %d", len(raw), size)
			}
			doc, err := parseFlowDoc(raw)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, s, b, name, doc)
		})
	}
}

// TestRealFlowFormats checks the format recognition on small documents of
// each kind, so the corpus test cannot pass by misreading them.
func TestRealFlowFormats(t *testing.T) {
	for in, want := range map[string]string{
		`{"flowContents":{},"snapshotMetadata":{"version":5}}`:                               "snapshot",
		`{"flowContents":{},"parameterContexts":{},"latest":true}`:                           "definition",
		`{"header":{"dataModelVersion":"3"},"content":{"flowSnapshot":{"flowContents":{}}}}`: "wrapper",
	} {
		d, err := parseFlowDoc([]byte(in))
		if err != nil || d.format != want {
			t.Errorf("%s: %q %v, want %q", in, d.format, err, want)
		}
		if _, ok := d.snapshot["flowContents"]; !ok {
			t.Errorf("%s: flowContents not found", in)
		}
	}
	if _, err := parseFlowDoc([]byte(`{"header":{}}`)); err == nil {
		t.Error("a document without flowContents is not a flow")
	}
}

// recorder is a testing.TB that only notes whether an error was reported.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }

// TestRealFlowCompareDetects shows that compareParts is not vacuous: a
// changed value, number spelling, missing part or null part is reported.
func TestRealFlowCompareDetects(t *testing.T) {
	doc, err := parseFlowDoc([]byte(`{"flowContents":{"a":[1,{"b":400.0}]},"parameterContexts":{},"flowEncodingVersion":null,"snapshotMetadata":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	for answer, bad := range map[string]bool{
		`{"flowContents":{"a":[1,{"b":400.0}]},"parameterContexts":{}}`:                            false,
		`{"flowContents":{"a":[1,{"b":400}]},"parameterContexts":{}}`:                              true,
		`{"flowContents":{"a":[1,{"b":400.0,"c":1}]},"parameterContexts":{}}`:                      true,
		`{"flowContents":{"a":[1,{"b":400.0}]}}`:                                                   true,
		`{"flowContents":{"a":[1,{"b":400.0}]},"parameterContexts":{},"flowEncodingVersion":null}`: true,
		`{"flowContents":{"a":[1,{"b":400.0}]},"parameterContexts":{},"parameterProviders":{}}`:    true,
	} {
		rec := &recorder{TB: t}
		compareParts(rec, "probe", doc, []byte(answer))
		if rec.failed != bad {
			t.Errorf("%s: reported %v, want %v", answer, rec.failed, bad)
		}
	}
}
