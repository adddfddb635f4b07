package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/api"
	"github.com/weir-nifi/weir/internal/daemon"
	"github.com/weir-nifi/weir/internal/model"
)

// These tests run a real single-node Weir server and check every surface
// endpoint's status, Content-Type and exact body against what an unsecured
// NiFi Registry 2.x without bundles answers, and every JSON body against
// the NiFi Registry OpenAPI document when it is available.

const (
	msgNonManaged    = "This NiFi Registry is not configured to internally manage users, groups, or policies. Please contact your system administrator."
	msgNonConfigUser = "This NiFi Registry is not configured to allow configurable users and groups. Please contact your system administrator."
	msgTokensHTTPS   = "Access tokens are only issued over HTTPS"
	msgAuthHTTPS     = "User authentication/authorization is only supported when running over HTTPS."
	msgLogoutHTTPS   = "User logout is only supported when running over HTTPS."
	msgBundleID      = "The specified extension bundle ID does not exist."
	msgBucketName    = "The specified bucket name does not exist in this registry."
	msgNotInBucket   = "The specified extension bundle does not exist in this bucket."
	msgGAV           = "An extension bundle version does not exist with the specific group, artifact, and version"

	allPerms    = `{"canDelete":true,"canRead":true,"canWrite":true}`
	currentUser = `{"anonymous":true,"identity":"anonymous","loginSupported":false,"oidcloginSupported":false,` +
		`"resourcePermissions":{"anyTopLevelResource":` + allPerms + `,"buckets":` + allPerms + `,"policies":` + allPerms +
		`,"proxy":` + allPerms + `,"tenants":` + allPerms + `}}`
	topResources = `{"identifier":"/policies","name":"Access Policies"},{"identifier":"/tenants","name":"Tenants"},` +
		`{"identifier":"/proxy","name":"Proxy User Requests"},{"identifier":"/actuator","name":"Actuator"},` +
		`{"identifier":"/swagger","name":"Swagger"},{"identifier":"/buckets","name":"Buckets"}`
)

type testServer struct {
	t    *testing.T
	base string // http://host:port
	hc   *http.Client
}

// startServer starts a node on loopback ports and returns once it has
// elected itself and applied a write, with no bucket left behind.
func startServer(t *testing.T) *testServer {
	t.Helper()
	d, err := daemon.Start(daemon.Config{
		Listen:     "127.0.0.1:0",
		RaftListen: "127.0.0.1:0",
		DataDir:    t.TempDir(),
		ClusterKey: "0123456789abcdef0123",
		// The link tests send the Host a proxy in front of NiFi would.
		AllowedHosts: []string{"registry.example"},
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("daemon.Start: %v", err)
	}
	s := &testServer{t: t, base: "http://" + d.Addr(), hc: &http.Client{Timeout: 2 * time.Minute}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		if r, err := s.try("GET", "/about", nil, nil); err == nil && r.status == 200 {
			if r, err := s.try("POST", "/buckets", strings.NewReader(`{"name":"leader-probe"}`),
				map[string]string{"Content-Type": "application/json"}); err == nil && (r.status == 200 || r.status == 409) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no leader after 90s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, b := range s.buckets() {
		if b.Name == "leader-probe" {
			s.expect("DELETE", "/buckets/"+b.Identifier, nil, nil, 200)
		}
	}
	return s
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (s *testServer) try(method, path string, body io.Reader, hdr map[string]string) (*reply, error) {
	req, err := http.NewRequest(method, s.base+api.Base+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func (s *testServer) do(method, path string, body io.Reader, hdr map[string]string) *reply {
	s.t.Helper()
	r, err := s.try(method, path, body, hdr)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (s *testServer) expect(method, path string, body io.Reader, hdr map[string]string, status int) *reply {
	s.t.Helper()
	r := s.do(method, path, body, hdr)
	if r.status != status {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, status, r.body)
	}
	return r
}

type bucketInfo struct {
	Identifier string `json:"identifier"`
	Name       string `json:"name"`
}

func (s *testServer) buckets() []bucketInfo {
	s.t.Helper()
	var bs []bucketInfo
	if err := json.Unmarshal(s.expect("GET", "/buckets", nil, nil, 200).body, &bs); err != nil {
		s.t.Fatal(err)
	}
	return bs
}

func (s *testServer) createBucket(name string) string {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name})
	var b bucketInfo
	r := s.expect("POST", "/buckets", bytes.NewReader(body), map[string]string{"Content-Type": "application/json"}, 200)
	if err := json.Unmarshal(r.body, &b); err != nil {
		s.t.Fatal(err)
	}
	return b.Identifier
}

// surfaceCase is one request and NiFi's exact answer to it. tmpl is the
// OpenAPI path template the JSON body is validated against.
type surfaceCase struct {
	method, path, tmpl string
	body               string
	multipart          map[string]string // form fields instead of body
	hdr                map[string]string
	status             int
	want               string // exact body
	wantPrefix         bool   // want is a prefix of the body (messages of shared decoding)
}

func (c surfaceCase) run(t *testing.T, s *testServer, sp *openAPI) {
	t.Helper()
	var body io.Reader
	hdr := map[string]string{}
	for k, v := range c.hdr {
		hdr[k] = v
	}
	switch {
	case c.multipart != nil:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		keys := make([]string, 0, len(c.multipart))
		for k := range c.multipart {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "file" {
				fw, _ := mw.CreateFormFile("file", "bundle.nar")
				_, _ = fw.Write([]byte(c.multipart[k]))
			} else {
				_ = mw.WriteField(k, c.multipart[k])
			}
		}
		_ = mw.Close()
		body = &buf
		hdr["Content-Type"] = mw.FormDataContentType()
	case c.body != "":
		body = strings.NewReader(c.body)
		hdr["Content-Type"] = "application/json"
	}
	r := s.do(c.method, c.path, body, hdr)
	name := c.method + " " + c.path
	if r.status != c.status {
		t.Errorf("%s: status %d, want %d (body %q)", name, r.status, c.status, r.body)
	}
	if c.wantPrefix {
		if !strings.HasPrefix(string(r.body), c.want) {
			t.Errorf("%s: body %q, want prefix %q", name, r.body, c.want)
		}
	} else if string(r.body) != c.want {
		t.Errorf("%s: body\n got %s\nwant %s", name, r.body, c.want)
	}
	ct := r.header.Get("Content-Type")
	if c.status == 200 {
		if ct != "application/json" {
			t.Errorf("%s: Content-Type %q, want application/json", name, ct)
		}
		sp.validate(t, c.method, c.tmpl, r.body)
	} else if ct != "text/plain" {
		t.Errorf("%s: Content-Type %q, want text/plain", name, ct)
	}
}

func conflict(method, path, msg string) surfaceCase {
	return surfaceCase{method: method, path: path, status: 409, want: msg}
}

// TestSurfacesEmptyRegistry covers every surface endpoint of a registry
// without buckets.
func TestSurfacesEmptyRegistry(t *testing.T) {
	s := startServer(t)
	sp := loadOpenAPI(t)
	file := map[string]string{"file": "PK\x03\x04 not really a nar"}
	cases := []surfaceCase{
		// AccessResource.
		{method: "GET", path: "/access", tmpl: "/access", status: 200, want: currentUser},
		conflict("POST", "/access/token", msgTokensHTTPS),
		{method: "POST", path: "/access/token/login", hdr: map[string]string{"Authorization": "Basic YWxpY2U6c2VjcmV0"},
			status: 409, want: msgTokensHTTPS},
		conflict("POST", "/access/token/kerberos", msgTokensHTTPS),
		conflict("POST", "/access/token/identity-provider", msgTokensHTTPS),
		conflict("POST", "/access/token/identity-provider/test", msgTokensHTTPS),
		conflict("GET", "/access/token/identity-provider/usage", "Custom login not supported by this NiFi Registry"),
		conflict("DELETE", "/access/logout", msgAuthHTTPS),
		conflict("GET", "/access/logout/complete", msgLogoutHTTPS),
		conflict("GET", "/access/oidc/request", msgAuthHTTPS),
		conflict("GET", "/access/oidc/callback?code=c&state=s", msgAuthHTTPS),
		conflict("POST", "/access/oidc/exchange", msgAuthHTTPS),
		conflict("GET", "/access/oidc/logout", msgAuthHTTPS),
		conflict("GET", "/access/oidc/logout/callback", msgLogoutHTTPS),

		// TenantResource: users.
		conflict("GET", "/tenants/users", msgNonManaged),
		conflict("GET", "/tenants/users/u1", msgNonManaged),
		{method: "POST", path: "/tenants/users", body: `{"identity":"alice","revision":{"version":0}}`, status: 409, want: msgNonConfigUser},
		conflict("POST", "/tenants/users", msgNonConfigUser), // a null body reaches the facade
		{method: "POST", path: "/tenants/users", body: `{"identity":`, status: 400, want: "Unable to ", wantPrefix: true},
		{method: "POST", path: "/policies", body: `{"users":"alice"}`, status: 400, want: "Unable to ", wantPrefix: true},
		{method: "PUT", path: "/tenants/users/u1", status: 400, want: "User details must be specified when updating a user."},
		{method: "PUT", path: "/tenants/users/u1", body: `{"identity":"alice"}`, status: 400,
			want: "The user id in the request body (null) does not equal the user id of the requested resource (u1)."},
		{method: "PUT", path: "/tenants/users/u1", body: `{"identifier":"u2"}`, status: 400,
			want: "The user id in the request body (u2) does not equal the user id of the requested resource (u1)."},
		{method: "PUT", path: "/tenants/users/u1", body: `{"identifier":"u1","identity":"alice"}`, status: 409, want: msgNonConfigUser},
		{method: "DELETE", path: "/tenants/users/u1?version=x", status: 400, want: "Invalid value for version"},
		conflict("DELETE", "/tenants/users/u1?version=0&clientId=c", msgNonConfigUser),

		// TenantResource: user groups.
		conflict("GET", "/tenants/user-groups", msgNonManaged),
		conflict("GET", "/tenants/user-groups/g1", msgNonManaged),
		{method: "POST", path: "/tenants/user-groups", body: `{"identity":"admins","users":[{"identifier":"u1"}]}`, status: 409, want: msgNonConfigUser},
		{method: "PUT", path: "/tenants/user-groups/g1", status: 400, want: "User group details must be specified to update a user group."},
		{method: "PUT", path: "/tenants/user-groups/g1", body: `{"identifier":"g2"}`, status: 400,
			want: "The user group id in the request body (g2) does not equal the user group id of the requested resource (g1)."},
		{method: "PUT", path: "/tenants/user-groups/g1", body: `{"identifier":"g1"}`, status: 409, want: msgNonConfigUser},
		conflict("DELETE", "/tenants/user-groups/g1", msgNonConfigUser),

		// AccessPolicyResource.
		conflict("GET", "/policies", msgNonManaged),
		conflict("GET", "/policies/p1", msgNonManaged),
		{method: "POST", path: "/policies", body: `{"action":"read","resource":"/buckets"}`, status: 409, want: msgNonManaged},
		conflict("GET", "/policies/read/buckets", msgNonManaged),
		conflict("GET", "/policies/DELETE/buckets/b1/x", msgNonManaged),
		{method: "GET", path: "/policies/fly/buckets", status: 400, want: "Action 'fly' is invalid. Must be one of [read, write, delete]"},
		{method: "PUT", path: "/policies/p1", status: 400, want: "Access policy details must be specified when updating a policy."},
		{method: "PUT", path: "/policies/p1", body: `{"action":"read"}`, status: 400,
			want: "The policy id in the request body (null) does not equal the policy id of the requested resource (p1)."},
		{method: "PUT", path: "/policies/p1", body: `{"identifier":"p1"}`, status: 409, want: msgNonManaged},
		{method: "DELETE", path: "/policies/p1?version=1.5", status: 400, want: "Invalid value for version"},
		conflict("DELETE", "/policies/p1?version=3", msgNonManaged),
		{method: "GET", path: "/policies/resources", tmpl: "/policies/resources", status: 200, want: "[" + topResources + "]"},

		// BucketBundleResource and BundleResource.
		{method: "GET", path: "/buckets/nope/bundles", status: 404, want: model.MsgBucketNotFound},
		{method: "GET", path: "/buckets/%20/bundles", status: 400, want: "Unable to authorize access because bucket identifier is null or blank"},
		{method: "POST", path: "/buckets/%0D/bundles/nifi-nar", status: 400, want: "Unable to authorize access because bucket identifier is null or blank"},
		{method: "POST", path: "/buckets/nope/bundles/nifi-nar", multipart: file, status: 404, want: model.MsgBucketNotFound},
		{method: "POST", path: "/buckets/nope/bundles/nifi-nar", multipart: map[string]string{"sha256": "00"}, status: 400,
			want: "Extension bundle input stream cannot be null"},
		{method: "POST", path: "/buckets/nope/bundles/NIFI_NAR", multipart: file, status: 400, want: "Invalid bundle type 'NIFI_NAR': expected one of nifi-nar, minifi-cpp"},
		{method: "GET", path: "/bundles", tmpl: "/bundles", status: 200, want: "[]"},
		{method: "GET", path: "/bundles?bucketName=My%25&groupId=com.%25", tmpl: "/bundles", status: 200, want: "[]"},
		{method: "GET", path: "/bundles/versions?version=1.0.%25", tmpl: "/bundles/versions", status: 200, want: "[]"},
		{method: "GET", path: "/bundles/b1", status: 404, want: msgBundleID},
		{method: "GET", path: "/bundles/%20%09", status: 400, want: "Bundle identifier cannot be null or blank"},
		{method: "DELETE", path: "/bundles/b1", status: 404, want: msgBundleID},
		{method: "GET", path: "/bundles/b1/versions", status: 404, want: msgBundleID},
		{method: "GET", path: "/bundles/b1/versions/1.0", status: 404, want: msgBundleID},
		{method: "DELETE", path: "/bundles/b1/versions/1.0", status: 404, want: msgBundleID},
		{method: "GET", path: "/bundles/b1/versions/1.0/content", status: 404, want: msgBundleID},
		{method: "GET", path: "/bundles/b1/versions/1.0/extensions", status: 404, want: msgBundleID},
		{method: "GET", path: "/bundles/b1/versions/1.0/extensions/org.X", status: 404, want: msgBundleID},
		{method: "GET", path: "/bundles/b1/versions/1.0/extensions/org.X/docs", status: 404, want: msgBundleID},
		{method: "GET", path: "/bundles/b1/versions/1.0/extensions/org.X/docs/additional-details", status: 404, want: msgBundleID},

		// ExtensionRepoResource.
		{method: "GET", path: "/extension-repository", tmpl: "/extension-repository", status: 200, want: "[]"},
		{method: "GET", path: "/extension-repository/nope", status: 404, want: msgBucketName},
		{method: "GET", path: "/extension-repository/nope/g", status: 404, want: msgBucketName},
		{method: "GET", path: "/extension-repository/nope/g/a", status: 404, want: msgBucketName},
		{method: "GET", path: "/extension-repository/nope/g/a/1.0", status: 404, want: msgBucketName},
		{method: "GET", path: "/extension-repository/nope/g/a/1.0/content", status: 404, want: msgBucketName},
		{method: "GET", path: "/extension-repository/nope/g/a/1.0/extensions/n/docs/additional-details", status: 404, want: msgBucketName},
		{method: "GET", path: "/extension-repository/g/a/1.0/sha256", status: 404, want: msgGAV},
		{method: "GET", path: "/extension-repository/%20/a/1.0/sha256", status: 400, want: "Group id cannot be null or blank"},
		{method: "GET", path: "/extension-repository/g/%E2%80%83/1.0/sha256", status: 400, want: "Artifact id cannot be null or blank"},
		// U+00A0 is no whitespace for Java.
		{method: "GET", path: "/extension-repository/g/a/%C2%A0/sha256", status: 404, want: msgGAV},

		// ExtensionResource.
		{method: "GET", path: "/extensions", tmpl: "/extensions", status: 200,
			want: `{"extensions":[],"filterParams":{"tags":[]},"numResults":0}`},
		{method: "GET", path: "/extensions?bundleType=nifi-nar&extensionType=PROCESSOR&tag=json&tag=csv&tag=json",
			tmpl: "/extensions", status: 200,
			want: `{"extensions":[],"filterParams":{"bundleType":"nifi-nar","extensionType":"PROCESSOR","tags":["csv","json"]},"numResults":0}`},
		{method: "GET", path: "/extensions?bundleType=&extensionType=&tag=", tmpl: "/extensions", status: 200,
			want: `{"extensions":[],"filterParams":{"tags":[""]},"numResults":0}`},
		{method: "GET", path: "/extensions?bundleType=NIFI_NAR&extensionType=nope", status: 400, want: "Invalid value for bundleType"},
		{method: "GET", path: "/extensions?bundleType=minifi-cpp&extensionType=processor", status: 400, want: "Invalid value for extensionType"},
		{method: "GET", path: "/extensions/provided-service-api", tmpl: "/extensions/provided-service-api", status: 200,
			want: `{"extensions":[],"numResults":0}`},
		{method: "GET", path: "/extensions/tags", tmpl: "/extensions/tags", status: 200, want: "[]"},
	}
	for _, c := range cases {
		c.run(t, s, sp)
	}
	if bs := s.buckets(); len(bs) != 0 {
		t.Errorf("surface requests changed the registry: buckets %+v", bs)
	}
}

// TestSurfacesWithBuckets covers the answers that depend on buckets:
// resources, the extension repository tree with its absolute links,
// bucket-scoped bundle listings and uploads.
func TestSurfacesWithBuckets(t *testing.T) {
	s := startServer(t)
	sp := loadOpenAPI(t)
	// Created out of order: both lists are sorted by name in Java's order.
	names := []string{"ünï", "beta", "x/y%zz", "Alpha Bucket"}
	ids := map[string]string{}
	for _, n := range names {
		ids[n] = s.createBucket(n)
	}
	sorted := []string{"Alpha Bucket", "beta", "x/y%zz", "ünï"}
	encoded := map[string]string{"Alpha Bucket": "Alpha%20Bucket", "beta": "beta", "x/y%zz": "x/y%25zz", "ünï": "%C3%BCn%C3%AF"}

	var res, repo, proxied []string
	for _, n := range sorted {
		res = append(res, fmt.Sprintf(`{"identifier":"/buckets/%s","name":%q}`, ids[n], n))
		repo = append(repo, fmt.Sprintf(`{"bucketName":%q,"link":{"href":"%s/nifi-registry-api/extension-repository/%s","params":{"rel":"self"}}}`,
			n, s.base, encoded[n]))
		proxied = append(proxied, fmt.Sprintf(`{"bucketName":%q,"link":{"href":"https://proxy.example:8443/gw/nifi-registry-api/extension-repository/%s","params":{"rel":"self"}}}`,
			n, encoded[n]))
	}
	beta := ids["beta"]
	file := map[string]string{"sha256": "abc", "file": "PK\x03\x04"}
	cases := []surfaceCase{
		{method: "GET", path: "/policies/resources", tmpl: "/policies/resources", status: 200,
			want: "[" + topResources + "," + strings.Join(res, ",") + "]"},
		{method: "GET", path: "/extension-repository", tmpl: "/extension-repository", status: 200, want: "[" + strings.Join(repo, ",") + "]"},
		{method: "GET", path: "/extension-repository", tmpl: "/extension-repository", status: 200,
			hdr: map[string]string{"X-ProxyScheme": "https", "X-ProxyHost": "proxy.example", "X-ProxyPort": "8443",
				"X-ProxyContextPath": "gw/", "X-Forwarded-Proto": "ftp"},
			want: "[" + strings.Join(proxied, ",") + "]"},
		// Jetty leaves a default port out of the base URI.
		{method: "GET", path: "/extension-repository", tmpl: "/extension-repository", status: 200,
			hdr:  map[string]string{"Host": "registry.example:80", "X-Forwarded-Context": "/ctx"},
			want: strings.ReplaceAll("["+strings.Join(repo, ",")+"]", s.base+"/", "http://registry.example/ctx/")},

		{method: "GET", path: "/buckets/" + beta + "/bundles", tmpl: "/buckets/{bucketId}/bundles", status: 200, want: "[]"},
		{method: "POST", path: "/buckets/" + beta + "/bundles/nifi-nar", multipart: file, status: 409,
			want: "The SHA-256 of the received extension bundle does not match the SHA-256 provided by the client"},
		{method: "POST", path: "/buckets/" + beta + "/bundles/minifi-cpp", multipart: map[string]string{"file": ""}, status: 400,
			want: "Minifi CPP extensions are not yet supported"},
		{method: "POST", path: "/buckets/" + beta + "/bundles/nifi-nar", body: `{"not":"multipart"}`, status: 400,
			want: "Extension bundle input stream cannot be null"},
		{method: "POST", path: "/buckets/" + beta + "/bundles/jar", multipart: file, status: 400, want: "Invalid bundle type 'jar': expected one of nifi-nar, minifi-cpp"},
		{method: "GET", path: "/bundles", tmpl: "/bundles", status: 200, want: "[]"},

		{method: "GET", path: "/extension-repository/beta", tmpl: "/extension-repository/{bucketName}", status: 200, want: "[]"},
		{method: "GET", path: "/extension-repository/Alpha%20Bucket", tmpl: "/extension-repository/{bucketName}", status: 200, want: "[]"},
		{method: "GET", path: "/extension-repository/BETA", status: 404, want: msgBucketName},
		{method: "GET", path: "/extension-repository/beta/org.apache.nifi", tmpl: "/extension-repository/{bucketName}/{groupId}",
			status: 200, want: "[]"},
		{method: "GET", path: "/extension-repository/beta/%20", status: 400, want: "Group id cannot be null or blank"},
		{method: "GET", path: "/extension-repository/beta/org.apache.nifi/nifi-x-nar",
			tmpl: "/extension-repository/{bucketName}/{groupId}/{artifactId}", status: 200, want: "[]"},
		{method: "GET", path: "/extension-repository/beta/g/%0A", status: 400, want: "Artifact id cannot be null or blank"},
		{method: "GET", path: "/extension-repository/beta/g/a/1.0", status: 404, want: msgNotInBucket},
		{method: "GET", path: "/extension-repository/beta/g/a/%09", status: 400, want: "Version cannot be null or blank"},
		{method: "GET", path: "/extension-repository/beta/g/a/1.0/content", status: 404, want: msgNotInBucket},
		{method: "GET", path: "/extension-repository/beta/g/a/1.0/sha256", status: 404, want: msgNotInBucket},
		{method: "GET", path: "/extension-repository/beta/g/a/1.0/extensions", status: 404, want: msgNotInBucket},
		{method: "GET", path: "/extension-repository/beta/g/a/1.0/extensions/org.X", status: 404, want: msgNotInBucket},
		{method: "GET", path: "/extension-repository/beta/g/a/1.0/extensions/org.X/docs", status: 404, want: msgNotInBucket},
		{method: "GET", path: "/extension-repository/beta/g/a/1.0/extensions/org.X/docs/additional-details", status: 404, want: msgNotInBucket},
		// Four segments ending in sha256 are the global checksum, as in Jersey.
		{method: "GET", path: "/extension-repository/beta/g/a/sha256", status: 404, want: msgGAV},

		{method: "GET", path: "/extensions/provided-service-api?className=org.Svc&groupId=g&artifactId=a", status: 400,
			want: "Provided service API must be specified with a class, group, artifact, and version"},
		{method: "GET", path: "/extensions/provided-service-api?className=org.Svc&groupId=g&artifactId=a&version=1.0",
			tmpl: "/extensions/provided-service-api", status: 200, want: `{"extensions":[],"numResults":0}`},
	}
	for _, c := range cases {
		c.run(t, s, sp)
	}
	if got := len(s.buckets()); got != len(names) {
		t.Errorf("surface requests changed the registry: %d buckets, want %d", got, len(names))
	}
}

// TestSurfacesTagOrder checks the echoed tag filter against the order a
// real JVM (JDK 21/25, same HashSet code) produced for the same query
// values: Builder.addAll into a HashSet, copied by new HashSet<>(set).
func TestSurfacesTagOrder(t *testing.T) {
	s := startServer(t)
	for _, tc := range []struct{ in, want []string }{
		{[]string{"b", "a"}, []string{"a", "b"}},
		{[]string{"processor", "json", "record", "csv", "avro", "sql", "put", "get", "fetch", "kafka", "http", "mqtt", "s3", "azure", "gcp", "ssl"},
			[]string{"s3", "csv", "processor", "ssl", "put", "sql", "gcp", "record", "get", "fetch", "kafka", "mqtt", "json", "http", "avro", "azure"}},
		{[]string{"Aa", "BB", "x", "Aa"}, []string{"Aa", "BB", "x"}},
		{[]string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11", "t12", "t13", "t14", "t15", "t16",
			"t17", "t18", "t19", "t20", "t21", "t22", "t23", "t24", "t25"},
			[]string{"t4", "t5", "t6", "t7", "t8", "t9", "t10", "t12", "t11", "t14", "t13", "t16", "t15", "t18", "t17", "t19",
				"t21", "t20", "t23", "t22", "t25", "t24", "t0", "t1", "t2", "t3"}},
		// Ten tags with one hash code: the ninth and tenth resize the table.
		{[]string{"BBBBBBBB", "BBBBBBAa", "BBBBAaBB", "BBBBAaAa", "BBAaBBBB", "BBAaBBAa", "BBAaAaBB", "BBAaAaAa", "AaBBBBBB", "AaBBBBAa"},
			[]string{"BBBBBBBB", "BBBBBBAa", "BBBBAaBB", "BBBBAaAa", "BBAaBBBB", "BBAaBBAa", "BBAaAaBB", "BBAaAaAa", "AaBBBBBB", "AaBBBBAa"}},
		{[]string{"", "é", "日本", "😀", "z"}, []string{"", "😀", "é", "z", "日本"}},
	} {
		q := url.Values{"tag": tc.in}
		r := s.expect("GET", "/extensions?"+q.Encode(), nil, nil, 200)
		var got struct {
			FilterParams struct {
				Tags []string `json:"tags"`
			} `json:"filterParams"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got.FilterParams.Tags, "|") != strings.Join(tc.want, "|") {
			t.Errorf("tags %q: got %q, want %q", tc.in, got.FilterParams.Tags, tc.want)
		}
	}
}

// TestSurfacesMethodNotAllowed checks that known surface paths keep Weir's
// 405 answer for other methods.
func TestSurfacesMethodNotAllowed(t *testing.T) {
	s := startServer(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"PUT", "/access", "GET"},
		{"GET", "/access/token", "POST"},
		{"GET", "/buckets/b1/bundles/nifi-nar", "POST"},
		{"POST", "/extension-repository", "GET"},
		{"PATCH", "/tenants/users/u1", "DELETE"},
		{"POST", "/policies/resources", "GET"},
		{"PUT", "/bundles/b1", "GET"},
	} {
		r := s.do(tc.method, tc.path, nil, nil)
		if r.status != 405 || string(r.body) != "HTTP 405 Method Not Allowed" || r.header.Get("Content-Type") != "text/plain" {
			t.Errorf("%s %s: %d %q %q", tc.method, tc.path, r.status, r.header.Get("Content-Type"), r.body)
		}
		if !strings.Contains(r.header.Get("Allow"), tc.allow) {
			t.Errorf("%s %s: Allow %q lacks %s", tc.method, tc.path, r.header.Get("Allow"), tc.allow)
		}
	}
}

// TestSurfacesSpecCoverage sends every operation of the NiFi Registry
// OpenAPI document (with made-up ids) and checks that Weir routes it: no
// answer is the unrouted 404 or a 405.
func TestSurfacesSpecCoverage(t *testing.T) {
	sp := loadOpenAPI(t)
	if sp == nil {
		t.Skip("NiFi Registry OpenAPI document not available")
	}
	s := startServer(t)
	param := regexp.MustCompile(`\{[^}]+\}`)
	fill := map[string]string{"{versionNumber}": "1", "{versionA}": "1", "{versionB}": "2", "{bundleType}": "nifi-nar",
		"{action}": "read", "{resource}": "buckets/b0"}
	var ops []string
	for p, item := range sp.paths {
		for m := range item {
			switch m {
			case "get", "put", "post", "delete":
				ops = append(ops, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(ops)
	for _, op := range ops {
		method, tmpl, _ := strings.Cut(op, " ")
		path := param.ReplaceAllStringFunc(tmpl, func(p string) string {
			if v, ok := fill[p]; ok {
				return v
			}
			return "x0"
		})
		r := s.do(method, path, nil, nil)
		if r.status == 405 || (r.status == 404 && string(r.body) == "HTTP 404 Not Found") {
			t.Errorf("%s (%s %s) is not routed: %d %s", op, method, path, r.status, r.body)
		}
	}
	if len(ops) < 80 {
		t.Errorf("only %d operations in the OpenAPI document", len(ops))
	}
}

// ---- a small OpenAPI body validator (types, enums, declared properties)

type openAPI struct {
	paths   map[string]map[string]any
	schemas map[string]any
}

func loadOpenAPI(t *testing.T) *openAPI {
	t.Helper()
	path := os.Getenv("WEIR_REGISTRY_OPENAPI")
	if path == "" {
		path = "/work/shared/reference/nifi-registry-openapi-2.7.2.json"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("OpenAPI document not available (%v): bodies are not validated against it", err)
		return nil
	}
	var doc struct {
		Paths      map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	return &openAPI{paths: doc.Paths, schemas: doc.Components.Schemas}
}

// validate checks a 200 JSON body against the operation's response schema.
func (sp *openAPI) validate(t *testing.T, method, tmpl string, body []byte) {
	t.Helper()
	if sp == nil {
		return
	}
	op, _ := sp.paths[tmpl][strings.ToLower(method)].(map[string]any)
	schema := dig(op, "responses", "200", "content", "application/json", "schema")
	if schema == nil {
		t.Errorf("%s %s: no 200 application/json schema in the OpenAPI document", method, tmpl)
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s %s: body is not JSON: %v", method, tmpl, err)
		return
	}
	for _, e := range sp.check(schema, v, "$", "") {
		t.Errorf("%s %s: %s", method, tmpl, e)
	}
}

func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m
}

func (sp *openAPI) check(schema map[string]any, v any, where, name string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		name = strings.TrimPrefix(ref, "#/components/schemas/")
		s, _ := sp.schemas[name].(map[string]any)
		if s == nil {
			return []string{where + ": unknown schema " + ref}
		}
		return sp.check(s, v, where, name)
	}
	if v == nil {
		return []string{where + ": null (NiFi omits null fields)"}
	}
	typ, _ := schema["type"].(string)
	if typ == "" && schema["properties"] != nil {
		typ = "object"
	}
	var errs []string
	switch typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %T, want object", where, v)}
		}
		props, _ := schema["properties"].(map[string]any)
		extra, _ := schema["additionalProperties"].(map[string]any)
		for k, fv := range m {
			switch ps, ok := props[k].(map[string]any); {
			case ok:
				errs = append(errs, sp.check(ps, fv, where+"."+k, "")...)
			case extra != nil:
				errs = append(errs, sp.check(extra, fv, where+"."+k, "")...)
			case name == "Link" && k == "href":
				// NiFi sends JAXB links {href, params}; the document
				// describes the JAX-RS Link class instead.
			case props == nil:
			default:
				errs = append(errs, where+": property "+k+" is not in schema "+name)
			}
		}
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if _, ok := m[r.(string)]; !ok {
					errs = append(errs, where+": required property "+r.(string)+" missing")
				}
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %T, want array", where, v)}
		}
		items, _ := schema["items"].(map[string]any)
		seen := map[string]bool{}
		for i, e := range arr {
			if items != nil {
				errs = append(errs, sp.check(items, e, fmt.Sprintf("%s[%d]", where, i), "")...)
			}
			if schema["uniqueItems"] == true {
				b, _ := json.Marshal(e)
				if seen[string(b)] {
					errs = append(errs, fmt.Sprintf("%s[%d]: duplicate in a set", where, i))
				}
				seen[string(b)] = true
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: %T, want string", where, v)}
		}
		if enum, ok := schema["enum"].([]any); ok {
			found := false
			for _, e := range enum {
				found = found || e == s
			}
			// NiFi's document lists enum constant names where the JAXB
			// adapter sends the bundle type's display name.
			if !found && !(strings.HasSuffix(where, ".bundleType") && (s == "nifi-nar" || s == "minifi-cpp")) {
				errs = append(errs, fmt.Sprintf("%s: %q not in %v", where, s, enum))
			}
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return []string{fmt.Sprintf("%s: %v, want integer", where, v)}
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return []string{fmt.Sprintf("%s: %v, want number", where, v)}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return []string{fmt.Sprintf("%s: %v, want boolean", where, v)}
		}
	}
	return errs
}
