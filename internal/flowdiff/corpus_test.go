package flowdiff

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// corpusDir holds real NiFi flow documents (see its SOURCES.md). Tests over
// it are skipped when it is absent; WEIR_FLOW_CORPUS overrides the path.
func corpusDir() string {
	if d := os.Getenv("WEIR_FLOW_CORPUS"); d != "" {
		return d
	}
	return "/work/shared/testdata/flows"
}

type corpusDoc struct {
	name     string
	contents json.RawMessage // the flowContents process group
}

// corpus loads the flowContents of every document, whichever of the three
// corpus formats it is in (snapshot, flow definition, or the registry's
// {"header":..,"content":{"flowSnapshot":..}} persistence wrapper).
func corpus(tb testing.TB) []corpusDoc {
	tb.Helper()
	paths, _ := filepath.Glob(filepath.Join(corpusDir(), "*.json"))
	var docs []corpusDoc
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var doc struct {
			FlowContents json.RawMessage `json:"flowContents"`
			Content      struct {
				FlowSnapshot struct {
					FlowContents json.RawMessage `json:"flowContents"`
				} `json:"flowSnapshot"`
			} `json:"content"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		contents := doc.FlowContents
		if contents == nil {
			contents = doc.Content.FlowSnapshot.FlowContents
		}
		if contents == nil {
			tb.Fatalf("%s: no flowContents", p)
		}
		docs = append(docs, corpusDoc{name: filepath.Base(p), contents: contents})
	}
	return docs
}

// decodeAny decodes JSON for mutation, keeping numbers exact.
func decodeAny(tb testing.TB, raw []byte) obj {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v obj
	if err := dec.Decode(&v); err != nil {
		tb.Fatal(err)
	}
	return normalize(v).(obj)
}

// normalize turns decoded []any / map[string]any into the arr / obj
// aliases the helpers use (they are identical types; this just makes the
// intent explicit).
func normalize(v any) any { return v }

var componentLists = []string{"processors", "connections", "processGroups", "inputPorts", "outputPorts",
	"labels", "funnels", "controllerServices", "remoteProcessGroups"}

// firstProcessor finds a processor whose changes the comparator will see:
// nested groups that are versioned at their own coordinates are skipped,
// as the comparator does when nothing about them changed.
func firstProcessor(g obj) obj {
	if ps, _ := g["processors"].([]any); len(ps) > 0 {
		return ps[0].(obj)
	}
	children, _ := g["processGroups"].([]any)
	for _, c := range children {
		c := c.(obj)
		if c["versionedFlowCoordinates"] != nil {
			continue
		}
		if p := firstProcessor(c); p != nil {
			return p
		}
	}
	return nil
}

// reverseComponents reverses every component list, recursively.
func reverseComponents(v any) {
	switch x := v.(type) {
	case obj:
		for _, k := range componentLists {
			if l, ok := x[k].([]any); ok {
				slices.Reverse(l)
			}
		}
		for _, e := range x {
			reverseComponents(e)
		}
	case []any:
		for _, e := range x {
			reverseComponents(e)
		}
	}
}

func TestCorpus(t *testing.T) {
	docs := corpus(t)
	if len(docs) == 0 {
		t.Skipf("no flow documents in %s", corpusDir())
	}
	for _, d := range docs {
		t.Run(d.name, func(t *testing.T) {
			if got, err := Compare(d.contents, d.contents); err != nil || len(got) != 0 {
				t.Fatalf("self comparison: err=%v, differences:\n%s", err, strings.Join(summarize(got), "\n"))
			}

			reversed := decodeAny(t, d.contents)
			reverseComponents(reversed)
			if got, err := Compare(d.contents, mustJSON(t, reversed)); err != nil || len(got) != 0 {
				t.Errorf("reordered components: err=%v, differences:\n%s", err, strings.Join(summarize(got), "\n"))
			}

			// A new funnel on the root canvas.
			withFunnel := decodeAny(t, d.contents)
			funnels, _ := withFunnel["funnels"].([]any)
			withFunnel["funnels"] = append(funnels, obj{"identifier": "weir-test-funnel",
				"groupIdentifier": withFunnel["identifier"], "componentType": "FUNNEL", "position": obj{"x": 1, "y": 1}})
			got, err := Compare(d.contents, mustJSON(t, withFunnel))
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"weir-test-funnel Funnel pg=" + withFunnel["identifier"].(string) +
				" COMPONENT_ADDED a=∅ b=weir-test-funnel: Funnel was added"}
			if lines := summarize(got); !slices.Equal(lines, want) {
				t.Errorf("funnel added:\n  got  %q\n  want %q", lines, want)
			}

			// A renamed processor with a new property, as the older side.
			changed := decodeAny(t, d.contents)
			p := firstProcessor(changed)
			if p == nil {
				return
			}
			oldName := p["name"].(string)
			p["name"] = oldName + " (renamed)"
			props, _ := p["properties"].(obj)
			if props == nil {
				props = obj{}
				p["properties"] = props
			}
			props["weir-test-property"] = "x"
			got, err = Compare(mustJSON(t, changed), d.contents)
			if err != nil {
				t.Fatal(err)
			}
			id, pg := p["identifier"].(string), p["groupIdentifier"].(string)
			want = []string{
				id + " Processor pg=" + pg + " NAME_CHANGED a=" + oldName + " (renamed) b=" + oldName +
					": From '" + oldName + " (renamed)' to '" + oldName + "'",
				id + " Processor pg=" + pg + " PROPERTY_REMOVED a=x b=∅: Property 'weir-test-property' was removed",
			}
			if lines := summarize(got); !slices.Equal(lines, want) {
				t.Errorf("processor changed:\n  got  %q\n  want %q", lines, want)
			}
			if *got[0].ComponentName != oldName+" (renamed)" {
				t.Errorf("group name %q should come from the older version", *got[0].ComponentName)
			}
		})
	}
}

// TestCorpusVersionPair diffs the two versions of the system-test flow in
// which an input port moved from the child group to its parent (checked
// against NiFi's own comparator).
func TestCorpusVersionPair(t *testing.T) {
	byName := map[string]json.RawMessage{}
	for _, d := range corpus(t) {
		byName[d.name] = d.contents
	}
	v1, v2 := byName["apache-nifi-systest-port-moved-groups-v1.json"], byName["apache-nifi-systest-port-moved-groups-v2.json"]
	if v1 == nil || v2 == nil {
		t.Skip("port-moved-groups documents not in the corpus")
	}
	got, err := Compare(v1, v2)
	if err != nil {
		t.Fatal(err)
	}
	const (
		child  = "2d4624cb-407d-3c6c-be1a-3f913fb2cead"
		parent = "30330c01-185a-3217-b764-39aef8d2a05f"
	)
	want := []string{
		"1a0eb55c-4fd7-3cae-9221-983f32780317 Processor pg=" + parent + " COMPONENT_ADDED a=∅ b=1a0eb55c-4fd7-3cae-9221-983f32780317: Processor was added",
		"448da11f-ef3a-38d1-bdc2-2f1a112b2679 Input Port pg=" + child + " COMPONENT_ADDED a=∅ b=448da11f-ef3a-38d1-bdc2-2f1a112b2679: Input Port was added",
		"448da11f-ef3a-38d1-bdc2-2f1a112b2679 Input Port pg=" + child + " COMPONENT_REMOVED a=448da11f-ef3a-38d1-bdc2-2f1a112b2679 b=∅: Input Port was removed",
		"776f1f03-e742-3287-841b-8aedb9ada176 Connection pg=" + child + " COMPONENT_ADDED a=∅ b=776f1f03-e742-3287-841b-8aedb9ada176: Connection was added",
		"776f1f03-e742-3287-841b-8aedb9ada176 Connection pg=" + child + " COMPONENT_REMOVED a=776f1f03-e742-3287-841b-8aedb9ada176 b=∅: Connection was removed",
		"941ef216-74ef-3225-bf73-a9e8b167c0a8 Processor pg=" + child + " COMPONENT_ADDED a=∅ b=941ef216-74ef-3225-bf73-a9e8b167c0a8: Processor was added",
		"941ef216-74ef-3225-bf73-a9e8b167c0a8 Processor pg=" + child + " COMPONENT_REMOVED a=941ef216-74ef-3225-bf73-a9e8b167c0a8 b=∅: Processor was removed",
		"ff659054-0dee-3d85-b88f-6a4fc53639bd Connection pg=" + parent + " DESTINATION_CHANGED " +
			"a=ConnectableComponent{id='448da11f-ef3a-38d1-bdc2-2f1a112b2679', instanceId='5bd1a091-0186-1000-d9a9-5003d6a3ad8d', type=INPUT_PORT, groupId='" + child + "', name='in'} " +
			"b=ConnectableComponent{id='1a0eb55c-4fd7-3cae-9221-983f32780317', instanceId='5bd2756b-0186-1000-d315-c82a28bb9b61', type=PROCESSOR, groupId='" + parent + "', name='UpdateAttribute'}: " +
			"From 'ConnectableComponent{id='448da11f-ef3a-38d1-bdc2-2f1a112b2679', instanceId='5bd1a091-0186-1000-d9a9-5003d6a3ad8d', type=INPUT_PORT, groupId='" + child + "', name='in'}' " +
			"to 'ConnectableComponent{id='1a0eb55c-4fd7-3cae-9221-983f32780317', instanceId='5bd2756b-0186-1000-d315-c82a28bb9b61', type=PROCESSOR, groupId='" + parent + "', name='UpdateAttribute'}'",
	}
	if lines := summarize(got); !slices.Equal(lines, want) {
		t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
}

// BenchmarkCompareLargest compares the largest corpus document with a copy
// in which every processor has moved and one property changed, so decoding
// and every comparison path run.
func BenchmarkCompareLargest(b *testing.B) {
	docs := corpus(b)
	if len(docs) == 0 {
		b.Skip("no corpus")
	}
	largest := slices.MaxFunc(docs, func(x, y corpusDoc) int { return len(x.contents) - len(y.contents) })
	changed := decodeAny(b, largest.contents)
	var move func(g obj)
	move = func(g obj) {
		ps, _ := g["processors"].([]any)
		for _, p := range ps {
			p.(obj)["position"] = obj{"x": 1, "y": 1}
		}
		children, _ := g["processGroups"].([]any)
		for _, c := range children {
			move(c.(obj))
		}
	}
	move(changed)
	other := mustJSON(b, changed)
	b.SetBytes(int64(len(largest.contents) + len(other)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compare(largest.contents, other); err != nil {
			b.Fatal(err)
		}
	}
}
