package contract

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"
)

// TestContractSurfaces covers the parts of the API an unsecured NiFi
// Registry without extension bundles answers with fixed results (access,
// tenants, policies, bundles, extensions, the extension repository;
// internal/api/surfaces.go): each answer is validated against the spec and
// pinned by a golden file, with a bucket present so the per-bucket answers
// have something to list.
func TestContractSurfaces(t *testing.T) {
	loadSpec(t)
	s := startServer(t, nil)
	n := newNormaliser()
	n.id(s.base+apiBase+"/", "<api-base>/")
	b := str(obj(t, step(t, s, "POST", "/buckets", "/buckets", []byte(`{"name":"Surface Bucket"}`), nil, 200).body), "identifier")
	n.id(b, "<bucket-1>")

	ok := []struct {
		golden, template, path string
	}{
		{"access.json", "/access", "/access"},
		{"policies-resources.json", "/policies/resources", "/policies/resources"},
		{"bucket-bundles.json", "/buckets/{bucketId}/bundles", "/buckets/" + b + "/bundles"},
		{"bundles.json", "/bundles", "/bundles?groupId=org.apache.nifi"},
		{"bundle-versions.json", "/bundles/versions", "/bundles/versions"},
		{"extensions.json", "/extensions", "/extensions?bundleType=nifi-nar&extensionType=PROCESSOR&tag=json"},
		{"extensions-tags.json", "/extensions/tags", "/extensions/tags"},
		{"extensions-provided-service-api.json", "/extensions/provided-service-api",
			"/extensions/provided-service-api?className=org.apache.nifi.ssl.SSLContextService&groupId=org.apache.nifi&artifactId=nifi-standard-services-api-nar&version=2.7.2"},
		{"extension-repository.json", "/extension-repository", "/extension-repository"},
		{"extension-repository-bucket.json", "/extension-repository/{bucketName}", "/extension-repository/" + url.PathEscape("Surface Bucket")},
		{"extension-repository-group.json", "/extension-repository/{bucketName}/{groupId}", "/extension-repository/" + url.PathEscape("Surface Bucket") + "/org.apache.nifi"},
	}
	for _, c := range ok {
		goldenJSON(t, n, "surface-"+c.golden, step(t, s, "GET", c.template, c.path, nil, nil, 200).body)
	}

	// Refusals, validated (text/plain) and pinned with their messages.
	log := &errorLog{n: n}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "bundle.nar")
	_, _ = fw.Write([]byte("PK\x03\x04 not really a nar"))
	_ = mw.Close()
	multipartHdr := http.Header{"Content-Type": {mw.FormDataContentType()}}
	refused := []struct {
		name, method, template, path string
		body                         []byte
		hdr                          http.Header
		status                       int
	}{
		{"token over http", "POST", "/access/token", "/access/token", nil, nil, 409},
		{"login over http", "POST", "/access/token/login", "/access/token/login", nil, http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, 409},
		{"kerberos over http", "POST", "/access/token/kerberos", "/access/token/kerberos", nil, nil, 409},
		{"identity provider usage", "GET", "/access/token/identity-provider/usage", "/access/token/identity-provider/usage", nil, nil, 409},
		{"logout over http", "DELETE", "/access/logout", "/access/logout", nil, nil, 409},
		{"oidc request over http", "GET", "/access/oidc/request", "/access/oidc/request", nil, nil, 409},
		{"list users", "GET", "/tenants/users", "/tenants/users", nil, nil, 409},
		{"create user", "POST", "/tenants/users", "/tenants/users", []byte(`{"identity":"alice"}`), nil, 409},
		{"list user groups", "GET", "/tenants/user-groups", "/tenants/user-groups", nil, nil, 409},
		{"list policies", "GET", "/policies", "/policies", nil, nil, 409},
		{"create policy", "POST", "/policies", "/policies", []byte(`{"action":"read","resource":"/buckets"}`), nil, 409},
		{"policy for a resource", "GET", "/policies/{action}/{resource}", "/policies/read/buckets/" + b, nil, nil, 409},
		{"policy with a bad action", "GET", "/policies/{action}/{resource}", "/policies/fly/buckets", nil, nil, 400},
		{"unknown bundle", "GET", "/bundles/{bundleId}", "/bundles/no-such-bundle", nil, nil, 404},
		{"unknown bundle versions", "GET", "/bundles/{bundleId}/versions", "/bundles/no-such-bundle/versions", nil, nil, 404},
		{"delete unknown bundle", "DELETE", "/bundles/{bundleId}", "/bundles/no-such-bundle", nil, nil, 404},
		{"bundles of an unknown bucket", "GET", "/buckets/{bucketId}/bundles", "/buckets/no-such-bucket/bundles", nil, nil, 404},
		{"upload without a file", "POST", "/buckets/{bucketId}/bundles/{bundleType}", "/buckets/" + b + "/bundles/nifi-nar", []byte(`{}`), nil, 400},
		{"upload a zip that is not a NAR", "POST", "/buckets/{bucketId}/bundles/{bundleType}", "/buckets/" + b + "/bundles/nifi-nar", mp.Bytes(), multipartHdr, 400},
		{"extensions with a bad bundle type", "GET", "/extensions", "/extensions?bundleType=jar", nil, nil, 400},
		{"provided service api without coordinates", "GET", "/extensions/provided-service-api", "/extensions/provided-service-api", nil, nil, 400},
		{"repository of an unknown bucket name", "GET", "/extension-repository/{bucketName}", "/extension-repository/no-such-bucket", nil, nil, 404},
		{"unknown repository version", "GET", "/extension-repository/{bucketName}/{groupId}/{artifactId}/{version}",
			"/extension-repository/" + url.PathEscape("Surface Bucket") + "/org.apache.nifi/nifi-standard-nar/2.7.2", nil, nil, 404},
		{"unknown sha256", "GET", "/extension-repository/{groupId}/{artifactId}/{version}/sha256", "/extension-repository/org.apache.nifi/nifi-standard-nar/2.7.2/sha256", nil, nil, 404},
	}
	for _, c := range refused {
		before := s.stateHash()
		r := s.do(c.method, c.path, c.body, c.hdr)
		if r.status != c.status {
			t.Errorf("%s: %s, want %d", c.name, r, c.status)
		}
		validate(t, c.method, c.template, r)
		log.add(c.name, r)
		if s.stateHash() != before {
			t.Errorf("%s: a refused request changed the state", c.name)
		}
	}
	goldenBytes(t, "errors-surfaces.txt", log.b.Bytes())
}
