package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/bundles/nar/nartest"
)

// testNAR is a NAR as NiFi's NAR plugin lays it out, with two extensions
// (one providing a service API), a dependency and additional details.
func testNAR(version string, payload string) []byte {
	return nartest.Build(nartest.Spec{Group: "org.example", Artifact: "example-nar", Version: version,
		Dep: [3]string{"org.apache.nifi", "nifi-standard-services-api-nar", "2.7.2"}, SystemAPI: "2.7.2",
		Extensions: []nartest.Extension{
			{Name: "org.example.processors.GetThing", Type: "PROCESSOR", Description: "Gets things", Tags: []string{"get", "thing"}, Restricted: "reads files"},
			{Name: "org.example.services.ThingService", Type: "CONTROLLER_SERVICE", Tags: []string{"thing"},
				Provides: []string{"org.example.api.ThingAPI:org.example:thing-api-nar:1.0"}},
		},
		AdditionalDetails: map[string]string{"org.example.processors.GetThing": "# Getting things\n"},
		Payload:           []byte(payload)})
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// upload posts a bundle as NiFi's client does: multipart "file", and
// "sha256" when sha is not empty.
func (s *testServer) upload(bucket, bundleType string, content []byte, sha string) *reply {
	s.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "bundle.nar")
	fw.Write(content)
	if sha != "" {
		mw.WriteField("sha256", sha)
	}
	mw.Close()
	return s.do("POST", "/buckets/"+bucket+"/bundles/"+bundleType, &buf, map[string]string{"Content-Type": mw.FormDataContentType()})
}

func decode[T any](t *testing.T, r *reply) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

type bundleJSON struct {
	Identifier, Name, GroupID, ArtifactID, BundleType, BucketIdentifier, BucketName, Type string
	VersionCount                                                                          int64
}

type versionMetaJSON struct {
	ID, BundleID, BucketID, Version, SHA256, Author, SystemAPIVersion string
	GroupID, ArtifactID                                               *string
	SHA256Supplied                                                    bool
	ContentSize                                                       int64
	BuildInfo                                                         struct{ BuiltBy, BuildTool string }
}

type bundleVersionJSON struct {
	Bundle          bundleJSON
	VersionMetadata versionMetaJSON
	Dependencies    []struct{ GroupID, ArtifactID, Version string }
	Bucket          struct{ Identifier, Name string }
}

func TestBundlesThroughEveryEndpoint(t *testing.T) {
	s := startServer(t)
	sp := loadOpenAPI(t)
	if sp != nil {
		// NiFi's document lost the extension Bundle schema to a name
		// clash (its "Bundle" is a parameter provider's group, artifact
		// and version); the real one is a BucketItem with the bundle's
		// fields.
		item, _ := sp.schemas["BucketItem"].(map[string]any)
		props := map[string]any{}
		for k, v := range item["properties"].(map[string]any) {
			props[k] = v
		}
		for _, k := range []string{"artifactId", "bundleType", "groupId"} {
			props[k] = map[string]any{"type": "string"}
		}
		props["versionCount"] = map[string]any{"type": "integer"}
		sp.schemas["Bundle"] = map[string]any{"type": "object", "properties": props}
	}
	// get fetches a JSON answer and validates it against the operation's
	// schema in NiFi's OpenAPI document. Two answers are not validated:
	// the document says …/extensions/{name} is an array and the
	// repository's …/extensions a list of ExtensionMetadata, while NiFi's
	// resources answer one Extension and ExtensionRepoExtensionMetadata
	// (the source decides).
	get := func(path, tmpl string) *reply {
		t.Helper()
		r := s.expect("GET", path, nil, nil, 200)
		sp.validate(t, "GET", tmpl, r.body)
		return r
	}
	nars, other := s.createBucket("nars"), s.createBucket("other")
	v10, v11 := testNAR("1.0", "first build"), testNAR("1.1", "second build")

	r := s.expect("POST", "/buckets/"+nars+"/bundles/nifi-nar", nil, nil, 400) // no multipart body
	if string(r.body) != "Extension bundle input stream cannot be null" {
		t.Fatalf("no body: %s", r.body)
	}
	if r := s.upload(nars, "nifi-nar", v10, strings.Repeat("0", 64)); r.status != 409 ||
		string(r.body) != "The SHA-256 of the received extension bundle does not match the SHA-256 provided by the client" {
		t.Fatalf("wrong checksum: %d %s", r.status, r.body)
	}
	r = s.upload(nars, "nifi-nar", v10, strings.ToUpper(shaHex(v10)))
	if r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	sp.validate(t, "POST", "/buckets/{bucketId}/bundles/{bundleType}", r.body)
	created := decode[bundleVersionJSON](t, r)
	b, m := created.Bundle, created.VersionMetadata
	if b.Name != "org.example:example-nar" || b.GroupID != "org.example" || b.ArtifactID != "example-nar" || b.BundleType != "nifi-nar" ||
		b.Type != "Bundle" || b.VersionCount != 1 || b.BucketIdentifier != nars || b.BucketName != "nars" {
		t.Errorf("created bundle %+v", b)
	}
	if m.Version != "1.0" || m.SHA256 != shaHex(v10) || !m.SHA256Supplied || m.ContentSize != int64(len(v10)) || m.Author != "anonymous" ||
		m.SystemAPIVersion != "2.7.2" || m.BuildInfo.BuiltBy != "nifi-builder" || m.BuildInfo.BuildTool != "21.0.2" || m.GroupID != nil || m.BundleID != b.Identifier {
		t.Errorf("created version %+v", m)
	}
	if len(created.Dependencies) != 1 || created.Dependencies[0].ArtifactID != "nifi-standard-services-api-nar" || created.Bucket.Name != "nars" {
		t.Errorf("dependencies %+v, bucket %+v", created.Dependencies, created.Bucket)
	}
	id := b.Identifier

	if r := s.upload(nars, "nifi-nar", v10, ""); r.status != 409 || string(r.body) != "The specified version already exists for the given extension bundle" {
		t.Fatalf("same version again: %d %s", r.status, r.body)
	}
	if r := s.upload(nars, "nifi-nar", v11, ""); r.status != 200 || decode[bundleVersionJSON](t, r).VersionMetadata.SHA256Supplied {
		t.Fatalf("second version: %d %s", r.status, r.body)
	}
	// The same bytes in another bucket (stored once); other bytes under
	// the same coordinates are refused.
	if r := s.upload(other, "nifi-nar", v10, ""); r.status != 200 {
		t.Fatalf("same bundle in another bucket: %d %s", r.status, r.body)
	}
	if r := s.upload(other, "nifi-nar", testNAR("1.1", "rebuilt"), ""); r.status != 409 ||
		string(r.body) != "Found existing extension bundle with same group, artifact, and version, but different SHA-256 checksums" {
		t.Fatalf("same GAV, other bytes: %d %s", r.status, r.body)
	}

	// Lists.
	if bs := decode[[]bundleJSON](t, get("/buckets/"+nars+"/bundles", "/buckets/{bucketId}/bundles")); len(bs) != 1 || bs[0].VersionCount != 2 {
		t.Errorf("bucket bundles %+v", bs)
	}
	if bs := decode[[]bundleJSON](t, get("/bundles?groupId=org.%25&bucketName=nar%25", "/bundles")); len(bs) != 1 || bs[0].Identifier != id {
		t.Errorf("filtered bundles %+v", bs)
	}
	if bs := decode[[]bundleJSON](t, get("/bundles", "/bundles")); len(bs) != 2 || bs[0].BucketName != "nars" || bs[1].BucketName != "other" {
		t.Errorf("all bundles %+v", bs)
	}
	if vs := decode[[]versionMetaJSON](t, get("/bundles/versions?version=1.%25&artifactId=example-nar", "/bundles/versions")); len(vs) != 3 {
		t.Errorf("versions across buckets %+v", vs)
	}
	if vs := decode[[]versionMetaJSON](t, get("/bundles/"+id+"/versions", "/bundles/{bundleId}/versions")); len(vs) != 2 || vs[0].Version != "1.1" || vs[1].Version != "1.0" {
		t.Errorf("bundle versions %+v", vs)
	}
	if g := decode[bundleJSON](t, get("/bundles/"+id, "/bundles/{bundleId}")); g.Identifier != id || g.VersionCount != 2 {
		t.Errorf("bundle %+v", g)
	}
	got := decode[bundleVersionJSON](t, get("/bundles/"+id+"/versions/1.0", "/bundles/{bundleId}/versions/{version}"))
	if got.VersionMetadata.GroupID == nil || *got.VersionMetadata.GroupID != "org.example" || len(got.Dependencies) != 1 {
		t.Errorf("version %+v", got)
	}
	s.expect("GET", "/bundles/"+id+"/versions/9.9", nil, nil, 404)

	// Content, byte for byte, from both APIs.
	r = s.expect("GET", "/bundles/"+id+"/versions/1.0/content", nil, nil, 200)
	if !bytes.Equal(r.body, v10) || r.header.Get("Content-Disposition") != "attachment; filename = example-nar-1.0.nar" ||
		r.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("content: %d bytes, headers %v", len(r.body), r.header)
	}
	if r := s.expect("GET", "/extension-repository/nars/org.example/example-nar/1.1/content", nil, nil, 200); !bytes.Equal(r.body, v11) {
		t.Error("repository content differs")
	}

	// Extensions of a version, one, its docs and additional details.
	type extJSON struct {
		Name, DisplayName, Type string
		Tags                    []string
		HasAdditionalDetails    bool
		BundleInfo              struct{ BundleID, Version, BucketName string }
	}
	es := decode[[]extJSON](t, get("/bundles/"+id+"/versions/1.0/extensions", "/bundles/{bundleId}/versions/{version}/extensions"))
	if len(es) != 2 || es[0].DisplayName != "GetThing" || !es[0].HasAdditionalDetails || es[1].DisplayName != "ThingService" ||
		es[1].HasAdditionalDetails || es[0].BundleInfo.BundleID != id || es[0].BundleInfo.BucketName != "nars" {
		t.Errorf("extensions %+v", es)
	}
	const getThing = "org.example.processors.GetThing"
	if e := decode[extJSON](t, s.expect("GET", "/bundles/"+id+"/versions/1.0/extensions/"+getThing, nil, nil, 200)); e.Name != getThing || len(e.Tags) != 2 {
		t.Errorf("extension %+v", e)
	}
	if r := s.expect("GET", "/bundles/"+id+"/versions/1.0/extensions/"+getThing+"/docs", nil, nil, 200); !strings.Contains(string(r.body), "Gets things") ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("docs %s", r.body)
	}
	if r := s.expect("GET", "/bundles/"+id+"/versions/1.0/extensions/"+getThing+"/docs/additional-details", nil, nil, 200); string(r.body) != "# Getting things\n" {
		t.Errorf("additional details %q", r.body)
	}
	if r := s.expect("GET", "/bundles/"+id+"/versions/1.0/extensions/org.example.services.ThingService/docs/additional-details", nil, nil, 409); string(r.body) != "The specified extension does not have additional details." {
		t.Errorf("no additional details: %s", r.body)
	}
	s.expect("GET", "/bundles/"+id+"/versions/1.0/extensions/org.example.Nothing", nil, nil, 404)

	// Searches.
	type containerJSON struct {
		Extensions []extJSON
		NumResults int
	}
	if c := decode[containerJSON](t, get("/extensions?tag=thing", "/extensions")); c.NumResults != 2 {
		t.Errorf("by tag %+v", c)
	}
	// NiFi stores and searches tags trimmed and in lower case.
	if c := decode[containerJSON](t, get("/extensions?tag=%20THING%20&tag=none", "/extensions")); c.NumResults != 2 {
		t.Errorf("by a tag in another case %+v", c)
	}
	if c := decode[containerJSON](t, get("/extensions?extensionType=CONTROLLER_SERVICE&bundleType=nifi-nar", "/extensions")); c.NumResults != 1 || c.Extensions[0].Type != "CONTROLLER_SERVICE" {
		t.Errorf("by type %+v", c)
	}
	q := url.Values{"className": {"org.example.api.ThingAPI"}, "groupId": {"org.example"}, "artifactId": {"thing-api-nar"}, "version": {"1.0"}}
	if c := decode[containerJSON](t, get("/extensions/provided-service-api?"+q.Encode(), "/extensions/provided-service-api")); c.NumResults != 1 {
		t.Errorf("providing %+v", c)
	}
	type tagJSON struct {
		Tag   string
		Count int
	}
	// Three versions (two in nars, one in other): get 3 times, thing 6.
	if tags := decode[[]tagJSON](t, get("/extensions/tags", "/extensions/tags")); len(tags) != 2 || tags[0] != (tagJSON{"get", 3}) || tags[1] != (tagJSON{"thing", 6}) {
		t.Errorf("tags %+v", tags)
	}

	// The extension repository browse tree.
	if gs := decode[[]struct{ BucketName, GroupID string }](t, get("/extension-repository/nars", "/extension-repository/{bucketName}")); len(gs) != 1 || gs[0].GroupID != "org.example" {
		t.Errorf("groups %+v", gs)
	}
	if as := decode[[]struct{ ArtifactID string }](t, get("/extension-repository/nars/org.example", "/extension-repository/{bucketName}/{groupId}")); len(as) != 1 || as[0].ArtifactID != "example-nar" {
		t.Errorf("artifacts %+v", as)
	}
	if vs := decode[[]struct{ Version, Author string }](t, get("/extension-repository/nars/org.example/example-nar", "/extension-repository/{bucketName}/{groupId}/{artifactId}")); len(vs) != 2 || vs[0].Version != "1.0" {
		t.Errorf("repo versions %+v", vs)
	}
	rv := decode[struct {
		DownloadLink   struct{ Href string }
		SHA256Supplied bool
	}](t, get("/extension-repository/nars/org.example/example-nar/1.0", "/extension-repository/{bucketName}/{groupId}/{artifactId}/{version}"))
	if !strings.HasSuffix(rv.DownloadLink.Href, "/nifi-registry-api/extension-repository/nars/org.example/example-nar/1.0/content") || !rv.SHA256Supplied {
		t.Errorf("repo version %+v", rv)
	}
	if r := s.expect("GET", "/extension-repository/nars/org.example/example-nar/1.0/sha256", nil, nil, 200); string(r.body) != shaHex(v10) {
		t.Errorf("sha256 %s", r.body)
	}
	if r := s.expect("GET", "/extension-repository/org.example/example-nar/1.1/sha256", nil, nil, 200); string(r.body) != shaHex(v11) {
		t.Errorf("global sha256 %s", r.body)
	}
	if xs := decode[[]struct{ ExtensionMetadata extJSON }](t, s.expect("GET", "/extension-repository/nars/org.example/example-nar/1.0/extensions", nil, nil, 200)); len(xs) != 2 {
		t.Errorf("repo extensions %+v", xs)
	}
	get("/extension-repository/nars/org.example/example-nar/1.0/extensions/"+getThing, "/extension-repository/{bucketName}/{groupId}/{artifactId}/{version}/extensions/{name}")
	if r := s.expect("GET", "/extension-repository/nars/org.example/example-nar/2.0", nil, nil, 404); string(r.body) != "The specified extension bundle version does not exist in this bucket." {
		t.Errorf("unknown repo version: %s", r.body)
	}

	// Deletes: a version, the bundle, and a bucket with its bundles.
	s.expect("DELETE", "/bundles/"+id+"/versions/1.0", nil, nil, 200)
	s.expect("GET", "/bundles/"+id+"/versions/1.0", nil, nil, 404)
	if r := s.expect("GET", "/bundles/"+id, nil, nil, 200); decode[bundleJSON](t, r).VersionCount != 1 {
		t.Errorf("after deleting a version: %s", r.body)
	}
	s.expect("DELETE", "/bundles/"+id, nil, nil, 200)
	s.expect("GET", "/bundles/"+id, nil, nil, 404)
	s.expect("DELETE", "/buckets/"+other, nil, nil, 200)
	if bs := decode[[]bundleJSON](t, s.expect("GET", "/bundles", nil, nil, 200)); len(bs) != 0 {
		t.Errorf("bundles left %+v", bs)
	}
}
