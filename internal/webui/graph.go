package webui

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/weir-nifi/weir/internal/flowdiff"
)

// Mark is what happened to a component between the two versions.
type Mark string

// The marks. Each is shown by colour AND by a symbol and a word, so the
// picture does not depend on seeing colours.
const (
	Same    Mark = ""
	Added   Mark = "added"
	Removed Mark = "removed"
	Changed Mark = "changed"
	// Inside marks a process group whose contents changed.
	Inside Mark = "inside"
)

// Symbol is the mark's glyph on the picture and in the list.
func (m Mark) Symbol() string {
	switch m {
	case Added:
		return "+"
	case Removed:
		return "−"
	case Changed:
		return "Δ"
	case Inside:
		return "…"
	}
	return ""
}

// Box is a component drawn on the diff picture.
type Box struct {
	ID, Name, Kind string
	X, Y, W, H     float64
	Mark           Mark
	// Anchor is the id of the component's entry in the change list
	// ("" when it has none).
	Anchor string
}

// Edge is a connection drawn between two boxes' centres.
type Edge struct {
	ID, Name       string
	X1, Y1, X2, Y2 float64
	Mark           Mark
	Anchor         string
}

// Graph is the picture of the flow's top-level process group.
type Graph struct {
	// Path leads from the top level to the drawn group (empty: the top
	// level is drawn).
	Path []Crumb
	// Names of every process group of either version, by id (B's name
	// when both have it), for the change list's "in group" links.
	Names map[string]string
	// Drawn is the id of the drawn group.
	Drawn string
	Boxes []Box
	Edges []Edge
	// ViewBox is the SVG viewBox: the boxes' bounds with a margin.
	MinX, MinY, Width, Height float64
}

// ViewBox formats the graph's bounds for the svg element.
func (g Graph) ViewBox() string {
	return ftoa(g.MinX) + " " + ftoa(g.MinY) + " " + ftoa(g.Width) + " " + ftoa(g.Height)
}

// Sizes NiFi's canvas draws components with (positions are their top-left
// corners), so the picture keeps the flow's own arrangement.
var sizes = map[string][2]float64{
	"processor": {352, 128}, "input port": {240, 48}, "output port": {240, 48}, "funnel": {48, 48},
	"process group": {384, 176}, "remote process group": {384, 176}, "label": {150, 150},
}

// MarkOf classifies a difference group the way the change list shows it.
func MarkOf(g flowdiff.Group) Mark {
	for _, d := range g.Differences {
		switch d.DifferenceType {
		case "COMPONENT_ADDED":
			return Added
		case "COMPONENT_REMOVED":
			return Removed
		}
	}
	return Changed
}

// Layout draws one process group of version B over version A (the top
// level when groupID is ""): a component of either is a box at its stored
// position (B's when it is in both), marked from the difference groups of
// the /diff endpoint. A difference of a component inside a child group
// marks that group Inside. a and b are flowContents documents. A groupID
// in neither version is an error.
func Layout(a, b json.RawMessage, groups []flowdiff.Group, groupID string) (Graph, error) {
	ga, err := decodeGroup(a)
	if err != nil {
		return Graph{}, err
	}
	gb, err := decodeGroup(b)
	if err != nil {
		return Graph{}, err
	}
	ra, rb := ga, gb
	var path []*vgroup
	if groupID != "" {
		pa, pb := findGroup(ga, groupID, nil), findGroup(gb, groupID, nil)
		if pa == nil && pb == nil {
			return Graph{}, fmt.Errorf("%w: %q is in neither version", ErrNoGroup, groupID)
		}
		path = pb
		if path == nil {
			path = pa
		}
		ga, gb = lastOf(pa), lastOf(pb)
	}
	marks := map[string]Mark{}
	for _, g := range groups {
		if g.ComponentID != nil {
			marks[*g.ComponentID] = MarkOf(g)
		}
	}
	// Which top-level box holds each nested component (either version).
	owner := map[string]string{}
	for _, g := range []*vgroup{ga, gb} {
		for _, sub := range g.ProcessGroups {
			claim(sub, sub.Identifier, owner)
		}
		for _, r := range g.RemoteProcessGroups {
			owner[r.Identifier] = r.Identifier
		}
	}

	out := Graph{Path: crumbs(path), Names: map[string]string{}, Drawn: gb.Identifier}
	if out.Drawn == "" {
		out.Drawn = ga.Identifier
	}
	for _, g := range []*vgroup{ra, rb} {
		nameGroups(g, out.Names)
	}
	index := map[string]int{}
	add := func(c *vcomp, kind string, m Mark) {
		if _, dup := index[c.Identifier]; dup || c.Identifier == "" {
			return
		}
		x, y := 0.0, 0.0
		if c.Position != nil {
			x, y = c.Position.X, c.Position.Y
		}
		sz := sizes[kind]
		w, h := sz[0], sz[1]
		if kind == "label" && c.Width > 0 && c.Height > 0 {
			w, h = c.Width, c.Height
		}
		name := c.Name
		if kind == "label" {
			name = c.Label
		}
		if name == "" {
			name = shortType(c.Type)
		}
		box := Box{ID: c.Identifier, Name: name, Kind: kind, X: x, Y: y, W: w, H: h, Mark: m}
		if m != Same && m != Inside {
			box.Anchor = c.Identifier
		}
		index[c.Identifier] = len(out.Boxes)
		out.Boxes = append(out.Boxes, box)
	}
	// B first: present components take B's position and B's mark;
	// then what only A has, which the diff reports removed.
	// A component only in A that the diff does not report stays
	// unmarked: the endpoint's answer is the authority.
	for _, g := range []*vgroup{gb, ga} {
		for _, e := range components(g) {
			add(e.c, e.kind, marks[e.c.Identifier])
		}
	}
	// Child groups whose contents changed.
	for id := range marks {
		if top, ok := owner[id]; ok && top != id {
			if i, ok := index[top]; ok && out.Boxes[i].Mark == Same {
				out.Boxes[i].Mark = Inside
			}
		}
	}
	// Connections: drawn between the boxes holding their ends.
	end := func(e *vend) (int, bool) {
		if e == nil {
			return 0, false
		}
		if i, ok := index[e.ID]; ok {
			return i, true
		}
		if top, ok := owner[e.ID]; ok {
			i, ok := index[top]
			return i, ok
		}
		if i, ok := index[e.GroupID]; ok {
			return i, true
		}
		if top, ok := owner[e.GroupID]; ok {
			i, ok := index[top]
			return i, ok
		}
		return 0, false
	}
	seen := map[string]bool{}
	for _, g := range []*vgroup{gb, ga} {
		for _, c := range g.Connections {
			if seen[c.Identifier] {
				continue
			}
			seen[c.Identifier] = true
			s, ok1 := end(c.Source)
			d, ok2 := end(c.Dest)
			if !ok1 || !ok2 {
				continue
			}
			sb, db := out.Boxes[s], out.Boxes[d]
			m := marks[c.Identifier]
			e := Edge{ID: c.Identifier, Name: c.Name, X1: sb.X + sb.W/2, Y1: sb.Y + sb.H/2, X2: db.X + db.W/2, Y2: db.Y + db.H/2, Mark: m}
			if m != Same {
				e.Anchor = c.Identifier
			}
			out.Edges = append(out.Edges, e)
		}
	}
	out.bounds()
	return out, nil
}

type kinded struct {
	c    *vcomp
	kind string
}

// components lists a group's drawable direct children.
func components(g *vgroup) []kinded {
	var out []kinded
	for _, sub := range g.ProcessGroups {
		out = append(out, kinded{&sub.vcomp, "process group"})
	}
	lists := []struct {
		cs   []*vcomp
		kind string
	}{{g.Processors, "processor"}, {g.InputPorts, "input port"}, {g.OutputPorts, "output port"},
		{g.Funnels, "funnel"}, {g.RemoteProcessGroups, "remote process group"}, {g.Labels, "label"}}
	for _, l := range lists {
		for _, c := range l.cs {
			out = append(out, kinded{c, l.kind})
		}
	}
	return out
}

// ErrNoGroup: the group to draw is in neither version.
var ErrNoGroup = errors.New("no such process group")

// Crumb is one process group on the way to the drawn one.
type Crumb struct{ ID, Name string }

// findGroup returns the groups from g down to the one with id (nil when
// it is not there).
func findGroup(g *vgroup, id string, above []*vgroup) []*vgroup {
	here := append(above[:len(above):len(above)], g)
	if g.Identifier == id {
		return here
	}
	for _, sub := range g.ProcessGroups {
		if p := findGroup(sub, id, here); p != nil {
			return p
		}
	}
	return nil
}

// lastOf is the group a path leads to, or an empty one (the group is new
// in B or gone from it).
func lastOf(p []*vgroup) *vgroup {
	if len(p) == 0 {
		return &vgroup{}
	}
	return p[len(p)-1]
}

func nameGroups(g *vgroup, names map[string]string) {
	if g.Identifier != "" {
		names[g.Identifier] = g.Name
	}
	for _, sub := range g.ProcessGroups {
		nameGroups(sub, names)
	}
}

func crumbs(p []*vgroup) []Crumb {
	var out []Crumb
	for i, g := range p {
		if i == 0 {
			continue // the top level has its own link
		}
		out = append(out, Crumb{ID: g.Identifier, Name: g.Name})
	}
	return out
}

// claim records top as the owner of everything inside g.
func claim(g *vgroup, top string, owner map[string]string) {
	owner[g.Identifier] = top
	for _, e := range components(g) {
		owner[e.c.Identifier] = top
	}
	for _, c := range g.Connections {
		owner[c.Identifier] = top
	}
	for _, c := range g.ControllerServices {
		owner[c.Identifier] = top
	}
	for _, sub := range g.ProcessGroups {
		claim(sub, top, owner)
	}
}

// margin around the drawn boxes, in flow coordinates.
const margin = 40

func (g *Graph) bounds() {
	if len(g.Boxes) == 0 {
		g.Width, g.Height = 400, 100
		return
	}
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, b := range g.Boxes {
		minX, minY = math.Min(minX, b.X), math.Min(minY, b.Y)
		maxX, maxY = math.Max(maxX, b.X+b.W), math.Max(maxY, b.Y+b.H)
	}
	g.MinX, g.MinY = minX-margin, minY-margin
	g.Width, g.Height = maxX-minX+2*margin, maxY-minY+2*margin
	// Drawing order: labels at the back (as on NiFi's canvas), marked
	// components last, on top of the others.
	layer := func(b Box) int {
		switch {
		case b.Kind == "label" && b.Mark == Same:
			return 0
		case b.Mark == Same:
			return 1
		}
		return 2
	}
	sort.SliceStable(g.Boxes, func(i, j int) bool { return layer(g.Boxes[i]) < layer(g.Boxes[j]) })
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
