package webui

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Base is where the UI is served, as NiFi Registry's.
const Base = "/nifi-registry"

//go:embed templates/*.html static/*
var files embed.FS

// Options configure the UI.
type Options struct {
	// Gather reads the node's metrics for the sparklines (nil: none).
	Gather Gatherer
	Log    *slog.Logger
	// Login offers the login form: the node runs secured with a login
	// identity provider (LDAP), so /access/token/login exists.
	Login bool
	// OIDC offers the OpenID Connect login (/access/oidc/request).
	OIDC bool
}

// UI serves the pages. Every read and write of a page is a request to the
// node's own HTTP handler chain (SetBackend), made in-process with the
// browser's identity (its TLS state and Host): authentication,
// authorization, the maintenance gate and forwarding of writes to the
// leader apply to the UI exactly as to the API. The UI has no other way
// into the registry.
type UI struct {
	backend atomic.Pointer[http.Handler]
	pages   map[string]*template.Template
	static  http.Handler
	samples *sampler
	log     *slog.Logger
	login   bool
	oidc    bool
}

// New parses the templates (they are part of the binary, so an error is a
// bug and panics at start, never at a request).
func New(o Options) *UI {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	u := &UI{pages: map[string]*template.Template{}, log: o.Log, samples: newSampler(o.Gather), login: o.Login, oidc: o.OIDC}
	for _, p := range []string{"buckets", "bucket", "flow", "version", "diff", "cluster", "confirm", "message", "login"} {
		u.pages[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+p+".html"))
	}
	u.static = http.StripPrefix(Base, http.FileServerFS(files))
	return u
}

// SetBackend sets the handler chain the UI calls: the node's handler
// after the request guard (which already checked the browser's request)
// and before routing.
func (u *UI) SetBackend(h http.Handler) { u.backend.Store(&h) }

// Run samples the metrics for the sparklines until ctx ends.
func (u *UI) Run(ctx context.Context) { u.samples.run(ctx, 2*time.Second) }

// Handler serves the pages under Base.
func (u *UI) Handler() http.Handler {
	m := http.NewServeMux()
	m.Handle("GET "+Base+"/static/", u.static)
	m.HandleFunc("GET "+Base+"/{$}", u.buckets)
	m.HandleFunc("POST "+Base+"/buckets", u.createBucket)
	m.HandleFunc("GET "+Base+"/buckets/{b}", u.bucket)
	m.HandleFunc("GET "+Base+"/buckets/{b}/delete", u.confirmDeleteBucket)
	m.HandleFunc("POST "+Base+"/buckets/{b}/delete", u.deleteBucket)
	m.HandleFunc("POST "+Base+"/buckets/{b}/flows", u.createFlow)
	m.HandleFunc("GET "+Base+"/buckets/{b}/flows/{f}", u.flow)
	m.HandleFunc("POST "+Base+"/buckets/{b}/flows/{f}/import", u.importVersion)
	m.HandleFunc("GET "+Base+"/buckets/{b}/flows/{f}/versions/{v}", u.version)
	m.HandleFunc("GET "+Base+"/buckets/{b}/flows/{f}/versions/{v}/export", u.export)
	m.HandleFunc("GET "+Base+"/buckets/{b}/flows/{f}/diff", u.diff)
	m.HandleFunc("GET "+Base+"/cluster", u.cluster)
	m.HandleFunc("GET "+Base+"/cluster/maintenance", u.confirmMaintenance)
	m.HandleFunc("POST "+Base+"/cluster/maintenance", u.setMaintenance)
	m.HandleFunc("GET "+Base+"/cluster/backup", u.confirmBackup)
	m.HandleFunc("POST "+Base+"/cluster/backup", u.takeBackup)
	if u.login {
		m.HandleFunc("POST "+Base+"/login", u.logIn)
	}
	if u.login || u.oidc {
		m.HandleFunc("GET "+Base+"/login", u.loginForm)
		m.HandleFunc("POST "+Base+"/logout", u.logOut)
	}
	if u.oidc {
		m.HandleFunc("GET "+Base+"/login/oidc", u.startOIDC)
		return u.oidcLanding(m)
	}
	return m
}

// answer is what the backend said to one in-process request.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// err turns a refusal into the message the page shows: the API's own
// text (NiFi's errors are text/plain), with the status.
func (a answer) err() error {
	if a.ok() {
		return nil
	}
	msg := strings.TrimSpace(string(a.body))
	if len(msg) > 2000 {
		msg = msg[:2000] + " …"
	}
	return &apiError{Status: a.status, Msg: msg}
}

// apiError is a refusal by the API, shown with its status.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
}

// recorder keeps what the backend writes.
type recorder struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.buf.Write(p)
}
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}

// call sends one request through the backend as the browser's request
// from: same context, TLS state (the client certificate identifies the
// caller), remote address and Host (the operations check it).
func (u *UI) call(from *http.Request, method, path string, body []byte, hdr http.Header) answer {
	bp := u.backend.Load()
	if bp == nil {
		return answer{status: http.StatusServiceUnavailable, body: []byte("The UI is starting.")}
	}
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(from.Context(), method, path, rd)
	if err != nil {
		return answer{status: http.StatusBadRequest, body: []byte(err.Error())}
	}
	req.Host, req.RemoteAddr, req.TLS = from.Host, from.RemoteAddr, from.TLS
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	// A user logged in with the form: its access token, as an API
	// client sends it (an admin token typed in a form goes first).
	if tok := tokenOf(from); tok != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{h: http.Header{}}
	(*bp).ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = 200
	}
	return answer{status: rec.status, header: rec.h, body: rec.buf.Bytes()}
}

// getJSON reads path into v.
func (u *UI) getJSON(r *http.Request, path string, v any) error {
	a := u.call(r, http.MethodGet, path, nil, nil)
	if err := a.err(); err != nil {
		return err
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}

// page is what every template gets.
type page struct {
	Title string
	Nav   string // "buckets" or "cluster": the current section
	// Refresh reloads the page after this many seconds (0: never).
	Refresh int
	// Continue moves on to this page at once (meta refresh).
	Continue string
	Done     string // a completed action, from the redirect after it
	// Login: a login is offered; User: logged in as.
	Login bool
	User  string
	Data  any
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if c, err := r.Cookie(doneCookie); err == nil {
		p.Done, _ = url.QueryUnescape(c.Value)
		setCookie(w, r, doneCookie, "", -1)
	}
	p.Login = u.login || u.oidc
	if c, err := r.Cookie(userCookie); err == nil && tokenOf(r) != "" {
		p.User, _ = url.QueryUnescape(c.Value)
	}
	var buf bytes.Buffer
	if err := u.pages[name].Execute(&buf, p); err != nil {
		u.log.Error("web UI template", "page", name, "err", err)
		http.Error(w, "The page could not be rendered.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Everything is served from the node itself: no other origin may
	// provide scripts, styles or frame the pages.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows why a page or an action could not be done: the API's
// refusal with its status (a 503 of maintenance mode is shown as such).
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error, back string) {
	status := http.StatusBadGateway
	msg := err.Error()
	var ae *apiError
	if errors.As(err, &ae) {
		status = ae.Status
		msg = ae.Msg
	}
	u.render(w, r, status, "message", page{Title: "Not done", Data: notice{Status: status, StatusText: http.StatusText(status), Msg: msg, Back: back}})
}

// notice is the message page's data: a refusal, or (OK) a completed step
// with a link on.
type notice struct {
	OK         bool
	Status     int
	StatusText string
	Msg        string
	Back       string
}

// doneCookie carries the name of a completed action to the page shown
// after it, once. A cookie and not the query: a link from elsewhere
// cannot make a page announce something that did not happen.
const doneCookie = "weir-done"

// done redirects after a completed action (post/redirect/get), naming it.
func done(w http.ResponseWriter, r *http.Request, to, what string) {
	setCookie(w, r, doneCookie, url.QueryEscape(what), 60)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// setCookie sets a cookie of the UI: only its paths receive it, never a
// script (there is none) nor another site (SameSite=Strict); over HTTPS
// only. maxAge 0 is a session cookie, -1 deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Base + "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// apiPath joins escaped segments under the API base.
func apiPath(segs ...string) string {
	var b strings.Builder
	b.WriteString("/nifi-registry-api")
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

func uiPath(segs ...string) string {
	var b strings.Builder
	b.WriteString(Base)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

var funcs = template.FuncMap{
	"ui": uiPath,
	"ms": func(ms int64) string {
		if ms == 0 {
			return ""
		}
		return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"deref": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	"short":    shortType,
	"canWrite": canWrite,
	"sub1":     func(n int) int { return n - 1 },
	"inc":      func(n int) int { return n + 1 },
	"trunc": func(s string) string {
		// About what fits a processor's box at the picture's font size.
		if r := []rune(s); len(r) > 20 {
			return string(r[:19]) + "…"
		}
		return s
	},
	"kindClass": func(k string) string {
		switch k {
		case "label":
			return "k-label"
		case "funnel":
			return "k-funnel"
		case "process group", "remote process group":
			return "k-group"
		}
		return "k-comp"
	},
	"treeArg": func(t *Tree, open bool) any {
		return struct {
			T    *Tree
			Open bool
		}{t, open}
	},
	"f":    ftoa,
	"half": func(f float64) float64 { return f / 2 },
	"add":  func(a, b float64) float64 { return a + b },
	// Backups are megabytes and more: one unit keeps the page plain.
	"mib": func(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 2, 64) + " MiB" },
}
