package hooks

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/events"
)

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hooks.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	c, err := Load(write(t, `
hooks:
  - name: ci
    type: webhook
    url: https://ci.example/hook
    secret: s3cret
    events: [CREATE_FLOW_VERSION]
  - name: audit
    type: log
delivery:
  maxAttempts: 3
  backoff: 50ms
retention:
  maxAge: 24h
`))
	if err != nil {
		t.Fatal(err)
	}
	h := c.Hooks[0]
	if h.Name != "ci" || h.Kind != KindWebhook || time.Duration(h.Timeout) != DefaultTimeout || !h.wants("CREATE_FLOW_VERSION") || h.wants("CREATE_BUCKET") {
		t.Fatalf("hook: %+v", h)
	}
	if !c.Hooks[1].wants("DELETE_USER") {
		t.Fatal("a hook without a whitelist takes every type")
	}
	d, r := c.Delivery, c.Retention
	if d.MaxAttempts != 3 || time.Duration(d.Backoff) != 50*time.Millisecond || time.Duration(d.MaxBackoff) != DefaultMaxBackoff ||
		time.Duration(r.MaxAge) != 24*time.Hour || r.MaxEvents != DefaultMaxEvents {
		t.Fatalf("defaults: %+v %+v", d, r)
	}
	if c, err := Load(""); err != nil || len(c.Hooks) != 0 || c.Delivery.MaxAttempts != DefaultMaxAttempts {
		t.Fatalf("no file: %+v %v", c, err)
	}

	for _, bad := range []struct{ text, want string }{
		{"hooks: [{name: a, type: carrier-pigeon}]", "type must be"},
		{"hooks: [{name: a, type: log}, {name: a, type: log}]", "two hooks"},
		{"hooks: [{type: log}]", "name"},
		{"hooks: [{name: a, type: webhook, url: 'ftp://x', secret: s}]", "http"},
		{"hooks: [{name: a, type: webhook, url: 'http://x'}]", "secret"},
		{"hooks: [{name: a, type: script}]", "path"},
		{"hooks: [{name: a, type: log, events: [CREATE_THING]}]", "unknown event type"},
		{"hooks: [{name: a, type: log, timeout: soon}]", "duration"},
		{"hooks: [{name: a, type: log, colour: red}]", "colour"},
	} {
		if _, err := Load(write(t, bad.text)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: got %v, want an error about %q", bad.text, err, bad.want)
		}
	}
}

var testEvent = events.Event{ID: 7, Index: 42, Type: events.CreateFlowVersion, Time: 1000,
	Fields: []events.Field{{Name: "BUCKET_ID", Value: "b"}, {Name: "FLOW_ID", Value: "f"}, {Name: "VERSION", Value: "3"},
		{Name: "USER", Value: "alice"}, {Name: "COMMENT", Value: "two words"}}}

// TestWebhookSignsAndChecksStatus: the body is the event, the signature
// verifies under the secret only, a non-2xx answer is a failed delivery.
func TestWebhookSignsAndChecksStatus(t *testing.T) {
	status := http.StatusNoContent
	var body []byte
	var hdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		hdr = r.Header
		w.WriteHeader(status)
	}))
	defer srv.Close()
	s, err := newSender(Hook{Name: "w", Kind: KindWebhook, URL: srv.URL, Secret: "k", Timeout: Duration(5 * time.Second)}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.send(context.Background(), &item{Event: testEvent}); err != nil {
		t.Fatal(err)
	}
	if !Verify("k", body, hdr.Get(HeaderSignature)) || Verify("other", body, hdr.Get(HeaderSignature)) {
		t.Fatalf("signature %q does not verify under the secret alone", hdr.Get(HeaderSignature))
	}
	if hdr.Get(HeaderEventID) != "7" || hdr.Get(HeaderEventType) != events.CreateFlowVersion || !strings.Contains(string(body), `"COMMENT","value":"two words"`) {
		t.Fatalf("request: %v %s", hdr, body)
	}
	status = http.StatusServiceUnavailable
	if err := s.send(context.Background(), &item{Event: testEvent}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a 503 was taken as delivered: %v", err)
	}
}

// TestLogHookWritesAtAnyLevel: the log hook writes one line per event
// with its fields even when the node logs warnings only.
func TestLogHookWritesAtAnyLevel(t *testing.T) {
	var buf strings.Builder
	node := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := newSender(Hook{Name: "audit", Kind: KindLog}, node)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.send(context.Background(), &item{Event: testEvent}); err != nil {
		t.Fatal(err)
	}
	node.Info("the node's own info line")
	got := buf.String()
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, `msg="registry event" hook=audit`) || !strings.Contains(got, "eventType=CREATE_FLOW_VERSION") || !strings.Contains(got, `"two words"`) {
		t.Fatalf("logged %q", got)
	}
}

// TestScriptGetsNiFisArguments: the script is run as NiFi's
// ScriptEventHookProvider runs it; a non-zero exit and a timeout fail.
func TestScriptGetsNiFisArguments(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nfor a in \"$@\"; do printf '%s|' \"$a\"; done >> "+out+"\necho \"$WEIR_EVENT_ID\" >> "+out+"\n[ \"$5\" != fail ]\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, _ := newSender(Hook{Name: "s", Kind: KindScript, Path: script, WorkingDir: dir, Timeout: Duration(5 * time.Second)}, slog.Default())
	if err := s.send(context.Background(), &item{Event: testEvent}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if string(got) != "CREATE_FLOW_VERSION|b|f|3|alice|two words|7\n" {
		t.Fatalf("script saw %q", got)
	}
	failing := testEvent
	failing.Fields = append([]events.Field(nil), testEvent.Fields...)
	failing.Fields[3].Value = "fail"
	if err := s.send(context.Background(), &item{Event: failing}); err == nil {
		t.Fatal("a non-zero exit was taken as delivered")
	}
	slow := filepath.Join(dir, "slow.sh")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nsleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, _ = newSender(Hook{Name: "s", Kind: KindScript, Path: slow, Timeout: Duration(200 * time.Millisecond)}, slog.Default())
	if err := s.send(context.Background(), &item{Event: testEvent}); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("timeout: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 10: time.Second, 100: time.Second} {
		if got := backoff(100*time.Millisecond, time.Second, attempt); got != want {
			t.Errorf("attempt %d: %s, want %s", attempt, got, want)
		}
	}
}
