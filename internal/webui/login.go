package webui

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// The login form trades a user name and password for the registry's
// access token (POST /access/token/login, HTTP Basic, as NiFi Registry's
// UI does) and keeps it in a cookie that only the UI's paths receive
// (HttpOnly, SameSite=Strict; Secure over HTTPS). Each page then calls
// the API with it as "Authorization: Bearer", so the token's checks
// (signature, expiry, revocation by logout) are the API's.
const (
	tokenCookie = "weir-token"
	// userCookie only names the user on the pages; nothing trusts it.
	userCookie = "weir-user"
)

func tokenOf(r *http.Request) string {
	if c, err := r.Cookie(tokenCookie); err == nil {
		return c.Value
	}
	return ""
}

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, "login", page{Title: "Log in", Data: struct{ Form, OIDC bool }{u.login, u.oidc}})
}

func (u *UI) logIn(w http.ResponseWriter, r *http.Request) {
	user := strings.TrimSpace(r.PostFormValue("username"))
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+r.PostFormValue("password")))
	// The API's answer to the password, not the browser's cookie: a
	// stale token must not be sent with the login.
	r2 := r.Clone(r.Context())
	r2.Header.Del("Cookie")
	a := u.call(r2, http.MethodPost, apiPath("access", "token", "login"), nil, http.Header{"Authorization": {basic}})
	if err := a.err(); err != nil {
		u.fail(w, r, err, Base+"/login")
		return
	}
	setCookie(w, r, tokenCookie, strings.TrimSpace(string(a.body)), 0)
	setCookie(w, r, userCookie, url.QueryEscape(user), 0)
	done(w, r, Base+"/", "Logged in as "+user)
}

func (u *UI) logOut(w http.ResponseWriter, r *http.Request) {
	if tokenOf(r) != "" {
		// Revoked on every node (package login); a token that no
		// longer works is forgotten all the same.
		_ = u.call(r, http.MethodDelete, apiPath("access", "logout"), nil, nil)
	}
	setCookie(w, r, tokenCookie, "", -1)
	setCookie(w, r, userCookie, "", -1)
	done(w, r, Base+"/", "Logged out")
}

// oidcCookie is where the API's OIDC callback leaves the sealed token
// for the UI to exchange (package login), as NiFi Registry's UI does.
// oidcStarted marks a login this UI started: another client of the API's
// OIDC flow (NiFi's UI behind a proxy, a script) lands on /nifi-registry/
// too and exchanges the token itself, so the UI leaves it alone.
const (
	oidcCookie  = "weir-oidc-token"
	oidcStarted = "weir-ui-oidc"
)

// startOIDC marks the login as the UI's and hands over to the API's
// code flow. The mark is SameSite=Lax: it must come back on the
// navigation from the provider (another site); it grants nothing.
func (u *UI) startOIDC(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: oidcStarted, Value: "1", Path: Base + "/", MaxAge: 600,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, apiPath("access", "oidc", "request"), http.StatusSeeOther)
}

// oidcLanding completes an OpenID Connect login: the provider's callback
// redirects the browser to the UI with the sealed token in a cookie; the
// UI exchanges it (POST /access/oidc/exchange, once) for the access token
// and keeps that like the form's.
func (u *UI) oidcLanding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(oidcCookie)
		_, mine := r.Cookie(oidcStarted)
		if err != nil || mine != nil || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: oidcStarted, Path: Base + "/", MaxAge: -1})
		// The API's exchange clears its cookie; so does the UI, whatever
		// the answer, so a stale one cannot loop.
		http.SetCookie(w, &http.Cookie{Name: oidcCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		r2 := r.Clone(r.Context())
		r2.Header.Del("Cookie")
		a := u.call(r2, http.MethodPost, apiPath("access", "oidc", "exchange"), nil,
			http.Header{"Cookie": {(&http.Cookie{Name: oidcCookie, Value: c.Value}).String()}})
		if err := a.err(); err != nil {
			u.fail(w, r, err, Base+"/login")
			return
		}
		tok := strings.TrimSpace(string(a.body))
		var who struct {
			Identity string `json:"identity"`
		}
		_ = u.getJSON(withToken(r2, tok), apiPath("access"), &who)
		setCookie(w, r, tokenCookie, tok, 0)
		setCookie(w, r, userCookie, url.QueryEscape(who.Identity), 0)
		setCookie(w, r, doneCookie, url.QueryEscape("Logged in as "+who.Identity), 60)
		// Not a redirect: this request ends a navigation that began at
		// the provider (another site), and SameSite=Strict cookies are
		// not sent along such a chain. The page moves on by itself, a
		// navigation of our own site, which carries them.
		u.render(w, r, http.StatusOK, "message", page{Title: "Logged in", Continue: Base + "/",
			Data: notice{OK: true, Msg: "Logged in as " + who.Identity + ".", Back: Base + "/"}})
	})
}

// withToken is r as a browser holding the access token tok.
func withToken(r *http.Request, tok string) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Header.Del("Cookie")
	r2.AddCookie(&http.Cookie{Name: tokenCookie, Value: tok})
	return r2
}
