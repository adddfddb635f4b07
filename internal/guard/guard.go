// Package guard checks what every request to the public HTTP port must
// satisfy before it is routed, and bounds what requests may hold:
//
//   - the Host header names this node (an allowlist), so a web page that
//     rebinds its DNS name to the node's address cannot read the API;
//   - the path is clean and valid UTF-8: "." and ".." segments, empty
//     segments and invalid UTF-8 in the path or query are refused with
//     400, never redirected to the cleaned path (a client that follows
//     redirects would apply a DELETE of /buckets/b/flows/.. to the bucket);
//   - a request with a body that changes state declares JSON (or the
//     multipart or form types NiFi uses on the few endpoints that take
//     them), so a cross-site text/plain form post cannot write (415);
//   - under the web UI's paths (Options.Forms) the browser's own form
//     posts are the writes: they may be forms, but a request that changes
//     state must come from a page of this node (same origin, 403
//     otherwise), the check the JSON rule makes for the API;
//   - request bodies share a memory budget (a request waits for its share,
//     then gets 503): small bodies account for their bytes as they arrive,
//     in a pool of their own so they never wait behind large ones; large
//     ones reserve their length first and must then arrive at a minimum
//     rate; a body that stops arriving is cut off after an idle timeout.
//     Half-sent bodies hold what they sent, and not for long.
//
// Errors are NiFi's: text/plain with the status.
package guard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/weir-nifi/weir/internal/model"
)

// Defaults for Options.
const (
	// DefaultBodyBudget holds one body of the default --max-body (32 MiB)
	// in the large pool with room to spare, and a quarter for small ones.
	// Large bodies go through the Raft log one after the other anyway;
	// taking several at once only added memory and collector work (in
	// TestHardenSlowClients on 2 shared cores, a small client's read p99
	// under 8 concurrent 30 MB commits was 283-568 ms with 128 or 64 MiB,
	// 46-80 ms with 48 MiB).
	DefaultBodyBudget = 48 << 20
	DefaultBodyWait   = 10 * time.Second
	DefaultBodyIdle   = 30 * time.Second
	// DefaultBodyMinRate is about a 1 Mbit/s link.
	DefaultBodyMinRate = 128 << 10
	// rateGrace is how long a large body may arrive before its rate counts.
	rateGrace = 10 * time.Second
	// A request refused before its body was read has the rest of its body
	// read and dropped (at most lingerBytes, for at most lingerTime, each
	// read within lingerIdle) so the client reads the refusal: closing a
	// socket with unread data makes the kernel reset the connection, and
	// the reset discards the answer waiting in the client's receive buffer
	// (a client still writing a 30 MB body saw "broken pipe" instead of
	// 503). nginx's lingering_close does the same.
	lingerBytes = 64 << 20
	lingerTime  = 10 * time.Second
	lingerIdle  = 2 * time.Second
)

// Options configure the guard.
type Options struct {
	// Hosts are the host[:port] names this node answers to besides IP
	// literals and localhost (its advertised host, --allowed-hosts). A
	// "*" entry turns the Host check off.
	Hosts []string
	// MaxBody is the largest body one request may send.
	MaxBody int64
	// BodyBudget bounds the body bytes all requests hold at once
	// (DefaultBodyBudget when 0, no bound when negative).
	BodyBudget int64
	// BodyWait is how long a request waits for its share of the budget
	// before 503 (DefaultBodyWait when 0).
	BodyWait time.Duration
	// BodyIdle cuts off a body that sends nothing for this long
	// (DefaultBodyIdle when 0).
	BodyIdle time.Duration
	// BodyMinRate is the slowest a large body that has reserved its share
	// may arrive, on average, after a grace period (DefaultBodyMinRate
	// when 0): a client cannot hold a large share by trickling bytes.
	BodyMinRate int64
	// Streams are path prefixes whose bodies are streams the handler
	// consumes in bounded memory (site-to-site pushes under
	// /nifi-api/data-transfer): they may be of any type
	// (application/octet-stream from NiFi) and are not counted in the
	// budget, but are cut off when they stop arriving like any other.
	Streams []string
	// StreamRequest, when set, marks further requests as streams (bundle
	// uploads, whose paths are not a prefix).
	StreamRequest func(*http.Request) bool
	// Forms are path prefixes of HTML pages (the web UI) whose writes are
	// form posts: form and multipart bodies are accepted there, and any
	// request that changes state must be same-origin (Origin, or
	// Sec-Fetch-Site when a browser sends no Origin).
	Forms []string
}

// Guard is the middleware.
type Guard struct {
	o      Options
	next   http.Handler
	hosts  map[string]bool // lower-case host or host:port
	anyHst bool
	// Two pools, so small bodies never wait behind large ones: small
	// bodies with a length account for their bytes in small as they
	// arrive; large ones reserve their length in large before the
	// handler runs, and bodies without a length account in large.
	small, large *budget
}

// New wraps next.
func New(o Options, next http.Handler) *Guard {
	if o.BodyBudget == 0 {
		o.BodyBudget = DefaultBodyBudget
	}
	if o.BodyWait <= 0 {
		o.BodyWait = DefaultBodyWait
	}
	if o.BodyIdle <= 0 {
		o.BodyIdle = DefaultBodyIdle
	}
	if o.BodyMinRate <= 0 {
		o.BodyMinRate = DefaultBodyMinRate
	}
	g := &Guard{o: o, next: next, hosts: map[string]bool{}}
	for _, h := range o.Hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "*":
			g.anyHst = true
		case h != "":
			g.hosts[h] = true
		}
	}
	if o.BodyBudget > 0 {
		smallPool := max(o.BodyBudget/4, min(o.BodyBudget, 4<<20))
		g.small = newBudget(smallPool)
		g.large = newBudget(max(o.BodyBudget-smallPool, 1))
	}
	return g
}

func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.hostAllowed(r.Host) {
		refuseRequest(w, r, http.StatusBadRequest, fmt.Sprintf("Invalid Host header %q: this node does not answer to that name. "+
			"If it is the address of a load balancer or DNS name in front of Weir, add it with --allowed-hosts.", r.Host))
		return
	}
	if msg := badPath(r); msg != "" {
		refuseRequest(w, r, http.StatusBadRequest, msg)
		return
	}
	stream := g.isStream(r.URL.Path) || (g.o.StreamRequest != nil && g.o.StreamRequest(r))
	form := hasPrefix(r.URL.Path, g.o.Forms)
	if form && changesState(r.Method) && !sameOrigin(r) {
		refuseRequest(w, r, http.StatusForbidden, "HTTP 403 Forbidden: a form post to the web UI must come from one of its own pages (Origin "+
			strconv.Quote(r.Header.Get("Origin"))+" is not "+strconv.Quote(r.Host)+").")
		return
	}
	if hasBody(r) && changesState(r.Method) && !stream && !(form && formType(r)) {
		if msg := badContentType(r); msg != "" {
			refuseRequest(w, r, http.StatusUnsupportedMediaType, msg)
			return
		}
	}
	if !hasBody(r) {
		g.next.ServeHTTP(w, r)
		return
	}
	b := &body{rc: r.Body, g: g, ctl: http.NewResponseController(w), ctx: r.Context(), size: r.ContentLength, start: time.Now()}
	defer b.release()
	switch {
	case g.small == nil, stream:
	case b.size > smallBody:
		// A large body with a known length takes its whole share before
		// the handler runs, so it is served or refused, never stalled
		// halfway holding part of the budget while others hold the rest;
		// it must then arrive at BodyMinRate, so it cannot hold its share
		// by trickling.
		b.pool, b.prepaid = g.large, true
		if err := b.reserve(min(b.size, max(g.o.MaxBody, 1))); err != nil {
			w.Header().Set("Retry-After", "1")
			refuseRequest(w, r, http.StatusServiceUnavailable, errBusy.Msg)
			return
		}
	case b.size > 0:
		// Small bodies account for their bytes as they arrive: a client
		// that declares a body and sends a few bytes holds a few bytes.
		b.pool = g.small
	default:
		b.pool = g.large
	}
	b.extend()
	orig := r.Body
	r.Body = b
	g.next.ServeHTTP(w, r)
	if b.unfinished() {
		// The handler answered without reading the whole body (a refusal
		// such as 413, maintenance or not authorized).
		linger(b.ctl, r, orig)
	}
	// Give the server its own body back: after the handler it decides from
	// that body's type and what is left of it whether to read the rest
	// (up to 256 KB, to reuse the connection) or close; with a wrapper it
	// would try to read the rest of every body, and wait on a client that
	// stopped sending.
	r.Body = orig
}

func (g *Guard) isStream(path string) bool { return hasPrefix(path, g.o.Streams) }

func hasPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// formType: the body is an HTML form's.
func formType(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && (mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data")
}

// sameOrigin says whether a browser sent r from a page of the host it is
// addressed to. Browsers send Origin with every POST; Sec-Fetch-Site is
// the fallback. A request with neither is no browser's cross-site form
// (scripts and curl can forge both anyway: this stops cross-site forms,
// as the JSON rule does for the API).
func sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return r.Header.Get("Origin") == ""
	}
	return false
}

// hostAllowed accepts IP literals (DNS rebinding needs a name), localhost
// and the configured names, with or without a port.
func (g *Guard) hostAllowed(hostport string) bool {
	if g.anyHst {
		return true
	}
	hp := strings.ToLower(hostport)
	if g.hosts[hp] {
		return true
	}
	host := hp
	if h, _, err := net.SplitHostPort(hp); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	if net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	return g.hosts[host]
}

// badPath refuses paths a server would clean into another resource and
// invalid UTF-8 in the path or the query.
func badPath(r *http.Request) string {
	p := r.URL.Path
	if !utf8.ValidString(p) || !utf8.ValidString(r.URL.RawQuery) {
		return "Invalid request: the path or query is not valid UTF-8."
	}
	if q, err := urlUnescape(r.URL.RawQuery); err == nil && !utf8.ValidString(q) {
		return "Invalid request: the query is not valid UTF-8."
	}
	if p == "" || p == "/" {
		return ""
	}
	// Check the path as sent (escaped) and as decoded: "%2e%2e" is
	// decoded to ".." by the router.
	for _, form := range []string{r.URL.EscapedPath(), p} {
		segs := strings.Split(strings.TrimPrefix(form, "/"), "/")
		for i, s := range segs {
			last := i == len(segs)-1
			switch {
			case s == "." || s == "..":
				return "Invalid request path: '.' and '..' are not valid identifiers or path segments."
			case s == "" && !last:
				return "Invalid request path: empty path segment."
			}
		}
	}
	return ""
}

func urlUnescape(q string) (string, error) {
	// Only the validity of the decoded bytes matters here.
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '%' && i+2 < len(q):
			n, err := strconv.ParseUint(q[i+1:i+3], 16, 8)
			if err != nil {
				return "", err
			}
			b.WriteByte(byte(n))
			i += 2
		case c == '+':
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

func changesState(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// badContentType says why a state-changing body is refused, "" when its
// type is accepted: JSON anywhere; multipart/form-data only for bundle
// uploads and form-urlencoded only for the login endpoints, as in NiFi.
func badContentType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		switch {
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			return ""
		case mt == "multipart/form-data" && strings.Contains(r.URL.Path, "/bundles/"):
			return ""
		case mt == "application/x-www-form-urlencoded" && strings.Contains(r.URL.Path, "/access/"):
			return ""
		}
	}
	if ct == "" {
		ct = "none"
	}
	return "HTTP 415 Unsupported Media Type: a request that changes state must send its body as Content-Type: application/json (got " + ct + ")."
}

// refuseRequest answers a request whose body has not been read, and
// drops what is left of that body within the linger bounds.
func refuseRequest(w http.ResponseWriter, r *http.Request, status int, msg string) {
	refuse(w, status, msg)
	linger(http.NewResponseController(w), r, r.Body)
}

// linger reads and drops what is left of a request's body (see
// lingerBytes) while the answer waits in the server's buffer, so a client
// that writes its whole request before reading gets the answer. Not for
// HTTP/2 (a stream is reset alone) nor for a client that waits for
// "100 Continue" before sending (reading would invite the body).
func linger(ctl *http.ResponseController, r *http.Request, body io.Reader) {
	if r.ProtoMajor != 1 || !hasBody(r) || r.ContentLength > lingerBytes {
		return
	}
	if strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		return
	}
	// Send the answer first: a client that reads while it sends (Go's
	// does) learns it at once and stops sending, so less is dropped.
	// Full duplex keeps the server from dropping the connection when it
	// writes the answer with the body unread.
	if ctl.EnableFullDuplex() == nil {
		_ = ctl.Flush()
	}
	end := time.Now().Add(lingerTime)
	bp := lingerBufs.Get().(*[]byte)
	defer lingerBufs.Put(bp)
	buf := *bp
	for left := int64(lingerBytes); left > 0; {
		dl := time.Now().Add(lingerIdle)
		if dl.After(end) {
			dl = end
		}
		_ = ctl.SetReadDeadline(dl)
		n, err := body.Read(buf[:min(int64(len(buf)), left)])
		left -= int64(n)
		if err != nil {
			return
		}
	}
}

// lingerBufs holds linger's read buffers: a flood of refused requests
// (the body budget spent) would otherwise allocate 32 KiB each.
var lingerBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func refuse(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

// ---- bodies

// body accounts for a request body in the budget and keeps a read
// deadline that moves with every byte that arrives.
type body struct {
	rc    io.ReadCloser
	g     *Guard
	ctl   *http.ResponseController
	ctx   context.Context
	size  int64
	start time.Time
	// pool is where the body's bytes count (nil: no budget); prepaid says
	// its whole length was reserved before the handler ran.
	pool    *budget
	prepaid bool

	mu       sync.Mutex
	held     int64
	read     int64
	released bool
	ended    bool // a read returned an error (io.EOF included)
}

// smallBody is the size up to which a body with a known length accounts
// for its bytes as they arrive, in the small pool; larger ones reserve
// their length in the large pool before the handler runs.
const smallBody = 256 << 10

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	b.read += int64(n)
	b.ended = b.ended || err != nil
	b.mu.Unlock()
	if n > 0 {
		b.extend()
		if b.pool != nil && !b.prepaid {
			// Reading stops while the pool is spent.
			if rerr := b.reserve(int64(n)); rerr != nil {
				return n, rerr
			}
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = fmt.Errorf("the request body stopped arriving, or arrived slower than %d bytes a second", b.g.o.BodyMinRate)
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// unfinished says the body was neither read whole nor ended by an error
// (a body that stopped arriving is not waited for again).
func (b *body) unfinished() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.ended && (b.size < 0 || b.read < b.size)
}

// Reserved is how many bytes of the budget the body holds: a reader may
// allocate that much ahead for it (and not more: a declared length is not
// memory the client has sent).
func (b *body) Reserved() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// extend moves the read deadline: a body may arrive slowly, but not stop,
// and a large one that holds its share must arrive at the minimum rate.
func (b *body) extend() {
	dl := time.Now().Add(b.g.o.BodyIdle)
	if b.prepaid {
		byRate := b.start.Add(rateGrace + time.Duration(float64(b.size)/float64(b.g.o.BodyMinRate)*float64(time.Second)))
		if byRate.Before(dl) {
			dl = byRate
		}
	}
	_ = b.ctl.SetReadDeadline(dl)
}

func (b *body) reserve(n int64) error {
	n = min(n, b.pool.size)
	ctx, cancel := context.WithTimeout(b.ctx, b.g.o.BodyWait)
	defer cancel()
	if err := b.pool.acquire(ctx, n); err != nil {
		return errBusy
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released {
		b.pool.release(n)
		return errBusy
	}
	b.held += n
	return nil
}

// release returns the request's share when its handler is done (the
// body's bytes may be held until then).
func (b *body) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pool != nil && b.held > 0 {
		b.pool.release(b.held)
	}
	b.held = 0
	b.released = true
	// The read deadline stays: the server may still read what is left of
	// the body (and sets its own deadlines for the next request).
}

// errBusy is a model error so the API answers it as 503 when a body read
// fails with it.
var errBusy = model.Unavailable("This node is receiving as many request bodies as its memory budget allows. Retry shortly.", time.Second)

// budget is a weighted semaphore that serves waiters in order, so a large
// body is not starved by a stream of small ones.
type budget struct {
	mu      sync.Mutex
	free    int64
	size    int64
	waiters []*waiter
}

type waiter struct {
	n     int64
	ready chan struct{}
}

func newBudget(n int64) *budget { return &budget{free: n, size: n} }

// acquire takes n (at most the budget's size) or fails when ctx ends.
func (s *budget) acquire(ctx context.Context, n int64) error {
	s.mu.Lock()
	if len(s.waiters) == 0 && s.free >= n {
		s.free -= n
		s.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		select {
		case <-w.ready:
			// Granted while giving up: give it back.
			s.free += n
			s.grant()
		default:
			for i, o := range s.waiters {
				if o == w {
					s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
					break
				}
			}
			s.grant()
		}
		return ctx.Err()
	}
}

func (s *budget) release(n int64) {
	s.mu.Lock()
	s.free += n
	s.grant()
	s.mu.Unlock()
}

func (s *budget) grant() {
	for len(s.waiters) > 0 && s.free >= s.waiters[0].n {
		w := s.waiters[0]
		s.waiters = s.waiters[1:]
		s.free -= w.n
		close(w.ready)
	}
}
