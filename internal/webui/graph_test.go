package webui

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/weir-nifi/weir/internal/flowdiff"
	"github.com/weir-nifi/weir/internal/model"
)

// Two versions of a small flow: B changes P1's property, removes P2 and
// its connection, adds P4, and changes a processor inside group G.
const flowA = `{"identifier":"root","name":"root","position":{"x":0,"y":0},
 "processors":[
  {"identifier":"p1","name":"Fetch","type":"org.apache.nifi.processors.standard.GetFile","position":{"x":100,"y":50},"properties":{"Input Directory":"/in"}},
  {"identifier":"p2","name":"Log","type":"org.apache.nifi.processors.standard.LogAttribute","position":{"x":100,"y":400},"properties":{}},
  {"identifier":"p3","name":"Put","type":"org.apache.nifi.processors.standard.PutFile","position":{"x":700,"y":400},"properties":{}}],
 "connections":[
  {"identifier":"c1","name":"","source":{"id":"p1","groupId":"root","type":"PROCESSOR","name":"Fetch"},"destination":{"id":"p2","groupId":"root","type":"PROCESSOR","name":"Log"},"selectedRelationships":["success"]},
  {"identifier":"c2","name":"","source":{"id":"p1","groupId":"root","type":"PROCESSOR","name":"Fetch"},"destination":{"id":"in1","groupId":"g","type":"INPUT_PORT","name":"in"},"selectedRelationships":["success"]}],
 "processGroups":[{"identifier":"g","name":"G","position":{"x":700,"y":-100},
   "inputPorts":[{"identifier":"in1","name":"in","type":"INPUT_PORT","position":{"x":0,"y":0}}],
   "processors":[{"identifier":"gp","name":"Inner","type":"x.Inner","position":{"x":0,"y":200},"properties":{"k":"a"}}]}]}`

func flowB(t *testing.T) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(flowA), &m); err != nil {
		t.Fatal(err)
	}
	ps := m["processors"].([]any)
	ps[0].(map[string]any)["properties"] = map[string]any{"Input Directory": "/incoming"}
	m["processors"] = []any{ps[0], ps[2], map[string]any{"identifier": "p4", "name": "Notify", "type": "x.Notify",
		"position": map[string]any{"x": 100.0, "y": 800.0}, "properties": map[string]any{}}}
	m["connections"] = m["connections"].([]any)[1:]
	inner := m["processGroups"].([]any)[0].(map[string]any)["processors"].([]any)[0].(map[string]any)
	inner["properties"] = map[string]any{"k": "b"}
	b, _ := json.Marshal(m)
	return string(b)
}

func boxesByID(g Graph) map[string]Box {
	out := map[string]Box{}
	for _, b := range g.Boxes {
		out[b.ID] = b
	}
	return out
}

// The picture's marks are the /diff endpoint's (flowdiff.Compare, the
// code the endpoint runs), one per component, with colour classes and
// symbols; boxes sit at the stored positions; a change inside a child
// group marks the group.
func TestUILayoutMarksTheDiff(t *testing.T) {
	b := flowB(t)
	groups, err := flowdiff.Compare(json.RawMessage(flowA), json.RawMessage(b))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Layout(json.RawMessage(flowA), json.RawMessage(b), groups, "")
	if err != nil {
		t.Fatal(err)
	}
	bx := boxesByID(g)
	want := map[string]Mark{"p1": Changed, "p2": Removed, "p3": Same, "p4": Added, "g": Inside}
	for id, m := range want {
		box, ok := bx[id]
		if !ok {
			t.Errorf("no box for %s", id)
			continue
		}
		if box.Mark != m {
			t.Errorf("%s: mark %q, want %q", id, box.Mark, m)
		}
		if (m == Added || m == Removed || m == Changed) != (box.Anchor == id) {
			t.Errorf("%s: anchor %q", id, box.Anchor)
		}
	}
	if len(bx) != len(want) {
		t.Errorf("boxes %v, want exactly %v", bx, want)
	}
	if p := bx["p3"]; p.X != 700 || p.Y != 400 || p.W != 352 || p.H != 128 {
		t.Errorf("p3 at %v,%v size %v×%v: want its stored position 700,400 and a processor's size", p.X, p.Y, p.W, p.H)
	}
	if p := bx["p2"]; p.X != 100 || p.Y != 400 {
		t.Errorf("removed p2 drawn at %v,%v, want A's position", p.X, p.Y)
	}
	// Every group of the diff about a drawn component is drawn with the
	// group's own mark.
	for _, gr := range groups {
		id := model.Deref(gr.ComponentID)
		if box, ok := bx[id]; ok && box.Mark != MarkOf(gr) {
			t.Errorf("%s: box %q, diff group %q", id, box.Mark, MarkOf(gr))
		}
	}
	// c1 (to the removed processor) is removed; c2 ends on G's port, drawn
	// to G's box.
	edges := map[string]Edge{}
	for _, e := range g.Edges {
		edges[e.ID] = e
	}
	if e := edges["c1"]; e.Mark != Removed {
		t.Errorf("c1: %+v, want removed", e)
	}
	gb := bx["g"]
	if e, ok := edges["c2"]; !ok || e.X2 != gb.X+gb.W/2 || e.Y2 != gb.Y+gb.H/2 || e.Mark != Same {
		t.Errorf("c2: %+v, want unmarked, ending at G's centre", e)
	}
	// The viewBox holds every box with the margin.
	if g.MinX != 100-margin || g.MinY != -100-margin || g.MinX+g.Width != 700+384+margin {
		t.Errorf("viewBox %s", g.ViewBox())
	}
	// Marked boxes are drawn last (on top).
	seenMarked := false
	for _, b := range g.Boxes {
		if b.Mark != Same {
			seenMarked = true
		} else if seenMarked {
			t.Errorf("unmarked %s drawn after a marked box", b.ID)
		}
	}
}

// Drawing a child group: its own components at their positions, the
// change inside marked, the way there in Path; an unknown group is an
// error.
func TestUILayoutChildGroup(t *testing.T) {
	b := flowB(t)
	groups, err := flowdiff.Compare(json.RawMessage(flowA), json.RawMessage(b))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Layout(json.RawMessage(flowA), json.RawMessage(b), groups, "g")
	if err != nil {
		t.Fatal(err)
	}
	bx := boxesByID(g)
	if len(bx) != 2 || bx["gp"].Mark != Changed || bx["in1"].Mark != Same || bx["gp"].Y != 200 {
		t.Errorf("group g: %+v", bx)
	}
	if len(g.Path) != 1 || g.Path[0] != (Crumb{ID: "g", Name: "G"}) {
		t.Errorf("path %+v", g.Path)
	}
	if _, err := Layout(json.RawMessage(flowA), json.RawMessage(b), groups, "nope"); err == nil {
		t.Error("unknown group drawn")
	}
}

func TestUILayoutRefusesBadDocuments(t *testing.T) {
	if _, err := Layout(json.RawMessage(`[1]`), json.RawMessage(flowA), nil, ""); err == nil || !strings.Contains(err.Error(), "flow contents") {
		t.Errorf("array as flow contents: %v", err)
	}
	g, err := Layout(nil, nil, nil, "")
	if err != nil || len(g.Boxes) != 0 || g.Width <= 0 {
		t.Errorf("empty flows: %+v %v", g, err)
	}
}

func TestUIMarkSymbolsAreNotColourAlone(t *testing.T) {
	for _, m := range []Mark{Added, Removed, Changed, Inside} {
		if m.Symbol() == "" {
			t.Errorf("%q has no symbol", m)
		}
	}
	if Same.Symbol() != "" {
		t.Error("unchanged components carry no symbol")
	}
}

func TestUIBucketFilterAndSort(t *testing.T) {
	bs := []model.Bucket{
		{Identifier: model.Str("1"), Name: model.Str("beta"), CreatedTimestamp: 30},
		{Identifier: model.Str("2"), Name: model.Str("Alpha"), Description: model.Str("ETL flows"), CreatedTimestamp: 10},
		{Identifier: model.Str("3"), Name: model.Str("gamma"), CreatedTimestamp: 20, Permissions: &model.Permissions{CanRead: true}},
	}
	ids := func(rows []bucketRow) string {
		var s []string
		for _, r := range rows {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}
	for _, c := range []struct{ q, sort, want string }{
		{"", "", "2,1,3"}, {"", "-name", "3,1,2"}, {"", "created", "2,3,1"}, {"", "-created", "1,3,2"},
		{"etl", "", "2"}, {"A", "", "2,1,3"}, {"zzz", "", ""},
	} {
		if got := ids(filterBuckets(bs, c.q, c.sort)); got != c.want {
			t.Errorf("q=%q sort=%q: %s, want %s", c.q, c.sort, got, c.want)
		}
	}
	// Delete is offered unless the answer's permissions (secured) deny it.
	for _, r := range filterBuckets(bs, "", "") {
		if r.CanDelete != (r.ID != "3") {
			t.Errorf("bucket %s: CanDelete %v", r.ID, r.CanDelete)
		}
	}
}

func TestUISparkScales(t *testing.T) {
	s := NewSpark([]float64{0, 5, 10}, "ms")
	if s.Points != "0.0,29.0 60.0,15.0 120.0,1.0" || s.Max != 10 || s.Last != 10 || s.LastString != "10.0 ms" {
		t.Errorf("%+v", s)
	}
	if z := NewSpark(nil, "/s"); z.Points != "" || z.N != 0 {
		t.Errorf("empty: %+v", z)
	}
}

// The version page's tree and parameters: names sorted, connection ends
// named, nested groups, long values cut, sensitive values hidden.
func TestUITreeAndParameters(t *testing.T) {
	g, err := decodeGroup(json.RawMessage(flowA))
	if err != nil {
		t.Fatal(err)
	}
	tr := buildTree(g)
	var names []string
	for _, p := range tr.Processors {
		names = append(names, p.Name+"/"+p.Type)
	}
	if strings.Join(names, ",") != "Fetch/GetFile,Log/LogAttribute,Put/PutFile" {
		t.Errorf("processors %v", names)
	}
	if tr.Processors[0].Properties[0] != (Property{Name: "Input Directory", Value: "/in"}) {
		t.Errorf("properties %+v", tr.Processors[0].Properties)
	}
	if len(tr.Connections) != 2 || tr.Connections[0].Detail != "Fetch → Log" || tr.Connections[0].Name != "success" {
		t.Errorf("connections %+v", tr.Connections)
	}
	if len(tr.Groups) != 1 || tr.Groups[0].Name != "G" || len(tr.Groups[0].InputPorts) != 1 || tr.Groups[0].Processors[0].Name != "Inner" {
		t.Errorf("groups %+v", tr.Groups)
	}
	long := strings.Repeat("é", maxValue) // 2 bytes each: the cut must not split one
	if c := clip(long); len(c) > maxValue+4 || !strings.HasSuffix(c, " …") || !utf8.ValidString(c) {
		t.Errorf("clip: %d bytes, valid %v", len(c), utf8.ValidString(c))
	}
	ps, err := decodeParams(json.RawMessage(`{"ctx":{"name":"Prod","parameters":[{"name":"pw","value":null,"sensitive":true},{"name":"host","value":"db1","description":"DB"}]}}`))
	if err != nil || len(ps) != 1 || ps[0].Name != "Prod" || len(ps[0].Parameters) != 2 ||
		ps[0].Parameters[0] != (Parameter{Name: "host", Value: "db1", Description: "DB"}) || ps[0].Parameters[1].Value != "(sensitive)" {
		t.Errorf("parameters %+v %v", ps, err)
	}
	if _, err := decodeParams(json.RawMessage(`[1]`)); err == nil {
		t.Error("an array as parameter contexts was accepted")
	}
}
