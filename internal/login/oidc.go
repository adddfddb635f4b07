package login

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/identity"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/tokens"
)

// OIDC configures login with an OpenID Connect provider (NiFi Registry's
// nifi.registry.security.user.oidc.*): the authorization code flow with
// PKCE, the ID token verified against the provider's keys, the identity
// read from a claim. The flow keeps no state on the node: the request's
// state, nonce and PKCE verifier, and then the issued token, travel in
// cookies signed with the replicated token keys, so a callback or an
// exchange may reach any node behind a load balancer.
type OIDC struct {
	// Issuer is the provider's issuer URL (discovery at
	// <issuer>/.well-known/openid-configuration).
	Issuer       string
	ClientID     string
	ClientSecret string
	// Claim names the identity (default "email", as NiFi; "sub" always
	// exists).
	Claim string
	// Scopes are requested besides openid and email.
	Scopes []string
	// RedirectBase is the public base URL of the registry API's host
	// (https://weir.example.com:18443): the callback is
	// <RedirectBase>/nifi-registry-api/access/oidc/callback.
	RedirectBase string
	// UIPath is where the browser lands after login (default
	// /nifi-registry/).
	UIPath string
	// HTTP reaches the provider (default client when nil).
	HTTP *http.Client
}

// rp is the relying party at run time: the configuration and the
// provider, discovered once.
type rp struct {
	OIDC
	mu       sync.Mutex
	provider *oidc.Provider
}

const (
	cookieRequest = "weir-oidc-request"
	cookieToken   = "weir-oidc-token"
	flowTTL       = 5 * time.Minute
)

func (p *rp) ctx(ctx context.Context) context.Context {
	if p.HTTP != nil {
		return oidc.ClientContext(ctx, p.HTTP)
	}
	return ctx
}

// discover finds the provider once (retried on later requests while the
// provider cannot be reached).
func (p *rp) discover(ctx context.Context) (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, nil
	}
	pr, err := oidc.NewProvider(p.ctx(ctx), p.Issuer)
	if err != nil {
		return nil, model.Unavailable("The OpenID Connect provider cannot be reached: "+err.Error(), 5*time.Second)
	}
	p.provider = pr
	return pr, nil
}

func (p *rp) config(pr *oidc.Provider, base string) *oauth2.Config {
	return &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: pr.Endpoint(),
		RedirectURL: strings.TrimRight(p.RedirectBase, "/") + base + "/access/oidc/callback",
		Scopes:      append([]string{oidc.ScopeOpenID, "email"}, p.Scopes...)}
}

// flow is what the request cookie carries.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Token    string `json:"t,omitempty"`
	Expires  int64  `json:"e"`
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// seal signs f with the newest key: kid.payload.mac.
func seal(keys []tokens.Key, f flow) (string, error) {
	if len(keys) == 0 {
		return "", model.Unavailable("No signing key yet; retry shortly.", time.Second)
	}
	payload, _ := json.Marshal(f)
	p := base64.RawURLEncoding.EncodeToString(payload)
	m := hmac.New(sha256.New, keys[0].Secret)
	m.Write([]byte(keys[0].ID + "." + p))
	return keys[0].ID + "." + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

var errCookie = &model.Error{Kind: model.KindUnauthorized, Msg: "The OpenID Connect login could not be completed (missing, altered or expired state). Start the login again."}

func open(keys []tokens.Key, s string, now time.Time) (flow, error) {
	var f flow
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return f, errCookie
	}
	for _, k := range keys {
		if k.ID != parts[0] {
			continue
		}
		m := hmac.New(sha256.New, k.Secret)
		m.Write([]byte(parts[0] + "." + parts[1]))
		want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		if !hmac.Equal([]byte(want), []byte(parts[2])) {
			return f, errCookie
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil || json.Unmarshal(payload, &f) != nil || now.UnixMilli() > f.Expires {
			return f, errCookie
		}
		return f, nil
	}
	return f, errCookie
}

func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

// oidcRoutes registers the OpenID Connect endpoints.
func oidcRoutes(mux *http.ServeMux, base string, o Options) {
	p := &rp{OIDC: *o.OIDC}
	mux.HandleFunc("GET "+base+"/access/oidc/request", func(w http.ResponseWriter, r *http.Request) {
		pr, err := p.discover(r.Context())
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		keys, err := o.Keys(r.Context())
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		f := flow{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(), Expires: o.Now().Add(flowTTL).UnixMilli()}
		c, err := seal(keys, f)
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		setCookie(w, cookieRequest, c, int(flowTTL.Seconds()))
		http.Redirect(w, r, p.config(pr, base).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
	})
	mux.HandleFunc("GET "+base+"/access/oidc/callback", func(w http.ResponseWriter, r *http.Request) {
		keys, err := o.Keys(r.Context())
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		ck, err := r.Cookie(cookieRequest)
		if err != nil {
			httpwire.WriteError(w, errCookie)
			return
		}
		f, err := open(keys, ck.Value, o.Now())
		if err != nil || r.URL.Query().Get("state") != f.State || f.Token != "" {
			httpwire.WriteError(w, errCookie)
			return
		}
		if e := r.URL.Query().Get("error"); e != "" {
			httpwire.WriteError(w, &model.Error{Kind: model.KindUnauthorized, Msg: "The OpenID Connect provider refused the login: " + e})
			return
		}
		pr, err := p.discover(r.Context())
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		ctx := p.ctx(r.Context())
		tok, err := p.config(pr, base).Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(f.Verifier))
		if err != nil {
			httpwire.WriteError(w, &model.Error{Kind: model.KindUnauthorized, Msg: "The OpenID Connect code exchange failed: " + err.Error()})
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := pr.Verifier(&oidc.Config{ClientID: p.ClientID, Now: o.Now}).Verify(ctx, raw)
		if err != nil || idt.Nonce != f.Nonce {
			httpwire.WriteError(w, &model.Error{Kind: model.KindUnauthorized, Msg: fmt.Sprintf("The OpenID Connect ID token is not valid: %v", errors.Join(err, nonceErr(idt, f.Nonce)))})
			return
		}
		who, err := p.identity(idt)
		if err != nil {
			// As NiFi: a claim the ID token lacks is asked of UserInfo.
			who, err = p.userInfo(ctx, pr, tok)
		}
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		jwt, err := tokens.Issue(keys, identity.Map(who, o.Mappings), uuid.NewString(), o.Now(), o.TTL)
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		c, err := seal(keys, flow{Token: jwt, Expires: o.Now().Add(flowTTL).UnixMilli()})
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		setCookie(w, cookieRequest, "", -1)
		setCookie(w, cookieToken, c, int(flowTTL.Seconds()))
		ui := p.UIPath
		if ui == "" {
			ui = "/nifi-registry/"
		}
		http.Redirect(w, r, ui, http.StatusFound)
	})
	mux.HandleFunc("POST "+base+"/access/oidc/exchange", func(w http.ResponseWriter, r *http.Request) {
		keys, err := o.Keys(r.Context())
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		ck, err := r.Cookie(cookieToken)
		if err != nil {
			httpwire.WriteError(w, errCookie)
			return
		}
		f, err := open(keys, ck.Value, o.Now())
		if err != nil || f.Token == "" {
			httpwire.WriteError(w, errCookie)
			return
		}
		setCookie(w, cookieToken, "", -1)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(f.Token)))
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, f.Token)
	})
	mux.HandleFunc("GET "+base+"/access/oidc/logout", func(w http.ResponseWriter, r *http.Request) {
		ui := p.UIPath
		if ui == "" {
			ui = "/nifi-registry/"
		}
		target := ui
		if pr, err := p.discover(r.Context()); err == nil {
			var meta struct {
				EndSession string `json:"end_session_endpoint"`
			}
			if pr.Claims(&meta) == nil && meta.EndSession != "" {
				target = meta.EndSession
			}
		}
		http.Redirect(w, r, target, http.StatusFound)
	})
}

func nonceErr(idt *oidc.IDToken, want string) error {
	if idt != nil && idt.Nonce != want {
		return errors.New("nonce mismatch")
	}
	return nil
}

// userInfo reads the identifying claim from the UserInfo endpoint.
func (p *rp) userInfo(ctx context.Context, pr *oidc.Provider, tok *oauth2.Token) (string, error) {
	info, err := pr.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return "", &model.Error{Kind: model.KindUnauthorized, Msg: "The OpenID Connect UserInfo request failed: " + err.Error()}
	}
	claim := p.Claim
	if claim == "" {
		claim = "email"
	}
	if claim == "email" && info.Email != "" {
		return info.Email, nil
	}
	var claims map[string]any
	if err := info.Claims(&claims); err == nil {
		if v, ok := claims[claim].(string); ok && v != "" {
			return v, nil
		}
	}
	return "", &model.Error{Kind: model.KindUnauthorized, Msg: fmt.Sprintf("Neither the ID token nor UserInfo has a %q claim to identify the user.", claim)}
}

// identity reads the identifying claim of an ID token.
func (p *rp) identity(idt *oidc.IDToken) (string, error) {
	claim := p.Claim
	if claim == "" {
		claim = "email"
	}
	if claim == "sub" {
		return idt.Subject, nil
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return "", err
	}
	if v, ok := claims[claim].(string); ok && v != "" {
		return v, nil
	}
	return "", &model.Error{Kind: model.KindUnauthorized, Msg: fmt.Sprintf("The ID token has no %q claim to identify the user.", claim)}
}
