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
	u.render(w, r, http.StatusOK, "login", page{Title: "Log in"})
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
