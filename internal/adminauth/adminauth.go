// Package adminauth protects the operations that would let anyone who
// reaches the API port take the cluster apart or read all of it at once:
// maintenance mode, backups, recomputing the state hash, and membership
// (join, remove, transfer leadership). Until NiFi Registry's security
// model is in place, these need proof of the cluster key, in one of two
// forms:
//
//   - a signed request (what the weir CLI and joining nodes send): the
//     header X-Weir-Cluster-Auth carries a time, a random nonce and an
//     HMAC-SHA256 under the cluster key over the method, the Host it was
//     sent to, the path and query, the time, the nonce and the body's
//     digest. A node accepts a signature once (it remembers nonces for the
//     window in which the time is accepted), only within that window, and
//     only for a Host that names this node, so a captured request cannot
//     be replayed, to this node or to another;
//   - an admin token (Authorization: Bearer <token>) for scripts and curl:
//     derived from the cluster key (`weir admin-token` prints it), the
//     same on every node. It is a secret like the key; anyone who holds it
//     can repeat its requests, so send it only over TLS or loopback.
//
// `weir server --admin-open` turns the check off (the behaviour before it
// existed) and says so at start.
package adminauth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weir-nifi/weir/internal/model"
)

// Header carries a request signature.
const Header = "X-Weir-Cluster-Auth"

// Window is how far a signature's time may be from the node's clock.
const Window = 5 * time.Minute

const (
	sigVersion = "v2"
	macLabel   = "weir-admin-request-v2"
	tokenLabel = "weir-admin-token-v1"
	// maxNonces bounds the replay cache; only holders of the key can add
	// to it, so it fills only if they send this many requests in a window.
	maxNonces = 100_000
	// maxBody bounds the body of a protected request read for checking.
	maxBody = 1 << 20
)

// Sign adds the signature header to req, whose body is body.
func Sign(key []byte, req *http.Request, body []byte) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	n := hex.EncodeToString(nonce)
	req.Header.Set(Header, sigVersion+":"+ts+":"+n+":"+hex.EncodeToString(mac(key, req.Method, hostOf(req), target(req), ts, n, body)))
}

// Token is the admin token derived from the cluster key.
func Token(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tokenLabel))
	return "weir-admin-" + hex.EncodeToString(m.Sum(nil))
}

func hostOf(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	if req.URL != nil {
		return req.URL.Host
	}
	return ""
}

// target is the path and query as sent.
func target(req *http.Request) string {
	t := req.URL.EscapedPath()
	if req.URL.RawQuery != "" {
		t += "?" + req.URL.RawQuery
	}
	return t
}

func mac(key []byte, method, host, target, ts, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s\n%s\n%s\n%s\n%s\n%s\n%x\n", macLabel, method, strings.ToLower(host), target, ts, nonce, sum)
	return m.Sum(nil)
}

// Verifier checks signed requests and admin tokens.
type Verifier struct {
	key   []byte
	token string
	// ownHost says whether a Host names this node (signatures for
	// another node's Host are refused).
	ownHost func(host string) bool
	now     func() time.Time

	mu     sync.Mutex
	nonces map[string]time.Time // nonce → when it may be forgotten
}

// NewVerifier builds a verifier for key. ownHost tells the Host names this
// node answers to (nil: any).
func NewVerifier(key []byte, ownHost func(string) bool) *Verifier {
	return &Verifier{key: key, token: Token(key), ownHost: ownHost, now: time.Now, nonces: map[string]time.Time{}}
}

// Verify checks r (whose body is body) and returns a 401/403 *model.Error
// when it carries no valid proof of the cluster key.
func (v *Verifier) Verify(r *http.Request, body []byte) error {
	if auth := r.Header.Get("Authorization"); auth != "" {
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(v.token)) == 1 {
			return nil
		}
		return &model.Error{Kind: model.KindForbidden, Msg: "Wrong admin token."}
	}
	h := r.Header.Get(Header)
	if h == "" {
		return &model.Error{Kind: model.KindUnauthorized, Msg: "This operation needs the cluster key: use the weir CLI with --cluster-key-file, or send Authorization: Bearer <token> with the token `weir admin-token` prints."}
	}
	parts := strings.Split(h, ":")
	if len(parts) != 4 || parts[0] != sigVersion {
		return &model.Error{Kind: model.KindUnauthorized, Msg: "Unsupported cluster request signature (a weir CLI older than this node?): upgrade the CLI."}
	}
	ts, nonce, sig := parts[1], parts[2], parts[3]
	t, err := strconv.ParseInt(ts, 10, 64)
	now := v.now()
	if err != nil || now.Sub(time.Unix(t, 0)).Abs() > Window {
		return &model.Error{Kind: model.KindUnauthorized, Msg: "Cluster request signature expired or from the future; check the clocks."}
	}
	host := hostOf(r)
	if v.ownHost != nil && !v.ownHost(host) {
		return &model.Error{Kind: model.KindForbidden, Msg: fmt.Sprintf("Cluster request signed for host %q, which is not this node.", host)}
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(nonce) < 16 || !hmac.Equal(got, mac(v.key, r.Method, host, target(r), ts, nonce, body)) {
		return &model.Error{Kind: model.KindForbidden, Msg: "Wrong cluster key."}
	}
	return v.remember(nonce, time.Unix(t, 0).Add(Window), now)
}

// remember records a nonce until its signature can no longer be accepted;
// a nonce seen before is a replay.
func (v *Verifier) remember(nonce string, until, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, seen := v.nonces[nonce]; seen {
		return &model.Error{Kind: model.KindForbidden, Msg: "This signed request was already used (a replay); sign a new one."}
	}
	if len(v.nonces) >= maxNonces {
		for k, exp := range v.nonces {
			if now.After(exp) {
				delete(v.nonces, k)
			}
		}
		if len(v.nonces) >= maxNonces {
			return model.Unavailable("Too many signed requests in the last minutes; retry shortly.", 5*time.Second)
		}
	}
	v.nonces[nonce] = until
	return nil
}

// Middleware requires proof of the cluster key on the requests protect
// selects, and passes every other request through. The body of a
// protected request is read (up to 1 MB) to check its digest and handed
// on unchanged.
func (v *Verifier) Middleware(protect func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !protect(r) {
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Authorization") == "" && r.Header.Get(Header) == "" {
			// No proof at all: say so before looking at the body.
			writeError(w, v.Verify(r, nil))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			writeError(w, model.Invalid("The body of an operations request must be under 1 MB and arrive whole."))
			return
		}
		if err := v.Verify(r, body); err != nil {
			writeError(w, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, err error) {
	me, ok := err.(*model.Error)
	if !ok {
		me = &model.Error{Kind: model.KindInternal, Msg: err.Error()}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if me.Kind == model.KindUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="weir-admin"`)
	}
	if me.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(me.RetryAfter/time.Second)))
	}
	w.WriteHeader(me.Status())
	_, _ = io.WriteString(w, me.Msg)
}
