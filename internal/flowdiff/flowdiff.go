package flowdiff

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Group is a ComponentDifferenceGroup: the differences of one component.
// Nil pointers are Java nulls, which the registry omits from its JSON.
// Fields are in alphabetical JSON-name order, the order NiFi's Jackson
// mapper (SORT_PROPERTIES_ALPHABETICALLY) writes them.
type Group struct {
	ComponentID    *string      `json:"componentId,omitempty"`
	ComponentName  *string      `json:"componentName,omitempty"`
	ComponentType  string       `json:"componentType"`
	Differences    []Difference `json:"differences"`
	ProcessGroupID *string      `json:"processGroupId,omitempty"`
}

// Difference is a ComponentDifference.
type Difference struct {
	ChangeDescription         string  `json:"changeDescription"`
	DifferenceType            string  `json:"differenceType"`
	DifferenceTypeDescription string  `json:"differenceTypeDescription"`
	ValueA                    *string `json:"valueA,omitempty"`
	ValueB                    *string `json:"valueB,omitempty"`
}

// Compare returns the component difference groups between two flowContents
// documents (raw JSON of a VersionedProcessGroup). a is the older version.
//
// The result is sorted: groups by componentId (a group without one first),
// then componentType, processGroupId and componentName; the differences of
// a group by differenceType, then changeDescription, valueA and valueB
// (null before any string). NiFi returns sets, so any fixed order is as
// correct as another; this one makes responses reproducible.
//
// An error means a document is not JSON or not a process group (for
// example an array where a component list belongs); it never depends on
// the other document.
func Compare(a, b json.RawMessage) ([]Group, error) {
	groupA, err := decodeGroup(a)
	if err != nil {
		return nil, fmt.Errorf("flowdiff: flow contents A: %w", err)
	}
	groupB, err := decodeGroup(b)
	if err != nil {
		return nil, fmt.Errorf("flowdiff: flow contents B: %w", err)
	}
	var c comparator
	c.compareGroup(groupA, groupB, false)
	return group(dedupe(c.diffs)), nil
}

// diffKey is what StandardFlowDifference.equals and hashCode look at. The
// Java comparator collects differences in a HashSet, so two differences
// with the same key are reported once (e.g. a label whose height and width
// both change from 100.0 to 200.0 has a single SIZE_CHANGED).
type diffKey struct {
	typ                  diffType
	idA, instA           optString
	idB, instB           optString
	field                optString
	valueA, valueB       string
	valueASet, valueBSet bool
	desc                 string
}

func dedupe(diffs []diff) []diff {
	seen := make(map[diffKey]bool, len(diffs))
	out := diffs[:0]
	for _, d := range diffs {
		k := diffKey{typ: d.typ, field: d.field, desc: d.desc}
		if d.a != nil {
			k.idA, k.instA = d.a.id, d.a.instanceID
		}
		if d.b != nil {
			k.idB, k.instB = d.b.id, d.b.instanceID
		}
		k.valueA, k.valueASet = javaString(d.va), d.va != nil
		k.valueB, k.valueBSet = javaString(d.vb), d.vb != nil
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}

// group mirrors RegistryService.getStringComponentDifferenceGroupMap: each
// difference belongs to the group of its component A, or B when A is
// absent, keyed by identifier.
//
// The group's name, type and process group come from a component with
// that identifier. When the identifier stands for different components
// (a component moved to another process group is removed there and added
// here) Java takes whichever difference its HashSet yields first; here the
// older version's component wins, found in traversal order.
func group(diffs []diff) []Group {
	type builder struct {
		ref   *compRef
		fromA bool
		diffs []Difference
	}
	byID := make(map[optString]*builder)
	var order []*builder
	for _, d := range diffs {
		ref, fromA := d.a, true
		if ref == nil {
			ref, fromA = d.b, false
		}
		g := byID[ref.id]
		if g == nil {
			g = &builder{ref: ref, fromA: fromA}
			byID[ref.id] = g
			order = append(order, g)
		} else if fromA && !g.fromA {
			g.ref, g.fromA = ref, true
		}
		g.diffs = append(g.diffs, Difference{
			ValueA:                    valueDescription(d.va),
			ValueB:                    valueDescription(d.vb),
			ChangeDescription:         strings.Clone(d.desc),
			DifferenceType:            diffTypes[d.typ].name,
			DifferenceTypeDescription: diffTypes[d.typ].description,
		})
	}

	groups := make([]Group, 0, len(order))
	for _, g := range order {
		slices.SortFunc(g.diffs, compareDifferences)
		groups = append(groups, Group{
			ComponentID:    ptr(g.ref.id),
			ComponentName:  ptr(g.ref.name),
			ComponentType:  g.ref.typeName, // a constant
			ProcessGroupID: ptr(g.ref.groupID),
			Differences:    g.diffs,
		})
	}
	slices.SortFunc(groups, compareGroups)
	return groups
}

// ptr returns a copy of s for the result; the copy matters because
// decoded strings share memory with the whole input document.
func ptr(s optString) *string {
	if !s.set {
		return nil
	}
	v := strings.Clone(s.v)
	return &v
}

// compareOpt orders nil before any string.
func compareOpt(a, b *string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(*a, *b)
}

func compareGroups(a, b Group) int {
	if c := compareOpt(a.ComponentID, b.ComponentID); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ComponentType, b.ComponentType); c != 0 {
		return c
	}
	if c := compareOpt(a.ProcessGroupID, b.ProcessGroupID); c != 0 {
		return c
	}
	return compareOpt(a.ComponentName, b.ComponentName)
}

func compareDifferences(a, b Difference) int {
	if c := cmp.Compare(a.DifferenceType, b.DifferenceType); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ChangeDescription, b.ChangeDescription); c != 0 {
		return c
	}
	if c := compareOpt(a.ValueA, b.ValueA); c != 0 {
		return c
	}
	return compareOpt(a.ValueB, b.ValueB)
}
