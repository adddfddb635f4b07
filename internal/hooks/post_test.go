package hooks

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// webhookServer counts the connections its clients open and the requests
// it answers; answer writes each answer.
func webhookServer(t *testing.T, tls bool, answer func(w http.ResponseWriter, r *http.Request)) (srv *httptest.Server, conns, reqs *atomic.Int64) {
	t.Helper()
	conns, reqs = new(atomic.Int64), new(atomic.Int64)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.Add(1)
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Errorf("reading the request: %v", err)
		}
		answer(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, conns, reqs
}

func webhook(t *testing.T, h Hook) sender {
	t.Helper()
	h.Name, h.Kind, h.Secret = "w", KindWebhook, "k"
	if h.Timeout == 0 {
		h.Timeout = Duration(5 * time.Second)
	}
	s, err := newSender(h, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWebhookKeepsOneConnection: events go one after another on one
// kept-alive connection; a connection the server closed while idle, or
// that an answer closed, is replaced without failing the next event.
func TestWebhookKeepsOneConnection(t *testing.T) {
	t.Setenv("HTTP_PROXY", "")
	closeNext := atomic.Bool{}
	srv, conns, reqs := webhookServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if closeNext.Swap(false) {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s := webhook(t, Hook{URL: srv.URL + "/hook"})
	if _, ok := s.(webhookSender); !ok || s.(webhookSender).p == nil {
		t.Fatalf("a webhook without a proxy is sent by net/http: %#v", s)
	}
	send := func() {
		t.Helper()
		if err := s.send(context.Background(), &item{Event: testEvent}); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		send()
	}
	if conns.Load() != 1 || reqs.Load() != 5 {
		t.Fatalf("5 events: %d connections, %d requests; want 1 and 5", conns.Load(), reqs.Load())
	}
	// The server drops its idle connections (as a server's idle timeout
	// does): the next event is sent on a new one, and does not fail.
	srv.CloseClientConnections()
	send()
	if conns.Load() != 2 || reqs.Load() != 6 {
		t.Fatalf("after the server closed the connection: %d connections, %d requests; want 2 and 6", conns.Load(), reqs.Load())
	}
	// An answer with "Connection: close" ends the connection.
	closeNext.Store(true)
	send()
	send()
	if conns.Load() != 3 || reqs.Load() != 8 {
		t.Fatalf("after Connection: close: %d connections, %d requests; want 3 and 8", conns.Load(), reqs.Load())
	}
}

// TestWebhookLongAnswerAndFailure: a long answer body is read (or the
// connection dropped) so the next event goes through; a non-2xx answer
// fails with the answer's start; an unreachable hook fails with its URL.
func TestWebhookLongAnswerAndFailure(t *testing.T) {
	t.Setenv("HTTP_PROXY", "")
	status := atomic.Int64{}
	status.Store(http.StatusOK)
	srv, conns, _ := webhookServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		_, _ = io.WriteString(w, "first words "+strings.Repeat("x", 2*answerKeep))
	})
	s := webhook(t, Hook{URL: srv.URL})
	for range 2 {
		if err := s.send(context.Background(), &item{Event: testEvent}); err != nil {
			t.Fatal(err)
		}
	}
	if conns.Load() != 2 {
		t.Fatalf("an answer longer than %d bytes kept its connection (%d connections for 2 events)", answerKeep, conns.Load())
	}
	status.Store(http.StatusBadGateway)
	err := s.send(context.Background(), &item{Event: testEvent})
	if err == nil || !strings.Contains(err.Error(), "502 Bad Gateway: first words") {
		t.Fatalf("a 502 answer: %v", err)
	}
	url := srv.URL
	srv.Close()
	err = webhook(t, Hook{URL: url}).send(context.Background(), &item{Event: testEvent})
	if err == nil || !strings.Contains(err.Error(), "POST "+url) {
		t.Fatalf("a closed server: %v", err)
	}
}

// TestWebhookTimeoutAndCancel: a hook slower than its timeout fails the
// attempt, a cancelled delivery (the node stops leading) ends at once,
// and the hook's next event still goes through.
func TestWebhookTimeoutAndCancel(t *testing.T) {
	t.Setenv("HTTP_PROXY", "")
	slow := atomic.Bool{}
	srv, _, _ := webhookServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
		w.WriteHeader(http.StatusAccepted)
	})
	s := webhook(t, Hook{URL: srv.URL, Timeout: Duration(300 * time.Millisecond)})
	slow.Store(true)
	if err := s.send(context.Background(), &item{Event: testEvent}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a hook slower than its timeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := s.send(ctx, &item{Event: testEvent}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled delivery: %v", err)
	}
	slow.Store(false)
	if err := s.send(context.Background(), &item{Event: testEvent}); err != nil {
		t.Fatalf("the next event after a timeout: %v", err)
	}
}

// TestWebhookTLS: an https hook is checked against the configured CA and
// the URL's host name, and keeps its connection.
func TestWebhookTLS(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "")
	srv, conns, _ := webhookServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Error("the event came without TLS")
		}
		w.WriteHeader(http.StatusOK)
	})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	// httptest's certificate names example.com and 127.0.0.1.
	s := webhook(t, Hook{URL: srv.URL, TLS: TLS{CA: ca}})
	for range 3 {
		if err := s.send(context.Background(), &item{Event: testEvent}); err != nil {
			t.Fatal(err)
		}
	}
	if conns.Load() != 1 {
		t.Fatalf("3 events over TLS took %d connections", conns.Load())
	}
	// Without the CA the server is not trusted.
	err := webhook(t, Hook{URL: srv.URL}).send(context.Background(), &item{Event: testEvent})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an untrusted server: %v", err)
	}
}

// TestWebhookThroughProxy: a URL that goes through a proxy is sent by
// net/http, which knows how.
func TestWebhookThroughProxy(t *testing.T) {
	var via atomic.Int64
	proxy, _, _ := webhookServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		via.Add(1)
		if r.URL.Host != "hooks.example:8080" {
			t.Errorf("the proxy was asked for %s", r.URL)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "")
	s := webhook(t, Hook{URL: "http://hooks.example:8080/in"})
	if s.(webhookSender).hc == nil {
		t.Fatal("a proxied hook is not sent by net/http")
	}
	if err := s.send(context.Background(), &item{Event: testEvent}); err != nil || via.Load() != 1 {
		t.Fatalf("through the proxy: %v (%d requests)", err, via.Load())
	}
}

// TestWebhookStreamingAnswer: a 2xx answer whose body goes on (a receiver
// that streams) is a delivery, not a timeout: the status decides, and the
// connection is closed rather than read to its end.
func TestWebhookStreamingAnswer(t *testing.T) {
	t.Setenv("HTTP_PROXY", "")
	srv, conns, _ := webhookServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "accepted\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // never ends on its own
	})
	// The hook's timeout is an hour: a send that waited for the body
	// would hang, and is caught by the guard below (not a measurement).
	s := webhook(t, Hook{URL: srv.URL, Timeout: Duration(time.Hour)})
	for range 2 {
		done := make(chan error, 1)
		go func() { done <- s.send(context.Background(), &item{Event: testEvent}) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute):
			t.Fatal("the delivery waited for the end of a streaming answer")
		}
	}
	if conns.Load() != 2 {
		t.Fatalf("a streaming answer kept its connection: %d connections for 2 events", conns.Load())
	}
}
