package authz

import (
	"net/http"
	"strings"
)

// Kind says how a request is authorized.
type Kind int

const (
	// Open requests need no policy (login, about, field lists, paths
	// that only answer 404 or fixed empty results).
	Open Kind = iota
	// Check needs Action on Resource (public buckets are readable by
	// anyone).
	Check
	// ListBuckets and ListItems answer only what the caller may read.
	ListBuckets
	ListItems
	// Access is GET /access: the caller's own permissions.
	Access
	// Config is GET /config: read on /policies or on /tenants.
	Config
	// ReadableBuckets lists or searches across buckets (bundles,
	// extensions, the extension repository): the handler answers from
	// the buckets the caller may read (api.WithBucketFilter) and refuses
	// one it may not.
	ReadableBuckets
)

// Target is what a request needs.
type Target struct {
	Kind     Kind
	Resource string
	Action   string
	// Bucket is set when the resource is a bucket (public reads, and the
	// permissions objects of the answer).
	Bucket string
	// Flow is set for /flows/{id} paths: the bucket is looked up from it.
	Flow string
	// Bundle is set for /bundles/{id} paths, likewise.
	Bundle string
}

// ActionOf maps an HTTP method to NiFi's action, as its servlet filter
// does for /actuator: GET, HEAD and OPTIONS read, DELETE deletes, the rest
// write.
func ActionOf(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return Read
	case http.MethodDelete:
		return Delete
	}
	return Write
}

// TargetOf maps a request path (the full path, with /nifi-registry-api,
// /nifi-api or /weir-api) to what it needs.
func TargetOf(method, path string) Target {
	action := ActionOf(method)
	check := func(resource string) Target { return Target{Kind: Check, Resource: resource, Action: action} }
	switch {
	case strings.HasPrefix(path, "/nifi-registry-api/"):
		return registryTarget(method, strings.TrimPrefix(path, "/nifi-registry-api"), action)
	case path == "/weir-api/cluster/join" && method == http.MethodPost:
		// A joining node proves the cluster key (a signed request); it
		// holds no policy yet.
		return Target{Kind: Open}
	case path == "/weir-api/ports" || strings.HasPrefix(path, "/weir-api/"):
		// Weir's operations (ports, cluster membership) are operations on
		// the registry's actuator.
		return check(Actuator)
	case path == "/nifi-api/site-to-site" || strings.HasPrefix(path, "/nifi-api/site-to-site/"):
		return Target{Kind: Check, Resource: SiteToSite, Action: Read}
	case strings.HasPrefix(path, "/nifi-api/data-transfer/"):
		// /data-transfer/{input-ports|output-ports}/{id}/...: sending or
		// receiving through a port is write on it, as in NiFi.
		parts := strings.SplitN(strings.TrimPrefix(path, "/nifi-api/data-transfer/"), "/", 3)
		if len(parts) >= 2 && (parts[0] == "input-ports" || parts[0] == "output-ports") && parts[1] != "" {
			return Target{Kind: Check, Resource: "/data-transfer/" + parts[0] + "/" + parts[1], Action: Write}
		}
	}
	return Target{Kind: Open}
}

func registryTarget(method, p, action string) Target {
	check := func(resource string) Target { return Target{Kind: Check, Resource: resource, Action: action} }
	seg := strings.Split(strings.Trim(p, "/"), "/")
	switch seg[0] {
	case "access", "about":
		if p == "/access" && method == http.MethodGet {
			return Target{Kind: Access}
		}
		return Target{Kind: Open}
	case "bundles":
		// A bundle is in a bucket: NiFi's facade authorizes the bucket
		// (read, and delete for a delete).
		if len(seg) >= 2 && seg[1] != "versions" && seg[1] != "" {
			return Target{Kind: Check, Action: action, Bundle: seg[1]}
		}
		return Target{Kind: ReadableBuckets}
	case "extension-repository", "extensions":
		return Target{Kind: ReadableBuckets}
	case "config":
		return Target{Kind: Config}
	case "buckets":
		switch {
		case len(seg) == 1 && method == http.MethodGet:
			return Target{Kind: ListBuckets}
		case len(seg) == 1:
			return check(Buckets)
		case seg[1] == "fields":
			return Target{Kind: Open}
		}
		t := check(BucketResource(seg[1]))
		t.Bucket = seg[1]
		return t
	case "items":
		switch {
		case len(seg) == 1:
			return Target{Kind: ListItems}
		case seg[1] == "fields":
			return Target{Kind: Open}
		}
		t := Target{Kind: Check, Resource: BucketResource(seg[1]), Action: Read, Bucket: seg[1]}
		return t
	case "flows":
		if len(seg) == 1 || seg[1] == "fields" {
			return Target{Kind: Open}
		}
		return Target{Kind: Check, Action: Read, Flow: seg[1]}
	case "tenants":
		return check(Tenants)
	case "policies":
		return check(Policies)
	case "actuator":
		if p == "/actuator/health/liveness" || p == "/actuator/health/readiness" {
			return Target{Kind: Open} // probes, which carry no identity
		}
		return check(Actuator)
	case "swagger":
		return check(Swagger)
	}
	return Target{Kind: Open}
}
