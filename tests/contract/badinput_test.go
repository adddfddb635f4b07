package contract

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/daemon"
)

// badCase is one refused request: what Weir must answer and, where NiFi
// answers differently, what NiFi answers and the Java source that decides
// it. A case with nifi set is a known divergence (listed in the report);
// the test pins Weir's current answer so a change is noticed either way.
type badCase struct {
	name   string
	method string
	path   string
	body   []byte
	hdr    http.Header
	status int
	// msg is the exact text/plain message. Empty for Jackson's parser
	// messages, which Weir cannot reproduce; those are pinned by the
	// golden file only.
	msg  string
	nifi *nifiAnswer
}

// nifiAnswer is NiFi Registry's answer where it differs from Weir's.
type nifiAnswer struct {
	status int
	msg    string
	src    string
}

// fixture is the registry the bad requests are sent to: two buckets, a
// flow with versions 1 and 2, a flow without versions, and a flow in the
// other bucket.
type fixture struct {
	b, b2     string // "Bad Bucket", "Other Bucket"
	f, e, g   string // flows: "Bad Flow" (v1, v2), "Empty Flow", "Other Flow" in b2
	fp, ep    string // API paths of f and e
	normalise *normaliser
}

func setupFixture(t *testing.T, s *server) *fixture {
	t.Helper()
	x := &fixture{normalise: newNormaliser()}
	x.b = str(obj(t, s.expect(s.do("POST", "/buckets", []byte(`{"name":"Bad Bucket"}`), nil), 200).body), "identifier")
	x.b2 = str(obj(t, s.expect(s.do("POST", "/buckets", []byte(`{"name":"Other Bucket"}`), nil), 200).body), "identifier")
	x.f = str(obj(t, s.expect(s.do("POST", "/buckets/"+x.b+"/flows", []byte(`{"name":"Bad Flow"}`), nil), 200).body), "identifier")
	x.e = str(obj(t, s.expect(s.do("POST", "/buckets/"+x.b+"/flows", []byte(`{"name":"Empty Flow"}`), nil), 200).body), "identifier")
	x.g = str(obj(t, s.expect(s.do("POST", "/buckets/"+x.b2+"/flows", []byte(`{"name":"Other Flow"}`), nil), 200).body), "identifier")
	x.fp = "/buckets/" + x.b + "/flows/" + x.f
	x.ep = "/buckets/" + x.b + "/flows/" + x.e
	for v := 1; v <= 2; v++ {
		s.expect(s.do("POST", x.fp+"/versions", snapshotBody(flowV1Contents, map[string]any{"version": v}), nil), 200)
	}
	for id, p := range map[string]string{x.b: "<bucket-B>", x.b2: "<bucket-B2>", x.f: "<flow-F>", x.e: "<flow-E>", x.g: "<flow-G>"} {
		x.normalise.id(id, p)
	}
	return x
}

// run sends every case, checks Weir's status and message, that nothing
// changed (the state hash), and collects the answers for the golden file.
func runBadCases(t *testing.T, s *server, log *errorLog, cases []badCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := s.stateHash()
			r := s.do(c.method, c.path, c.body, c.hdr)
			log.add(c.name, r)
			if r.status != c.status {
				t.Errorf("status %d, want %d: %s", r.status, c.status, r)
			}
			if !isText(r.header) {
				t.Errorf("Content-Type %q, want text/plain", r.header.Get("Content-Type"))
			}
			if c.msg != "" && string(r.body) != c.msg {
				t.Errorf("message\n got: %s\nwant: %s", r.body, c.msg)
			}
			if len(r.body) == 0 {
				t.Errorf("no message")
			}
			if after := s.stateHash(); after != before {
				t.Errorf("refused request changed the state: hash %s -> %s", before, after)
			}
			if c.nifi != nil {
				t.Logf("divergence: NiFi answers %d %q (%s)", c.nifi.status, c.nifi.msg, c.nifi.src)
			}
		})
	}
}

// Java sources named by the cases.
const (
	srcRegistryService = "nifi-registry-framework/.../service/RegistryService.java"
	srcFacade          = "nifi-registry-web-api/.../web/service/StandardServiceFacade.java"
	srcObjectMapper    = "nifi-registry-framework/.../serialization/jackson/ObjectMapperProvider.java:36-41 (Jackson defaults: scalar coercion on)"
	jacksonParse       = "Jackson's parser message, e.g. \"Unexpected end-of-input ...\" (Jersey JacksonFeature's JsonParseExceptionMapper/JsonMappingExceptionMapper)"
)

// TestBadInput sends malformed, mistyped and conflicting requests to a
// node with NiFi's default configuration (revisions off).
func TestBadInput(t *testing.T) {
	s := startServer(t, nil)
	x := setupFixture(t, s)
	log := &errorLog{n: x.normalise}
	b, b2, fp, ep := x.b, x.b2, x.fp, x.ep
	v := func(md string) []byte { // a snapshot body with the given metadata JSON
		return []byte(`{"flowContents":{"identifier":"root","name":"r","componentType":"PROCESS_GROUP"},"snapshotMetadata":` + md + `}`)
	}
	cases := []badCase{
		// Malformed JSON and wrong JSON types.
		{name: "malformed JSON bucket", method: "POST", path: "/buckets", body: []byte(`{"name":`), status: 400,
			nifi: &nifiAnswer{400, jacksonParse, "Jackson"}},
		{name: "malformed JSON version", method: "POST", path: fp + "/versions", body: []byte(`not json`), status: 400,
			nifi: &nifiAnswer{400, jacksonParse, "Jackson"}},
		{name: "trailing garbage", method: "POST", path: "/buckets", body: []byte(`{"name":"x"} {"name":"y"}`), status: 400,
			nifi: &nifiAnswer{200, "(Jackson reads the first value and ignores the rest unless FAIL_ON_TRAILING_TOKENS)", srcObjectMapper}},
		{name: "array for a bucket", method: "PUT", path: "/buckets/" + b, body: []byte(`[1,2]`), status: 400,
			nifi: &nifiAnswer{400, jacksonParse, "Jackson"}},
		{name: "object for a name", method: "POST", path: "/buckets", body: []byte(`{"name":{"x":1}}`), status: 400,
			nifi: &nifiAnswer{400, jacksonParse, "Jackson"}},
		{name: "string for a boolean", method: "POST", path: "/buckets", body: []byte(`{"name":"x","allowPublicRead":"yes"}`), status: 400,
			nifi: &nifiAnswer{400, jacksonParse, "Jackson"}},
		{name: "string for a timestamp", method: "POST", path: "/buckets/" + b + "/flows", body: []byte(`{"name":"x","createdTimestamp":"soon"}`), status: 400,
			nifi: &nifiAnswer{400, jacksonParse, "Jackson"}},
		{name: "string for an int that is no number", method: "POST", path: fp + "/versions", body: v(`{"version":"three"}`), status: 400,
			nifi: &nifiAnswer{400, jacksonParse, "Jackson"}},
		{name: "unknown enum constant", method: "POST", path: "/buckets/" + b + "/flows", body: []byte(`{"name":"x","type":"Thing"}`), status: 400,
			msg:  "Cannot deserialize value of type `org.apache.nifi.registry.bucket.BucketItemType` from String \"Thing\": not one of the values accepted for Enum class: [Flow, Bundle]",
			nifi: &nifiAnswer{400, "(the same first line, then Jackson's source location and reference chain)", srcObjectMapper + " (READ_UNKNOWN_ENUM_VALUES_AS_NULL off)"}},
		{name: "single value for a list", method: "POST", path: "/tenants/user-groups", body: []byte(`{"identity":"g","users":{"identifier":"u"}}`), status: 400,
			nifi: &nifiAnswer{400, jacksonParse, "Jackson (ACCEPT_SINGLE_VALUE_AS_ARRAY is off)"}},
		{name: "object for flowEncodingVersion", method: "POST", path: fp + "/versions",
			body: []byte(`{"flowContents":{"identifier":"r"},"flowEncodingVersion":{},"snapshotMetadata":{"version":3}}`), status: 400,
			nifi: &nifiAnswer{400, jacksonParse, "Jackson"}},
		{name: "array for flowContents", method: "POST", path: fp + "/versions",
			body: []byte(`{"flowContents":[],"snapshotMetadata":{"version":3}}`), status: 400,
			msg:  "Cannot create versioned flow snapshot - flowContents must be an object",
			nifi: &nifiAnswer{400, jacksonParse, "Jackson"}},
		{name: "string for parameterContexts", method: "POST", path: fp + "/versions",
			body: []byte(`{"flowContents":{},"parameterContexts":"x","snapshotMetadata":{"version":3}}`), status: 400,
			msg:  "Cannot create versioned flow snapshot - parameterContexts must be an object",
			nifi: &nifiAnswer{400, jacksonParse, "Jackson"}},
		{name: "string for a revision version", method: "DELETE", path: "/buckets/" + b + "?version=abc", status: 400,
			msg: "Invalid value for version"},

		// Unknown and malformed identifiers.
		{name: "unknown bucket", method: "GET", path: "/buckets/no-such-bucket", status: 404,
			msg: "The specified bucket ID does not exist in this registry."},
		{name: "unknown bucket update", method: "PUT", path: "/buckets/no-such-bucket", body: []byte(`{"name":"n"}`), status: 404,
			msg: "The specified bucket ID does not exist in this registry."},
		{name: "unknown bucket delete", method: "DELETE", path: "/buckets/no-such-bucket", status: 404,
			msg: "The specified bucket ID does not exist in this registry."},
		{name: "unknown bucket flows", method: "GET", path: "/buckets/no-such-bucket/flows", status: 404,
			msg: "The specified bucket ID does not exist in this registry."},
		{name: "unknown bucket create flow", method: "POST", path: "/buckets/no-such-bucket/flows", body: []byte(`{"name":"n"}`), status: 404,
			msg: "The specified bucket ID does not exist in this registry."},
		{name: "unknown bucket items", method: "GET", path: "/items/no-such-bucket", status: 404,
			msg: "The specified bucket ID does not exist in this registry."},
		{name: "unknown flow in bucket", method: "GET", path: "/buckets/" + b + "/flows/no-such-flow", status: 404,
			msg: "The specified flow ID does not exist in this bucket."},
		{name: "flow under unknown bucket", method: "GET", path: "/buckets/no-such-bucket/flows/" + x.f, status: 404,
			msg: "The specified bucket ID does not exist in this registry."},
		{name: "flow under the wrong bucket", method: "GET", path: "/buckets/" + b2 + "/flows/" + x.f, status: 409,
			msg: "The requested flow is not located in the given bucket"},
		{name: "versions of a flow under the wrong bucket", method: "GET", path: "/buckets/" + b2 + "/flows/" + x.f + "/versions", status: 409,
			msg: "The requested flow is not located in the given bucket"},
		{name: "commit to a flow under the wrong bucket", method: "POST", path: "/buckets/" + b2 + "/flows/" + x.f + "/versions", body: v(`{"version":3}`), status: 409,
			msg: "The requested flow is not located in the given bucket"},
		{name: "commit to an unknown flow", method: "POST", path: "/buckets/" + b + "/flows/no-such-flow/versions", body: v(`{"version":1}`), status: 404,
			msg: "The specified flow ID does not exist in this bucket."},
		{name: "update a flow under the wrong bucket", method: "PUT", path: "/buckets/" + b2 + "/flows/" + x.f, body: []byte(`{"name":"n"}`), status: 409,
			msg: "The requested flow is not located in the given bucket"},
		{name: "delete a flow under the wrong bucket", method: "DELETE", path: "/buckets/" + b2 + "/flows/" + x.f, status: 409,
			msg: "The requested flow is not located in the given bucket"},
		{name: "delete a flow under an unknown bucket", method: "DELETE", path: "/buckets/no-such-bucket/flows/" + x.f, status: 404,
			msg: "The specified bucket ID does not exist in this registry."},
		{name: "update an unknown flow", method: "PUT", path: "/buckets/" + b + "/flows/no-such-flow", body: []byte(`{"name":"n"}`), status: 404,
			msg: "The specified flow ID does not exist."}, // NiFi: verifyFlowExists before the bucket lookup (StandardServiceFacade.java:299)
		{name: "delete an unknown flow", method: "DELETE", path: "/buckets/" + b + "/flows/no-such-flow", status: 404,
			msg: "The specified flow ID does not exist."}, // NiFi: StandardServiceFacade.java:314
		{name: "unknown flow by id", method: "GET", path: "/flows/no-such-flow", status: 404,
			msg: "The specified flow ID does not exist."},
		{name: "versions of an unknown flow by id", method: "GET", path: "/flows/no-such-flow/versions", status: 404,
			msg: "The specified flow ID does not exist."},
		{name: "latest of an unknown flow by id", method: "GET", path: "/flows/no-such-flow/versions/latest", status: 404,
			msg: "The specified flow ID does not exist in this bucket."}, // NiFi: StandardServiceFacade.java:363
		{name: "latest metadata of an unknown flow by id", method: "GET", path: "/flows/no-such-flow/versions/latest/metadata", status: 404,
			msg: "The specified flow ID does not exist in this bucket."},
		{name: "version of an unknown flow by id", method: "GET", path: "/flows/no-such-flow/versions/1", status: 404,
			msg: "The specified flow ID does not exist in this bucket."}, // NiFi: StandardServiceFacade.java:342
		{name: "version of a flow without versions by id", method: "GET", path: "/flows/" + x.e + "/versions/1", status: 404,
			msg: "The specified flow ID has no versions"}, // NiFi: StandardServiceFacade.java:342, RegistryService.java:821
		{name: "latest of a flow without versions", method: "GET", path: ep + "/versions/latest", status: 404,
			msg: "The specified flow ID has no versions"},
		{name: "latest metadata of a flow without versions", method: "GET", path: ep + "/versions/latest/metadata", status: 404,
			msg: "The specified flow ID has no versions"},
		{name: "unknown version", method: "GET", path: fp + "/versions/99", status: 404,
			msg: "The specified versioned flow snapshot does not exist for this flow."},
		{name: "unknown version export", method: "GET", path: fp + "/versions/99/export", status: 404,
			msg: "The specified versioned flow snapshot does not exist for this flow."},
		{name: "non-numeric version", method: "GET", path: fp + "/versions/abc", status: 404,
			msg: "HTTP 404 Not Found"},
		{name: "negative version in path", method: "GET", path: fp + "/versions/-1", status: 404,
			msg: "HTTP 404 Not Found"},
		// NiFi looks nothing up before reading the versions' content
		// (RegistryService.java:882-909): no content is an
		// IllegalStateException (409), for the older version first.
		{name: "diff with an unknown version", method: "GET", path: fp + "/diff/99/1", status: 409,
			msg: "No serialized content found for snapshot with flow identifier " + x.f + " and version 99"},
		{name: "diff with two unknown versions", method: "GET", path: fp + "/diff/98/97", status: 409,
			msg: "No serialized content found for snapshot with flow identifier " + x.f + " and version 97"},
		{name: "diff of an unknown flow", method: "GET", path: "/buckets/" + b + "/flows/no-such-flow/diff/1/2", status: 409,
			msg: "No serialized content found for snapshot with flow identifier no-such-flow and version 1"},
		{name: "diff of an unknown bucket", method: "GET", path: "/buckets/no-such-bucket/flows/" + x.f + "/diff/1/2", status: 409,
			msg: "No serialized content found for snapshot with flow identifier " + x.f + " and version 1"},
		{name: "diff of a flow in another bucket", method: "GET", path: "/buckets/" + b2 + "/flows/" + x.f + "/diff/1/2", status: 409,
			msg: "No serialized content found for snapshot with flow identifier " + x.f + " and version 1"},
		{name: "unknown path", method: "GET", path: "/no-such-resource", status: 404, msg: "HTTP 404 Not Found"},
		{name: "unsupported method", method: "PATCH", path: "/buckets", body: []byte(`{}`), status: 405, msg: "HTTP 405 Method Not Allowed"},

		// Name and identifier collisions.
		{name: "duplicate bucket name", method: "POST", path: "/buckets", body: []byte(`{"name":"Bad Bucket"}`), status: 409,
			msg: "A bucket with the same name already exists"},
		{name: "rename bucket to a taken name", method: "PUT", path: "/buckets/" + b2, body: []byte(`{"name":"Bad Bucket"}`), status: 409,
			msg: "A bucket with the same name already exists - Bad Bucket"},
		{name: "duplicate flow name", method: "POST", path: "/buckets/" + b + "/flows", body: []byte(`{"name":"Bad Flow"}`), status: 409,
			msg: "A versioned flow with the same name already exists in the selected bucket"},
		{name: "rename flow to a taken name", method: "PUT", path: ep, body: []byte(`{"name":"Bad Flow"}`), status: 409,
			msg: "A versioned flow with the same name already exists in the selected bucket"},
		{name: "duplicate flow identifier", method: "POST", path: "/buckets/" + b2 + "/flows", body: []byte(`{"identifier":"` + x.f + `","name":"Copy"}`), status: 409,
			msg:  "A versioned flow with the same identifier already exists",
			nifi: &nifiAnswer{500, "An unexpected error has occurred. Please check the logs for additional details.", srcRegistryService + ":361 metadataService.createFlow hits the BUCKET_ITEM primary key; ThrowableMapper"}},
		{name: "duplicate preserved bucket identifier", method: "POST", path: "/buckets?preserveSourceProperties=true", body: []byte(`{"identifier":"` + b + `","name":"Copy"}`), status: 409,
			msg:  "A bucket with the same identifier already exists",
			nifi: &nifiAnswer{500, "An unexpected error has occurred. Please check the logs for additional details.", srcRegistryService + ":137 metadataService.createBucket hits the BUCKET primary key; ThrowableMapper"}},

		// Version numbers.
		{name: "version 0", method: "POST", path: fp + "/versions", body: v(`{"version":0}`), status: 400,
			msg: "Version must be greater than zero, or use -1 to indicate latest version"},
		{name: "version -2", method: "POST", path: fp + "/versions", body: v(`{"version":-2}`), status: 400,
			msg: "Cannot create versioned flow snapshot - version must be greater than or equal to -1"},
		{name: "duplicate version", method: "POST", path: fp + "/versions", body: v(`{"version":2}`), status: 409,
			msg: "A Versioned flow snapshot with the same version already exists: 2"},
		{name: "older version", method: "POST", path: fp + "/versions", body: v(`{"version":1}`), status: 409,
			msg: "A Versioned flow snapshot with the same version already exists: 1"},
		{name: "version gap", method: "POST", path: fp + "/versions", body: v(`{"version":5}`), status: 409,
			msg: "Version must be a one-up number, last version was 2 and version for this snapshot was 5"},
		{name: "first version not 1", method: "POST", path: ep + "/versions", body: v(`{"version":2}`), status: 409,
			msg: "Version of first snapshot must be 1"},
		{name: "no snapshotMetadata", method: "POST", path: fp + "/versions", body: []byte(`{"flowContents":{}}`), status: 400,
			msg: "Version must be greater than zero, or use -1 to indicate latest version"},

		// Missing or contradicting fields.
		{name: "empty bucket body", method: "POST", path: "/buckets", status: 400, msg: "Bucket cannot be null"},
		{name: "bucket without name", method: "POST", path: "/buckets", body: []byte(`{}`), status: 400,
			msg: "Cannot create Bucket - name must not be blank"},
		{name: "bucket with blank name", method: "POST", path: "/buckets", body: []byte(`{"name":"  "}`), status: 400,
			msg: "Cannot create Bucket - name must not be blank"},
		{name: "bucket with identifier", method: "POST", path: "/buckets", body: []byte(`{"identifier":"mine","name":"n"}`), status: 400,
			msg: "Bucket identifier cannot be specified when creating a new bucket."},
		{name: "empty bucket update", method: "PUT", path: "/buckets/" + b, status: 400, msg: "Bucket cannot be null"},
		{name: "bucket update with blank name", method: "PUT", path: "/buckets/" + b, body: []byte(`{"name":""}`), status: 400,
			msg: "Bucket name cannot be blank"},
		{name: "bucket update with another id", method: "PUT", path: "/buckets/" + b, body: []byte(`{"identifier":"other"}`), status: 400,
			msg: "Bucket id in path param must match bucket id in body"},
		{name: "empty flow body", method: "POST", path: "/buckets/" + b + "/flows", status: 400, msg: "Object in body cannot be null"},
		{name: "flow without name", method: "POST", path: "/buckets/" + b + "/flows", body: []byte(`{}`), status: 400,
			msg: "Cannot create versioned flow - name must not be blank"},
		{name: "flow with blank identifier", method: "POST", path: "/buckets/" + b + "/flows", body: []byte(`{"identifier":"","name":"n"}`), status: 400,
			msg: "Cannot create versioned flow - identifier must not be blank"},
		{name: "flow for another bucket", method: "POST", path: "/buckets/" + b + "/flows", body: []byte(`{"name":"n","bucketIdentifier":"` + b2 + `"}`), status: 400,
			msg: "Bucket id in path param must match bucket id in body"},
		{name: "empty flow update", method: "PUT", path: fp, status: 400, msg: "Object in body cannot be null"},
		{name: "flow update with blank name", method: "PUT", path: fp, body: []byte(`{"name":" "}`), status: 400,
			msg: "Versioned flow name cannot be blank"},
		{name: "flow update with another id", method: "PUT", path: fp, body: []byte(`{"identifier":"other"}`), status: 400,
			msg: "Item id in path param must match item id in body"},
		{name: "flow update with another bucket", method: "PUT", path: fp, body: []byte(`{"bucketIdentifier":"` + b2 + `"}`), status: 400,
			msg: "Bucket id in path param must match bucket id in body"},
		{name: "empty snapshot body", method: "POST", path: fp + "/versions", status: 400,
			msg: "VersionedFlowSnapshot cannot be null in body"},
		{name: "snapshot without flowContents", method: "POST", path: fp + "/versions", body: []byte(`{"snapshotMetadata":{"version":3}}`), status: 400,
			msg: "Cannot create versioned flow snapshot - flowContents must not be null"},
		{name: "snapshot with null flowContents", method: "POST", path: fp + "/versions", body: []byte(`{"flowContents":null,"snapshotMetadata":{"version":3}}`), status: 400,
			msg: "Cannot create versioned flow snapshot - flowContents must not be null"},
		{name: "snapshot for another bucket", method: "POST", path: fp + "/versions", body: v(`{"version":3,"bucketIdentifier":"` + b2 + `"}`), status: 400,
			msg: "Bucket id in path param must match bucket id in body"},
		{name: "snapshot for another flow", method: "POST", path: fp + "/versions", body: v(`{"version":3,"flowIdentifier":"` + x.e + `"}`), status: 400,
			msg: "Flow id in path param must match flow id in body"},
		{name: "empty import body", method: "POST", path: fp + "/versions/import", status: 400,
			msg: "VersionedFlowSnapshot cannot be null in body"},
		{name: "import without flowContents", method: "POST", path: fp + "/versions/import", body: []byte(`{"snapshotMetadata":{"version":3}}`), status: 400,
			msg: "Cannot create versioned flow snapshot - flowContents must not be null"},
		{name: "import into an unknown flow", method: "POST", path: "/buckets/" + b + "/flows/no-such-flow/versions/import", body: v(`{}`), status: 404,
			msg: "The specified flow ID does not exist in this bucket."},

		// preserveSourceProperties (the CLI's import keeps author and time).
		{name: "preserve without identifier", method: "POST", path: "/buckets?preserveSourceProperties=true", body: []byte(`{"name":"n"}`), status: 400,
			msg: "Bucket identifier must be specified."},
		{name: "preserve without author", method: "POST", path: fp + "/versions?preserveSourceProperties=true", body: v(`{"version":3,"timestamp":1600000000000}`), status: 400,
			msg: "Author must not be blank"},
		{name: "preserve with blank author", method: "POST", path: fp + "/versions?preserveSourceProperties=true", body: v(`{"version":3,"author":" ","timestamp":1600000000000}`), status: 400,
			msg: "Author must not be blank"},
		{name: "preserve without timestamp", method: "POST", path: fp + "/versions?preserveSourceProperties=true", body: v(`{"version":3,"author":"alice"}`), status: 400,
			msg: "Invalid timestamp"},
		{name: "preserve with negative timestamp", method: "POST", path: fp + "/versions?preserveSourceProperties=TRUE", body: v(`{"version":3,"author":"alice","timestamp":-1}`), status: 400,
			msg: "Invalid timestamp"},
		{name: "preserve checks author before the version", method: "POST", path: fp + "/versions?preserveSourceProperties=true", body: v(`{"version":0}`), status: 400,
			msg: "Author must not be blank"},
	}
	runBadCases(t, s, log, cases)
	goldenBytes(t, "errors.txt", log.b.Bytes())

	// The checks above are only meaningful if a write does change the
	// hash; and the refused commits left the flow at version 2.
	before := s.stateHash()
	r := s.expect(s.do("POST", fp+"/versions", v(`{"version":-1}`), nil), 200)
	if md := sub(obj(t, r.body), "snapshotMetadata"); num(md, "version") != 3 {
		t.Errorf("after the refused commits the next version is 3: %s", truncate(r.body, 600))
	}
	if s.stateHash() == before {
		t.Errorf("an accepted commit did not change the state hash")
	}
}

// TestBadInputBodyLimit starts a node with a small body limit: larger
// bodies, with or without Content-Length, get 413 and change nothing.
// NiFi Registry has no such limit (Jetty's form-content limit does not
// apply to JSON bodies); the status is Weir's (413, RFC 9110).
func TestBadInputBodyLimit(t *testing.T) {
	const limit = 2048
	s := startServer(t, func(c *daemon.Config) { c.MaxBody = limit })
	big := []byte(`{"name":"big","description":"` + strings.Repeat("x", 3*limit) + `"}`)
	want := "Request body exceeds the limit of 2048 bytes"
	before := s.stateHash()

	r := s.do("POST", "/buckets", big, nil)
	if r.status != 413 || string(r.body) != want || !isText(r.header) {
		t.Errorf("sized body: %s", r)
	}
	// Chunked, as NiFi's Jersey client sends bodies: no Content-Length.
	req, err := http.NewRequest("POST", s.base+apiBase+"/buckets", io.MultiReader(bytes.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || string(got) != want {
		t.Errorf("chunked body: %d %s", resp.StatusCode, got)
	}
	if len(req.TransferEncoding) == 0 && req.ContentLength > 0 {
		t.Errorf("the request was not sent chunked")
	}
	// A snapshot over the limit.
	b := str(obj(t, s.expect(s.do("POST", "/buckets", []byte(`{"name":"small"}`), nil), 200).body), "identifier")
	f := str(obj(t, s.expect(s.do("POST", "/buckets/"+b+"/flows", []byte(`{"name":"small"}`), nil), 200).body), "identifier")
	before = s.stateHash()
	r = s.do("POST", "/buckets/"+b+"/flows/"+f+"/versions", snapshotBody(flowV1Contents, map[string]any{"version": 1}), nil)
	if r.status != 413 || string(r.body) != want {
		t.Errorf("snapshot over the limit: %s", r)
	}
	if after := s.stateHash(); after != before {
		t.Errorf("refused body changed the state")
	}
	// A body just under the limit is accepted.
	ok := []byte(`{"name":"fits","description":"` + strings.Repeat("y", limit-64) + `"}`)
	s.expect(s.do("POST", "/buckets", ok, nil), 200)
}

// TestBadInputRevisions runs NiFi's optimistic locking rules
// (nifi.registry.revisions.enabled=true; registry-api.md §4.1, BucketsIT
// and FlowsIT): creates need revision 0, updates and deletes need the
// current version or the client id that last wrote, a stale claim is a
// 400 with NiFi's message, a missing entity is a 404 before any revision
// check, and refused requests change nothing.
func TestBadInputRevisions(t *testing.T) {
	s := startServer(t, func(c *daemon.Config) { c.Revisions = true })
	n := newNormaliser()
	log := &errorLog{n: n}

	// Creates.
	r := s.expect(s.do("POST", "/buckets", []byte(`{"name":"Rev Bucket","revision":{"version":0,"clientId":"client-1"}}`), nil), 200)
	bk := obj(t, r.body)
	b := str(bk, "identifier")
	n.id(b, "<bucket-R>")
	if rev := sub(bk, "revision"); num(rev, "version") != 1 || str(rev, "clientId") != "client-1" || str(rev, "lastModifier") != "anonymous" {
		t.Errorf("created bucket revision: %v (BucketsIT.testCreateBucketGetBucket: version 1, clientId echoed)", rev)
	}
	goldenJSON(t, n, "revisions-bucket-create.json", r.body)
	r = s.expect(s.do("GET", "/buckets/"+b, nil, nil), 200)
	if rev := sub(obj(t, r.body), "revision"); num(rev, "version") != 1 || str(rev, "clientId") != "client-1" || rev["lastModifier"] != nil {
		t.Errorf("read bucket revision: %v (version and clientId, no lastModifier)", rev)
	}
	goldenJSON(t, n, "revisions-bucket-get.json", r.body)
	r = s.expect(s.do("POST", "/buckets/"+b+"/flows", []byte(`{"name":"Rev Flow","revision":{"version":0,"clientId":"client-1"}}`), nil), 200)
	f := str(obj(t, r.body), "identifier")
	n.id(f, "<flow-R>")
	goldenJSON(t, n, "revisions-flow-create.json", r.body)
	bp, fp := "/buckets/"+b, "/buckets/"+b+"/flows/"+f

	cases := []badCase{
		{name: "create bucket without revision", method: "POST", path: "/buckets", body: []byte(`{"name":"x"}`), status: 400,
			msg: "A revision of 0 must be specified when creating a new Bucket."},
		{name: "create bucket with revision 1", method: "POST", path: "/buckets", body: []byte(`{"name":"x","revision":{"version":1}}`), status: 400,
			msg: "A revision of 0 must be specified when creating a new Bucket."},
		{name: "create flow without revision", method: "POST", path: bp + "/flows", body: []byte(`{"name":"x"}`), status: 400,
			msg: "A revision of 0 must be specified when creating a new Versioned Flow."},
		{name: "update bucket without revision", method: "PUT", path: bp, body: []byte(`{"name":"y"}`), status: 400,
			msg: "Revision info must be specified."},
		{name: "update bucket with revision without version", method: "PUT", path: bp, body: []byte(`{"name":"y","revision":{"clientId":"client-1"}}`), status: 400,
			msg: "Revision info must be specified."},
		{name: "update bucket with a stale version", method: "PUT", path: bp, body: []byte(`{"name":"y","revision":{"version":99}}`), status: 400,
			msg: "The Bucket you attempted to update with id '" + b + "' is out of date with the server. You may need to refresh your client and try again."},
		{name: "update bucket with a stale version and another client", method: "PUT", path: bp, body: []byte(`{"name":"y","revision":{"version":99,"clientId":"client-2"}}`), status: 400,
			msg: "The Bucket you attempted to update with id '" + b + "' is out of date with the server. You may need to refresh your client and try again."},
		{name: "update unknown bucket without revision", method: "PUT", path: "/buckets/no-such-bucket", body: []byte(`{"name":"y"}`), status: 400,
			msg: "Revision info must be specified."},
		{name: "update unknown bucket", method: "PUT", path: "/buckets/no-such-bucket", body: []byte(`{"name":"y","revision":{"version":0}}`), status: 404,
			msg: "The specified bucket ID does not exist in this registry."},
		{name: "delete bucket without version", method: "DELETE", path: bp, status: 400,
			msg: "Revision info must be specified."},
		{name: "delete bucket with a stale version", method: "DELETE", path: bp + "?version=99", status: 400,
			msg: "The Bucket you attempted to delete with id '" + b + "' is out of date with the server. You may need to refresh your client and try again."},
		{name: "delete unknown bucket", method: "DELETE", path: "/buckets/no-such-bucket?version=0", status: 404,
			msg: "The specified bucket ID does not exist in this registry."},
		{name: "update flow with a stale version", method: "PUT", path: fp, body: []byte(`{"name":"y","revision":{"version":99}}`), status: 400,
			msg: "The Versioned Flow you attempted to update with id '" + f + "' is out of date with the server. You may need to refresh your client and try again."},
		{name: "update flow without revision", method: "PUT", path: fp, body: []byte(`{"name":"y"}`), status: 400,
			msg: "Revision info must be specified."},
		{name: "delete flow with a stale version", method: "DELETE", path: fp + "?version=5", status: 400,
			msg: "The Versioned Flow you attempted to delete with id '" + f + "' is out of date with the server. You may need to refresh your client and try again."},
		{name: "delete flow without version", method: "DELETE", path: fp, status: 400,
			msg: "Revision info must be specified."},
	}
	runBadCases(t, s, log, cases)
	goldenBytes(t, "errors-revisions.txt", log.b.Bytes())

	// Claims that pass: the current version, or the client id that wrote
	// last whatever the version. Each bumps the version by one.
	r = s.expect(s.do("PUT", bp, []byte(`{"description":"by version","revision":{"version":1}}`), nil), 200)
	if rev := sub(obj(t, r.body), "revision"); num(rev, "version") != 2 || rev["clientId"] != nil || str(rev, "lastModifier") != "anonymous" {
		t.Errorf("update with the current version: %v", rev)
	}
	goldenJSON(t, n, "revisions-bucket-update.json", r.body)
	r = s.expect(s.do("PUT", bp, []byte(`{"description":"by client","revision":{"version":0,"clientId":"client-3"}}`), nil), 400)
	r = s.expect(s.do("PUT", bp, []byte(`{"description":"by version again","revision":{"version":2,"clientId":"client-3"}}`), nil), 200)
	r = s.expect(s.do("PUT", bp, []byte(`{"description":"by client id","revision":{"version":0,"clientId":"client-3"}}`), nil), 200)
	if rev := sub(obj(t, r.body), "revision"); num(rev, "version") != 4 || str(rev, "clientId") != "client-3" {
		t.Errorf("update by client id: %v", rev)
	}
	// A delete with the client id that wrote last passes with any version.
	r = s.expect(s.do("DELETE", fp+"?version=1", nil, nil), 200)
	goldenJSON(t, n, "revisions-flow-delete.json", r.body)
	s.expect(s.do("DELETE", bp+"?version=0&clientId=client-3", nil, nil), 200)
	s.expect(s.do("GET", bp, nil, nil), 404)
}
