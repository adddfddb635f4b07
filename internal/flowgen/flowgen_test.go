package flowgen

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func gz(b []byte) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	w.Write(b)
	w.Close()
	return buf.Len()
}

func decode(t *testing.T, b []byte) *flowSnapshot {
	t.Helper()
	var s flowSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("not a snapshot: %v", err)
	}
	return &s
}

func TestDeterministic(t *testing.T) {
	for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
		o := Options{Seed: 11, TargetBytes: size, BucketID: "b", FlowID: "f", Version: 3, Comments: "c"}
		a, b := Snapshot(o), Snapshot(o)
		if !bytes.Equal(a, b) {
			t.Fatalf("%d: same options gave different bytes", size)
		}
		if !bytes.Equal(FlowContents(o), FlowContents(o)) {
			t.Fatalf("%d: FlowContents not deterministic", size)
		}
		o.Seed = 12
		if bytes.Equal(a, Snapshot(o)) {
			t.Fatalf("%d: different seeds gave the same bytes", size)
		}
		m1, err1 := Mutate(a, 5)
		m2, err2 := Mutate(a, 5)
		if err1 != nil || err2 != nil || !bytes.Equal(m1, m2) {
			t.Fatalf("%d: Mutate not deterministic (%v, %v)", size, err1, err2)
		}
		if m3, _ := Mutate(a, 6); bytes.Equal(m1, m3) {
			t.Fatalf("%d: Mutate ignores its seed", size)
		}
	}
}

// TestGolden pins the output of one small flow. If it changes, every
// benchmark corpus and cached fixture built from flowgen changes with it;
// update the value only on purpose.
func TestGolden(t *testing.T) {
	b := Snapshot(Options{Seed: 1, TargetBytes: 8 << 10, BucketID: "b", FlowID: "f", Version: 1})
	h := fnv.New64a()
	h.Write(b)
	if got, want := fmt.Sprintf("%d/%016x", len(b), h.Sum64()), "8192/e2386ae1078ea613"; got != want {
		t.Fatalf("output for Seed 1 changed: %s, want %s", got, want)
	}
}

func TestSizes(t *testing.T) {
	sizes := []int{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 5 << 20}
	for _, size := range sizes {
		seeds := 6
		if size >= 1<<20 {
			seeds = 1
		}
		for seed := int64(0); seed < int64(seeds); seed++ {
			for _, contents := range []bool{false, true} {
				o := Options{Seed: seed, TargetBytes: size, BucketID: "9f36ac47-a6d4-4a9a-a824-dc4db141e8b5", FlowID: "d7573974-9305-418b-b1bb-7774d9a9195a", Version: 1}
				var b []byte
				if contents {
					b = FlowContents(o)
				} else {
					b = Snapshot(o)
				}
				if d := math.Abs(float64(len(b)-size)) / float64(size); d > 0.10 {
					t.Errorf("target %d seed %d contents=%v: got %d bytes (%.1f%% off)", size, seed, contents, len(b), 100*d)
				}
				if !json.Valid(b) {
					t.Fatalf("target %d seed %d: invalid JSON", size, seed)
				}
				if !contents {
					// The last bytes are padding in a note label; it must
					// stay note-sized, not become a blob.
					if n := longestLabel(decode(t, b).FlowContents); n > 3000 {
						t.Errorf("target %d seed %d: a %d-byte label", size, seed, n)
					}
				}
				if seed == 0 && !contents {
					t.Logf("target %7d: %7d bytes, gzip ratio %.2f", size, len(b), float64(len(b))/float64(gz(b)))
				}
			}
		}
	}
}

func longestLabel(pg *processGroup) int {
	n := 0
	for _, l := range pg.Labels {
		n = max(n, len(l.Label))
	}
	for _, c := range pg.ProcessGroups {
		n = max(n, longestLabel(c))
	}
	return n
}

func TestDefaultSize(t *testing.T) {
	if n := len(Snapshot(Options{Seed: 3})); n < DefaultTargetBytes*9/10 || n > DefaultTargetBytes*11/10 {
		t.Fatalf("default size %d, want about %d", n, DefaultTargetBytes)
	}
}

func TestTopLevel(t *testing.T) {
	b := Snapshot(Options{Seed: 4, TargetBytes: 32 << 10, BucketID: "bucket-1", FlowID: "flow-1", Version: 7, Comments: "Erste Version ✓"})
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"snapshotMetadata", "flowContents", "externalControllerServices", "parameterContexts", "parameterProviders", "flowEncodingVersion"} {
		if _, ok := top[k]; !ok {
			t.Errorf("missing top-level %q", k)
		}
	}
	var md map[string]any
	json.Unmarshal(top["snapshotMetadata"], &md)
	if md["bucketIdentifier"] != "bucket-1" || md["flowIdentifier"] != "flow-1" || md["version"] != 7.0 || md["comments"] != "Erste Version ✓" {
		t.Errorf("snapshotMetadata = %v", md)
	}
	if _, ok := md["timestamp"]; !ok {
		t.Error("no timestamp")
	}
	if _, ok := md["author"]; !ok {
		t.Error("no author")
	}

	// Empty ids and version 0 are left out; -1 is kept.
	b = Snapshot(Options{Seed: 4, TargetBytes: 8 << 10})
	json.Unmarshal(b, &top)
	md = nil
	json.Unmarshal(top["snapshotMetadata"], &md)
	for _, k := range []string{"bucketIdentifier", "flowIdentifier", "version"} {
		if _, ok := md[k]; ok {
			t.Errorf("%s present though not set", k)
		}
	}
	b = Snapshot(Options{Seed: 4, TargetBytes: 8 << 10, Version: -1})
	if !bytes.Contains(b, []byte(`"version":-1,`)) {
		t.Error("version -1 not kept")
	}

	// FlowContents is the bare process group.
	var pg map[string]json.RawMessage
	if err := json.Unmarshal(FlowContents(Options{Seed: 4, TargetBytes: 16 << 10}), &pg); err != nil {
		t.Fatal(err)
	}
	if string(pg["componentType"]) != `"PROCESS_GROUP"` || pg["processors"] == nil || pg["snapshotMetadata"] != nil {
		t.Errorf("FlowContents is not a process group: keys %v", keys(pg))
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestRoundTrip checks that decoding into the model and encoding again
// reproduces the bytes; Mutate depends on it to leave unedited parts alone.
func TestRoundTrip(t *testing.T) {
	for seed := int64(0); seed < 8; seed++ {
		b := Snapshot(Options{Seed: seed, TargetBytes: 200 << 10, BucketID: "b", FlowID: "f", Version: 2})
		if again := encode(decode(t, b)); !bytes.Equal(b, again) {
			t.Fatalf("seed %d: re-encoding changed the document (%d vs %d bytes)", seed, len(b), len(again))
		}
	}
}

func TestValidFlows(t *testing.T) {
	for seed := int64(0); seed < 12; seed++ {
		size := []int{4 << 10, 20 << 10, 90 << 10, 400 << 10}[seed%4]
		b := Snapshot(Options{Seed: seed, TargetBytes: size, Version: 1})
		checkFlow(t, fmt.Sprintf("seed %d size %d", seed, size), decode(t, b))
	}
	checkFlow(t, "2MB", decode(t, Snapshot(Options{Seed: 99, TargetBytes: 2 << 20})))
}

// checkFlow verifies what NiFi would insist on when importing the flow.
func checkFlow(t *testing.T, name string, s *flowSnapshot) {
	t.Helper()
	ids := map[string]string{} // identifier or instanceIdentifier -> what
	unique := func(id, what string) {
		if id == "" {
			return
		}
		if prev, dup := ids[id]; dup {
			t.Errorf("%s: id %s used by %s and %s", name, id, prev, what)
		}
		ids[id] = what
	}
	type comp struct {
		group, name, inst, typ string
	}
	comps := map[string]comp{}      // connectable id -> where it is
	services := map[string]string{} // service id -> group id
	parent := map[string]string{}   // group id -> parent group id
	var groups []*processGroup
	var walk func(pg *processGroup, up string)
	walk = func(pg *processGroup, up string) {
		groups = append(groups, pg)
		parent[pg.Identifier] = up
		if pg.GroupIdentifier != up {
			t.Errorf("%s: group %q has groupIdentifier %q, want %q", name, pg.Name, pg.GroupIdentifier, up)
		}
		unique(pg.Identifier, "group "+pg.Name)
		unique(pg.InstanceIdentifier, "group instance "+pg.Name)
		if pg.ParameterContextName != "" && s.ParameterContexts[pg.ParameterContextName] == nil {
			t.Errorf("%s: group %q uses missing parameter context %q", name, pg.Name, pg.ParameterContextName)
		}
		portNames := map[string]bool{}
		for _, p := range pg.Processors {
			unique(p.Identifier, "processor "+p.Name)
			unique(p.InstanceIdentifier, "processor instance "+p.Name)
			comps[p.Identifier] = comp{pg.Identifier, p.Name, p.InstanceIdentifier, "PROCESSOR"}
			if p.GroupIdentifier != pg.Identifier {
				t.Errorf("%s: processor %q in wrong group", name, p.Name)
			}
		}
		for _, p := range append(append([]*port{}, pg.InputPorts...), pg.OutputPorts...) {
			unique(p.Identifier, "port "+p.Name)
			unique(p.InstanceIdentifier, "port instance "+p.Name)
			comps[p.Identifier] = comp{pg.Identifier, p.Name, p.InstanceIdentifier, p.Type}
			if portNames[p.Name] {
				t.Errorf("%s: group %q has two ports named %q", name, pg.Name, p.Name)
			}
			portNames[p.Name] = true
		}
		for _, f := range pg.Funnels {
			unique(f.Identifier, "funnel")
			unique(f.InstanceIdentifier, "funnel instance")
			comps[f.Identifier] = comp{pg.Identifier, "Funnel", f.InstanceIdentifier, "FUNNEL"}
		}
		for _, l := range pg.Labels {
			unique(l.Identifier, "label")
			unique(l.InstanceIdentifier, "label instance")
		}
		for _, c := range pg.Connections {
			unique(c.Identifier, "connection")
			unique(c.InstanceIdentifier, "connection instance")
		}
		for _, cs := range pg.ControllerServices {
			unique(cs.Identifier, "service "+cs.Name)
			unique(cs.InstanceIdentifier, "service instance "+cs.Name)
			services[cs.Identifier] = pg.Identifier
		}
		for _, r := range pg.RemoteProcessGroups {
			unique(r.Identifier, "remote group")
			unique(r.InstanceIdentifier, "remote group instance")
			for _, p := range r.InputPorts {
				unique(p.Identifier, "remote port")
				unique(p.InstanceIdentifier, "remote port instance")
				comps[p.Identifier] = comp{r.Identifier, p.Name, p.InstanceIdentifier, "REMOTE_INPUT_PORT"}
			}
		}
		for _, c := range pg.ProcessGroups {
			walk(c, pg.Identifier)
		}
	}
	walk(s.FlowContents, "")

	inScope := func(svc, group string) bool {
		if _, ok := s.ExternalControllerServices[svc]; ok {
			return true
		}
		at, ok := services[svc]
		if !ok {
			return false
		}
		for g := group; g != ""; g = parent[g] {
			if g == at {
				return true
			}
		}
		return false
	}
	paramRef := regexp.MustCompile(`#\{([^}]+)\}`)
	var visible func(ctx, p string, depth int) bool
	visible = func(ctx, p string, depth int) bool {
		c := s.ParameterContexts[ctx]
		if c == nil || depth > 10 {
			return false
		}
		for _, x := range c.Parameters {
			if x.Name == p {
				return true
			}
		}
		for _, in := range c.InheritedParameterContexts {
			if visible(in, p, depth+1) {
				return true
			}
		}
		return false
	}
	checkProps := func(group, ctx, who string, props map[string]*string, descs map[string]*propertyDescriptor) {
		for k, v := range props {
			d := descs[k]
			if d == nil {
				t.Errorf("%s: %s property %q has no descriptor", name, who, k)
				continue
			}
			if v == nil {
				continue
			}
			if d.IdentifiesControllerService && !inScope(*v, group) {
				t.Errorf("%s: %s property %q names service %s out of scope", name, who, k, *v)
			}
			if d.Sensitive && !strings.HasPrefix(*v, "#{") {
				t.Errorf("%s: %s sensitive property %q has a literal value", name, who, k)
			}
			for _, m := range paramRef.FindAllStringSubmatch(*v, -1) {
				if !visible(ctx, m[1], 0) {
					t.Errorf("%s: %s property %q references parameter %q not in context %q", name, who, k, m[1], ctx)
				}
			}
		}
	}
	for _, pg := range groups {
		for _, c := range pg.Connections {
			if c.GroupIdentifier != pg.Identifier {
				t.Errorf("%s: connection in wrong group", name)
			}
			if len(c.SelectedRelationships) == 0 {
				t.Errorf("%s: connection without relationships", name)
			}
			for _, end := range []connectable{c.Source, c.Destination} {
				got, ok := comps[end.ID]
				if !ok {
					t.Errorf("%s: connection %s names missing component %s (%s)", name, c.Identifier, end.ID, end.Type)
					continue
				}
				if got.group != end.GroupID || got.typ != end.Type || got.name != end.Name || got.inst != end.InstanceIdentifier {
					t.Errorf("%s: connection end %+v does not match component %+v", name, end, got)
				}
				if end.GroupID != pg.Identifier && parent[end.GroupID] != pg.Identifier {
					if _, remote := comps[end.ID]; !remote || got.typ != "REMOTE_INPUT_PORT" {
						t.Errorf("%s: connection reaches into a group that is not a child", name)
					}
				}
			}
		}
		for _, p := range pg.Processors {
			checkProps(pg.Identifier, pg.ParameterContextName, "processor "+p.Name, p.Properties, p.PropertyDescriptors)
			// Every relationship that leaves the processor is either
			// connected or auto-terminated, never both.
			for _, rel := range p.AutoTerminatedRelationships {
				for _, c := range pg.Connections {
					if c.Source.ID == p.Identifier && contains(c.SelectedRelationships, rel) {
						t.Errorf("%s: %q relationship %q is connected and auto-terminated", name, p.Name, rel)
					}
				}
			}
		}
		for _, cs := range pg.ControllerServices {
			checkProps(pg.Identifier, pg.ParameterContextName, "service "+cs.Name, cs.Properties, cs.PropertyDescriptors)
		}
	}
	for key, c := range s.ParameterContexts {
		if key != c.Name {
			t.Errorf("%s: parameter context key %q holds %q", name, key, c.Name)
		}
		seen := map[string]bool{}
		for _, p := range c.Parameters {
			if seen[p.Name] {
				t.Errorf("%s: parameter %q twice in %q", name, p.Name, c.Name)
			}
			seen[p.Name] = true
			if p.Sensitive && p.Value != nil {
				t.Errorf("%s: sensitive parameter %q has a value", name, p.Name)
			}
		}
		for _, in := range c.InheritedParameterContexts {
			if s.ParameterContexts[in] == nil {
				t.Errorf("%s: %q inherits missing context %q", name, c.Name, in)
			}
		}
		if c.ParameterProvider != "" && s.ParameterProviders[c.ParameterProvider] == nil {
			t.Errorf("%s: %q uses missing parameter provider", name, c.Name)
		}
	}
}

// TestRealism checks properties benchmarks rely on: 64-bit numbers beyond
// float64 precision, non-ASCII text, null property values, long texts,
// nesting, and no HTML escaping.
func TestRealism(t *testing.T) {
	b := Snapshot(Options{Seed: 21, TargetBytes: 512 << 10})
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var bigs, nulls, longs, maxDepth int
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		switch x := v.(type) {
		case map[string]any:
			if x["componentType"] == "PROCESS_GROUP" && depth > maxDepth {
				maxDepth = depth
			}
			for k, e := range x {
				if k == "properties" {
					for _, pv := range e.(map[string]any) {
						if pv == nil {
							nulls++
						}
					}
				}
				d := depth
				if k == "processGroups" {
					d++
				}
				walk(e, d)
			}
		case []any:
			for _, e := range x {
				walk(e, depth)
			}
		case json.Number:
			if n, err := x.Int64(); err == nil && (n > 1<<53 || n < -(1<<53)) {
				bigs++
			}
		case string:
			if len(x) > 400 {
				longs++
			}
		}
	}
	walk(doc, 0)
	if bigs == 0 {
		t.Error("no integer that float64 cannot hold")
	}
	if nulls == 0 {
		t.Error("no null property values")
	}
	if longs < 5 {
		t.Errorf("only %d long texts", longs)
	}
	if maxDepth < 2 {
		t.Errorf("process groups nest only %d deep", maxDepth)
	}
	if !bytes.ContainsFunc(b, func(r rune) bool { return r > 0x7f }) {
		t.Error("no non-ASCII text")
	}
	if bytes.Contains(b, []byte(`\u003c`)) || bytes.Contains(b, []byte(`\u0026`)) {
		t.Error("HTML-escaped output; NiFi does not escape")
	}
	all := bytes.Join([][]byte{b, Snapshot(Options{Seed: 22, TargetBytes: 512 << 10}), Snapshot(Options{Seed: 23, TargetBytes: 512 << 10})}, nil)
	for _, typ := range []string{"ConsumeKafka", "PutS3Object", "ConvertRecord", "UpdateAttribute", "RouteOnAttribute", "InvokeHTTP", "PutDatabaseRecord", "ExecuteSQLRecord", "ExecuteScript", "JoltTransformJSON", "GenerateFlowFile", "PublishKafka"} {
		if !bytes.Contains(all, []byte(`.`+typ+`"`)) {
			t.Errorf("no %s in three 512 KB flows", typ)
		}
	}
	// A small flow is still a flow.
	s := decode(t, Snapshot(Options{Seed: 5, TargetBytes: 4 << 10}))
	if len(s.FlowContents.Processors) == 0 {
		t.Error("4 KB flow has no processor")
	}
}

func TestMutate(t *testing.T) {
	v := Snapshot(Options{Seed: 8, TargetBytes: 128 << 10, BucketID: "b", FlowID: "f", Version: 1})
	prev := decode(t, v)
	for i := 2; i <= 16; i++ {
		next, err := Mutate(v, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(next) {
			t.Fatalf("version %d: invalid JSON", i)
		}
		s := decode(t, next)
		if s.SnapshotMetadata.Version != int32(i) {
			t.Fatalf("version %d: metadata says %d", i, s.SnapshotMetadata.Version)
		}
		if s.SnapshotMetadata.Timestamp <= prev.SnapshotMetadata.Timestamp {
			t.Fatalf("version %d: timestamp did not advance", i)
		}
		if bytes.Equal(encode(s.FlowContents), encode(prev.FlowContents)) &&
			bytes.Equal(encode(s.ParameterContexts), encode(prev.ParameterContexts)) {
			t.Fatalf("version %d: flow unchanged", i)
		}
		checkFlow(t, fmt.Sprintf("version %d", i), s)
		if again := encode(decode(t, next)); !bytes.Equal(again, next) {
			t.Fatalf("version %d does not round-trip", i)
		}
		v, prev = next, s
	}
	// Versions of one flow stay similar: most bytes survive an edit.
	first := Snapshot(Options{Seed: 8, TargetBytes: 128 << 10, Version: 1})
	second, _ := Mutate(first, 1)
	if d := len(second) - len(first); d > 8<<10 || d < -8<<10 {
		t.Errorf("one Mutate changed the size by %d bytes", d)
	}

	if _, err := Mutate([]byte(`{"flowContents":`), 1); err == nil {
		t.Error("no error for truncated JSON")
	}
	if _, err := Mutate(FlowContents(Options{Seed: 1, TargetBytes: 8 << 10}), 1); err == nil {
		t.Error("no error for a bare process group")
	}
}

// TestMutateKeepsVersionSentinels checks that 0 and -1 versions stay.
func TestMutateKeepsVersionSentinels(t *testing.T) {
	for _, v := range []int{0, -1} {
		b, err := Mutate(Snapshot(Options{Seed: 2, TargetBytes: 16 << 10, Version: v}), 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := decode(t, b).SnapshotMetadata.Version; got != int32(v) {
			t.Errorf("version %d became %d", v, got)
		}
	}
}

// TestCompressionLikeRealFlows compares gzip ratios with the real flows
// of the shared corpus when it is there (it is not part of the repository).
func TestCompressionLikeRealFlows(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "testdata", "flows", "*.json"))
	if len(files) == 0 {
		t.Skip("shared flow corpus not present")
	}
	lo, hi := math.Inf(1), 0.0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		b := buf.Bytes()
		r := float64(len(b)) / float64(gz(b))
		t.Logf("real %-52s %7d bytes  gzip %5.2f", filepath.Base(f), len(b), r)
		if len(b) >= 40<<10 {
			lo, hi = math.Min(lo, r), math.Max(hi, r)
		}
	}
	for _, size := range []int{64 << 10, 256 << 10, 1 << 20} {
		sum := 0.0
		for seed := int64(0); seed < 3; seed++ {
			b := Snapshot(Options{Seed: seed, TargetBytes: size})
			sum += float64(len(b)) / float64(gz(b))
		}
		r := sum / 3
		t.Logf("generated %7d bytes  gzip %5.2f (mean of 3 seeds)", size, r)
		if r < lo*0.8 || r > hi*1.2 {
			t.Errorf("generated %d-byte flows compress %.2fx; real flows of 40 KB and more: %.2fx to %.2fx", size, r, lo, hi)
		}
	}
}

func BenchmarkSnapshot(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20, 5 << 20} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				Snapshot(Options{Seed: int64(i), TargetBytes: size})
			}
		})
	}
}

func BenchmarkMutate(b *testing.B) {
	v := Snapshot(Options{Seed: 1, TargetBytes: 1 << 20, Version: 1})
	b.SetBytes(int64(len(v)))
	for i := 0; i < b.N; i++ {
		if _, err := Mutate(v, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
}
