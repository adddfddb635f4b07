package systest

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/dr"
	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/s2s/relay"
	"github.com/weir-nifi/weir/sitetosite"
)

func apiURLs(c *harness.Cluster) string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.API)
	}
	return strings.Join(out, ",")
}

func drStatus(t *testing.T, n *harness.Node) dr.Status {
	t.Helper()
	resp, err := http.Get(n.API + dr.Path)
	if err != nil {
		t.Fatalf("dr status from %s: %v", n.Opts.ID, err)
	}
	defer resp.Body.Close()
	var st dr.Status
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, &st) != nil {
		t.Fatalf("dr status from %s: %d %s", n.Opts.ID, resp.StatusCode, b)
	}
	return st
}

func localHash(t *testing.T, n *harness.Node) (string, uint64) {
	t.Helper()
	resp, err := http.Get(n.API + "/weir-api/cluster/local")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		StateHash    string `json:"stateHash"`
		AppliedIndex uint64 `json:"appliedIndex"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.StateHash, st.AppliedIndex
}

// waitCaughtUp waits until the standby's leader is a standby standing at
// the primary leader's applied index and both have the same registry state
// hash.
func waitCaughtUp(t *testing.T, primary, standby *harness.Cluster) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		pl, sl := primary.MustLeader(), standby.MustLeader()
		ph, pidx := localHash(t, pl)
		st := drStatus(t, sl)
		sh, _ := localHash(t, sl)
		if st.Role == command.RoleStandby && st.Index >= pidx && ph == sh {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the standby did not catch up: primary applied %d hash %s; standby %+v hash %s", pidx, ph, st, sh)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDRStandby: a 3-node standby cluster follows a 3-node primary in
// three zones: it is seeded from the primary's snapshot, then follows
// commit by commit to the same state hash, serves the primary's data and
// refuses writes naming the primary. The primary is lost with writes the
// standby never got (its leader was stopped); the standby is promoted and
// takes writes; the old primary comes back, is fenced (refuses writes),
// is demoted (it reports and saves what it never shipped) and follows the
// new primary to the same state.
func TestDRStandby(t *testing.T) {
	long(t)
	primary := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3})
	pc := client.New(primary.MustLeader().API)
	b, flows := bucketWithFlows(t, pc, "dr-before", 3)
	inPort, outPort := s2sPorts(t, primary, primary.MustLeader(), relay.CreateRequest{})
	for i := 0; i < 5; i++ {
		doc := flowgen.Snapshot(flowgen.Options{Seed: int64(i), TargetBytes: 32 << 10, Version: -1})
		if _, err := pc.CommitVersion(ctxT(t), b, flows[0], doc, false); err != nil {
			t.Fatal(err)
		}
	}
	// Bundle content is kept in files beside the log: the standby's seed
	// (the database only) and its entries refer to files it fetches from
	// the primary.
	nar1, nar2 := bundleNAR("1.0", 2<<20, 21), bundleNAR("2.0", 1<<20, 22)
	if status, body, err := postBundle(ctxT(t), primary.MustLeader(), b, nar1); err != nil || status != 200 {
		t.Fatalf("bundle upload: %d %s %v", status, body, err)
	}
	// Queued flowfiles of 64 KiB and more are files beside the log too:
	// one queued before the standby follows (in its seed), one after.
	big := map[string][]byte{"queued-before": bytes.Repeat([]byte("b"), 300<<10), "queued-after": bytes.Repeat([]byte("a"), 200<<10)}
	pushBig := func(name string) {
		t.Helper()
		ff := []sitetosite.FlowFile{{Attributes: map[string]string{"filename": name}, Content: big[name]}}
		if _, err := (&sitetosite.Client{URL: primary.MustLeader().API}).Send(ctxT(t), inPort, ff); err != nil {
			t.Fatalf("push %s: %v", name, err)
		}
	}
	pushBig("queued-before")
	standby := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: []string{"dr-a", "dr-b", "dr-c"}})
	sl := standby.MustLeader()
	cli := func(n *harness.Node, args ...string) string {
		t.Helper()
		args = append(args, "--server", n.API)
		if args[1] != "status" {
			args = append(args, "--cluster-key", harness.TestKey)
		}
		out, errOut, err := weirCLI(t, args...)
		if err != nil {
			t.Fatalf("weir %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	if out := cli(standby.Others(sl)[0], "dr", "follow", "--primary", apiURLs(primary)); !strings.Contains(out, "role: standby") {
		t.Fatalf("follow: %s", out)
	}
	waitCaughtUp(t, primary, standby)

	// Commit by commit.
	for i := 0; i < 20; i++ {
		doc := flowgen.Snapshot(flowgen.Options{Seed: int64(100 + i), TargetBytes: 16 << 10, Version: -1})
		if _, err := pc.CommitVersion(ctxT(t), b, flows[1], doc, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pc.CreateBucket(ctxT(t), model.Bucket{Name: model.Str("dr-after")}, false); err != nil {
		t.Fatal(err)
	}
	if status, body, err := postBundle(ctxT(t), primary.Others(primary.MustLeader())[0], b, nar2); err != nil || status != 200 {
		t.Fatalf("bundle upload: %d %s %v", status, body, err)
	}
	pushBig("queued-after")
	waitCaughtUp(t, primary, standby)
	waitContentFiles(t, standby.Nodes, nar1, true, time.Minute)
	waitContentFiles(t, standby.Nodes, nar2, true, time.Minute)
	primaryFiles := contentDir(t, primary.MustLeader())
	for _, n := range standby.Nodes {
		waitContentDir(t, n, "holding the primary's content files", func(files []string) bool {
			for _, f := range primaryFiles {
				if _, found := slices.BinarySearch(files, f); !found {
					return false
				}
			}
			return true
		})
	}
	checkBundleEverywhere(t, standby, b, map[string][]byte{"1.0": nar1, "2.0": nar2})
	sc := client.New(standby.Others(standby.MustLeader())[1].API)
	bs, err := sc.Buckets(ctxT(t))
	if err != nil || len(bs) != 2 {
		t.Fatalf("standby buckets: %v %v", bs, err)
	}
	if vs, err := sc.Versions(ctxT(t), b, flows[1]); err != nil || len(vs) != 20 {
		t.Fatalf("standby versions: %d %v", len(vs), err)
	}
	_, err = sc.CreateBucket(ctxT(t), model.Bucket{Name: model.Str("on-standby")}, false)
	if err == nil || !strings.Contains(err.Error(), "standby") || !strings.Contains(err.Error(), primary.Nodes[0].API) {
		t.Fatalf("a write on the standby: %v", err)
	}
	// The follower relays the leader's refusal at once. It used to take
	// it for "the leader stepped down" (it says nothing was applied) and
	// send the write again every 50 ms for LeaderWait, then answer "no
	// leader" unless its last try fell just past the deadline; and the
	// leader ran a write sent to it directly three times over.
	refusedRuns := func(want int) {
		t.Helper()
		eventually(t, 10*time.Second, "the standby's audit of the refused writes", func() error {
			runs := 0
			for _, n := range standby.Nodes {
				runs += strings.Count(n.Log(), "method=POST path=/nifi-registry-api/buckets resource=/buckets action=write status=503")
			}
			if runs != want {
				return fmt.Errorf("the refused writes ran %d times on the standby's nodes, want %d", runs, want)
			}
			return nil
		})
	}
	refusedRuns(1)
	if _, err := client.New(standby.MustLeader().API).CreateBucket(ctxT(t), model.Bucket{Name: model.Str("on-standby")}, false); err == nil || !strings.Contains(err.Error(), "standby") {
		t.Fatalf("a write on the standby's leader: %v", err)
	}
	refusedRuns(2)
	// Site-to-site: the ports came with the state; a push to the standby
	// is turned away at once with NiFi's "go elsewhere" (503, code 202).
	ff := []sitetosite.FlowFile{{Content: []byte("x")}}
	if _, err := (&sitetosite.Client{URL: standby.Nodes[0].API}).Send(ctxT(t), inPort, ff); err == nil || !strings.Contains(err.Error(), "response code 202") {
		t.Fatalf("a push to the standby: %v", err)
	}
	st := drStatus(t, standby.MustLeader())
	if st.Lag == nil || st.Lag.Seeds != 1 || st.Lag.Entries != 0 {
		t.Fatalf("standby status: %+v lag %+v", st, st.Lag)
	}
	if text := cli(standby.MustLeader(), "dr", "status"); !strings.Contains(text, "lag: 0 entries") {
		t.Fatalf("dr status:\n%s", text)
	}
	if text := cli(standby.MustLeader(), "cluster", "status"); !strings.Contains(text, "disaster recovery:") || !strings.Contains(text, "lag: 0 entries") {
		t.Fatalf("cluster status on the standby:\n%s", text)
	}

	// A site-to-site client configured with both clusters, primary
	// first: it sends to the primary.
	remote, err := sitetosite.New(sitetosite.Config{Clusters: [][]string{strings.Split(apiURLs(primary), ","), strings.Split(apiURLs(standby), ",")},
		Port: "in", CacheDir: t.TempDir(), Penalty: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := remote.Send(ctxT(t), []sitetosite.FlowFile{{Content: []byte("to the primary")}}); err != nil || d.Cluster != 0 {
		t.Fatalf("a push with both clusters up went to cluster %d: %v", d.Cluster+1, err)
	}
	waitCaughtUp(t, primary, standby)

	// The standby stops (every node: another would lead and follow)
	// while the primary takes two more buckets. The first may still
	// reach it (the answer to the pull it had in flight waits in its
	// socket); the second is never shipped.
	for _, n := range standby.Nodes {
		n.Pause()
	}
	for i, name := range []string{"lost-1", "lost-2"} {
		if i == 1 {
			// Let the pull in flight be answered with lost-1 alone: on a
			// loaded machine the primary could otherwise wake for lost-1
			// only after lost-2 was applied too and ship both, and then
			// nothing would be left unshipped.
			time.Sleep(500 * time.Millisecond)
		}
		if _, err := pc.CreateBucket(ctxT(t), model.Bucket{Name: model.Str(name)}, false); err != nil {
			t.Fatal(err)
		}
	}
	// The primary loses its leader and one more node: its survivor has
	// no quorum but still answers as the primary.
	survivor := primary.Others(primary.MustLeader())[0]
	for _, n := range primary.Nodes {
		if n != survivor {
			n.Kill()
		}
	}
	for _, n := range standby.Nodes {
		n.Resume()
	}
	if _, err := standby.WaitLeader(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The primary cannot write and the standby is not promoted yet: the
	// client finds nowhere to push (the survivor cannot commit, the
	// standby turns it away), so nothing is written on two sides.
	if _, err := remote.Send(ctxT(t), []sitetosite.FlowFile{{Content: []byte("nowhere")}}); err == nil {
		t.Fatal("a push succeeded with the primary down to one node and the standby not promoted")
	}
	// Promotion is refused while the survivor answers as the primary,
	// and forced (the runbook's "leader plus one node lost").
	if out, errOut, err := weirCLI(t, "dr", "promote", "--server", standby.MustLeader().API, "--cluster-key", harness.TestKey); err == nil || !strings.Contains(out+errOut, "still answers as the primary") {
		t.Fatalf("promote with the primary's survivor up: %v %s%s", err, out, errOut)
	}
	t0 := time.Now()
	out := cli(standby.MustLeader(), "dr", "promote", "--force")
	t.Logf("promote --force: %s (%v, for information)", strings.TrimSpace(out), time.Since(t0).Round(time.Millisecond))
	survivor.Kill()
	newc := client.New(standby.MustLeader().API)
	// Whether the pull in flight when the standby stopped carried lost-2
	// as well: a loaded primary can wake for lost-1 only after lost-2 is
	// applied too, and ship both. The demoted cluster must then end with
	// exactly what the promoted one has.
	shipped2 := false
	promoted, err := newc.Buckets(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range promoted {
		shipped2 = shipped2 || *x.Name == "lost-2"
	}
	t.Logf("lost-2 reached the standby before it stopped: %v", shipped2)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := newc.CreateBucket(ctxT(t), model.Bucket{Name: model.Str("after-promote")}, false)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the promoted cluster refuses writes: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	if _, err := (&sitetosite.Client{URL: standby.MustLeader().API}).Send(ctxT(t), inPort, ff); err != nil {
		t.Fatalf("a push to the promoted cluster: %v", err)
	}
	// The same client, unchanged, now delivers to the promoted cluster
	// (once the penalties of its failed attempt lapse, as a sender that
	// retries sees it).
	deadline = time.Now().Add(10 * time.Second)
	for {
		d, err := remote.Send(ctxT(t), []sitetosite.FlowFile{{Content: []byte("after promote")}})
		if err == nil {
			if d.Cluster != 1 {
				t.Fatalf("after promotion the client pushed to cluster %d", d.Cluster+1)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after promotion the client could not push: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The flowfiles queued on the primary are pulled from the promoted
	// cluster, byte for byte, the big ones' content from its own files.
	pulled := map[string][]byte{}
	cl := &sitetosite.Client{URL: standby.MustLeader().API}
	for deadline := time.Now().Add(30 * time.Second); pulled["queued-before"] == nil || pulled["queued-after"] == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("pulled from the promoted cluster: %d flowfiles, not both big ones", len(pulled))
		}
		if _, err := cl.Receive(ctxT(t), outPort, func(fs []sitetosite.FlowFile) error {
			for _, f := range fs {
				pulled[f.Attributes["filename"]] = f.Content
			}
			return nil
		}); err != nil {
			t.Fatalf("pull from the promoted cluster: %v", err)
		}
	}
	for name, want := range big {
		if !bytes.Equal(pulled[name], want) {
			t.Fatalf("%s pulled from the promoted cluster: %d bytes, want %d identical", name, len(pulled[name]), len(want))
		}
	}

	// The old primary returns and is fenced.
	for _, n := range primary.Nodes {
		n.Start()
	}
	if _, err := primary.WaitLeader(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for drStatus(t, primary.MustLeader()).Role != "fenced" {
		if time.Now().After(deadline) {
			t.Fatalf("the old primary was not fenced: %+v", drStatus(t, primary.MustLeader()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// On its leader and, forwarded, through a follower: the refusal says
	// where to write, not "no leader".
	fl := primary.MustLeader()
	for _, n := range []*harness.Node{fl, primary.Others(fl)[0]} {
		_, err = client.New(n.API).CreateBucket(ctxT(t), model.Bucket{Name: model.Str("split-brain")}, false)
		if err == nil || !strings.Contains(err.Error(), "replaced") {
			t.Fatalf("a write on the fenced old primary's %s: %v", n.Opts.ID, err)
		}
	}
	fst := drStatus(t, primary.MustLeader())
	if fst.Unshipped == nil || (*fst.Unshipped < 1 && !shipped2) {
		t.Fatalf("fenced status: %+v (unshipped %v)", fst, fst.Unshipped)
	}
	t.Logf("unshipped entries on the fenced old primary: %d", *fst.Unshipped)

	// Demoted: it saves the two unshipped buckets, then follows.
	out = cli(primary.MustLeader(), "dr", "demote")
	if !strings.Contains(out, "never shipped") {
		t.Fatalf("demote: %s", out)
	}
	t.Logf("demote: %s", strings.TrimSpace(out))
	waitCaughtUp(t, standby, primary)
	names := map[string]bool{}
	bs, err = client.New(primary.MustLeader().API).Buckets(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range bs {
		names[*x.Name] = true
	}
	if !names["after-promote"] || names["lost-2"] != shipped2 {
		t.Fatalf("the demoted cluster's buckets: %v (lost-2 shipped before the loss: %v)", names, shipped2)
	}

	// The failover drill on this pair (the promoted cluster is now the
	// primary): it isolates the primary, promotes the standby, measures,
	// and switches back.
	rep, out, err := runDrill(t, "drill", "failover", "--primary", apiURLs(standby), "--standby", apiURLs(primary))
	if err != nil {
		t.Fatalf("failover drill: %v\n%s", err, out)
	}
	t.Logf("failover drill: RTO %.0f ms (registry %.0f, s2s %.0f), promote %.0f ms, RPO %d (registry %d of %d, s2s %d of %d), restore %.0f ms (for information)",
		rep.RTOMs, rep.Registry.RTOMs, rep.S2S.RTOMs, rep.PromoteMs, rep.RPO, rep.Registry.Missing, rep.Registry.Acknowledged,
		rep.S2S.Missing, rep.S2S.Acknowledged, rep.RestoreMs)
	if !rep.Restored || rep.RTOMs <= 0 || rep.PromoteMs <= 0 || rep.Registry.Acknowledged == 0 || rep.S2S.Acknowledged == 0 {
		t.Fatalf("report: %+v", rep)
	}
	if r := drStatus(t, standby.MustLeader()).Role; r != "primary" {
		t.Fatalf("after the drill the drilled primary is %s", r)
	}
	if r := drStatus(t, primary.MustLeader()).Role; r != "standby" {
		t.Fatalf("after the drill the drilled standby is %s", r)
	}
	waitCaughtUp(t, standby, primary)
	checkDrillCleaned(t, standby.MustLeader())
}

// TestDRSecured: a standby follows a primary that serves HTTPS, requires
// client certificates and lets policies decide (an initial admin): the
// standby's leader presents its node certificate and the admin token, is
// seeded and follows; the admin token is the cluster on /weir-api only.
func TestDRSecured(t *testing.T) {
	long(t)
	pki := harness.NewPKI(t, "Weir DR test CA")
	admin, stranger := pki.Client("Admin", "ops"), pki.Client("Stranger", "ops")
	opts := harness.ClusterOptions{N: 1, TLS: &harness.NodeTLS{PKI: pki, ClientAuth: "need", Client: admin},
		ExtraArgs: []string{"--identity-mapping", "pattern=^CN=(.*?), OU=(.*?)$;value=$1;transform=LOWER", "--initial-admin-identity", "admin"}}
	primary := harness.StartCluster(t, opts)
	standby := harness.StartCluster(t, opts)
	p, s := primary.MustLeader(), standby.MustLeader()
	bearer := map[string]string{"Authorization": "Bearer " + adminauth.Token([]byte(harness.TestKey))}
	must := func(cert tls.Certificate, method, url, body string, hdr map[string]string, want int) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, b, _, err := tlsDo(pki, cert, method, url, body, hdr)
			if err == nil && status == want {
				return b
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %s: %d %s %v, want %d", method, url, status, b, err, want)
			}
			time.Sleep(200 * time.Millisecond) // the initial policies are proposed at start
		}
	}
	must(admin, http.MethodPost, p.API+"/nifi-registry-api/buckets", `{"name":"secured-dr"}`, nil, http.StatusOK)

	// The admin token: the cluster on /weir-api, no identity elsewhere.
	if status, b, _, _ := tlsDo(pki, admin, http.MethodGet, s.API+"/nifi-registry-api/buckets", "", bearer); status != http.StatusUnauthorized {
		t.Fatalf("the admin token on the registry API: %d %s", status, b)
	}
	if status, b, _, _ := tlsDo(pki, stranger, http.MethodGet, s.API+dr.Path, "", nil); status != http.StatusForbidden {
		t.Fatalf("a certificate without policies on /weir-api/dr: %d %s", status, b)
	}
	must(admin, http.MethodPost, s.API+dr.FollowPath, `{"primary":["`+p.API+`"]}`, bearer, http.StatusOK)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st dr.Status
		b := must(admin, http.MethodGet, s.API+dr.Path, "", bearer, http.StatusOK)
		if err := json.Unmarshal([]byte(b), &st); err != nil {
			t.Fatal(err)
		}
		if st.Role == "standby" && st.Lag != nil && st.Lag.PrimaryIndex > 0 && st.Lag.Entries == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the secured standby did not catch up: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The standby serves the primary's data to the primary's admin and
	// refuses writes naming the primary.
	if b := must(admin, http.MethodGet, s.API+"/nifi-registry-api/buckets", "", nil, http.StatusOK); !strings.Contains(b, "secured-dr") {
		t.Fatalf("the standby's buckets: %s", b)
	}
	if status, b, _, _ := tlsDo(pki, admin, http.MethodPost, s.API+"/nifi-registry-api/buckets", `{"name":"no"}`, nil); status != http.StatusServiceUnavailable && status != http.StatusConflict {
		t.Fatalf("a write on the secured standby: %d %s", status, b)
	}
	// Promoted with the token over HTTPS (the primary answers: --force).
	must(admin, http.MethodPost, s.API+dr.PromotePath, `{"force":true}`, bearer, http.StatusOK)
	must(admin, http.MethodPost, s.API+"/nifi-registry-api/buckets", `{"name":"after-promote"}`, nil, http.StatusOK)
}
