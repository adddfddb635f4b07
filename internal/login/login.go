// Package login issues NiFi Registry's access tokens and ends them:
// POST /access/token (for the caller's client certificate, or a user name
// and password), POST /access/token/login (HTTP Basic against the LDAP
// directory), DELETE /access/logout (the token is revoked on every node).
// Tokens are JWTs signed with the replicated keys of package tokens.
package login

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/weir-nifi/weir/internal/api"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/identity"
	"github.com/weir-nifi/weir/internal/ldapauth"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/tokens"
)

// Options connect the handlers to the node.
type Options struct {
	// LDAP checks passwords; nil means no login provider (password logins
	// are refused as NiFi refuses them without one).
	LDAP *ldapauth.Config
	// OIDC is the OpenID Connect provider (nil: none; /access/oidc/*
	// answer as NiFi without one).
	OIDC *OIDC
	// Mappings rewrite the identity a login yields (NiFi's login identity
	// mappings).
	Mappings []identity.Mapping
	// TTL is how long a token is valid (default 12 h, as NiFi).
	TTL time.Duration
	// Keys returns the signing keys once this node has applied everything
	// committed; Revoked reports a revoked token id likewise (call Keys
	// first).
	Keys    func(ctx context.Context) ([]tokens.Key, error)
	Revoked func(id string) bool
	// Propose replicates a command from this node.
	Propose func(ctx context.Context, c command.Command) error
	Log     *slog.Logger
	Now     func() time.Time
}

func (o *Options) defaults() {
	if o.TTL <= 0 {
		o.TTL = 12 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

const msgBadCredentials = "The supplied username and password are not valid."

// Routes registers the handlers under base (/nifi-registry-api).
func Routes(mux *http.ServeMux, base string, o Options) {
	o.defaults()
	if o.OIDC != nil {
		oidcRoutes(mux, base, o)
	}
	mux.HandleFunc("POST "+base+"/access/token", func(w http.ResponseWriter, r *http.Request) {
		// A client certificate (the caller authn found) gets a token for
		// its identity; otherwise a user name and password, as a form or
		// Basic credentials.
		if c, ok := api.CallerFrom(r.Context()); ok && !c.Anonymous && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(c.Proxies) == 0 {
			o.issue(w, r, c.Identity)
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok {
			_ = r.ParseForm()
			user, pass = r.PostForm.Get("username"), r.PostForm.Get("password")
		}
		o.password(w, r, user, pass)
	})
	mux.HandleFunc("POST "+base+"/access/token/login", func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="Weir"`)
			httpwire.WriteError(w, &model.Error{Kind: model.KindUnauthorized, Msg: msgBadCredentials})
			return
		}
		o.password(w, r, user, pass)
	})
	mux.HandleFunc("DELETE "+base+"/access/logout", func(w http.ResponseWriter, r *http.Request) {
		raw, ok := Bearer(r)
		if !ok {
			httpwire.WriteError(w, &model.Error{Kind: model.KindUnauthorized, Msg: "Logout needs the access token (Authorization: Bearer ...)."})
			return
		}
		c, err := o.Verify(r.Context(), raw)
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		if err := o.Propose(r.Context(), &command.RevokeToken{TokenID: c.ID, Expires: c.ExpiresAt.UnixMilli(), At: o.Now().UnixMilli()}); err != nil {
			httpwire.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

func (o Options) password(w http.ResponseWriter, r *http.Request, user, pass string) {
	if o.LDAP == nil {
		httpwire.WriteError(w, model.Conflict("Username/Password login not supported by this NiFi Registry"))
		return
	}
	id, err := o.LDAP.Authenticate(user, pass)
	if errors.Is(err, ldapauth.ErrBadCredentials) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Weir"`)
		httpwire.WriteError(w, &model.Error{Kind: model.KindUnauthorized, Msg: msgBadCredentials})
		return
	}
	if err != nil {
		o.Log.Warn("login: the directory cannot be used", "err", err)
		httpwire.WriteError(w, model.Unavailable("The login provider is unavailable. Retry shortly.", 5*time.Second))
		return
	}
	o.issue(w, r, identity.Map(id, o.Mappings))
}

func (o Options) issue(w http.ResponseWriter, r *http.Request, who string) {
	keys, err := o.Keys(r.Context())
	if err != nil {
		httpwire.WriteError(w, err)
		return
	}
	tok, err := tokens.Issue(keys, who, uuid.NewString(), o.Now(), o.TTL)
	if err != nil {
		httpwire.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(tok)))
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, tok)
}

// Verify checks a token and returns its claims; a refusal is a 401.
func (o Options) Verify(ctx context.Context, raw string) (*tokens.Claims, error) {
	o.defaults()
	keys, err := o.Keys(ctx)
	if err != nil {
		return nil, err
	}
	c, err := tokens.Verify(raw, keys, o.Revoked, o.Now())
	if err != nil {
		return nil, &model.Error{Kind: model.KindUnauthorized, Msg: "Unable to validate the access token: " + strings.TrimPrefix(err.Error(), tokens.ErrInvalid.Error()+": ") + "."}
	}
	return c, nil
}

// Bearer returns the token of an "Authorization: Bearer" header.
func Bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}
