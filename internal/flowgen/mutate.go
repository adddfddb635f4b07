package flowgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Mutate returns the next version of a snapshot: prev with a few edits of
// the kind people make between two commits (change a property, move a
// component, add or remove a processor and its connection, adjust a
// parameter, schedule, queue or label), and snapshotMetadata advanced
// (version+1 when positive, a later timestamp, a commit message).
//
// The result depends only on prev and seed. Everything not edited is
// encoded exactly as before, so consecutive versions differ the way real
// ones do. Mutate is meant for documents from this package: it decodes into
// the generator's model, so fields that model does not know are dropped.
func Mutate(prev []byte, seed int64) ([]byte, error) {
	var s flowSnapshot
	if err := json.Unmarshal(prev, &s); err != nil {
		return nil, fmt.Errorf("flowgen: mutate: %w", err)
	}
	if s.FlowContents == nil {
		return nil, errors.New("flowgen: mutate: not a VersionedFlowSnapshot (no flowContents)")
	}
	h := fnv.New64a()
	h.Write(prev)
	// Mixing in the document means Mutate(v1, s) and Mutate(v2, s) make
	// different edits, so a chain of versions can reuse one seed.
	m := newMutator(&s, int64(h.Sum64())^seed)
	edits := 1 + m.r.intn(3)
	for i := 0; i < edits; i++ {
		m.edit()
	}
	if md := s.SnapshotMetadata; md != nil {
		if md.Version > 0 {
			md.Version++
		}
		md.Timestamp += int64(60_000 + m.r.intn(3*24*3600*1000))
		md.Comments = pick(m.r, commitMessages)
		if m.r.chance(0.3) {
			md.Author = pick(m.r, people)
		}
	}
	return encode(&s), nil
}

type mutator struct {
	*gen
	s      *flowSnapshot
	groups []*scope // every process group, parents before children
}

func newMutator(s *flowSnapshot, seed int64) *mutator {
	g := newGen(seed)
	g.snap = s
	if s.ParameterContexts == nil {
		s.ParameterContexts = map[string]*parameterContext{}
	}
	if s.ExternalControllerServices == nil {
		s.ExternalControllerServices = map[string]*externalService{}
	}
	g.ctxs = s.ParameterContexts
	g.bigPlaced = true // only fresh flows need a guaranteed big number
	m := &mutator{gen: g, s: s}
	var walk func(pg *processGroup, parent *scope)
	walk = func(pg *processGroup, parent *scope) {
		normalize(pg)
		sc := &scope{g: pg, parent: parent, ctx: s.ParameterContexts[pg.ParameterContextName]}
		if parent != nil {
			sc.depth = parent.depth + 1
			if sc.ctx == nil {
				sc.ctx = parent.ctx
			}
		}
		m.groups = append(m.groups, sc)
		m.remember(pg)
		for _, c := range pg.ProcessGroups {
			walk(c, sc)
		}
	}
	walk(s.FlowContents, nil)
	g.root = m.groups[0]
	for _, sc := range m.groups {
		if len(sc.g.Processors) > 0 {
			g.version = sc.g.Processors[0].Bundle.Version
			break
		}
	}
	return m
}

// remember records the identifiers already in use, so new ones differ.
func (m *mutator) remember(pg *processGroup) {
	add := func(ids ...string) {
		for _, id := range ids {
			if id != "" {
				m.ids[id] = struct{}{}
			}
		}
	}
	add(pg.Identifier, pg.InstanceIdentifier)
	for _, x := range pg.Processors {
		add(x.Identifier, x.InstanceIdentifier)
	}
	for _, x := range pg.Connections {
		add(x.Identifier, x.InstanceIdentifier)
	}
	for _, x := range append(append([]*port{}, pg.InputPorts...), pg.OutputPorts...) {
		add(x.Identifier, x.InstanceIdentifier)
	}
	for _, x := range pg.Labels {
		add(x.Identifier, x.InstanceIdentifier)
	}
	for _, x := range pg.Funnels {
		add(x.Identifier, x.InstanceIdentifier)
	}
	for _, x := range pg.ControllerServices {
		add(x.Identifier, x.InstanceIdentifier)
	}
}

// normalize replaces missing collections with empty ones, so a document
// that omitted them still encodes them as NiFi would ([] rather than null).
func normalize(pg *processGroup) {
	if pg.ProcessGroups == nil {
		pg.ProcessGroups = []*processGroup{}
	}
	if pg.RemoteProcessGroups == nil {
		pg.RemoteProcessGroups = []*remoteProcessGroup{}
	}
	if pg.Processors == nil {
		pg.Processors = []*processor{}
	}
	if pg.InputPorts == nil {
		pg.InputPorts = []*port{}
	}
	if pg.OutputPorts == nil {
		pg.OutputPorts = []*port{}
	}
	if pg.Connections == nil {
		pg.Connections = []*connection{}
	}
	if pg.Labels == nil {
		pg.Labels = []*label{}
	}
	if pg.Funnels == nil {
		pg.Funnels = []*funnel{}
	}
	if pg.ControllerServices == nil {
		pg.ControllerServices = []*controllerService{}
	}
	for _, p := range pg.Processors {
		if p.AutoTerminatedRelationships == nil {
			p.AutoTerminatedRelationships = []string{}
		}
		if p.RetriedRelationships == nil {
			p.RetriedRelationships = []string{}
		}
		if p.Properties == nil {
			p.Properties = map[string]*string{}
		}
		if p.PropertyDescriptors == nil {
			p.PropertyDescriptors = map[string]*propertyDescriptor{}
		}
		if p.Style == nil {
			p.Style = map[string]string{}
		}
	}
}

// edit applies one edit, drawn by weight; an edit that does not apply to
// this flow (no labels to change, say) yields to the next one in the list,
// and moving something always applies.
func (m *mutator) edit() {
	type op struct {
		weight int
		f      func() bool
	}
	ops := []op{
		{30, m.changeProperty},
		{22, m.move},
		{12, m.addProcessor},
		{8, m.removeProcessor},
		{8, m.changeParameter},
		{8, m.changeSchedule},
		{6, m.changeQueue},
		{6, m.changeLabel},
	}
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	x := m.r.intn(total)
	start := 0
	for i, o := range ops {
		if x < o.weight {
			start = i
			break
		}
		x -= o.weight
	}
	for i := range ops {
		if ops[(start+i)%len(ops)].f() {
			return
		}
	}
}

type procRef struct {
	sc *scope
	p  *processor
}

func (m *mutator) processors() []procRef {
	var out []procRef
	for _, sc := range m.groups {
		for _, p := range sc.g.Processors {
			out = append(out, procRef{sc, p})
		}
	}
	return out
}

// changeProperty redraws one property of a processor from the catalog, or
// tweaks its value when the processor type is not in the catalog.
func (m *mutator) changeProperty() bool {
	procs := m.processors()
	if len(procs) == 0 {
		return false
	}
	for try := 0; try < 8; try++ {
		ref := pick(m.r, procs)
		p := ref.p
		if k := procByType[p.Type]; k != nil && m.r.chance(0.7) {
			s := k.props[m.r.intn(len(k.props))]
			if s.svc != nil || s.sensitive || s.v == nil {
				continue
			}
			sc := *ref.sc
			sc.st = m.newStageInfo()
			c := m.pctx(&sc, true)
			old := p.Properties[s.name]
			for i := 0; i < 4; i++ {
				v := s.v(c)
				if v != nil && (old == nil || *v != *old) {
					p.Properties[s.name] = v
					return true
				}
			}
			continue
		}
		var names []string
		for name, v := range p.Properties {
			if v != nil && !strings.Contains(*v, "#{") && !m.isServiceID(p, name) {
				names = append(names, name)
			}
		}
		if len(names) == 0 {
			continue
		}
		slices.Sort(names)
		name := pick(m.r, names)
		p.Properties[name] = str(tweak(m.r, *p.Properties[name]))
		return true
	}
	return false
}

func (m *mutator) isServiceID(p *processor, name string) bool {
	d := p.PropertyDescriptors[name]
	return d != nil && (d.IdentifiesControllerService || d.Sensitive)
}

// tweak returns a plausible different value: numbers and data sizes and
// durations scale, booleans flip, expressions gain a function, text grows.
func tweak(r *rng, v string) string {
	switch v {
	case "true":
		return "false"
	case "false":
		return "true"
	}
	num, unit, ok := strings.Cut(v, " ")
	if !ok {
		num, unit = v, ""
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil && n >= 0 && n < math.MaxInt64/4 {
		m := n * int64(pick(r, []int{2, 3, 10}))
		if n > 1 && r.chance(0.5) {
			m = n / 2
		}
		if m == n {
			m = n + 1
		}
		if unit != "" {
			return strconv.FormatInt(m, 10) + " " + unit
		}
		return strconv.FormatInt(m, 10)
	}
	if strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}") && strings.Count(v, "}") == 1 {
		return v[:len(v)-1] + pick(r, []string{":trim()", ":toLower()", ":urlEncode()"}) + "}"
	}
	return v + pick(r, []string{"_v2", "-new", " ", ".bak"})
}

// move drags one component (or a whole group) somewhere else on its canvas.
func (m *mutator) move() bool {
	var ps []*position
	for _, sc := range m.groups {
		if sc.parent != nil && sc.g.Position != nil {
			ps = append(ps, sc.g.Position)
		}
		for _, x := range sc.g.Processors {
			if x.Position != nil {
				ps = append(ps, x.Position)
			}
		}
		for _, x := range sc.g.Labels {
			if x.Position != nil {
				ps = append(ps, x.Position)
			}
		}
		for _, x := range sc.g.Funnels {
			if x.Position != nil {
				ps = append(ps, x.Position)
			}
		}
		for _, x := range append(append([]*port{}, sc.g.InputPorts...), sc.g.OutputPorts...) {
			if x.Position != nil {
				ps = append(ps, x.Position)
			}
		}
	}
	if len(ps) == 0 {
		if m.s.FlowContents.Position == nil {
			m.s.FlowContents.Position = &position{}
		}
		ps = append(ps, m.s.FlowContents.Position)
	}
	p := pick(m.r, ps)
	dx := float64(m.r.between(40, 600))
	if m.r.chance(0.5) {
		dx = -dx
	}
	dy := float64(m.r.between(-300, 300))
	p.X += dx
	p.Y += dy
	if m.r.chance(0.5) { // dropped by hand, not on a grid
		p.X += math.Round(m.r.float()*1e9) / 1e9
	}
	return true
}

// addProcessor inserts a processor fed by an existing one: typically a
// logger on a relationship that used to be auto-terminated.
func (m *mutator) addProcessor() bool {
	procs := m.processors()
	if len(procs) == 0 {
		return false
	}
	ref := pick(m.r, procs)
	u := ref.p
	var rel string
	if n := len(u.AutoTerminatedRelationships); n > 0 {
		i := m.r.intn(n)
		rel = u.AutoTerminatedRelationships[i]
		u.AutoTerminatedRelationships = append(u.AutoTerminatedRelationships[:i:i], u.AutoTerminatedRelationships[i+1:]...)
	} else {
		for _, c := range ref.sc.g.Connections {
			if c.Source.ID == u.Identifier && len(c.SelectedRelationships) > 0 {
				rel = c.SelectedRelationships[0]
				break
			}
		}
	}
	if rel == "" {
		if k := procByType[u.Type]; k != nil && len(k.rels) > 0 {
			rel = k.rels[0]
		} else {
			rel = "success"
		}
	}
	sc := *ref.sc
	sc.st = m.newStageInfo()
	k := procByKey[pick(m.r, []string{"LogAttribute", "LogMessage", "UpdateAttribute", "ReplaceText", "CompressContent"})]
	x, y := 400.0, 0.0
	if u.Position != nil {
		x, y = u.Position.X+400, u.Position.Y+float64(m.r.between(-100, 200))
	}
	p, rels := m.newProcessor(&sc, k, m.pos(x, y), true)
	p.AutoTerminatedRelationships = rels
	ref.sc.g.Processors = append(ref.sc.g.Processors, p)
	m.connect(ref.sc, procEnd(u), procEnd(p), []string{rel})
	return true
}

// removeProcessor deletes a processor with its connections, and
// auto-terminates relationships of upstream processors that lost their
// only connection, as NiFi requires.
func (m *mutator) removeProcessor() bool {
	procs := m.processors()
	if len(procs) < 3 {
		return false
	}
	ref := pick(m.r, procs)
	pg, id := ref.sc.g, ref.p.Identifier
	for i, p := range pg.Processors {
		if p.Identifier == id {
			pg.Processors = append(pg.Processors[:i:i], pg.Processors[i+1:]...)
			break
		}
	}
	var keep, gone []*connection
	for _, c := range pg.Connections {
		if c.Source.ID == id || c.Destination.ID == id {
			gone = append(gone, c)
		} else {
			keep = append(keep, c)
		}
	}
	if keep == nil {
		keep = []*connection{}
	}
	pg.Connections = keep
	for _, c := range gone {
		if c.Source.ID == id || c.Source.Type != "PROCESSOR" {
			continue
		}
		for _, up := range pg.Processors {
			if up.Identifier != c.Source.ID {
				continue
			}
			for _, rel := range c.SelectedRelationships {
				if !stillConnected(pg, up.Identifier, rel) && !contains(up.AutoTerminatedRelationships, rel) {
					up.AutoTerminatedRelationships = append(up.AutoTerminatedRelationships, rel)
				}
			}
		}
	}
	return true
}

func stillConnected(pg *processGroup, src, rel string) bool {
	for _, c := range pg.Connections {
		if c.Source.ID == src && contains(c.SelectedRelationships, rel) {
			return true
		}
	}
	return false
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// changeParameter edits the value of a non-sensitive parameter.
func (m *mutator) changeParameter() bool {
	var names []string
	for name := range m.s.ParameterContexts {
		names = append(names, name)
	}
	slices.Sort(names)
	var ps []*parameter
	for _, name := range names {
		for _, p := range m.s.ParameterContexts[name].Parameters {
			if !p.Sensitive && !p.Provided && p.Value != nil {
				ps = append(ps, p)
			}
		}
	}
	if len(ps) == 0 {
		return false
	}
	p := pick(m.r, ps)
	p.Value = str(tweak(m.r, *p.Value))
	return true
}

// changeSchedule changes how a processor runs.
func (m *mutator) changeSchedule() bool {
	procs := m.processors()
	if len(procs) == 0 {
		return false
	}
	p := pick(m.r, procs).p
	switch m.r.intn(4) {
	case 0:
		n := int32(pick(m.r, []int{1, 2, 4, 8}))
		if n == p.ConcurrentlySchedulableTaskCount {
			n *= 2
		}
		p.ConcurrentlySchedulableTaskCount = n
	case 1:
		if p.ScheduledState == "DISABLED" {
			p.ScheduledState = "ENABLED"
		} else {
			p.ScheduledState = "DISABLED"
		}
	case 2:
		p.SchedulingPeriod = tweak(m.r, p.SchedulingPeriod)
	default:
		p.PenaltyDuration = tweak(m.r, p.PenaltyDuration)
	}
	return true
}

// changeQueue changes the settings of one connection.
func (m *mutator) changeQueue() bool {
	var cs []*connection
	for _, sc := range m.groups {
		cs = append(cs, sc.g.Connections...)
	}
	if len(cs) == 0 {
		return false
	}
	c := pick(m.r, cs)
	switch m.r.intn(3) {
	case 0:
		if c.BackPressureObjectThreshold > 0 && c.BackPressureObjectThreshold < math.MaxInt64/4 {
			c.BackPressureObjectThreshold *= 2
		} else {
			c.BackPressureObjectThreshold = 20000
		}
	case 1:
		c.FlowFileExpiration = tweak(m.r, c.FlowFileExpiration)
	default:
		if c.LoadBalanceStrategy == "DO_NOT_LOAD_BALANCE" {
			c.LoadBalanceStrategy = "ROUND_ROBIN"
		} else {
			c.LoadBalanceStrategy = "DO_NOT_LOAD_BALANCE"
			c.PartitioningAttribute = ""
		}
	}
	return true
}

// changeLabel rewrites or extends a label.
func (m *mutator) changeLabel() bool {
	var ls []*label
	for _, sc := range m.groups {
		ls = append(ls, sc.g.Labels...)
	}
	if len(ls) == 0 {
		return false
	}
	l := pick(m.r, ls)
	if m.r.chance(0.5) {
		l.Label += "\n" + pick(m.r, proseSentences)
	} else {
		l.Label = prose(m.r, pick(m.r, entities), pick(m.r, teams), m.r.between(40, 300))
	}
	return true
}
