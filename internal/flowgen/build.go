package flowgen

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// gen holds the state of one generation run. Everything it does draws from
// r in a fixed order, which is what makes the output a function of the
// options alone.
type gen struct {
	r           *rng
	version     string // NiFi version shared by every bundle
	env         string
	region      string
	flowName    string
	ids         map[string]struct{}
	snap        *flowSnapshot
	root        *scope
	ctxs        map[string]*parameterContext
	providerCtx *parameterContext
	extSSL      *externalService // a service outside the flow, see service
	extUsed     bool
	countParams bool // parameter contexts are part of the measured output
	size        int  // running size of the encoded output
	bigPlaced   bool
	rpgPlaced   bool
	journal     []func() // undo log, see mark and rollback
}

// checkpoint is a point the generator can return to.
type checkpoint struct {
	journal   int
	size      int
	bigPlaced bool
	rpgPlaced bool
}

// mark returns a checkpoint. Every change to the flow after it is recorded
// in the journal, so rollback can take back a step that turned out not to
// fit the size budget. That is what lets the fill stop just short of its
// limit instead of overshooting it by a processor and its services.
func (g *gen) mark() checkpoint {
	return checkpoint{journal: len(g.journal), size: g.size, bigPlaced: g.bigPlaced, rpgPlaced: g.rpgPlaced}
}

func (g *gen) rollback(c checkpoint) {
	for len(g.journal) > c.journal {
		n := len(g.journal) - 1
		g.journal[n]()
		g.journal = g.journal[:n]
	}
	g.size, g.bigPlaced, g.rpgPlaced = c.size, c.bigPlaced, c.rpgPlaced
}

func (g *gen) onUndo(f func()) { g.journal = append(g.journal, f) }

// push appends v to *s and records how to take it back.
func push[T any](g *gen, s *[]T, v T) {
	n := len(*s)
	*s = append(*s, v)
	g.onUndo(func() { *s = (*s)[:n] })
}

// scope is a process group under construction together with what its
// components can see: the controller services of the group and of its
// ancestors, and the group's parameter context.
type scope struct {
	g      *processGroup
	parent *scope
	ctx    *parameterContext
	depth  int
	st     *stageInfo
	fail   *connectable // failure funnel of this group, made on first use
	row    int          // layout cursor
	col    int
	in     *port // the ports fillGroup chains the group through
	out    *port
}

// stageInfo is the business context of a group: which records it moves and
// where from/to. It keeps names, topics and SQL in one group consistent.
type stageInfo struct {
	e        *entity
	format   string
	topicIn  string
	topicOut string
	schema   string
	ns       string
	team     string
}

// pctx is what a property value generator sees.
type pctx struct {
	g     *gen
	r     *rng
	sc    *scope
	st    *stageInfo
	tight bool // little budget left: skip optional long texts
}

func newGen(seed int64) *gen {
	r := newRNG(uint64(seed))
	g := &gen{
		r:       r,
		version: pick(r, nifiVersions),
		env:     pick(r, []string{"prod", "prod", "staging", "dev", "qa"}),
		region:  pick(r, regions),
		ids:     make(map[string]struct{}, 1024),
		ctxs:    map[string]*parameterContext{},
	}
	g.flowName = pick(r, flowNames)
	return g
}

// id returns a fresh identifier. Collisions are astronomically unlikely,
// but the set makes uniqueness a guarantee rather than a probability.
func (g *gen) id() string {
	for {
		u := g.r.uuid()
		if _, dup := g.ids[u]; !dup {
			g.ids[u] = struct{}{}
			return u
		}
	}
}

// account adds the encoded size of v, as an element appended to a JSON
// array or object that had n elements before, to the running size.
func (g *gen) account(v any, n int) {
	g.size += encodedLen(v)
	if n > 0 {
		g.size++ // the comma
	}
}

func (g *gen) bundle(artifact string) bundle {
	return bundle{Group: "org.apache.nifi", Artifact: artifact, Version: g.version}
}

// pos returns a canvas position near (x, y). Positions dragged by hand are
// arbitrary doubles; ones that were snapped or typed are round. Real flows
// mix both, and the doubles matter for compression.
func (g *gen) pos(x, y float64) *position {
	x += float64(g.r.between(-40, 40))
	y += float64(g.r.between(-30, 30))
	if g.r.chance(0.45) {
		x += g.r.float()
		y += g.r.float()
	} else if g.r.chance(0.3) {
		x += 0.5
	}
	return &position{X: x, Y: y}
}

func (g *gen) newStageInfo() *stageInfo {
	r := g.r
	e := pick(r, entities)
	v := strconv.Itoa(r.between(1, 4))
	return &stageInfo{
		e:        e,
		format:   pick(r, formats),
		topicIn:  g.env + "." + e.name + pick(r, []string{".raw", ".events", ".cdc", ""}) + ".v" + v,
		topicOut: g.env + "." + e.name + ".curated.v" + v,
		schema:   pick(r, []string{"public", "staging", "dwh", "ops", "analytics"}),
		ns:       "com.acme." + strings.ReplaceAll(e.name, "_", ""),
		team:     pick(r, teams),
	}
}

func (g *gen) pctx(sc *scope, tight bool) *pctx {
	return &pctx{g: g, r: g.r, sc: sc, st: sc.st, tight: tight}
}

// --- process groups ---

func (g *gen) newGroup(parent *scope, name string, p *position) *scope {
	pg := &processGroup{
		Identifier:                           g.id(),
		InstanceIdentifier:                   g.id(),
		Name:                                 name,
		Position:                             p,
		ProcessGroups:                        []*processGroup{},
		RemoteProcessGroups:                  []*remoteProcessGroup{},
		Processors:                           []*processor{},
		InputPorts:                           []*port{},
		OutputPorts:                          []*port{},
		Connections:                          []*connection{},
		Labels:                               []*label{},
		Funnels:                              []*funnel{},
		ControllerServices:                   []*controllerService{},
		DefaultFlowFileExpiration:            "0 sec",
		DefaultBackPressureObjectThreshold:   10000,
		DefaultBackPressureDataSizeThreshold: "1 GB",
		ScheduledState:                       "ENABLED",
		ExecutionEngine:                      "INHERITED",
		MaxConcurrentTasks:                   1,
		StatelessFlowTimeout:                 "1 min",
		ComponentType:                        "PROCESS_GROUP",
		FlowFileConcurrency:                  "UNBOUNDED",
		FlowFileOutboundPolicy:               "STREAM_WHEN_AVAILABLE",
	}
	sc := &scope{g: pg, parent: parent}
	r := g.r
	if parent != nil {
		pg.GroupIdentifier = parent.g.Identifier
		sc.depth = parent.depth + 1
		sc.ctx = parent.ctx
		sc.st = parent.st
		if r.chance(0.15) {
			pg.Comments = prose(r, pick(r, entities), pick(r, teams), r.between(20, 160))
		}
		switch {
		case r.chance(0.06):
			pg.ExecutionEngine = "STATELESS"
			pg.MaxConcurrentTasks = int32(r.between(1, 4))
			pg.StatelessFlowTimeout = pick(r, []string{"1 min", "30 sec"})
		case r.chance(0.05):
			pg.FlowFileConcurrency = "SINGLE_FLOWFILE_PER_NODE"
			pg.FlowFileOutboundPolicy = "BATCH_OUTPUT"
		}
		if r.chance(0.05) {
			pg.DefaultBackPressureObjectThreshold = 20000
			pg.DefaultBackPressureDataSizeThreshold = "2 GB"
		}
		if r.chance(0.04) {
			pg.LogFileSuffix = strings.ReplaceAll(strings.ToLower(name), " ", "-")
		}
	}
	return sc
}

// bindContext gives a group a parameter context. Most groups share the
// flow's context; some get their own that inherits it, as teams do to keep
// per-stage settings apart.
func (g *gen) bindContext(sc *scope) {
	if sc.parent == nil || !g.r.chance(0.2) {
		if sc.ctx != nil {
			sc.g.ParameterContextName = sc.ctx.Name
		}
		return
	}
	base := g.flowName + " · " + sc.g.Name
	name := base
	for i := 2; g.ctxs[name] != nil; i++ {
		name = base + " (" + strconv.Itoa(i) + ")"
	}
	ctx := &parameterContext{
		Name:                       name,
		Parameters:                 []*parameter{},
		InheritedParameterContexts: []string{g.root.ctx.Name},
		Description:                "",
		ComponentType:              "PARAMETER_CONTEXT",
	}
	g.addContext(ctx)
	sc.ctx = ctx
	sc.g.ParameterContextName = name
}

func (g *gen) addContext(ctx *parameterContext) {
	if g.countParams {
		g.size += encodedLen(ctx.Name) + 1 + encodedLen(ctx)
		if len(g.ctxs) > 0 {
			g.size++
		}
	}
	g.ctxs[ctx.Name] = ctx
	g.onUndo(func() { delete(g.ctxs, ctx.Name) })
}

// child creates a process group inside parent and accounts its shell.
func (g *gen) child(parent *scope, name string, p *position) *scope {
	sc := g.newGroup(parent, name, p)
	g.bindContext(sc)
	g.account(sc.g, len(parent.g.ProcessGroups))
	push(g, &parent.g.ProcessGroups, sc.g)
	return sc
}

// --- parameters ---

func (c *pctx) param(name, value string, sensitive bool, desc string) *string {
	ref := str("#{" + name + "}")
	if c.sc.ctx == nil {
		return ref
	}
	if c.g.visible(c.sc.ctx, name, 0) {
		return ref
	}
	ctx := c.sc.ctx
	p := &parameter{Name: name, Description: desc, Sensitive: sensitive}
	if sensitive && c.g.providerCtx != nil {
		ctx = c.g.providerCtx
		p.Provided = true
	} else if !sensitive && value != "" {
		p.Value = str(value)
	}
	if c.g.countParams {
		c.g.account(p, len(ctx.Parameters))
	}
	push(c.g, &ctx.Parameters, p)
	return ref
}

func (g *gen) visible(ctx *parameterContext, name string, depth int) bool {
	if ctx == nil || depth > 8 {
		return false
	}
	for _, p := range ctx.Parameters {
		if p.Name == name {
			return true
		}
	}
	for _, in := range ctx.InheritedParameterContexts {
		if g.visible(g.ctxs[in], name, depth+1) {
			return true
		}
	}
	return false
}

// --- controller services ---

// service returns the id of a controller service implementing a that the
// current group can use, creating one (in this group or at the root, where
// most flows keep shared services) when there is none.
func (c *pctx) service(a api) *string {
	want := serviceKindFor(a, c.st.format, c.r)
	for s := c.sc; s != nil; s = s.parent {
		for _, cs := range s.g.ControllerServices {
			if implements(cs, a) && (want == nil || cs.Type == want.typ) {
				// Groups copied between flows bring their own readers and
				// writers, so an inherited service is often shadowed by a
				// local twin.
				if want != nil && s != c.sc && c.sc.depth > 0 && !c.tight && c.r.chance(0.3) {
					return str(c.g.newService(c.sc, c.st, want, c.tight).Identifier)
				}
				return str(cs.Identifier)
			}
		}
	}
	if (a == apiSSL || a == apiRestrictedSSL) && c.g.extSSL != nil && c.r.chance(0.8) {
		c.g.useExternal()
		return str(c.g.extSSL.Identifier)
	}
	if want == nil {
		return nil
	}
	at := c.sc
	if c.r.chance(0.6) {
		at = c.g.root
	}
	cs := c.g.newService(at, c.st, want, c.tight)
	return str(cs.Identifier)
}

func (g *gen) useExternal() {
	if g.extUsed {
		return
	}
	g.extUsed = true
	m := g.snap.ExternalControllerServices
	g.size += encodedLen(g.extSSL.Identifier) + 1 + encodedLen(g.extSSL)
	if len(m) > 0 {
		g.size++
	}
	m[g.extSSL.Identifier] = g.extSSL
	g.onUndo(func() { delete(m, g.extSSL.Identifier); g.extUsed = false })
}

func (g *gen) newService(sc *scope, st *stageInfo, k *serviceKind, tight bool) *controllerService {
	c := &pctx{g: g, r: g.r, sc: sc, st: st, tight: tight}
	cs := &controllerService{
		Identifier:         g.id(),
		InstanceIdentifier: g.id(),
		Name:               k.name(c),
		Type:               k.typ,
		Bundle:             g.bundle(k.artifact),
		ScheduledState:     "ENABLED",
		BulletinLevel:      "WARN",
		ComponentType:      "CONTROLLER_SERVICE",
		GroupIdentifier:    sc.g.Identifier,
	}
	if g.r.chance(0.15) {
		cs.ScheduledState = "DISABLED"
	}
	if g.r.chance(0.1) {
		cs.Comments = "Shared by all " + st.e.title + " stages – owned by " + st.team
	}
	cs.Properties, cs.PropertyDescriptors = g.properties(c, k.props, k.dyn)
	for _, a := range k.apis {
		cs.ControllerServiceApis = append(cs.ControllerServiceApis, controllerServiceAPI{Type: a.typ, Bundle: g.bundle(a.artifact)})
	}
	g.account(cs, len(sc.g.ControllerServices))
	push(g, &sc.g.ControllerServices, cs)
	return cs
}

// properties draws the property map and descriptors of one component.
// NiFi writes a null for some unset properties and leaves others out, so
// each component decides once whether its unset properties appear.
func (g *gen) properties(c *pctx, specs []propSpec, dyn func(*pctx) []dynProp) (map[string]*string, map[string]*propertyDescriptor) {
	props := make(map[string]*string, len(specs)+2)
	descs := make(map[string]*propertyDescriptor, len(specs)+2)
	nulls := c.r.chance(0.8)
	for i := range specs {
		s := &specs[i]
		var v *string
		switch {
		case s.svc != nil:
			if s.svcProb > 0 && c.r.chance(s.svcProb) {
				v = c.service(*s.svc)
			}
		case s.v != nil:
			v = s.v(c)
		}
		if v != nil || nulls {
			props[s.name] = v
		}
		descs[s.name] = &propertyDescriptor{
			Name: s.name, DisplayName: s.display,
			IdentifiesControllerService: s.svc != nil, Sensitive: s.sensitive,
			ResourceDefinition: s.res, ListenPortDefinition: s.listen,
		}
	}
	if dyn != nil {
		for _, d := range dyn(c) {
			props[d.name] = str(d.value)
			descs[d.name] = &propertyDescriptor{Name: d.name, DisplayName: d.name, Dynamic: true}
		}
	}
	return props, descs
}

// --- processors and connections ---

// newProcessor creates a processor of kind k in sc and returns it with its
// relationships, primary first. It is not added to the group yet: the
// caller wires the relationships first, so the processor is accounted once,
// complete.
func (g *gen) newProcessor(sc *scope, k *procKind, p *position, tight bool) (*processor, []string) {
	c := g.pctx(sc, tight)
	r := g.r
	pr := &processor{
		Identifier:                       g.id(),
		InstanceIdentifier:               g.id(),
		Name:                             k.key,
		Position:                         p,
		Type:                             k.typ,
		Bundle:                           g.bundle(k.artifact),
		Style:                            map[string]string{},
		SchedulingPeriod:                 "0 sec",
		SchedulingStrategy:               "TIMER_DRIVEN",
		ExecutionNode:                    "ALL",
		PenaltyDuration:                  "30 sec",
		YieldDuration:                    "1 sec",
		BulletinLevel:                    "WARN",
		ConcurrentlySchedulableTaskCount: 1,
		AutoTerminatedRelationships:      []string{},
		ScheduledState:                   "ENABLED",
		RetryCount:                       10,
		RetriedRelationships:             []string{},
		BackoffMechanism:                 "PENALIZE_FLOWFILE",
		MaxBackoffPeriod:                 "10 mins",
		ComponentType:                    "PROCESSOR",
		GroupIdentifier:                  sc.g.Identifier,
	}
	if k.name != nil && r.chance(0.65) {
		pr.Name = k.name(c)
	}
	if r.chance(0.08) {
		pr.Comments = prose(r, sc.st.e, sc.st.team, r.between(30, 200))
	}
	if k.sched != nil {
		pr.SchedulingStrategy, pr.SchedulingPeriod = k.sched(c)
		if k.role == roleSource && r.chance(0.4) {
			pr.ExecutionNode = "PRIMARY"
		}
	}
	if k.role == roleTransform && r.chance(0.1) {
		pr.RunDurationMillis = int64(pick(r, []int{25, 50, 100, 250}))
	}
	if r.chance(0.12) {
		pr.ConcurrentlySchedulableTaskCount = int32(pick(r, []int{2, 4, 8, 16}))
	}
	if r.chance(0.04) {
		pr.ScheduledState = "DISABLED"
	}
	if r.chance(0.05) {
		pr.PenaltyDuration = pick(r, []string{"5 sec", "1 min", "10 sec"})
	}
	if r.chance(0.03) {
		pr.BulletinLevel = pick(r, []string{"ERROR", "INFO"})
	}
	pr.Properties, pr.PropertyDescriptors = g.properties(c, k.props, k.dyn)
	rels := append([]string{}, k.rels...)
	if k.dynRels {
		var routes []string
		for name, d := range pr.PropertyDescriptors {
			if d.Dynamic {
				routes = append(routes, name)
			}
		}
		slices.Sort(routes)
		rels = append(routes, rels...)
	} else if k.primary != "" {
		// primary first
		for i, rel := range rels {
			if rel == k.primary {
				rels[0], rels[i] = rels[i], rels[0]
			}
		}
	}
	return pr, rels
}

func procEnd(pr *processor) connectable {
	c := pr.Comments
	return connectable{ID: pr.Identifier, Type: "PROCESSOR", GroupID: pr.GroupIdentifier, Name: pr.Name, Comments: &c, InstanceIdentifier: pr.InstanceIdentifier}
}

func portEnd(pt *port) connectable {
	return connectable{ID: pt.Identifier, Type: pt.Type, GroupID: pt.GroupIdentifier, Name: pt.Name, InstanceIdentifier: pt.InstanceIdentifier}
}

func funnelEnd(f *funnel) connectable {
	return connectable{ID: f.Identifier, Type: "FUNNEL", GroupID: f.GroupIdentifier, Name: "Funnel", InstanceIdentifier: f.InstanceIdentifier}
}

// endpoint is the open end of a pipeline: where the next connection starts.
type endpoint struct {
	src  connectable
	rels []string
}

func (g *gen) connect(sc *scope, src connectable, dst connectable, rels []string) *connection {
	r := g.r
	cn := &connection{
		Identifier:                    g.id(),
		InstanceIdentifier:            g.id(),
		Source:                        src,
		Destination:                   dst,
		LabelIndex:                    1,
		SelectedRelationships:         rels,
		BackPressureObjectThreshold:   10000,
		BackPressureDataSizeThreshold: "1 GB",
		FlowFileExpiration:            "0 sec",
		Prioritizers:                  []string{},
		Bends:                         []position{},
		LoadBalanceStrategy:           "DO_NOT_LOAD_BALANCE",
		LoadBalanceCompression:        "DO_NOT_COMPRESS",
		ComponentType:                 "CONNECTION",
		GroupIdentifier:               sc.g.Identifier,
	}
	if r.chance(0.08) {
		cn.Name = pick(r, []string{"to S3", "retry queue", "invalid records", "unmatched", "backlog", "to DLQ", "→ curated"})
	}
	if r.chance(0.1) {
		cn.LabelIndex = 0
	}
	switch {
	case !g.bigPlaced || r.chance(0.015):
		// A drain queue nobody wants to back-pressure: Long.MAX_VALUE and
		// friends, which do not survive a float64 round trip.
		g.bigPlaced = true
		cn.BackPressureObjectThreshold = pick(r, bigCounts)
	case r.chance(0.1):
		cn.BackPressureObjectThreshold = int64(pick(r, []int{0, 1000, 20000, 50000, 100000}))
		cn.BackPressureDataSizeThreshold = pick(r, []string{"0 MB", "512 MB", "2 GB", "10 GB"})
	}
	if r.chance(0.05) {
		cn.FlowFileExpiration = pick(r, []string{"1 hour", "24 hours", "7 days"})
	}
	if r.chance(0.1) {
		cn.Prioritizers = []string{pick(r, prioritizerTypes)}
	}
	if src.ID == dst.ID || r.chance(0.12) {
		n := 1
		if src.ID == dst.ID {
			n = 2
		}
		for i := 0; i < n; i++ {
			cn.Bends = append(cn.Bends, *g.pos(float64(r.between(-200, 1600)), float64(r.between(-200, 3000))))
		}
	}
	if r.chance(0.08) {
		cn.LoadBalanceStrategy = "ROUND_ROBIN"
	} else if r.chance(0.04) {
		cn.LoadBalanceStrategy = "PARTITION_BY_ATTRIBUTE"
		cn.PartitioningAttribute = pick(r, []string{"kafka.key", "tenant", "schema.name"})
		cn.LoadBalanceCompression = "COMPRESS_ATTRIBUTES_ONLY"
	}
	if r.chance(0.03) {
		cn.ZIndex = int64(r.between(1, 12))
	}
	g.account(cn, len(sc.g.Connections))
	push(g, &sc.g.Connections, cn)
	return cn
}

func (g *gen) addProcessor(sc *scope, pr *processor) {
	g.account(pr, len(sc.g.Processors))
	push(g, &sc.g.Processors, pr)
}

func (g *gen) newPort(sc *scope, typ, name string, p *position) *port {
	for _, existing := range append(append([]*port{}, sc.g.InputPorts...), sc.g.OutputPorts...) {
		if existing.Name == name { // NiFi wants port names unique in a group
			name += " " + strconv.Itoa(len(sc.g.InputPorts)+len(sc.g.OutputPorts)+1)
		}
	}
	pt := &port{
		Identifier:                       g.id(),
		InstanceIdentifier:               g.id(),
		Name:                             name,
		Position:                         p,
		Type:                             typ,
		ConcurrentlySchedulableTaskCount: 1,
		ScheduledState:                   "ENABLED",
		PortFunction:                     "STANDARD",
		ComponentType:                    typ,
		GroupIdentifier:                  sc.g.Identifier,
	}
	if typ == "OUTPUT_PORT" && strings.Contains(name, "failure") && g.r.chance(0.5) {
		pt.PortFunction = "FAILURE"
	}
	if typ == "INPUT_PORT" {
		g.account(pt, len(sc.g.InputPorts))
		push(g, &sc.g.InputPorts, pt)
	} else {
		g.account(pt, len(sc.g.OutputPorts))
		push(g, &sc.g.OutputPorts, pt)
	}
	return pt
}

func (g *gen) newFunnel(sc *scope, p *position) *funnel {
	f := &funnel{Identifier: g.id(), InstanceIdentifier: g.id(), Position: p, ComponentType: "FUNNEL", GroupIdentifier: sc.g.Identifier}
	g.account(f, len(sc.g.Funnels))
	push(g, &sc.g.Funnels, f)
	return f
}

func (g *gen) newLabel(sc *scope, text string, p *position) *label {
	r := g.r
	lb := &label{
		Identifier:         g.id(),
		InstanceIdentifier: g.id(),
		Position:           p,
		Label:              text,
		Width:              float64(r.between(150, 700)) + math.Round(r.float()*1e6)/1e6,
		Height:             float64(r.between(24, 400)) + math.Round(r.float()*1e6)/1e6,
		Style:              map[string]string{"font-size": pick(r, labelFontSizes)},
		ComponentType:      "LABEL",
		GroupIdentifier:    sc.g.Identifier,
	}
	if r.chance(0.5) {
		lb.Style["background-color"] = pick(r, labelColors)
	}
	if r.chance(0.04) {
		lb.ZIndex = pick(r, bigCounts) // brought to front too many times
	} else if r.chance(0.2) {
		lb.ZIndex = int64(r.between(1, 12))
	}
	g.account(lb, len(sc.g.Labels))
	push(g, &sc.g.Labels, lb)
	return lb
}

// failureSink returns the group's failure funnel, creating it and what it
// drains into (a failure output port in child groups, a log processor at
// the root) on first use.
func (g *gen) failureSink(sc *scope) connectable {
	if sc.fail != nil {
		return *sc.fail
	}
	f := g.newFunnel(sc, g.pos(700, float64(sc.row*200+100)))
	fe := funnelEnd(f)
	sc.fail = &fe
	g.onUndo(func() { sc.fail = nil })
	if sc.parent != nil && g.r.chance(0.6) {
		pt := g.newPort(sc, "OUTPUT_PORT", pick(g.r, []string{"failure", "failures", "errors"}), g.pos(700, float64(sc.row*200+400)))
		g.connect(sc, fe, portEnd(pt), []string{""})
		return fe
	}
	pr, rels := g.newProcessor(sc, procByKey[pick(g.r, []string{"LogMessage", "LogAttribute"})], g.pos(700, float64(sc.row*200+400)), true)
	pr.AutoTerminatedRelationships = rels
	g.addProcessor(sc, pr)
	g.connect(sc, fe, procEnd(pr), []string{""})
	return fe
}

// wire decides what happens to each non-primary relationship of pr the way
// flow designers do: auto-terminate, retry, send to the failure funnel, or
// loop back onto the processor.
func (g *gen) wire(sc *scope, pr *processor, k *procKind, rels []string, primary string, tight bool) {
	r := g.r
	isFailure := func(rel string) bool {
		for _, f := range k.failure {
			if f == rel {
				return true
			}
		}
		return false
	}
	var loops, toFunnel []string
	for _, rel := range rels {
		if rel == primary {
			continue
		}
		switch {
		case isFailure(rel):
			x := r.float()
			if tight {
				x = 0 // a failure funnel and its drain would not fit
			}
			switch {
			case x < 0.55:
				pr.AutoTerminatedRelationships = append(pr.AutoTerminatedRelationships, rel)
			case x < 0.72:
				pr.RetriedRelationships = append(pr.RetriedRelationships, rel)
				pr.RetryCount = int32(pick(r, []int{3, 5, 10, 10000}))
				pr.AutoTerminatedRelationships = append(pr.AutoTerminatedRelationships, rel)
			case x < 0.77:
				loops = append(loops, rel)
			default:
				toFunnel = append(toFunnel, rel)
			}
		case tight || k.role == roleSink || rel == "original" || rel == "Original" || !r.chance(0.2):
			pr.AutoTerminatedRelationships = append(pr.AutoTerminatedRelationships, rel)
		default:
			toFunnel = append(toFunnel, rel)
		}
	}
	g.addProcessor(sc, pr)
	if len(loops) > 0 {
		g.connect(sc, procEnd(pr), procEnd(pr), loops)
	}
	if len(toFunnel) > 0 {
		g.connect(sc, procEnd(pr), g.failureSink(sc), toFunnel)
	}
}
