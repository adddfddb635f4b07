package hooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"time"

	"golang.org/x/net/http/httpproxy"
)

// Webhook request headers.
const (
	HeaderEventID   = "X-Weir-Event-Id"
	HeaderEventType = "X-Weir-Event-Type"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256 of the body
	// under the hook's secret.
	HeaderSignature = "X-Weir-Signature-256"
)

// Sign is the HeaderSignature value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a HeaderSignature value in constant time.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// sender delivers one event; an error is a failed attempt.
type sender interface {
	send(ctx context.Context, ev *item) error
}

func newSender(h Hook, log *slog.Logger) (sender, error) {
	switch h.Kind {
	case KindLog:
		return logSender{name: h.Name, log: slog.New(loud{log.Handler()})}, nil
	case KindScript:
		return scriptSender{h: h}, nil
	case KindWebhook:
		return newWebhookSender(h)
	}
	return nil, fmt.Errorf("hook %q: unknown type %q", h.Name, h.Kind)
}

// logSender writes one structured line per event (NiFi's
// LoggingEventHookProvider logs one line too).
type logSender struct {
	name string
	log  *slog.Logger
}

func (s logSender) send(_ context.Context, ev *item) error {
	attrs := []any{"hook", s.name, "id", ev.ID, "index", ev.Index, "eventType", ev.Type}
	for _, f := range ev.Fields {
		attrs = append(attrs, f.Name, f.Value)
	}
	s.log.Info("registry event", attrs...)
	return nil
}

// loud passes a log hook's lines to the node's handler whatever level the
// node logs at: with --log-level warn they were dropped while their events
// counted as delivered. A configured log hook always writes.
type loud struct{ slog.Handler }

func (l loud) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }

func (l loud) WithAttrs(as []slog.Attr) slog.Handler { return loud{l.Handler.WithAttrs(as)} }

func (l loud) WithGroup(name string) slog.Handler { return loud{l.Handler.WithGroup(name)} }

// scriptSender runs a program as NiFi's ScriptEventHookProvider does:
// the event type, then each field's value, as arguments. The event's id
// and index are in WEIR_EVENT_ID and WEIR_EVENT_INDEX.
type scriptSender struct{ h Hook }

func (s scriptSender) send(ctx context.Context, ev *item) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(s.h.Timeout))
	defer cancel()
	args := []string{ev.Type}
	for _, f := range ev.Fields {
		args = append(args, f.Value)
	}
	cmd := exec.CommandContext(ctx, s.h.Path, args...)
	cmd.Dir = s.h.WorkingDir
	cmd.Env = append(os.Environ(), "WEIR_EVENT_ID="+strconv.FormatUint(ev.ID, 10), "WEIR_EVENT_INDEX="+strconv.FormatUint(ev.Index, 10))
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("script %s timed out after %s", s.h.Path, time.Duration(s.h.Timeout))
	}
	if err != nil {
		return fmt.Errorf("script %s: %v: %s", s.h.Path, err, bytes.TrimSpace(tail(out, 200)))
	}
	return nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// webhookSender POSTs the event's JSON, signed; any 2xx is delivered.
type webhookSender struct {
	h Hook
	// Exactly one of p and hc sends: p unless the URL goes through a
	// proxy, which net/http knows how to use.
	p  *poster
	hc *http.Client
}

func newWebhookSender(h Hook) (webhookSender, error) {
	cfg, err := webhookTLS(h)
	if err != nil {
		return webhookSender{}, err
	}
	u, err := url.Parse(h.URL)
	if err != nil {
		return webhookSender{}, fmt.Errorf("hook %q: %w", h.Name, err)
	}
	// The proxy settings are read when the hook is made (net/http's
	// ProxyFromEnvironment reads them once per process).
	proxyFor := httpproxy.FromEnvironment().ProxyFunc()
	if proxy, err := proxyFor(u); err != nil || proxy != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg
		tr.Proxy = func(r *http.Request) (*url.URL, error) { return proxyFor(r.URL) }
		return webhookSender{h: h, hc: &http.Client{Transport: tr}}, nil
	}
	return webhookSender{h: h, p: newPoster(u, cfg)}, nil
}

func (s webhookSender) send(ctx context.Context, ev *item) error {
	body, err := ev.json()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(s.h.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEventID, strconv.FormatUint(ev.ID, 10))
	req.Header.Set(HeaderEventType, ev.Type)
	req.Header.Set(HeaderSignature, Sign(s.h.Secret, body))
	if s.p != nil {
		status, msg, err := s.p.do(ctx, req)
		if err != nil {
			return fmt.Errorf("POST %s: %w", s.h.URL, err)
		}
		return answer(status, msg)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var msg []byte
	if resp.StatusCode/100 != 2 { // a 2xx's body is not waited for
		msg, _ = io.ReadAll(io.LimitReader(resp.Body, 200))
	}
	return answer(resp.StatusCode, msg)
}

// answer is a webhook's answer as a delivery's outcome: any 2xx is
// delivered.
func answer(status int, msg []byte) error {
	if status/100 != 2 {
		return fmt.Errorf("webhook answered %d %s: %s", status, http.StatusText(status), bytes.TrimSpace(msg))
	}
	return nil
}

func webhookTLS(h Hook) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: h.TLS.InsecureSkipVerify} //nolint:gosec // the operator's explicit choice
	if h.TLS.CA != "" {
		pem, err := os.ReadFile(h.TLS.CA)
		if err != nil {
			return nil, fmt.Errorf("hook %q: %w", h.Name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("hook %q: no certificate in %s", h.Name, h.TLS.CA)
		}
		cfg.RootCAs = pool
	}
	if h.TLS.Cert != "" || h.TLS.Key != "" {
		c, err := tls.LoadX509KeyPair(h.TLS.Cert, h.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("hook %q: client certificate: %w", h.Name, err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}
