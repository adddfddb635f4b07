package webui

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// vgroup and vcomp are the few members of NiFi's VersionedProcessGroup
// the pages show. One loose component type serves processors, ports,
// funnels, labels, connections and services: the pages only read names,
// types, positions, properties and the ends of connections.
type vgroup struct {
	vcomp
	ProcessGroups       []*vgroup `json:"processGroups"`
	RemoteProcessGroups []*vcomp  `json:"remoteProcessGroups"`
	Processors          []*vcomp  `json:"processors"`
	InputPorts          []*vcomp  `json:"inputPorts"`
	OutputPorts         []*vcomp  `json:"outputPorts"`
	Connections         []*vcomp  `json:"connections"`
	Labels              []*vcomp  `json:"labels"`
	Funnels             []*vcomp  `json:"funnels"`
	ControllerServices  []*vcomp  `json:"controllerServices"`
	ParameterContext    string    `json:"parameterContextName"`
}

type vcomp struct {
	Identifier string             `json:"identifier"`
	Name       string             `json:"name"`
	Type       string             `json:"type"`
	Comments   string             `json:"comments"`
	Label      string             `json:"label"`
	Position   *vpos              `json:"position"`
	Width      float64            `json:"width"`
	Height     float64            `json:"height"`
	Properties map[string]*string `json:"properties"`
	Source     *vend              `json:"source"`
	Dest       *vend              `json:"destination"`
	Relations  []string           `json:"selectedRelationships"`
	Group      string             `json:"groupIdentifier"`
}

type vpos struct{ X, Y float64 }

type vend struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	GroupID string `json:"groupId"`
	Type    string `json:"type"`
}

// decodeGroup reads a flowContents document.
func decodeGroup(raw json.RawMessage) (*vgroup, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return &vgroup{}, nil
	}
	var g vgroup
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("flow contents: %w", err)
	}
	return &g, nil
}

// shortType is the simple class name of a NiFi type
// ("org.apache.nifi.processors.standard.LogAttribute" → "LogAttribute").
func shortType(t string) string {
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		return t[i+1:]
	}
	return t
}

// Parameter is one parameter of a parameter context, for the version page.
type Parameter struct {
	Name, Value, Description string
	Sensitive                bool
}

// ParamContext is a parameter context of a snapshot.
type ParamContext struct {
	Name       string
	Parameters []Parameter
}

// decodeParams reads a snapshot's parameterContexts map.
func decodeParams(raw json.RawMessage) ([]ParamContext, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]struct {
		Name       string `json:"name"`
		Parameters []struct {
			Name        string  `json:"name"`
			Value       *string `json:"value"`
			Description string  `json:"description"`
			Sensitive   bool    `json:"sensitive"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parameter contexts: %w", err)
	}
	out := make([]ParamContext, 0, len(m))
	for k, c := range m {
		pc := ParamContext{Name: c.Name}
		if pc.Name == "" {
			pc.Name = k
		}
		for _, p := range c.Parameters {
			v := ""
			if p.Value != nil {
				v = *p.Value
			}
			if p.Sensitive {
				v = "(sensitive)"
			}
			pc.Parameters = append(pc.Parameters, Parameter{Name: p.Name, Value: v, Description: p.Description, Sensitive: p.Sensitive})
		}
		sort.Slice(pc.Parameters, func(i, j int) bool { return pc.Parameters[i].Name < pc.Parameters[j].Name })
		out = append(out, pc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Tree is a process group as the version page lists it.
type Tree struct {
	ID, Name, ParameterContext string
	Processors                 []TreeItem
	InputPorts, OutputPorts    []TreeItem
	Connections                []TreeItem
	Services                   []TreeItem
	Funnels, Remote            int
	Groups                     []*Tree
}

// TreeItem is one component of a Tree.
type TreeItem struct {
	ID, Name, Type string
	// Detail is a connection's ends and relationships.
	Detail     string
	Properties []Property
}

// Property is one property of a component, values cut to keep pages light.
type Property struct{ Name, Value string }

// maxValue bounds a property value on the page (scripts and queries can
// be many kilobytes; the export has them whole).
const maxValue = 300

func clip(s string) string {
	if len(s) <= maxValue {
		return s
	}
	cut := maxValue
	for cut > 0 && (s[cut]&0xC0) == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + " …"
}

func propsOf(m map[string]*string) []Property {
	out := make([]Property, 0, len(m))
	for k, v := range m {
		p := Property{Name: k, Value: "(not set)"}
		if v != nil {
			p.Value = clip(*v)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func items(cs []*vcomp, props bool) []TreeItem {
	out := make([]TreeItem, 0, len(cs))
	for _, c := range cs {
		it := TreeItem{ID: c.Identifier, Name: c.Name, Type: shortType(c.Type)}
		if props {
			it.Properties = propsOf(c.Properties)
		}
		out = append(out, it)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// buildTree turns a decoded group into the page's tree.
func buildTree(g *vgroup) *Tree {
	t := &Tree{ID: g.Identifier, Name: g.Name, ParameterContext: g.ParameterContext,
		Processors: items(g.Processors, true), InputPorts: items(g.InputPorts, false), OutputPorts: items(g.OutputPorts, false),
		Services: items(g.ControllerServices, true), Funnels: len(g.Funnels), Remote: len(g.RemoteProcessGroups)}
	for _, c := range g.Connections {
		name := c.Name
		if name == "" {
			name = strings.Join(c.Relations, ", ")
		}
		t.Connections = append(t.Connections, TreeItem{ID: c.Identifier, Name: name, Detail: endName(c.Source) + " → " + endName(c.Dest)})
	}
	for _, sub := range g.ProcessGroups {
		t.Groups = append(t.Groups, buildTree(sub))
	}
	sort.SliceStable(t.Groups, func(i, j int) bool { return t.Groups[i].Name < t.Groups[j].Name })
	return t
}

func endName(e *vend) string {
	switch {
	case e == nil:
		return "?"
	case e.Name != "":
		return e.Name
	}
	return e.ID
}
