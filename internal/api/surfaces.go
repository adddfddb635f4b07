package api

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/model"
)

// The parts of the NiFi Registry API Weir has no feature for yet are
// answered as an unsecured NiFi Registry 2.x without extension bundles
// answers them, so clients get NiFi's statuses and texts, never a bare 404:
//
//   - /access: the anonymous user with every permission; everything about
//     tokens, login and logout needs HTTPS, which NiFi refuses with 409.
//   - /tenants, /policies: an unsecured registry runs a default authorizer
//     that manages no users, groups or policies (409), except the list of
//     authorizable resources; a secured one manages them (ManageTenants,
//     tenants.go).
//
// Bundles, extensions and the extension repository are served for real
// (bundles.go).
//
// The Java classes each answer follows are named next to the handlers.
// Checks run in NiFi's order (request parsing, then the resource method,
// then the service), so the first failing check decides the answer.

// Messages of NiFi Registry that these surfaces send.
const (
	// AccessResource: token endpoints need a secure request.
	msgTokensNeedHTTPS = "Access tokens are only issued over HTTPS"
	// AccessResource: logout and the OpenID Connect flow.
	msgAuthNeedsHTTPS   = "User authentication/authorization is only supported when running over HTTPS."
	msgLogoutNeedsHTTPS = "User logout is only supported when running over HTTPS."
	// AccessResource: no identity provider is configured.
	msgNoCustomLogin = "Custom login not supported by this NiFi Registry"

	// AuthorizationService: the default (unsecured) authorizer is neither
	// managed nor configurable.
	msgNonManagedAuthorizer = "This NiFi Registry is not configured to internally manage users, groups, or policies. Please contact your system administrator."
	msgNonConfigurableUsers = "This NiFi Registry is not configured to allow configurable users and groups. Please contact your system administrator."

	// StandardExtensionService and ExtensionRepoResource.
	msgBundleIDNotFound          = "The specified extension bundle ID does not exist."
	msgBlankBundleID             = "Bundle identifier cannot be null or blank"
	msgBundleNotInBucket         = "The specified extension bundle does not exist in this bucket."
	msgBundleVersionNotFoundGAV  = "An extension bundle version does not exist with the specific group, artifact, and version"
	msgBlankGroupID              = "Group id cannot be null or blank"
	msgBlankArtifactID           = "Artifact id cannot be null or blank"
	msgBlankVersion              = "Version cannot be null or blank"
	msgNoBundleInputStream       = "Extension bundle input stream cannot be null"
	msgProvidedServiceAPIMissing = "Provided service API must be specified with a class, group, artifact, and version"
	// StandardServiceFacade.authorizeBucketAccess.
	msgBlankBucketID = "Unable to authorize access because bucket identifier is null or blank"
	// RegistryService.getBucketByName.
	msgBucketNameNotFound = "The specified bucket name does not exist in this registry."

	// Jersey's NotFoundException text, for a path NiFi would not route.
	msgHTTPNotFound = "HTTP 404 Not Found"
)

// surfaces registers the parts of the NiFi Registry API that an unsecured
// registry without extension bundles answers with fixed results.
func (a *API) surfaces() {
	a.accessSurface()
	a.tenantSurface()
	a.policySurface()
	a.bundleRoutes()
	a.extensionRepoRoutes()
	a.extensionRoutes()
}

func (a *API) sget(p string, h handlerFunc)  { a.mux.Handle("GET "+Base+p, a.read(h)) }
func (a *API) spost(p string, h handlerFunc) { a.mux.Handle("POST "+Base+p, a.write(h)) }
func (a *API) sput(p string, h handlerFunc)  { a.mux.Handle("PUT "+Base+p, a.write(h)) }
func (a *API) sdel(p string, h handlerFunc)  { a.mux.Handle("DELETE "+Base+p, a.write(h)) }

// refuse answers every request with a 409 carrying msg.
func refuse(msg string) handlerFunc {
	return func(http.ResponseWriter, *http.Request) error { return model.Conflict(msg) }
}

var emptyList = []json.RawMessage{}

// ---- /access (AccessResource)

func (a *API) accessSurface() {
	// getAccessStatus: AuthorizationService.getCurrentUser with the default
	// authorizer approving everything; login flags need a secure request
	// and a configured provider, neither of which Weir has.
	a.sget("/access", func(w http.ResponseWriter, r *http.Request) error {
		c := callerOf(r)
		all := model.AllPermissions
		return httpwire.WriteJSON(w, 200, model.CurrentUser{
			Anonymous: c.Anonymous,
			Identity:  c.Identity,
			ResourcePermissions: &model.ResourcePermissions{
				AnyTopLevelResource: all(), Buckets: all(), Policies: all(), Proxy: all(), Tenants: all(),
			},
		})
	})
	// Each method starts with "if (!httpServletRequest.isSecure())"; Weir's
	// API listener is plain HTTP.
	for _, p := range []string{"/access/token", "/access/token/login", "/access/token/kerberos",
		"/access/token/identity-provider", "/access/token/identity-provider/test"} {
		a.spost(p, refuse(msgTokensNeedHTTPS))
	}
	// getIdentityProviderUsageInstructions has no HTTPS check; it fails on
	// the missing identity provider.
	a.sget("/access/token/identity-provider/usage", refuse(msgNoCustomLogin))
	a.sdel("/access/logout", refuse(msgAuthNeedsHTTPS))
	a.sget("/access/logout/complete", refuse(msgLogoutNeedsHTTPS))
	a.sget("/access/oidc/request", refuse(msgAuthNeedsHTTPS))
	a.sget("/access/oidc/callback", refuse(msgAuthNeedsHTTPS))
	a.spost("/access/oidc/exchange", refuse(msgAuthNeedsHTTPS))
	a.sget("/access/oidc/logout", refuse(msgAuthNeedsHTTPS))
	a.sget("/access/oidc/logout/callback", refuse(msgLogoutNeedsHTTPS))
}

// ---- /tenants (TenantResource, StandardServiceFacade, AuthorizationService)

// managedOr answers with the managed handler (tenants.go) once
// ManageTenants set a service, and with unmanaged before.
func (a *API) managedOr(routes func(TenantService) tenantRoutes, pick func(tenantRoutes) handlerFunc, unmanaged handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if svc := a.tenantService(); svc != nil {
			return pick(routes(svc))(w, r)
		}
		return unmanaged(w, r)
	}
}

func pickList(t tenantRoutes) handlerFunc   { return t.list }
func pickGet(t tenantRoutes) handlerFunc    { return t.get }
func pickCreate(t tenantRoutes) handlerFunc { return t.create }
func pickUpdate(t tenantRoutes) handlerFunc { return t.update }
func pickDelete(t tenantRoutes) handlerFunc { return t.del }

func (a *API) tenantSurface() {
	// Unmanaged (an unsecured registry): reads call
	// verifyAuthorizerIsManaged, writes
	// verifyAuthorizerSupportsConfigurableUserGroups, before anything else
	// in the facade. Jersey has read the body (400 for bad JSON) and the
	// resource method has checked a PUT's body and ids before that.
	type kind struct {
		path       string
		decodeBody func(a *API, w http.ResponseWriter, r *http.Request) (present bool, id *string, err error)
		noBody     string
		what       string
		routes     func(TenantService) tenantRoutes
	}
	for _, k := range []kind{
		{"/tenants/users", decodeUser, "User details must be specified when updating a user.", "user", a.managedUsers},
		{"/tenants/user-groups", decodeUserGroup, "User group details must be specified to update a user group.", "user group", a.managedGroups},
	} {
		a.sget(k.path, a.managedOr(k.routes, pickList, refuse(msgNonManagedAuthorizer)))
		a.sget(k.path+"/{id}", a.managedOr(k.routes, pickGet, refuse(msgNonManagedAuthorizer)))
		a.spost(k.path, a.managedOr(k.routes, pickCreate, func(w http.ResponseWriter, r *http.Request) error {
			if _, _, err := k.decodeBody(a, w, r); err != nil {
				return err
			}
			return model.Conflict(msgNonConfigurableUsers)
		}))
		a.sput(k.path+"/{id}", a.managedOr(k.routes, pickUpdate, func(w http.ResponseWriter, r *http.Request) error {
			present, id, err := k.decodeBody(a, w, r)
			if err != nil {
				return err
			}
			if err := checkBodyID(present, id, r.PathValue("id"), k.noBody, k.what); err != nil {
				return err
			}
			return model.Conflict(msgNonConfigurableUsers)
		}))
		a.sdel(k.path+"/{id}", a.managedOr(k.routes, pickDelete, func(w http.ResponseWriter, r *http.Request) error {
			if _, err := revisionParams(r); err != nil {
				return err
			}
			return model.Conflict(msgNonConfigurableUsers)
		}))
	}
}

func decodeUser(a *API, w http.ResponseWriter, r *http.Request) (bool, *string, error) {
	var u model.User
	ok, err := a.decode(w, r, &u)
	return ok, u.Identifier, err
}

func decodeUserGroup(a *API, w http.ResponseWriter, r *http.Request) (bool, *string, error) {
	var g model.UserGroup
	ok, err := a.decode(w, r, &g)
	return ok, g.Identifier, err
}

// checkBodyID is the check the update methods of TenantResource and
// AccessPolicyResource make before calling the facade: a body is required
// and its identifier must be the one of the path (Java's String.format
// prints a missing identifier as "null").
func checkBodyID(present bool, bodyID *string, pathID, noBody, what string) error {
	if !present {
		return model.Invalid(noBody)
	}
	if bodyID == nil || *bodyID != pathID {
		shown := "null"
		if bodyID != nil {
			shown = *bodyID
		}
		return model.Invalid(fmt.Sprintf("The %s id in the request body (%s) does not equal the %s id of the requested resource (%s).",
			what, shown, what, pathID))
	}
	return nil
}

// ---- /policies (AccessPolicyResource)

func (a *API) policySurface() {
	// Unmanaged, every policy operation but the resource list calls
	// verifyAuthorizerIsManaged first: writes reach it through
	// verifyAuthorizerSupportsConfigurablePolicies.
	routes := a.managedPolicies
	a.sget("/policies", a.managedOr(routes, pickList, refuse(msgNonManagedAuthorizer)))
	a.sget("/policies/{id}", a.managedOr(routes, pickGet, refuse(msgNonManagedAuthorizer)))
	a.spost("/policies", a.managedOr(routes, pickCreate, func(w http.ResponseWriter, r *http.Request) error {
		var p model.AccessPolicy
		if _, err := a.decode(w, r, &p); err != nil {
			return err
		}
		return model.Conflict(msgNonManagedAuthorizer)
	}))
	a.sput("/policies/{id}", a.managedOr(routes, pickUpdate, func(w http.ResponseWriter, r *http.Request) error {
		var p model.AccessPolicy
		ok, err := a.decode(w, r, &p)
		if err != nil {
			return err
		}
		if err := checkBodyID(ok, p.Identifier, r.PathValue("id"),
			"Access policy details must be specified when updating a policy.", "policy"); err != nil {
			return err
		}
		return model.Conflict(msgNonManagedAuthorizer)
	}))
	a.sdel("/policies/{id}", a.managedOr(routes, pickDelete, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := revisionParams(r); err != nil {
			return err
		}
		return model.Conflict(msgNonManagedAuthorizer)
	}))
	// getAccessPolicyForResource parses the action (RequestAction.valueOfValue)
	// before the facade refuses or looks the policy up. The resource
	// template is ".+".
	a.sget("/policies/{action}/{resource...}", func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("resource") == "" {
			return model.NotFound(msgHTTPNotFound)
		}
		action := r.PathValue("action")
		switch strings.ToLower(action) {
		case "read", "write", "delete":
		default:
			return model.Invalid("Action '" + action + "' is invalid. Must be one of [read, write, delete]")
		}
		if svc := a.tenantService(); svc != nil {
			return policyForResource(svc, w, r)
		}
		return model.Conflict(msgNonManagedAuthorizer)
	})
	// getResources: AuthorizationService.getAuthorizableResources lists the
	// top-level resources, then one per bucket in the order of
	// "SELECT * FROM BUCKET ORDER BY name ASC" (Java string order on H2).
	a.sget("/policies/resources", func(w http.ResponseWriter, r *http.Request) error {
		bs, err := a.reg.ListBuckets()
		if err != nil {
			return err
		}
		res := []model.Resource{
			{Identifier: model.Str("/policies"), Name: model.Str("Access Policies")},
			{Identifier: model.Str("/tenants"), Name: model.Str("Tenants")},
			{Identifier: model.Str("/proxy"), Name: model.Str("Proxy User Requests")},
			{Identifier: model.Str("/actuator"), Name: model.Str("Actuator")},
			{Identifier: model.Str("/swagger"), Name: model.Str("Swagger")},
			{Identifier: model.Str("/buckets"), Name: model.Str("Buckets")},
		}
		for _, b := range sortedByJavaName(bs) {
			res = append(res, model.Resource{Identifier: model.Str("/buckets/" + model.Deref(b.Identifier)), Name: b.Name})
		}
		return httpwire.WriteJSON(w, 200, res)
	})
}

// apiBaseURL is ApplicationResource.getBaseUri: the request's base URI
// (Jetty omits a default port) with the X-ProxyScheme / X-Forwarded-Proto,
// X-ProxyHost / X-Forwarded-Server, X-ProxyPort / X-Forwarded-Port and
// X-ProxyContextPath / X-Forwarded-Context headers applied. It ends in "/".
func apiBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host, port := r.Host, -1
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		host = h
		if n, err := strconv.Atoi(p); err == nil {
			port = n
		}
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	if (scheme == "http" && port == 80) || (scheme == "https" && port == 443) {
		port = -1
	}
	first := func(keys ...string) (string, bool) {
		for _, k := range keys {
			if vs, ok := r.Header[http.CanonicalHeaderKey(k)]; ok && len(vs) > 0 {
				return vs[0], true
			}
		}
		return "", false
	}
	if v, ok := first("X-ProxyScheme", "X-Forwarded-Proto"); ok && !javaIsBlank(v) {
		scheme = v
	}
	if v, ok := first("X-ProxyHost", "X-Forwarded-Server"); ok && !javaIsBlank(v) {
		host = v
	}
	if v, ok := first("X-ProxyPort", "X-Forwarded-Port"); ok {
		if javaIsBlank(v) { // StringUtils.isWhitespace
			port = -1
		} else if n, err := strconv.Atoi(v); err == nil {
			port = n
		}
	}
	path := Base + "/"
	if ctx, ok := first("X-ProxyContextPath", "X-Forwarded-Context"); ok {
		if !strings.HasPrefix(ctx, "/") {
			ctx = "/" + ctx
		}
		ctx = strings.TrimSuffix(ctx, "/")
		path = ctx + path
	}
	u := scheme + "://" + host
	if port != -1 {
		u += ":" + strconv.Itoa(port)
	}
	return u + encodeJerseyPath(path)
}

// encodeJerseyPath encodes s as Jersey's UriBuilder.path does: characters
// allowed in a URI path (unreserved, sub-delims, ':', '@', '/') stay, an
// existing %XX escape stays, everything else is UTF-8 percent-encoded.
func encodeJerseyPath(s string) string {
	const hex = "0123456789ABCDEF"
	isHex := func(c byte) bool {
		return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
			b.WriteByte(c)
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// javaIsBlank is commons-lang StringUtils.isBlank: empty or only
// characters for which Character.isWhitespace holds.
func javaIsBlank(s string) bool {
	for _, r := range s {
		if !javaIsWhitespace(r) {
			return false
		}
	}
	return true
}

func javaIsWhitespace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', 0x1C, 0x1D, 0x1E, 0x1F, 0x2028, 0x2029:
		return true
	case 0x00A0, 0x2007, 0x202F: // no-break spaces are not whitespace in Java
		return false
	}
	return unicode.Is(unicode.Zs, r)
}

// javaLess is Java's String.compareTo order (UTF-16 code units), which H2
// and TreeSet use to sort bucket names.
func javaLess(a, b string) bool {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	return slices.Compare(ua, ub) < 0
}

func sortedByJavaName(bs []*model.Bucket) []*model.Bucket {
	out := slices.Clone(bs)
	slices.SortStableFunc(out, func(x, y *model.Bucket) int {
		nx, ny := model.Deref(x.Name), model.Deref(y.Name)
		switch {
		case javaLess(nx, ny):
			return -1
		case javaLess(ny, nx):
			return 1
		}
		return 0
	})
	return out
}

// javaHashSetOrder returns the distinct tags in the order NiFi serialises
// ExtensionFilterParams.tags: the builder adds the query values to a
// HashSet, the params copy it into another HashSet (JDK 21), and Jackson
// writes that set in iteration order. The order follows from String
// hash codes and table sizes; it is simulated exactly as long as no hash
// bucket holds more than eight tags in a table of 64 or more (where Java
// switches the bucket to a tree).
func javaHashSetOrder(tags []string) []string {
	builder := newJavaHashSet(16) // new HashSet<>(): 16 buckets on first insert
	for _, t := range tags {
		builder.add(t)
	}
	items := builder.items()
	// new HashSet<>(c) = HashMap.newHashMap(max(c.size(), 12)).
	n := max(len(items), 12)
	capacity := (n*4 + 2) / 3 // ceil(n / 0.75)
	copied := newJavaHashSet(tableSizeFor(capacity))
	for _, t := range items {
		copied.add(t)
	}
	return copied.items()
}

type javaHashSet struct {
	table [][]string
	size  int
}

func newJavaHashSet(capacity int) *javaHashSet {
	return &javaHashSet{table: make([][]string, capacity)}
}

func javaSpreadHash(s string) uint32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return uint32(h) ^ uint32(h)>>16
}

func (s *javaHashSet) add(v string) {
	i := int(javaSpreadHash(v)) & (len(s.table) - 1)
	if slices.Contains(s.table[i], v) {
		return
	}
	s.table[i] = append(s.table[i], v)
	// HashMap.putVal: a ninth entry in one bucket asks for a tree, which
	// resizes instead while the table is smaller than 64.
	if len(s.table[i]) > 8 && len(s.table) < 64 {
		s.resize()
	}
	s.size++
	if s.size > len(s.table)*3/4 {
		s.resize()
	}
}

// resize doubles the table; entries keep their relative order.
func (s *javaHashSet) resize() {
	next := make([][]string, 2*len(s.table))
	for _, bucket := range s.table {
		for _, v := range bucket {
			i := int(javaSpreadHash(v)) & (len(next) - 1)
			next[i] = append(next[i], v)
		}
	}
	s.table = next
}

func (s *javaHashSet) items() []string {
	out := []string{}
	for _, bucket := range s.table {
		out = append(out, bucket...)
	}
	return out
}

func tableSizeFor(c int) int {
	n := 1
	for n < c {
		n <<= 1
	}
	return n
}
