package flowgen

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// This file decides what a flow is made of and how much of it there is:
// pipelines of processors in leaf groups, chains of child groups above
// them, and the size budget that drives both.

// recipes are typical pipelines, one slot per step; a slot lists
// alternatives. The first slot is a source, the last a sink.
var recipes = [][]string{
	{"ConsumeKafka", "UpdateAttribute", "ConvertRecord|UpdateRecord|ValidateRecord", "RouteOnAttribute|QueryRecord|DetectDuplicate", "PutS3Object|PutDatabaseRecord|PublishKafka"},
	{"GenerateFlowFile|ListenHTTP", "InvokeHTTP", "EvaluateJsonPath", "JoltTransformJSON", "UpdateAttribute", "PublishKafka|PutS3Object"},
	{"ExecuteSQLRecord", "UpdateRecord|QueryRecord", "MergeRecord", "CompressContent", "PutS3Object|PutFile"},
	{"ListFile", "FetchFile", "ValidateRecord", "SplitRecord|ConvertRecord", "PutDatabaseRecord"},
	{"ConsumeKafka", "ExecuteScript", "ReplaceText|UpdateAttribute", "MergeRecord", "PutS3Object"},
	{"ListenHTTP", "EvaluateJsonPath", "DetectDuplicate", "UpdateAttribute", "PublishKafka"},
	{"GenerateFlowFile", "UpdateAttribute", "LogAttribute"},
}

var extraTransforms = []string{
	"UpdateAttribute", "UpdateAttribute", "UpdateAttribute", "RouteOnAttribute", "EvaluateJsonPath",
	"JoltTransformJSON", "ExecuteScript", "UpdateRecord", "QueryRecord", "ConvertRecord", "ValidateRecord",
	"ReplaceText", "InvokeHTTP", "DetectDuplicate", "MergeRecord", "CompressContent", "SplitRecord",
}

// Cheap kinds finish a nearly spent budget. They need no controller
// service, which could cost more than the processor itself.
var (
	cheapTransforms = []string{"UpdateAttribute", "CompressContent", "RouteOnAttribute", "ReplaceText"}
	cheapSinks      = []string{"LogMessage", "LogMessage", "PutFile"}
)

// kindEst is the encoded size of a large processor of a kind plus the
// connection that feeds it, used to decide what may still fit a budget. It
// is measured from sample processors rather than guessed, so it follows the
// catalog when the catalog changes.
var kindEst = map[string]int{}

func init() {
	g := newGen(42)
	g.init(Options{}, true, DefaultTargetBytes)
	for _, k := range procKinds {
		max := 0
		for i := 0; i < 4; i++ {
			pr, _ := g.newProcessor(g.root, k, g.pos(0, 0), false)
			if n := encodedLen(pr); n > max {
				max = n
			}
		}
		kindEst[k.key] = max + connReserve
	}
}

// sinkSlack is room kept beside a sink's own size for what it may bring
// along: a controller service, a failure funnel.
const sinkSlack = 3500

// connReserve is room kept for one more connection (ids of both ends and
// of the connection itself make it about 1 KB).
const connReserve = 1100

// tightBytes is the budget below which only small, self-contained
// processors are added.
const tightBytes = 6000

// minPipeline is the least budget worth starting another pipeline for at
// the root, where the last bytes of the budget go; a child group with less
// than minSecondPipeline left hands it back to its parent instead, so
// groups do not fill up with stubs.
const (
	minPipeline       = 2600
	minSecondPipeline = 14000
)

func (g *gen) slotKind(slot string) *procKind {
	return procByKey[pick(g.r, strings.Split(slot, "|"))]
}

// needsService reports whether a kind always references a controller
// service, which may have to be created along with it.
func needsService(k *procKind) bool {
	for _, s := range k.props {
		if s.svc != nil && s.svcProb >= 1 {
			return true
		}
	}
	return false
}

// step adds one processor fed from pend and wires its other relationships.
func (g *gen) step(sc *scope, k *procKind, pend *endpoint, p *position, tight bool) (*processor, string) {
	pr, rels := g.newProcessor(sc, k, p, tight)
	primary := ""
	if len(rels) > 0 && (k.primary != "" || k.dynRels) {
		primary = rels[0]
	}
	if pend != nil {
		g.connect(sc, pend.src, procEnd(pr), pend.rels)
	}
	g.wire(sc, pr, k, rels, primary, tight)
	return pr, primary
}

// pipeline lays out one chain of processors in sc, from start (an input
// port's end, or nil to begin with a source processor) to the output port
// out or a sink, or both: a stage that lands data often passes on what it
// wrote (PutS3Object success -> out). Each step is tried and taken back if
// it does not fit under limit; only the head may overshoot, and
// fillPipelines takes back the whole pipeline then.
func (g *gen) pipeline(sc *scope, limit int, start *endpoint, out *port, small bool) {
	r := g.r
	recipe := pick(r, recipes)
	if small {
		recipe = recipes[len(recipes)-1]
	}
	slots := append([]string{}, recipe...)
	if start != nil {
		slots = slots[1:]
	}
	sink := g.slotKind(slots[len(slots)-1])
	slots = slots[:len(slots)-1]
	budget := limit - g.size
	keepSink := out == nil || r.chance(0.5)
	if keepSink && (small || kindEst[sink.key] > budget*4/5) {
		sink = procByKey[pick(r, cheapSinks)]
	}
	// Keep room for the end of the chain while adding the middle.
	reserve := 0
	if keepSink {
		reserve += kindEst[sink.key]
		if needsService(sink) {
			reserve += sinkSlack
		}
	}
	if out != nil {
		reserve += connReserve
	}
	// Stretch the middle with extra transforms while the budget allows, as
	// real pipelines grow over time.
	est := reserve
	for _, s := range slots {
		est += kindEst[strings.Split(s, "|")[0]]
	}
	for est < budget*3/4 && len(slots) < 14 {
		x := pick(r, extraTransforms)
		at := len(slots)
		if at > 1 {
			at = r.between(1, len(slots))
		}
		slots = append(slots[:at], append([]string{x}, slots[at:]...)...)
		est += kindEst[x]
	}
	x0 := float64(sc.col * 900)
	place := func() *position {
		sc.row++
		return g.pos(x0, float64(sc.row*200))
	}

	pend := start
	var last *processor // the processor pend comes from, if any
	nested := false
	for i, slot := range slots {
		k := g.slotKind(slot)
		head := i == 0 && start == nil
		if head && k.role != roleSource {
			k = procByKey["GenerateFlowFile"]
		}
		remaining := limit - g.size - reserve
		tight := small || remaining < tightBytes
		if kindEst[k.key] > remaining || (tight && (k.longText || needsService(k))) {
			tight = true
			switch {
			case head:
				k = procByKey["GenerateFlowFile"] // every pipeline needs a head
			case remaining > kindEst["CompressContent"]:
				k = procByKey[pick(r, cheapTransforms)]
			default:
				k = nil
			}
		}
		if k == nil {
			break
		}
		// Sometimes a step is a whole child group, reached through ports.
		if !nested && pend != nil && sc.depth < 3 && remaining > 16000 && r.chance(0.2) {
			nested = true
			m := g.mark()
			sub := g.child(sc, pick(r, stageVerbs)+" "+sc.st.e.title, place())
			sub.st = sc.st
			in := g.newPort(sub, "INPUT_PORT", "in", g.pos(0, 0))
			o := g.newPort(sub, "OUTPUT_PORT", "out", g.pos(0, float64(200*8)))
			g.connect(sc, pend.src, portEnd(in), pend.rels)
			g.fillPipelines(sub, g.size+r.between(6000, remaining/2), &endpoint{src: portEnd(in), rels: []string{""}}, o)
			if g.size+reserve <= limit {
				pend, last = &endpoint{src: portEnd(o), rels: []string{""}}, nil
				continue
			}
			g.rollback(m)
		}
		m := g.mark()
		pr, primary := g.step(sc, k, pend, place(), tight)
		if !head && g.size+reserve > limit {
			// It did not fit after all (it brought controller services
			// along, say); a cheap processor may still.
			g.rollback(m)
			if limit-g.size-reserve < kindEst["CompressContent"] {
				break
			}
			k = procByKey[pick(r, cheapTransforms)]
			pr, primary = g.step(sc, k, pend, place(), true)
			if g.size+reserve > limit {
				g.rollback(m)
				break
			}
		}
		if primary == "" {
			return // the chain ended in a sink-like step
		}
		pend, last = &endpoint{src: procEnd(pr), rels: []string{primary}}, pr
	}
	if pend == nil {
		return
	}
	closing := 0
	if out != nil {
		closing = connReserve
	}
	if keepSink {
		tight := limit-g.size-closing < tightBytes
		if tight && needsService(sink) {
			sink = procByKey[pick(r, cheapSinks)]
		}
		m := g.mark()
		for try := 0; try < 3; try++ {
			pr, rels := g.newProcessor(sc, sink, place(), tight)
			g.connect(sc, pend.src, procEnd(pr), pend.rels)
			primary := ""
			if out != nil {
				primary = rels[0] // success goes on to the port
			}
			g.wire(sc, pr, sink, rels, primary, tight)
			if g.size+closing <= limit {
				if out == nil {
					return
				}
				pend = &endpoint{src: procEnd(pr), rels: []string{primary}}
				break
			}
			g.rollback(m)
			if try == 0 && !tight {
				tight = true // the same sink without a failure funnel
			} else {
				sink, tight = procByKey[pick(r, cheapSinks)], true
			}
		}
	}
	if out != nil {
		g.connect(sc, pend.src, portEnd(out), pend.rels)
		return
	}
	if last != nil {
		// No room for a sink: end the chain where it is, as an unfinished
		// flow does.
		g.size += encodedLen(pend.rels[0]) + 1
		push(g, &last.AutoTerminatedRelationships, pend.rels[0])
	}
	// A chain that starts at a port and could not afford a sink is left
	// open; fillPipelines replaces it with a pass-through if need be.
}

// fillPipelines fills a leaf group with pipelines until limit. The first
// one starts at start (if any); all end at out (if any).
func (g *gen) fillPipelines(sc *scope, limit int, start *endpoint, out *port) {
	next := minSecondPipeline
	if sc.parent == nil {
		next = minPipeline
	}
	for i := 0; i == 0 || limit-g.size > next; i++ {
		s := start
		if i > 0 {
			s = nil
			sc.col++
			sc.row = 0
			if g.r.chance(0.5) {
				sc.st = g.newStageInfo()
			}
		}
		m := g.mark()
		g.pipeline(sc, limit, s, out, false)
		if g.size > limit {
			// Too big: try the smallest pipeline there is before giving up.
			g.rollback(m)
			g.pipeline(sc, limit, s, out, true)
		}
		if g.size > limit {
			g.rollback(m)
			if i == 0 && start != nil && out != nil {
				g.connect(sc, start.src, portEnd(out), start.rels) // a pass-through group
			}
			return
		}
		if i == 0 && sc.depth > 0 && g.r.chance(0.35) {
			g.tryLabel(sc, limit, prose(g.r, sc.st.e, sc.st.team, g.r.between(40, 420)), g.pos(float64(sc.col*900-420), 0))
		}
	}
}

// tryLabel adds a label if it fits under limit.
func (g *gen) tryLabel(sc *scope, limit int, text string, p *position) {
	m := g.mark()
	g.newLabel(sc, text, p)
	if g.size > limit {
		g.rollback(m)
	}
}

// childBudget returns how big each child group of a group with the given
// budget should be, or 0 when the group should hold processors itself.
func (g *gen) childBudget(depth, budget int) int {
	switch {
	case depth == 0 && budget > 900_000:
		return g.r.between(220_000, 600_000)
	case depth == 0 && budget > 160_000:
		return g.r.between(60_000, 160_000)
	case depth <= 1 && budget > 40_000:
		return g.r.between(14_000, 45_000)
	}
	return 0
}

// cloneProb is how often a stage is a copy of the one before it. Copying a
// process group and changing a topic or two is how most large flows grow,
// and it is the main reason they compress better than small ones.
const cloneProb = 0.5

// fillGroup fills sc with content until g.size reaches limit: either a
// chain of child groups connected port to port, or pipelines.
func (g *gen) fillGroup(sc *scope, limit int, start *endpoint, out *port) {
	budget := limit - g.size
	cb := g.childBudget(sc.depth, budget)
	if cb == 0 {
		g.fillPipelines(sc, limit, start, out)
		return
	}
	r := g.r
	if r.chance(0.7) {
		g.tryLabel(sc, limit, prose(r, sc.st.e, sc.st.team, r.between(60, 700)), g.pos(-500, -200))
	}
	pend := start
	var prev *scope
	prevSize := 0
	for i := 0; limit-g.size > 6000; i++ {
		remaining := limit - g.size
		p := g.pos(float64((i%4)*480), float64((i/4)*300))
		if prev != nil && cb < 50_000 && (prev.in != nil) == (pend != nil) &&
			prevSize+2*connReserve < remaining && r.chance(cloneProb) {
			c := g.cloneGroup(sc, prev, p)
			if pend != nil {
				g.connect(sc, pend.src, portEnd(c.in), pend.rels)
			}
			pend = nil
			if c.out != nil {
				pend = &endpoint{src: portEnd(c.out), rels: []string{""}}
			}
			prev = c
			continue
		}
		size := g.childBudget(sc.depth, budget)
		if size == 0 || remaining-size < 8000 {
			size = remaining
		}
		st := g.newStageInfo()
		var name string
		if cb > 50_000 {
			name = pick(r, domainNames)
		} else {
			name = pick(r, stageVerbs) + " " + st.e.title
		}
		if r.chance(0.05) {
			name += " (v" + strconv.Itoa(r.between(2, 5)) + ")"
		}
		before := g.size
		csc := g.child(sc, name, p)
		csc.st = st
		childLimit := g.size + size - 2*connReserve
		if pend != nil && r.chance(0.85) {
			csc.in = g.newPort(csc, "INPUT_PORT", pick(r, []string{"in", "input", "from upstream"}), g.pos(0, -200))
			g.connect(sc, pend.src, portEnd(csc.in), pend.rels)
		}
		if r.chance(0.75) {
			csc.out = g.newPort(csc, "OUTPUT_PORT", pick(r, []string{"out", "success", "to next stage"}), g.pos(0, 2400))
		}
		var cin *endpoint
		if csc.in != nil {
			cin = &endpoint{src: portEnd(csc.in), rels: []string{""}}
		}
		g.fillGroup(csc, childLimit, cin, csc.out)
		pend = nil
		if csc.out != nil {
			pend = &endpoint{src: portEnd(csc.out), rels: []string{""}}
		}
		prev, prevSize = csc, g.size-before
		// Site-to-site hand-off to a DR cluster, once per big flow.
		if !g.rpgPlaced && pend != nil && sc.depth == 0 && limit-g.size > 20000 && r.chance(0.3) {
			g.rpgPlaced = true
			g.remoteGroup(sc, pend)
		}
	}
	if out != nil && pend != nil {
		g.connect(sc, pend.src, portEnd(out), pend.rels)
	}
}

// cloneGroup copies the child group prev of sc, the way a user copies and
// pastes a process group: every component gets a new identifier, internal
// connections follow, and references to controller services outside the
// copy keep pointing where they did. The copy then gets its own topics.
func (g *gen) cloneGroup(sc, prev *scope, p *position) *scope {
	ids := map[string]string{}
	var collect func(pg *processGroup)
	add := func(id, inst string) {
		ids[id] = g.id()
		if inst != "" {
			ids[inst] = g.id()
		}
	}
	collect = func(pg *processGroup) {
		add(pg.Identifier, pg.InstanceIdentifier)
		for _, x := range pg.Processors {
			add(x.Identifier, x.InstanceIdentifier)
		}
		for _, x := range pg.InputPorts {
			add(x.Identifier, x.InstanceIdentifier)
		}
		for _, x := range pg.OutputPorts {
			add(x.Identifier, x.InstanceIdentifier)
		}
		for _, x := range pg.Connections {
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
		for _, x := range pg.RemoteProcessGroups {
			add(x.Identifier, x.InstanceIdentifier)
			for _, rp := range x.InputPorts {
				add(rp.Identifier, rp.InstanceIdentifier)
			}
		}
		for _, c := range pg.ProcessGroups {
			collect(c)
		}
	}
	collect(prev.g)
	b := remapIDs(encode(prev.g), ids)
	st := g.newStageInfo()
	st.e = prev.st.e
	b = bytes.ReplaceAll(b, []byte(`"`+prev.st.topicIn+`"`), []byte(`"`+st.topicIn+`"`))
	b = bytes.ReplaceAll(b, []byte(`"`+prev.st.topicOut+`"`), []byte(`"`+st.topicOut+`"`))
	pg := &processGroup{}
	if err := json.Unmarshal(b, pg); err != nil {
		panic("flowgen: clone: " + err.Error())
	}
	pg.Name = prev.g.Name + pick(g.r, []string{" (copy)", " – EU", " – US", " 2", " (tenant B)", " – APAC"})
	pg.Position = p
	c := &scope{g: pg, parent: sc, ctx: prev.ctx, depth: prev.depth, st: st}
	for _, pt := range pg.InputPorts {
		if prev.in != nil && pt.Identifier == ids[prev.in.Identifier] {
			c.in = pt
		}
	}
	for _, pt := range pg.OutputPorts {
		if prev.out != nil && pt.Identifier == ids[prev.out.Identifier] {
			c.out = pt
		}
	}
	g.account(pg, len(sc.g.ProcessGroups))
	push(g, &sc.g.ProcessGroups, pg)
	return c
}

// remapIDs replaces every quoted UUID in b that is a key of ids.
func remapIDs(b []byte, ids map[string]string) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if b[i] == '"' && i+37 < len(b) && b[i+37] == '"' && b[i+9] == '-' && b[i+14] == '-' {
			if n, ok := ids[string(b[i+1:i+37])]; ok {
				out = append(out, '"')
				out = append(out, n...)
				i += 37
				continue
			}
		}
		out = append(out, b[i])
		i++
	}
	return out
}
func (g *gen) remoteGroup(sc *scope, pend *endpoint) {
	r := g.r
	rpg := &remoteProcessGroup{
		Identifier:            g.id(),
		InstanceIdentifier:    g.id(),
		Name:                  "NiFi DR (" + g.region + ")",
		Position:              g.pos(1400, 200),
		TargetUris:            "https://nifi-dr-0." + g.env + ".acme.internal:8443/nifi,https://nifi-dr-1." + g.env + ".acme.internal:8443/nifi",
		TransportProtocol:     pick(r, []string{"HTTP", "RAW"}),
		LocalNetworkInterface: "",
		CommunicationsTimeout: "30 sec",
		YieldDuration:         "10 sec",
		InputPorts:            []*remoteGroupPort{},
		OutputPorts:           []*remoteGroupPort{},
		ComponentType:         "REMOTE_PROCESS_GROUP",
		GroupIdentifier:       sc.g.Identifier,
	}
	if r.chance(0.3) {
		rpg.ProxyHost = "proxy.acme.internal"
		rpg.ProxyPort = 3128
	}
	rp := &remoteGroupPort{
		Identifier:                       g.id(),
		InstanceIdentifier:               g.id(),
		Name:                             "from-primary-" + strings.ReplaceAll(strings.ToLower(g.env), " ", "-"),
		RemoteGroupID:                    rpg.Identifier,
		ConcurrentlySchedulableTaskCount: 1,
		UseCompression:                   r.chance(0.5),
		BatchSize:                        &batchSize{Count: int32(pick(r, []int{0, 100, 1000})), Size: pick(r, []string{"", "10 MB"}), Duration: pick(r, []string{"", "5 sec"})},
		TargetID:                         g.r.uuid(), // the port's id on the remote cluster, not ours
		ScheduledState:                   "ENABLED",
		ComponentType:                    "REMOTE_INPUT_PORT",
		GroupIdentifier:                  rpg.Identifier,
	}
	rpg.InputPorts = append(rpg.InputPorts, rp)
	g.account(rpg, len(sc.g.RemoteProcessGroups))
	push(g, &sc.g.RemoteProcessGroups, rpg)
	g.connect(sc, pend.src, connectable{ID: rp.Identifier, Type: "REMOTE_INPUT_PORT", GroupID: rpg.Identifier, Name: rp.Name, InstanceIdentifier: rp.InstanceIdentifier}, pend.rels)
}
