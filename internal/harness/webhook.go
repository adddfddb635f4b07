package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/weir-nifi/weir/internal/events"
	"github.com/weir-nifi/weir/internal/freeport"
	"github.com/weir-nifi/weir/internal/hooks"
)

// Webhook is a webhook endpoint for the system tests and the benchmarks:
// it checks each delivery's signature (X-Weir-Signature-256), records the
// events it accepts in order of receipt with their times (duplicates
// included), can refuse one event type with a 500, and can be taken down
// (its port closed) and brought back on the same address.
type Webhook struct {
	secret string
	addr   string

	mu       sync.Mutex
	got      []Receipt
	bad      int
	failType string
	srv      *http.Server
}

// Receipt is one accepted delivery.
type Receipt struct {
	Event events.Event
	At    time.Time
}

// StartWebhook starts a receiver on a free loopback port.
func StartWebhook(secret string) (*Webhook, error) {
	ports, err := freeport.Ports("127.0.0.1", 1)
	if err != nil {
		return nil, err
	}
	w := &Webhook{secret: secret, addr: fmt.Sprintf("127.0.0.1:%d", ports[0])}
	return w, w.Up()
}

// URL is where the hooks file points the webhook.
func (w *Webhook) URL() string { return "http://" + w.addr + "/hook" }

// Up (re)opens the receiver's port.
func (w *Webhook) Up() error {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger a moment after Down
		if ln, err = net.Listen("tcp", w.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("webhook receiver: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(w.serve)}
	w.mu.Lock()
	w.srv = srv
	w.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// Down closes the receiver's port and its connections.
func (w *Webhook) Down() {
	w.mu.Lock()
	srv := w.srv
	w.srv = nil
	w.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Fail makes the receiver answer 500 to events of type t ("": none).
func (w *Webhook) Fail(t string) {
	w.mu.Lock()
	w.failType = t
	w.mu.Unlock()
}

func (w *Webhook) serve(rw http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(req.Body)
	var ev events.Event
	if err == nil {
		err = json.Unmarshal(body, &ev)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err != nil:
		w.bad++
		http.Error(rw, err.Error(), http.StatusBadRequest)
	case !hooks.Verify(w.secret, body, req.Header.Get(hooks.HeaderSignature)):
		w.bad++
		http.Error(rw, "bad signature", http.StatusUnauthorized)
	case ev.Type == w.failType:
		http.Error(rw, "not today", http.StatusInternalServerError)
	default:
		w.got = append(w.got, Receipt{Event: ev, At: at})
		rw.WriteHeader(http.StatusNoContent)
	}
}

// Receipts are the accepted deliveries so far, in order of receipt.
func (w *Webhook) Receipts() []Receipt {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Receipt(nil), w.got...)
}

// Events are the accepted deliveries' events, in order of receipt.
func (w *Webhook) Events() []events.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]events.Event, len(w.got))
	for i, r := range w.got {
		out[i] = r.Event
	}
	return out
}

// Bad counts the deliveries refused for a bad signature or body.
func (w *Webhook) Bad() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bad
}

// Reset forgets what was received.
func (w *Webhook) Reset() {
	w.mu.Lock()
	w.got, w.bad = nil, 0
	w.mu.Unlock()
}
