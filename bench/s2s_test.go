package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/weir-nifi/weir/sitetosite"
)

// needNATS skips without nats-server, except in CI (CI=true), where the
// comparison must not silently go missing.
func needNATS(tb testing.TB) {
	tb.Helper()
	_, err := FindNATS()
	need(tb, err)
}

func s2sTestFiles() []QueueFile {
	return []QueueFile{
		{Name: "a", Content: RandomContent(1, 1000)},
		{Name: "b", Content: nil},
		{Name: "c", Content: RandomContent(3, 70_000)},
	}
}

// TestS2SPushPullWeir pushes one batch through a node of a 3-node Weir
// cluster's input port and pulls it from the output port through another
// node: the same flowfiles come out, in order, and the queue is empty.
func TestS2SPushPullWeir(t *testing.T) {
	e := testEnv(t)
	ctx := testCtx(t)
	w, err := e.StartWeirS2S(ctx, "weir", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	files := s2sTestFiles()
	if err := w.Push(ctx, 0, files); err != nil {
		t.Fatal(err)
	}
	var got []sitetosite.FlowFile
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < len(files) && time.Now().Before(deadline) {
		cl := *w.clients[1]
		if _, err := cl.Receive(ctx, w.Out, func(fs []sitetosite.FlowFile) error {
			got = append(got, fs...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(files) {
		t.Fatalf("pulled %d flowfiles, want %d", len(got), len(files))
	}
	for i, f := range files {
		if got[i].Attributes["filename"] != f.Name || !bytes.Equal(got[i].Content, f.Content) {
			t.Errorf("flowfile %d: got %q (%d bytes), want %q (%d bytes)", i, got[i].Attributes["filename"], len(got[i].Content), f.Name, len(f.Content))
		}
	}
	// Through the interface, as the measurements do: push, then pull.
	if err := w.Push(ctx, 2, files); err != nil {
		t.Fatal(err)
	}
	n, size, err := w.Pull(ctx, 0, 10, 1<<20)
	if err != nil || n != len(files) || size != 71_000 {
		t.Fatalf("Pull = %d flowfiles, %d bytes, %v; want 3, 71000", n, size, err)
	}
	if n, _, err := w.Pull(ctx, 1, 10, 1<<20); err != nil || n != 0 {
		t.Fatalf("Pull of an empty queue = %d, %v", n, err)
	}
}

// TestS2SPushPullNATS publishes one batch to a 3-server JetStream cluster
// (R3 file stream) and fetches it back from the durable consumer; acked
// messages leave the work queue.
func TestS2SPushPullNATS(t *testing.T) {
	needNATS(t)
	e := testEnv(t)
	ctx := testCtx(t)
	s, err := e.StartNATSS2S(ctx, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	files := s2sTestFiles()
	if err := s.Push(ctx, 0, files); err != nil {
		t.Fatal(err)
	}
	// A Fetch answers with what the consumer has at that moment, which
	// can be part of what was pushed: fetch until all came or 10 s.
	var msgs []*nats.Msg
	for deadline := time.Now().Add(10 * time.Second); len(msgs) < len(files) && time.Now().Before(deadline); {
		got, err := s.conns[1].sub.Fetch(len(files)-len(msgs), nats.MaxWait(time.Until(deadline)))
		if err != nil && !errors.Is(err, nats.ErrTimeout) {
			t.Fatal(err)
		}
		msgs = append(msgs, got...)
	}
	if len(msgs) != len(files) {
		t.Fatalf("fetched %d messages, want %d", len(msgs), len(files))
	}
	for i, f := range files {
		if msgs[i].Header.Get("filename") != f.Name || !bytes.Equal(msgs[i].Data, f.Content) {
			t.Errorf("message %d: got %q (%d bytes)", i, msgs[i].Header.Get("filename"), len(msgs[i].Data))
		}
		if err := msgs[i].AckSync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Push(ctx, 1, files); err != nil {
		t.Fatal(err)
	}
	// As above, a Fetch answers with what the consumer has at that moment
	// (a full run once pulled 2 of the 3): pull once the consumer has all.
	if err := poll(10*time.Second, 20*time.Millisecond, func() (bool, error) {
		ci, err := s.conns[0].sub.ConsumerInfo()
		return err == nil && ci.NumPending >= uint64(len(files)), err
	}); err != nil {
		t.Fatal(err)
	}
	n, size, err := s.Pull(ctx, 0, 10, 0)
	if err != nil || n != len(files) || size != 71_000 {
		t.Fatalf("Pull = %d messages, %d bytes, %v; want 3, 71000", n, size, err)
	}
	js, _ := s.conns[0].nc.JetStream()
	err = poll(10*time.Second, 50*time.Millisecond, func() (bool, error) {
		si, err := js.StreamInfo(NATSStream)
		if err != nil {
			return false, err
		}
		if si.Config.Replicas != 3 || si.Config.Storage != nats.FileStorage {
			return false, fmt.Errorf("stream config %+v", si.Config)
		}
		return si.State.Msgs == 0, fmt.Errorf("%d messages left in the work queue", si.State.Msgs)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestS2SRunnerSmall runs the whole comparison at toy size: every figure
// is taken without errors and the table has a row for each.
func TestS2SRunnerSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 6 clusters")
	}
	needNATS(t)
	e := testEnv(t)
	ctx := testCtx(t)
	o := S2SOptions{Sizes: []int{4 << 10}, Pushers: []int{1, 2}, Pullers: []int{1, 2}, BatchBytes: 16 << 10,
		Warmup: 200 * time.Millisecond, Window: 500 * time.Millisecond, PullBatches: 4, LatencyShare: 0.5,
		LatencyWindow: 500 * time.Millisecond, Runs: 1, Systems: []string{"weir", "nats"}, Seed: 1}
	r := &S2SRunner{Env: e, Opts: o}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for _, sys := range o.Systems {
		var kinds []string
		for _, f := range r.Figures {
			if f.System != sys {
				continue
			}
			kinds = append(kinds, fmt.Sprintf("%s%d", f.Kind, f.Clients))
			if f.Errors > 0 || f.Files == 0 {
				t.Errorf("%s %s %d: %d flowfiles, %d errors (%s)", sys, f.Kind, f.Clients, f.Files, f.Errors, f.FirstErr)
			}
		}
		slices.Sort(kinds)
		if want := []string{"latency0", "pull1", "pull2", "push1", "push2"}; !slices.Equal(kinds, want) {
			t.Errorf("%s: figures %v, want %v", sys, kinds, want)
		}
	}
	var b strings.Builder
	S2STable(&b, o, r.Figures)
	t.Logf("\n%s", b.String())
	if rows := strings.Count(b.String(), "\n"); rows != 2+5 {
		t.Errorf("table has %d lines, want 7", rows)
	}
}

// TestS2SSoakSmall runs the soak for a few seconds: samples are taken for
// every node and flowfiles go both ways.
func TestS2SSoakSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	e := testEnv(t)
	res, err := e.S2SSoak(context.Background(), SoakOptions{Duration: 3 * time.Second, Interval: time.Second,
		Size: 4 << 10, BatchBytes: 64 << 10, Pushers: 2, Pullers: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) < 3 || len(res.Samples[0].RSS) != 3 || res.Samples[0].RSS[0] == 0 {
		t.Fatalf("samples: %+v", res.Samples)
	}
	if res.Pushed == 0 || res.Pulled == 0 || res.PushErrors+res.PullErrors > 0 {
		t.Fatalf("pushed %d, pulled %d, errors %d/%d (%s)", res.Pushed, res.Pulled, res.PushErrors, res.PullErrors, res.FirstErr)
	}
	var b strings.Builder
	SoakTable(&b, res)
	t.Logf("\n%s", b.String())
}
