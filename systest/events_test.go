package systest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/events"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/hooks"
	"github.com/weir-nifi/weir/internal/metrics"
	"github.com/weir-nifi/weir/internal/model"
)

// newReceiver starts a webhook receiver (harness.Webhook) for the test.
func newReceiver(t *testing.T, secret string) *harness.Webhook {
	t.Helper()
	w, err := harness.StartWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Down)
	return w
}

// eventPage reads GET /weir-api/events from a node.
func eventPage(t *testing.T, n *harness.Node, after uint64, wait string) hooks.Page {
	t.Helper()
	q := fmt.Sprintf("%s?after=%d&limit=%d", hooks.Path, after, hooks.MaxLimit)
	if wait != "" {
		q += "&wait=" + wait
	}
	st, _, body := req(t, n, "GET", q, "")
	var p hooks.Page
	if st != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil {
		t.Fatalf("events from %s: %d %s", n.Opts.ID, st, body)
	}
	return p
}

// allEvents reads every kept event from a node.
func allEvents(t *testing.T, n *harness.Node) []events.Event {
	t.Helper()
	var out []events.Event
	var after uint64
	for {
		p := eventPage(t, n, after, "")
		if len(p.Events) == 0 {
			return out
		}
		out = append(out, p.Events...)
		after = p.Events[len(p.Events)-1].ID
	}
}

func writeHooks(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hooks.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEventHooksSurviveLeaderKillAndReceiverOutage: a 3-node cluster
// under a stream of changes from every node, with a webhook, a script
// and a log hook. The leader is SIGKILLed while delivering, and the
// webhook's receiver is down for a while. Afterwards every acknowledged
// change has its event, every event reached the webhook (signed) and the
// script (whitelisted type) at least once, first receipts come in commit
// order, a duplicate is the same event (same id and fields) and only
// events in flight at the leader change were repeated; the event stream
// answers the same from every node.
func TestEventHooksSurviveLeaderKillAndReceiverOutage(t *testing.T) {
	long(t)
	rec := newReceiver(t, "webhook-secret")
	dir := t.TempDir()
	scriptOut := filepath.Join(dir, "script.out")
	script := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$WEIR_EVENT_ID $*\" >> "+scriptOut+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	const commitEvery = 100 * time.Millisecond
	file := writeHooks(t, fmt.Sprintf(`
hooks:
  - name: web
    type: webhook
    url: %s
    secret: webhook-secret
    timeout: 2s
  - name: versions
    type: script
    path: %s
    events: [CREATE_FLOW_VERSION]
  - name: buckets
    type: log
    events: [CREATE_BUCKET]
delivery:
  maxAttempts: 1000000
  backoff: 50ms
  maxBackoff: 500ms
  commitEvery: %s
`, rec.URL(), script, commitEvery))
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, ExtraArgs: []string{"--hooks", file}})
	c.MustLeader()

	// The writer: buckets, flows and versions through every node in turn.
	type change struct {
		kind, bucket, flow string
		version            int
	}
	var (
		stop    atomic.Bool
		mu      sync.Mutex
		acked   []change
		writes  sync.WaitGroup
		counter atomic.Int64
	)
	writes.Add(1)
	go func() {
		defer writes.Done()
		var bucket, flow string
		version := 0
		for i := 0; !stop.Load(); i++ {
			nodes := c.Running()
			if len(nodes) == 0 {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			cl := client.New(nodes[i%len(nodes)].API)
			cl.HTTP = &http.Client{Timeout: 5 * time.Second}
			ctx := ctxT(t)
			switch {
			case bucket == "" || counter.Load()%25 == 0:
				b, err := cl.CreateBucket(ctx, model.Bucket{Name: model.Str(fmt.Sprintf("events-%d", i))}, false)
				if err != nil {
					continue
				}
				bucket, flow = *b.Identifier, ""
				mu.Lock()
				acked = append(acked, change{kind: events.CreateBucket, bucket: bucket})
				mu.Unlock()
			case flow == "" || counter.Load()%8 == 0:
				f, err := cl.CreateFlow(ctx, bucket, model.VersionedFlow{Name: model.Str(fmt.Sprintf("flow-%d", i)), Type: model.ItemTypeFlow})
				if err != nil {
					continue
				}
				flow, version = *f.Identifier, 0
				mu.Lock()
				acked = append(acked, change{kind: events.CreateFlow, bucket: bucket, flow: flow})
				mu.Unlock()
			default:
				doc := []byte(fmt.Sprintf(`{"snapshotMetadata":{"version":%d,"comments":"c%d"},"flowContents":{"identifier":"pg","name":"n%d"}}`, version+1, i, i))
				if _, err := cl.CommitVersion(ctx, bucket, flow, doc, false); err != nil {
					// Maybe applied (a leader died mid-request): learn the
					// version from the registry before going on.
					if m, err := cl.LatestMetadata(ctx, bucket, flow); err == nil {
						version = int(m.Version)
					}
					continue
				}
				version++
				mu.Lock()
				acked = append(acked, change{kind: events.CreateFlowVersion, bucket: bucket, flow: flow, version: version})
				mu.Unlock()
			}
			counter.Add(1)
		}
	}()
	ackedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitAcked := func(n int) {
		t.Helper()
		eventually(t, 60*time.Second, fmt.Sprintf("%d acknowledged changes", n), func() error {
			if got := ackedCount(); got < n {
				return errorf("%d", got)
			}
			return nil
		})
	}

	waitAcked(40)
	// Kill the leader while it delivers (the webhook is being fed).
	old := c.MustLeader()
	old.Kill()
	c.MustNewLeader(old)
	waitAcked(ackedCount() + 40)
	// The receiver goes away for a while: deliveries fail and retry.
	rec.Down()
	waitAcked(ackedCount() + 40)
	time.Sleep(time.Second)
	if err := rec.Up(); err != nil {
		t.Fatal(err)
	}
	old.Start()
	waitAcked(ackedCount() + 40)
	stop.Store(true)
	writes.Wait()

	// Every event of the outbox reaches the webhook.
	leader := c.MustLeader()
	outbox := allEvents(t, leader)
	if len(outbox) == 0 {
		t.Fatal("the outbox is empty")
	}
	last := outbox[len(outbox)-1].ID
	eventually(t, 60*time.Second, "the webhook received every event", func() error {
		seen := map[uint64]bool{}
		for _, e := range rec.Events() {
			seen[e.ID] = true
		}
		for _, e := range outbox {
			if !seen[e.ID] {
				return errorf("event %d (%s) not received; %d receipts", e.ID, e.Type, len(rec.Events()))
			}
		}
		return nil
	})

	// Ids are dense from 1: none was skipped.
	for i, e := range outbox {
		if e.ID != uint64(i+1) {
			t.Fatalf("outbox id %d at position %d", e.ID, i)
		}
	}
	byID := map[uint64]events.Event{}
	for _, e := range outbox {
		byID[e.ID] = e
	}

	// Every acknowledged change has its event.
	key := func(typ string, fs ...string) string { return typ + "|" + strings.Join(fs, "|") }
	have := map[string]bool{}
	for _, e := range outbox {
		b, _ := e.Field("BUCKET_ID")
		f, _ := e.Field("FLOW_ID")
		v, _ := e.Field("VERSION")
		have[key(e.Type, b, f, v)] = true
	}
	mu.Lock()
	for _, ch := range acked {
		k := key(ch.kind, ch.bucket, ch.flow, "")
		if ch.kind == events.CreateFlowVersion {
			k = key(ch.kind, ch.bucket, ch.flow, fmt.Sprint(ch.version))
		}
		if !have[k] {
			t.Errorf("acknowledged %+v has no event", ch)
		}
	}
	nAcked := len(acked)
	mu.Unlock()

	// Receipts: signed, the same event as committed, first receipts in
	// commit order, duplicates only of events in flight at a leader change.
	got := rec.Events()
	bad := rec.Bad()
	if bad != 0 {
		t.Fatalf("%d deliveries failed the signature check", bad)
	}
	first := map[uint64]bool{}
	var maxFirst uint64
	dups := 0
	for _, e := range got {
		want, ok := byID[e.ID]
		if !ok || !sameEvent(e, want) {
			t.Fatalf("received %+v, the outbox has %+v", e, want)
		}
		if first[e.ID] {
			dups++
			continue
		}
		if e.ID < maxFirst {
			t.Fatalf("event %d first arrived after event %d: not in commit order", e.ID, maxFirst)
		}
		first[e.ID], maxFirst = true, e.ID
	}
	// One leader change: what the killed leader delivered after its last
	// cursor commit (at most commitEvery of deliveries, which the writer's
	// rate bounds far below 100) may come again.
	if dups > 100 {
		t.Fatalf("%d duplicate deliveries for one leader change", dups)
	}

	// The script got every CREATE_FLOW_VERSION (and nothing else), with
	// NiFi's arguments: type, bucket, flow, version, user, comment.
	eventually(t, 30*time.Second, "the script ran for every version event", func() error {
		raw, _ := os.ReadFile(scriptOut)
		ran := map[uint64]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			var id uint64
			var rest string
			if _, err := fmt.Sscanf(line, "%d", &id); err == nil {
				rest = strings.TrimPrefix(line, fmt.Sprint(id)+" ")
				ran[id] = rest
			}
		}
		for _, e := range outbox {
			args, ok := ran[e.ID]
			if e.Type != events.CreateFlowVersion {
				if ok {
					return errorf("the script ran for %s event %d", e.Type, e.ID)
				}
				continue
			}
			b, _ := e.Field("BUCKET_ID")
			f, _ := e.Field("FLOW_ID")
			v, _ := e.Field("VERSION")
			if want := strings.Join([]string{events.CreateFlowVersion, b, f, v, "anonymous"}, " "); !strings.HasPrefix(args, want) {
				return errorf("script for event %d got %q, want %q…", e.ID, args, want)
			}
		}
		return nil
	})

	// The log hook wrote each CREATE_BUCKET event on some node.
	var logs strings.Builder
	for _, n := range c.Nodes {
		logs.WriteString(n.Log())
	}
	for _, e := range outbox {
		if e.Type == events.CreateBucket && !strings.Contains(logs.String(), fmt.Sprintf("hook=buckets id=%d ", e.ID)) {
			t.Errorf("no log line for event %d", e.ID)
		}
	}

	// The stream: every node answers the same events after any id, and a
	// long poll returns as soon as the next change commits.
	for _, n := range c.Nodes {
		eventually(t, 30*time.Second, "node "+n.Opts.ID+" has every event", func() error {
			if p := eventPage(t, n, 0, ""); p.Last < last {
				return errorf("last %d", p.Last)
			}
			return nil
		})
		es := allEvents(t, n)
		if len(es) < len(outbox) {
			t.Fatalf("%s: %d events, leader %d", n.Opts.ID, len(es), len(outbox))
		}
		for i := range outbox {
			if !sameEvent(es[i], outbox[i]) {
				t.Fatalf("%s: event %+v, leader's %+v", n.Opts.ID, es[i], outbox[i])
			}
		}
		mid := last / 2
		if p := eventPage(t, n, mid, ""); len(p.Events) == 0 || p.Events[0].ID != mid+1 {
			t.Fatalf("%s after %d: %+v", n.Opts.ID, mid, p.Events)
		}
	}
	follower := c.Others(leader)[0]
	polled := make(chan hooks.Page, 1)
	go func() { polled <- eventPage(t, follower, last, "20s") }()
	time.Sleep(300 * time.Millisecond)
	if _, err := client.New(leader.API).CreateBucket(ctxT(t), model.Bucket{Name: model.Str("after-the-poll")}, false); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-polled:
		if len(p.Events) != 1 || p.Events[0].Type != events.CreateBucket || p.Events[0].ID != last+1 {
			t.Fatalf("long poll answered %+v", p.Events)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the long poll did not return after a change committed")
	}
	t.Logf("%d acknowledged changes, %d events, %d webhook receipts (%d duplicates)", nAcked, len(outbox), len(got), dups)
}

func sameEvent(a, b events.Event) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestEventDeadLetters: an event the webhook keeps refusing goes to the
// dead-letter list after the configured attempts (visible in the CLI and
// the metrics) and delivery goes on with the next events; after
// `weir events retry` it is delivered and leaves the list.
func TestEventDeadLetters(t *testing.T) {
	rec := newReceiver(t, "s")
	rec.Fail(events.CreateFlow)
	file := writeHooks(t, fmt.Sprintf(`
hooks:
  - name: web
    type: webhook
    url: %s
    secret: s
delivery:
  maxAttempts: 3
  backoff: 10ms
`, rec.URL()))
	n := harness.StartNode(t, harness.Options{Args: []string{"--hooks", file}})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node log:\n%s", n.Log())
		}
	})
	if err := n.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	cl := client.New(n.API)
	b, err := cl.CreateBucket(ctxT(t), model.Bucket{Name: model.Str("dead")}, false)
	if err != nil {
		t.Fatal(err)
	}
	f, err := cl.CreateFlow(ctxT(t), *b.Identifier, model.VersionedFlow{Name: model.Str("f"), Type: model.ItemTypeFlow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateBucket(ctxT(t), model.Bucket{Name: model.Str("after")}, false); err != nil {
		t.Fatal(err)
	}
	// The bucket events arrive; the flow's goes dead.
	eventually(t, 30*time.Second, "both bucket events delivered", func() error {
		if got := len(rec.Events()); got != 2 {
			return errorf("%d received", got)
		}
		return nil
	})
	var dead []events.Dead
	eventually(t, 30*time.Second, "the flow's event in the dead-letter list", func() error {
		out, errOut, err := weirCLI(t, "events", "dead", "--server", n.API, "--json")
		if err != nil {
			return errorf("%v %s", err, errOut)
		}
		if err := json.Unmarshal([]byte(out), &dead); err != nil {
			return err
		}
		if len(dead) != 1 {
			return errorf("%d dead letters", len(dead))
		}
		return nil
	})
	if d := dead[0]; d.Hook != "web" || d.Event.Type != events.CreateFlow || d.Attempts != 3 || !strings.Contains(d.Error, "500") {
		t.Fatalf("dead letter: %+v", d)
	} else if id, _ := d.Event.Field("FLOW_ID"); id != *f.Identifier {
		t.Fatalf("dead letter of flow %s, want %s", id, *f.Identifier)
	}
	out, _, _ := weirCLI(t, "events", "dead", "--server", n.API)
	if !strings.Contains(out, "CREATE_FLOW") || !strings.Contains(out, "web") {
		t.Fatalf("dead table: %s", out)
	}
	_, _, metrics := req(t, n, "GET", metrics.Path, "")
	if !strings.Contains(metrics, `weir_hook_dead_letters{hook="web"} 1`) {
		t.Fatalf("no dead-letter gauge in the metrics:\n%s", grepLines(metrics, "weir_hook"))
	}

	// Without the cluster key a retry is refused.
	if _, _, err := weirCLI(t, "events", "retry", "--hook", "web", "--server", n.API, "--data-dir", t.TempDir()); err == nil {
		t.Fatal("a retry without the cluster key was accepted")
	}
	rec.Fail("")
	out, errOut, err := weirCLI(t, "events", "retry", "--hook", "web", "--event", fmt.Sprint(dead[0].Event.ID), "--server", n.API, "--cluster-key", harness.TestKey)
	if err != nil || !strings.Contains(out, "marked 1 dead letter") {
		t.Fatalf("retry: %v %s %s", err, out, errOut)
	}
	eventually(t, 30*time.Second, "the dead letter delivered and cleared", func() error {
		for _, e := range rec.Events() {
			if e.ID == dead[0].Event.ID {
				st, _, body := req(t, n, "GET", hooks.DeadPath, "")
				if st != 200 || !strings.Contains(body, `"dead":[]`) {
					return errorf("dead list: %d %s", st, body)
				}
				return nil
			}
		}
		return errors.New("not received yet")
	})
	// The stream's CLI shows the three events in order.
	out, errOut, err = weirCLI(t, "events", "list", "--server", n.API)
	if err != nil || strings.Count(out, "\n") != 4 || !strings.Contains(out, "CREATE_FLOW") {
		t.Fatalf("events list: %v\n%s%s", err, out, errOut)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestEventRetention: delivered events are compacted down to the
// configured count; events a hook has not received yet are kept however
// many there are, and readers of the stream learn where it now starts.
func TestEventRetention(t *testing.T) {
	rec := newReceiver(t, "s")
	rec.Down() // the webhook's receiver is away: nothing is delivered to it
	file := writeHooks(t, fmt.Sprintf(`
hooks:
  - name: web
    type: webhook
    url: %s
    secret: s
    timeout: 1s
  - name: log
    type: log
delivery:
  maxAttempts: 1000000
  backoff: 20ms
  maxBackoff: 200ms
retention:
  maxEvents: 20
  maxAge: 1h
  every: 200ms
`, rec.URL()))
	n := harness.StartNode(t, harness.Options{Args: []string{"--hooks", file}})
	if err := n.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	cl := client.New(n.API)
	for i := 0; i < 60; i++ {
		if _, err := cl.CreateBucket(ctxT(t), model.Bucket{Name: model.Str(fmt.Sprintf("r%d", i))}, false); err != nil {
			t.Fatal(err)
		}
	}
	// Several compaction rounds pass; the log hook has everything, the
	// webhook nothing: every event stays.
	eventually(t, 30*time.Second, "the log hook delivered all 60", func() error {
		if c := strings.Count(n.Log(), `msg="registry event" `); c < 60 {
			return errorf("%d log lines", c)
		}
		return nil
	})
	time.Sleep(time.Second)
	if p := eventPage(t, n, 0, ""); p.First != 1 || p.Last != 60 {
		t.Fatalf("undelivered events were compacted: first %d last %d", p.First, p.Last)
	}
	if err := rec.Up(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "delivered events compacted to 20", func() error {
		p := eventPage(t, n, 0, "")
		if p.Last != 60 || p.First != 41 || len(p.Events) != 20 || p.Events[0].ID != 41 {
			return errorf("first %d last %d, %d events", p.First, p.Last, len(p.Events))
		}
		return nil
	})
	if got := len(rec.Events()); got < 60 {
		t.Fatalf("the webhook received %d of 60", got)
	}
	// The CLI tells a reader from the start that it missed some.
	_, errOut, err := weirCLI(t, "events", "list", "--server", n.API)
	if err != nil || !strings.Contains(errOut, "events 1 to 40 were compacted") {
		t.Fatalf("list from 0: %v %s", err, errOut)
	}
}

// TestEventsFollowDRPromotion: a DR standby applies its primary's events
// and hook cursors with its changes, so it holds the same events under the
// same ids and delivers nothing while it is a standby; once promoted its
// hooks resume after the primary's last shipped cursor: the primary's
// events are not delivered again, and the next change's event follows
// them with the next id.
func TestEventsFollowDRPromotion(t *testing.T) {
	rec := newReceiver(t, "s")
	file := writeHooks(t, fmt.Sprintf(`
hooks:
  - name: web
    type: webhook
    url: %s
    secret: s
`, rec.URL()))
	primary := harness.StartCluster(t, harness.ClusterOptions{N: 1, ExtraArgs: []string{"--hooks", file}})
	standby := harness.StartCluster(t, harness.ClusterOptions{N: 1, ExtraArgs: []string{"--hooks", file}})
	pl, sl := primary.MustLeader(), standby.MustLeader()
	pc := client.New(pl.API)
	for i := 0; i < 5; i++ {
		if _, err := pc.CreateBucket(ctxT(t), model.Bucket{Name: model.Str(fmt.Sprintf("dr-ev-%d", i))}, false); err != nil {
			t.Fatal(err)
		}
	}
	if out, errOut, err := weirCLI(t, "dr", "follow", "--primary", pl.API, "--server", sl.API, "--cluster-key", harness.TestKey); err != nil {
		t.Fatalf("follow: %v %s %s", err, out, errOut)
	}
	for i := 5; i < 10; i++ {
		if _, err := pc.CreateBucket(ctxT(t), model.Bucket{Name: model.Str(fmt.Sprintf("dr-ev-%d", i))}, false); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "the primary's ten events delivered", func() error {
		if n := len(rec.Events()); n < 10 {
			return errorf("%d received", n)
		}
		return nil
	})
	waitCaughtUp(t, primary, standby)
	// The standby's cursor is the primary's once the primary committed
	// it (every 100 ms) and it was shipped.
	eventually(t, 30*time.Second, "the standby has the primary's events and cursor", func() error {
		waitCaughtUp(t, primary, standby)
		pe, se := allEvents(t, pl), allEvents(t, sl)
		if len(pe) != 10 || len(se) != 10 {
			return errorf("primary %d events, standby %d", len(pe), len(se))
		}
		for i := range pe {
			pe[i].Index, se[i].Index = 0, 0 // each cluster's own log index
			if !sameEvent(pe[i], se[i]) {
				return errorf("event %d: primary %+v, standby %+v", i+1, pe[i], se[i])
			}
		}
		st, _, body := req(t, sl, "GET", metrics.Path, "")
		if st != 200 || !strings.Contains(body, `weir_hook_pending_events{hook="web"} 0`) {
			return errorf("standby's pending events: %s", grepLines(body, "weir_hook_pending"))
		}
		return nil
	})
	before := len(rec.Events())
	pl.Kill()
	if out, errOut, err := weirCLI(t, "dr", "promote", "--force", "--server", sl.API, "--cluster-key", harness.TestKey); err != nil {
		t.Fatalf("promote: %v %s %s", err, out, errOut)
	}
	sc := client.New(sl.API)
	eventually(t, 30*time.Second, "a write on the promoted standby", func() error {
		_, err := sc.CreateBucket(ctxT(t), model.Bucket{Name: model.Str("after-promotion")}, false)
		return err
	})
	eventually(t, 30*time.Second, "the promoted standby delivered its first event", func() error {
		got := rec.Events()
		if len(got) == before {
			return errors.New("nothing yet")
		}
		for _, e := range got[before:] {
			if e.ID <= 10 {
				return fmt.Errorf("the promoted standby delivered the primary's event %d again", e.ID)
			}
		}
		if e := got[len(got)-1]; e.ID != 11 || e.Type != events.CreateBucket {
			return fmt.Errorf("first event after promotion: %+v", e)
		}
		return nil
	})
}

// TestEventStreamSSE: with Accept: text/event-stream the stream is
// Server-Sent Events: a client resuming with Last-Event-ID gets the
// events after it, then each new one as it commits.
func TestEventStreamSSE(t *testing.T) {
	n := harness.StartNode(t, harness.Options{})
	if err := n.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	cl := client.New(n.API)
	for i := 0; i < 2; i++ {
		if _, err := cl.CreateBucket(ctxT(t), model.Bucket{Name: model.Str(fmt.Sprintf("sse-%d", i))}, false); err != nil {
			t.Fatal(err)
		}
	}
	r, err := http.NewRequestWithContext(ctxT(t), "GET", n.API+hooks.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Accept", "text/event-stream")
	r.Header.Set("Last-Event-ID", "1")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	type sse struct{ id, event, data string }
	got := make(chan sse, 8)
	go func() {
		defer close(got)
		sc := bufio.NewScanner(resp.Body)
		var cur sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.id != "" {
					got <- cur
				}
				cur = sse{}
			case strings.HasPrefix(line, "id: "):
				cur.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				cur.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				cur.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	next := func() sse {
		t.Helper()
		select {
		case e, ok := <-got:
			if !ok {
				t.Fatal("the stream ended")
			}
			return e
		case <-time.After(20 * time.Second):
			t.Fatal("no event on the stream")
		}
		return sse{}
	}
	if e := next(); e.id != "2" || e.event != events.CreateBucket || !strings.Contains(e.data, `"id":2`) {
		t.Fatalf("first event after Last-Event-ID 1: %+v", e)
	}
	if _, err := cl.CreateBucket(ctxT(t), model.Bucket{Name: model.Str("sse-live")}, false); err != nil {
		t.Fatal(err)
	}
	if e := next(); e.id != "3" || e.event != events.CreateBucket {
		t.Fatalf("live event: %+v", e)
	}
}
