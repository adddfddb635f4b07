// Package authn decides who makes a request on the public port when Weir
// serves HTTPS: the mapped subject of a verified client certificate, or
// the end user of an X-ProxiedEntitiesChain that a trusted proxy (a NiFi
// node identity) sends on behalf of its users, or anonymous. It attaches
// the caller to the request (api.WithCaller); forwarded writes carry it to
// the leader over the authenticated cluster port.
//
// Without an initial admin (no managed policies), an authenticated caller
// may do everything an unsecured registry allows, only the configured
// node identities may proxy, and an anonymous caller is refused (401)
// except on the paths Options.Open lets through (health probes). With
// managed policies (Options.Managed), package authz decides everything.
package authn

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/weir-nifi/weir/internal/api"
	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/identity"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/registry"
	"github.com/weir-nifi/weir/internal/statuswriter"
)

// Options configure the middleware.
type Options struct {
	// Mappings rewrite certificate subjects (NiFi's identity mappings).
	Mappings []identity.Mapping
	// Proxies are the identities (after mapping) allowed to send
	// X-ProxiedEntitiesChain: NiFi's node identities.
	Proxies []string
	// Open reports requests an anonymous caller may make.
	Open func(*http.Request) bool
	// Bearer verifies an access token ("Authorization: Bearer"; package
	// login) and returns its identity; nil accepts none.
	Bearer func(ctx context.Context, raw string) (string, error)
	// ClusterToken is the admin token (package adminauth): on the paths
	// under ClusterPaths (Weir's operations) a Bearer equal to it is the
	// cluster itself (registry.Caller.Cluster), not an access token;
	// elsewhere it is no identity. Empty: none.
	ClusterToken string
	ClusterPaths []string
	// Managed says policies decide (package authz): the chain's proxies
	// are passed on to be checked against /proxy instead of Proxies, and
	// anonymous callers are passed on (they may read public buckets).
	Managed bool
}

// Middleware wraps next.
func Middleware(o Options, next http.Handler) http.Handler {
	proxies := map[string]bool{}
	for _, p := range o.Proxies {
		proxies[p] = true
	}
	ids := &certIDs{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, err := o.callerOf(r, proxies, ids)
		if err == nil && caller.Anonymous && !o.Managed && (o.Open == nil || !o.Open(r)) {
			err = &model.Error{Kind: model.KindUnauthorized, Msg: "Anonymous access is not allowed: this Weir serves HTTPS and needs a client certificate from its CA (or a NiFi node proxying a user)."}
		}
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		statuswriter.ServeWithContext(next, w, r, api.WithCaller(r.Context(), caller))
	})
}

// certIDs remembers the mapped identity of client certificates and of
// the names in proxied chains: writing the subject DN and running the
// identity mappings' regular expressions for every request was about
// 25 µs of CPU per request on these cores, while a connection (and
// usually a client) keeps one certificate and a NiFi proxies few users.
type certIDs struct {
	certs memo // certificate DER → mapped identity
	names memo // proxied identity → mapped identity
}

func (c *certIDs) get(cert *x509.Certificate, ms []identity.Mapping) string {
	return c.certs.get(string(cert.Raw), func() string { return identity.Map(identity.SubjectDN(cert.Subject), ms) })
}

func (c *certIDs) mapName(name string, ms []identity.Mapping) string {
	return c.names.get(name, func() string { return identity.Map(name, ms) })
}

// memo is a bounded map of computed identities; it starts over when full
// (certIDsMax entries), which a node meets only with more distinct
// callers than that in a short time.
type memo struct {
	mu sync.RWMutex
	m  map[string]string
}

// certIDsMax bounds each memo.
const certIDsMax = 1024

func (c *memo) get(key string, compute func() string) string {
	c.mu.RLock()
	id, ok := c.m[key]
	c.mu.RUnlock()
	if ok {
		return id
	}
	id = compute()
	c.mu.Lock()
	if c.m == nil || len(c.m) >= certIDsMax {
		c.m = make(map[string]string)
	}
	c.m[key] = id
	c.mu.Unlock()
	return id
}

func (o Options) clusterPath(p string) bool {
	for _, prefix := range o.ClusterPaths {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// action is NiFi's name for what a request does, in proxy refusals.
func action(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return "READ"
	case http.MethodDelete:
		return "DELETE"
	}
	return "WRITE"
}

func (o Options) callerOf(r *http.Request, proxies map[string]bool, ids *certIDs) (registry.Caller, error) {
	ms, managed := o.Mappings, o.Managed
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") && o.ClusterToken != "" &&
		o.clusterPath(r.URL.Path) && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[7:])), []byte(o.ClusterToken)) == 1 {
		if len(r.Header.Values(identity.HeaderProxiedEntitiesChain)) > 0 {
			return registry.Caller{}, &model.Error{Kind: model.KindUnauthorized, Msg: "A proxied entities chain is not accepted with the admin token."}
		}
		return registry.Caller{Identity: registry.ClusterIdentity, Cluster: true}, nil
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") && o.Bearer != nil {
		if len(r.Header.Values(identity.HeaderProxiedEntitiesChain)) > 0 {
			// NiFi honours the chain only from certificate callers.
			return registry.Caller{}, &model.Error{Kind: model.KindUnauthorized, Msg: "A proxied entities chain is only accepted from a caller that authenticated with a client certificate, not with an access token."}
		}
		id, err := o.Bearer(r.Context(), strings.TrimSpace(h[7:]))
		if err != nil {
			return registry.Caller{}, err
		}
		return registry.Caller{Identity: id}, nil
	}
	var certID string
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		certID = ids.get(r.TLS.VerifiedChains[0][0], ms)
	}
	header := r.Header.Values(identity.HeaderProxiedEntitiesChain)
	if len(header) == 0 {
		if certID == "" {
			return registry.Anonymous, nil
		}
		return registry.Caller{Identity: certID}, nil
	}
	if certID == "" {
		// NiFi honours the chain only from certificate callers.
		return registry.Caller{}, &model.Error{Kind: model.KindUnauthorized, Msg: "A proxied entities chain is only accepted from a caller that authenticated with a client certificate."}
	}
	chain, err := identity.ParseChain(header[0])
	if err != nil || len(header) > 1 {
		return registry.Caller{}, model.Invalid(identity.ErrChain.Error())
	}
	if len(chain) == 0 {
		return registry.Caller{Identity: certID}, nil
	}
	// NiFi maps every identity of the chain, as it maps certificates.
	for i, id := range chain {
		if id != "" {
			chain[i] = ids.mapName(id, ms)
		}
	}
	if managed {
		// Policies decide: every proxy, the caller last, needs /proxy.
		c := registry.Caller{Identity: chain[0], Proxies: append(chain[1:len(chain):len(chain)], certID)}
		if chain[0] == "" {
			c.Identity, c.Anonymous = registry.Anonymous.Identity, true
		}
		return c, nil
	}
	// Every proxy in the chain, and the caller itself, must be trusted.
	for _, p := range append(chain[1:], certID) {
		if !proxies[p] {
			kind := model.KindForbidden
			if chain[0] == "" {
				kind = model.KindUnauthorized
			}
			return registry.Caller{}, &model.Error{Kind: kind, Msg: fmt.Sprintf("Untrusted proxy [%s] for %s operation.", p, action(r.Method))}
		}
	}
	if chain[0] == "" {
		return registry.Anonymous, nil
	}
	return registry.Caller{Identity: chain[0]}, nil
}
