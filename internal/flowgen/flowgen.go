package flowgen

// DefaultTargetBytes is the size used when Options.TargetBytes is zero.
const DefaultTargetBytes = 64 << 10

// Options selects one generated flow. Everything not listed here (flow
// name, NiFi version, components, values) follows from Seed.
type Options struct {
	// Seed picks the flow. The same Seed and options always give the same
	// bytes, on any platform and Go release.
	Seed int64
	// TargetBytes is the wanted size of the encoded document; 0 means
	// 64 KB. Sizes from 4 KB up (5 MB and beyond) are met exactly. Below
	// about 3 KB no processor fits, so the flow is an empty root group
	// padded to size, and nothing is smaller than about 1.2 KB.
	TargetBytes int
	// BucketID and FlowID go into snapshotMetadata; empty ones are left out.
	BucketID, FlowID string
	// Version is snapshotMetadata.version; 0 leaves it out, -1 is kept.
	Version int
	// Comments is snapshotMetadata.comments.
	Comments string
}

// Snapshot returns a VersionedFlowSnapshot as NiFi sends it to
// POST /buckets/{b}/flows/{f}/versions: snapshotMetadata, flowContents,
// externalControllerServices, parameterContexts, parameterProviders and
// flowEncodingVersion, compact JSON.
func Snapshot(o Options) []byte { return generate(o, false) }

// FlowContents returns only the flow's root VersionedProcessGroup, sized to
// TargetBytes by itself.
func FlowContents(o Options) []byte { return generate(o, true) }

// generate builds the flow for o. The fill stays under the target (steps
// that would pass it are taken back) and pad makes up the difference
// exactly. Should the fill still overshoot, which only the head processor
// of a pipeline can do and only near the smallest possible flow, the build
// is repeated with a lower fill limit, still padding to the real target.
// Every attempt is deterministic, so the result is too.
func generate(o Options, contentsOnly bool) []byte {
	target := o.TargetBytes
	if target <= 0 {
		target = DefaultTargetBytes
	}
	limit := target
	var best []byte
	for attempt := 0; attempt < 6; attempt++ {
		out := build(o, contentsOnly, limit, target)
		if best == nil || abs(len(out)-target) < abs(len(best)-target) {
			best = out
		}
		over := len(out) - target
		if over <= 0 {
			break
		}
		limit -= over + 256<<attempt
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// build fills a flow up to limit bytes and pads it to target.
func build(o Options, contentsOnly bool, limit, target int) []byte {
	g := newGen(o.Seed)
	g.countParams = !contentsOnly
	g.init(o, contentsOnly, target)
	emit := func() []byte {
		if contentsOnly {
			return encode(g.root.g)
		}
		return encode(g.snap)
	}
	g.size = len(emit())
	var rootOut *port
	if target > 12000 && g.r.chance(0.25) {
		rootOut = g.newPort(g.root, "OUTPUT_PORT", pick(g.r, []string{"out", "Output", "to downstream"}), g.pos(0, 2600))
	}
	g.fillGroup(g.root, limit, nil, rootOut)
	if limit-g.size > minPipeline {
		g.root.col++
		g.root.row = 0
		g.fillPipelines(g.root, limit, nil, nil)
	}
	g.park(limit)
	out := emit()
	if n := target - len(out); n > 0 {
		g.pad(n)
		out = emit()
	}
	return out
}

// park spends what is left of the budget on disabled, unconnected
// processors at the root: the leftovers every long-lived flow collects.
func (g *gen) park(limit int) {
	for i := 0; i < 4 && limit-g.size > 1200; i++ {
		m := g.mark()
		k := procByKey[pick(g.r, []string{"LogMessage", "UpdateAttribute", "LogAttribute", "RouteOnAttribute"})]
		pr, rels := g.newProcessor(g.root, k, g.pos(-900, float64(400+300*i)), true)
		pr.ScheduledState = "DISABLED"
		pr.AutoTerminatedRelationships = rels
		g.addProcessor(g.root, pr)
		if g.size > limit {
			g.rollback(m)
		}
	}
}

// init creates the root group, its parameter context and the flow-level
// choices (parameter provider, external services, snapshot metadata).
func (g *gen) init(o Options, contentsOnly bool, target int) {
	small := target < 12000 // tiny flows cannot afford the optional extras
	r := g.r
	g.snap = &flowSnapshot{
		ExternalControllerServices: map[string]*externalService{},
		ParameterContexts:          g.ctxs,
		ParameterProviders:         map[string]*parameterProviderRef{},
		FlowEncodingVersion:        "1.0",
	}
	if !contentsOnly {
		g.snap.SnapshotMetadata = &snapshotMetadata{
			BucketIdentifier: o.BucketID,
			FlowIdentifier:   o.FlowID,
			Version:          int32(o.Version),
			Timestamp:        1672531200000 + int64(r.intn(900*24*3600))*1000 + int64(r.intn(1000)),
			Author:           pick(r, people),
			Comments:         o.Comments,
		}
	}
	root := g.newGroup(nil, g.flowName, g.pos(float64(r.between(-600, 600)), float64(r.between(-400, 400))))
	root.st = g.newStageInfo()
	g.root = root
	g.snap.FlowContents = root.g
	if !small && r.chance(0.2) {
		root.g.Comments = prose(r, root.st.e, root.st.team, r.between(40, 240))
	}

	ctx := &parameterContext{
		Name:                       g.flowName,
		Parameters:                 []*parameter{},
		InheritedParameterContexts: []string{},
		Description:                "",
		ComponentType:              "PARAMETER_CONTEXT",
	}
	if r.chance(0.3) {
		ctx.Description = "Settings for " + g.flowName + " (" + g.env + ")"
	}
	if !small && r.chance(0.25) {
		// Secrets come from a parameter provider; NiFi marks such parameters
		// provided and never carries their values.
		prov := &parameterProviderRef{Identifier: g.id()}
		if r.chance(0.5) {
			prov.Name, prov.Type = "AWS Secrets Manager", "org.apache.nifi.parameter.aws.AwsSecretsManagerParameterProvider"
			prov.Bundle = g.bundle("nifi-aws-parameter-providers-nar")
		} else {
			prov.Name, prov.Type = "Vault", "org.apache.nifi.vault.hashicorp.HashiCorpVaultParameterProvider"
			prov.Bundle = g.bundle("nifi-hashicorp-vault-nar")
		}
		g.snap.ParameterProviders[prov.Identifier] = prov
		t := true
		pc := &parameterContext{
			Name:                       g.flowName + " secrets",
			Parameters:                 []*parameter{},
			InheritedParameterContexts: []string{},
			Description:                "Synchronised from " + prov.Name,
			ParameterProvider:          prov.Identifier,
			ParameterGroupName:         g.env + "/" + root.st.e.name,
			Synchronized:               &t,
			ComponentType:              "PARAMETER_CONTEXT",
		}
		g.ctxs[pc.Name] = pc
		g.providerCtx = pc
		ctx.InheritedParameterContexts = append(ctx.InheritedParameterContexts, pc.Name)
	}
	g.ctxs[ctx.Name] = ctx
	root.ctx = ctx
	root.g.ParameterContextName = ctx.Name
	if r.chance(0.3) {
		g.extSSL = &externalService{Identifier: g.id(), Name: pick(r, []string{"Default NiFi SSL Context Service", "Cluster TLS", "SSLContextService"})}
	}
}

// pad brings the document to exactly n more bytes: a note label at the root
// when there is room for one, otherwise text appended to the root comments.
// Padding is plain ASCII, so its encoded length is its length.
func (g *gen) pad(n int) {
	root := g.root.g
	lb := &label{
		Identifier:         g.id(),
		InstanceIdentifier: g.id(),
		Position:           g.pos(-900, -600),
		Width:              float64(g.r.between(300, 900)),
		Height:             float64(g.r.between(60, 600)),
		Style:              map[string]string{"font-size": pick(g.r, labelFontSizes)},
		ComponentType:      "LABEL",
		GroupIdentifier:    root.Identifier,
	}
	fixed := encodedLen(lb)
	if len(root.Labels) > 0 {
		fixed++
	}
	if n >= fixed+16 {
		lb.Label = asciiProse(g.r, n-fixed)
		root.Labels = append(root.Labels, lb)
		return
	}
	if root.Comments == "" {
		root.Comments = asciiProse(g.r, n)
	} else {
		root.Comments += " " + asciiProse(g.r, n-1)
	}
}
