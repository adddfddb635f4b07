package harness

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/linearize"
	"github.com/weir-nifi/weir/internal/model"
)

func TestClassify(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, dialErr := http.Post("http://"+addr+"/", "text/plain", nil)
	cases := []struct {
		err  error
		want linearize.Outcome
	}{
		{&client.Error{Status: 409, Message: "A bucket with the same name already exists"}, linearize.Refused},
		{&client.Error{Status: 503, Message: "Leadership changed while the write was being replicated; it may or may not have been applied. Check and retry."}, linearize.Unknown},
		{&client.Error{Status: 503, Message: "No cluster leader is available right now", Header: http.Header{model.HeaderNotApplied: {"1"}}}, linearize.Failed},
		// Only the header proves that nothing was written.
		{&client.Error{Status: 503, Message: "No cluster leader is available right now"}, linearize.Unknown},
		{&client.Error{Status: 500, Message: "An unexpected error has occurred."}, linearize.Unknown},
		{&client.Error{Status: 404, Message: "not found"}, linearize.Failed},
		{dialErr, linearize.Failed},
		{&url.Error{Op: "Post", URL: "http://x", Err: fmt.Errorf("context deadline exceeded")}, linearize.Unknown},
	}
	for _, c := range cases {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestHistoryOperations(t *testing.T) {
	h := NewHistory()
	w := h.Invoke(0, "n1", linearize.Input{Kind: linearize.Commit, Key: linearize.FlowKey("f"), Version: -1, Tag: h.Tag()})
	r := h.Invoke(1, "n2", linearize.Input{Kind: linearize.ReadLatest, Key: linearize.FlowKey("f"), Tag: h.Tag()})
	dropped := h.Invoke(1, "n2", linearize.Input{Kind: linearize.ReadCount, Key: linearize.FlowKey("f"), Tag: h.Tag()})
	r.End(linearize.Output{Outcome: linearize.OK, Version: 1, Writer: 1})
	w.Unknown(fmt.Errorf("timeout"))
	dropped.Drop()
	ops := h.Operations()
	if len(ops) != 2 {
		t.Fatalf("%d operations, want 2 (one dropped)", len(ops))
	}
	for _, op := range ops {
		if op.Input.(linearize.Input).Kind == linearize.Commit && op.Return <= ops[1].Return {
			t.Fatalf("unknown operation returns at %d, before the read's %d", op.Return, ops[1].Return)
		}
	}
	// The read saw the unknown commit: legal.
	if res := linearize.Check(ops, 0); res.Verdict != porcupine.Ok {
		t.Fatalf("verdict %v", res.Verdict)
	}
}

// recorder captures Errorf instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Helper()             {}

func TestCheckLinearizableReportsIllegalKey(t *testing.T) {
	h := NewHistory()
	a := h.Invoke(0, "n1", linearize.Input{Kind: linearize.Commit, Key: linearize.FlowKey("f"), Version: -1, Tag: h.Tag()})
	a.End(linearize.Output{Outcome: linearize.OK, Version: 1})
	b := h.Invoke(0, "n1", linearize.Input{Kind: linearize.Commit, Key: linearize.FlowKey("f"), Version: -1, Tag: h.Tag()})
	b.End(linearize.Output{Outcome: linearize.OK, Version: 1}) // duplicate number
	ok := h.Invoke(1, "n2", linearize.Input{Kind: linearize.Commit, Key: linearize.FlowKey("g"), Version: -1, Tag: h.Tag()})
	ok.End(linearize.Output{Outcome: linearize.OK, Version: 1})
	rec := &recorder{TB: t}
	h.CheckLinearizable(rec, 0)
	if len(rec.errs) != 1 {
		t.Fatalf("errors: %q", rec.errs)
	}
	msg := rec.errs[0]
	if !strings.Contains(msg, "not linearizable: flow:f") || strings.Contains(msg, "flow:g") {
		t.Fatalf("report does not name the broken key alone:\n%s", msg)
	}
	// The visualisation was written.
	i := strings.Index(msg, "visualisation: ")
	path := strings.Fields(msg[i+len("visualisation: "):])[0]
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("visualisation %s: %v", path, err)
	}
	os.RemoveAll(strings.TrimSuffix(path, "/history.html"))
}
