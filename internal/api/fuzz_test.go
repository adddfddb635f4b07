package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/registry"
	"github.com/weir-nifi/weir/internal/store"
)

// ---- FuzzDecodeSnapshot

var fuzzSnapshotSeeds = []string{
	``,
	` `,
	`null`,
	`{}`,
	`[]`,
	`"x"`,
	`{"flowContents":{"identifier":"pg","name":"root","processors":[]}}`,
	`{"snapshotMetadata":{"version":-1,"comments":"c","author":"a","timestamp":5},"flowContents":{},"flowEncodingVersion":"1.0",` +
		`"parameterContexts":{"p":{"name":"p"}},"parameterProviders":{},"externalControllerServices":{}}`,
	`{"snapshotMetadata":null,"flowEncodingVersion":null,"flowContents":null}`,
	`{"snapshotMetadata":{"version":"1"}}`,
	`{"snapshotMetadata":[]}`,
	`{"snapshotMetadata":{"link":{"href":1}}}`,
	`{"flowEncodingVersion":1}`,
	`{"flowContents":{},"flowContents":[1]}`,
	`{"flowContents":{}} {}`,
	`{"flowContents":{}} x`,
	`{"flowContents":{}`,
	`{"flowContents":{"a":"\ud800"}}`,
	"{\"flowContents\":{\"a\":\"\xff\xfe\"}}",
	"{\"flowContents\":{\"a\":\"\x01\"}}",
	`{"flowContents":{"a":1e999}}`,
	`{"bucket":{"identifier":"b"},"flow":{},"unknown":[1,{"x":null}]}`,
	"\xef\xbb\xbf{}",
	`{"a":` + strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200) + `}`,
}

// FuzzDecodeSnapshot: decodeSnapshot never panics, refuses with a 400
// (*model.Error of KindInvalid) only, and what it accepts is JSON (as
// encoding/json, which also takes invalid UTF-8 and duplicate names, sees
// it) whose kept parts are JSON values themselves.
func FuzzDecodeSnapshot(f *testing.F) {
	for _, s := range fuzzSnapshotSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in := bytes.Clone(body)
		s, err := decodeSnapshot(body)
		if !bytes.Equal(in, body) {
			t.Fatal("decodeSnapshot modified the body")
		}
		if err != nil {
			var me *model.Error
			if !errors.As(err, &me) || me.Kind != model.KindInvalid {
				t.Fatalf("error is not a 400: %T %v", err, err)
			}
			if s != nil {
				t.Fatal("snapshot returned with an error")
			}
			// A syntax error only for what is not JSON (as encoding/json
			// sees it, less what is refused on purpose: invalid UTF-8,
			// raw or as unpaired surrogate escapes).
			if strings.HasPrefix(me.Msg, "Unable to parse request body as JSON") &&
				json.Valid(body) && utf8.Valid(body) && !fuzzUnpairedSurrogate(body) {
				t.Fatalf("valid JSON refused as unparsable: %s", me.Msg)
			}
			return
		}
		if s == nil {
			if len(bytes.TrimSpace(body)) != 0 {
				t.Fatal("no snapshot and no error for a non-empty body")
			}
			return
		}
		if !json.Valid(body) || !utf8.Valid(body) || fuzzUnpairedSurrogate(body) {
			t.Fatalf("accepted a body that is not valid UTF-8 JSON: %q", body)
		}
		for name, part := range map[string]json.RawMessage{
			"flowContents": s.FlowContents, "externalControllerServices": s.ExternalControllerServices,
			"parameterContexts": s.ParameterContexts, "parameterProviders": s.ParameterProviders,
		} {
			if part != nil && !json.Valid(part) {
				t.Fatalf("%s kept as %q, not a JSON value", name, part)
			}
		}
	})
}

// fuzzUnpairedSurrogate reports whether a JSON text (valid for encoding/json,
// so a backslash occurs only inside strings) has a \u escape of a UTF-16
// surrogate that is not part of a pair.
func fuzzUnpairedSurrogate(b []byte) bool {
	escape := func(i int) (rune, bool) { // the \uXXXX at b[i:], if any
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := escape(i)
		if !ok {
			i++ // an escaped character: skip it
			continue
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := escape(i + 6)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11
		default:
			i += 5
		}
	}
	return false
}

// ---- FuzzRegistryHTTP

// FuzzRegistryHTTP runs what a client can send end to end in one process:
// the API handlers, the registry service and the real state machine
// (store.Apply) behind a Proposer that encodes every command with
// command.Encode, as the cluster does. Each iteration starts a fresh store
// with a bucket, a flow and a version in it, then sends up to
// fuzzMaxRequests requests built from the input: a NiFi Registry route
// (or a wrong method, or a made-up path), path parameters drawn from the
// stored ids, a pool and hostile strings, query flags, and a JSON body
// built from the input (or the raw input). Between requests maintenance
// may be switched on or off underneath.
//
// Invariants:
//   - no panic;
//   - no 5xx but 503 and 507;
//   - every 4xx and 5xx body is text/plain, every 2xx JSON body is JSON;
//   - an answer that is not 2xx, and every GET, leaves the state hash as it
//     was;
//   - store.Apply never returns an error to the Proposer, and refusals are
//     *model.Error values;
//   - a GET answers the same with and without the render cache (a second
//     service over the same store, cache off);
//   - at the end the kept state hash equals the recomputed one.
func FuzzRegistryHTTP(f *testing.F) {
	for _, s := range fuzzHTTPSeeds() {
		f.Add(s)
	}
	dir := f.TempDir()
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		st := openFuzzStore(t, filepath.Join(dir, fmt.Sprintf("%d.db", n.Add(1))))
		fuzzRunHTTP(t, st, data)
	})
}

const fuzzMaxRequests = 12

// fuzzTrace logs every request and answer (WEIR_FUZZ_TRACE=1), to read
// what a seed or a crasher does: go test -run 'FuzzRegistryHTTP/NAME' -v.
var fuzzTrace = os.Getenv("WEIR_FUZZ_TRACE") != ""

// fuzzFile is a new, empty store file as its non-zero pages and sparse
// size. Creating a bbolt file syncs it (milliseconds on a real disk);
// iterations start from a sparse copy of this one, byte for byte a new
// store.
type fuzzFile struct {
	size  int64
	pages map[int64][]byte
}

var fuzzEmptyStore = sync.OnceValues(func() (fuzzFile, error) {
	dir, err := os.MkdirTemp("", "weir-fuzz-")
	if err != nil {
		return fuzzFile{}, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "state.db")
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		return fuzzFile{}, err
	}
	if err := s.Close(); err != nil {
		return fuzzFile{}, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fuzzFile{}, err
	}
	ff := fuzzFile{size: int64(len(raw)), pages: map[int64][]byte{}}
	const page = 4096
	for off := 0; off < len(raw); off += page {
		p := raw[off:min(off+page, len(raw))]
		if slices.ContainsFunc(p, func(c byte) bool { return c != 0 }) {
			ff.pages[int64(off)] = p
		}
	}
	return ff, nil
})

func openFuzzStore(t *testing.T, path string) *store.Store {
	t.Helper()
	empty, err := fuzzEmptyStore()
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for off, p := range empty.pages {
		if _, err := file.WriteAt(p, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(file.Truncate(empty.size), file.Close()); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		os.Remove(path)
	})
	return s
}

// fuzzProposer applies each command to the store as the next log entry,
// as a single-node cluster's FSM would.
type fuzzProposer struct {
	t   *testing.T
	st  *store.Store
	mu  sync.Mutex
	idx uint64
}

func (p *fuzzProposer) Propose(_ context.Context, c command.Command) (any, error) {
	data, err := command.Encode(c)
	if err != nil {
		p.t.Fatalf("encode %s: %v", c.Type(), err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idx++
	res, err := p.st.Apply([]store.Entry{{Index: p.idx, Data: data}})
	if err != nil {
		p.t.Fatalf("store.Apply failed for %s %+v: %T %v", c.Type(), c, err, err)
	}
	if len(res) != 1 {
		p.t.Fatalf("store.Apply returned %d results for one entry", len(res))
	}
	var me *model.Error
	if res[0].Err != nil && !errors.As(res[0].Err, &me) {
		p.t.Fatalf("store.Apply refused %s with %T %v, not a *model.Error", c.Type(), res[0].Err, res[0].Err)
	}
	return res[0].Value, res[0].Err
}

func (p *fuzzProposer) Ready(context.Context) error { return nil }

// fuzzGate refuses writes while maintenance is on, as cluster.Node does.
type fuzzGate struct{ st *store.Store }

func (g fuzzGate) WritesRefused() error {
	var m store.Maintenance
	err := g.st.Read(func(tx *store.Tx) error {
		var err error
		m, err = tx.Maintenance()
		return err
	})
	if err != nil {
		return err
	}
	if m.On {
		return store.MaintenanceError(m)
	}
	return nil
}

// ---- the request generator

type fuzzHTTPGen struct {
	b []byte
	i int
}

func (g *fuzzHTTPGen) more() bool { return g.i < len(g.b) }

func (g *fuzzHTTPGen) u8() byte {
	if g.i >= len(g.b) {
		return 0
	}
	v := g.b[g.i]
	g.i++
	return v
}

func (g *fuzzHTTPGen) pick(n int) int { return int(g.u8()) % n }

func (g *fuzzHTTPGen) take(max int) []byte {
	n := g.pick(max + 1)
	out := make([]byte, n)
	for i := range out {
		out[i] = g.u8()
	}
	return out
}

func fuzzOneOf[T any](g *fuzzHTTPGen, xs ...T) T { return xs[g.pick(len(xs))] }

var (
	// ids a client might use: the seeded ones, others, and ones the
	// registry must refuse (checkID) or that cannot be routed.
	fuzzIDs        = []string{"b1", "f1", "b2", "f2", "x", "id-1"}
	fuzzHostileIDs = []string{"", " ", ".", "..", "a/b", "a\\b", "%", "%2F", "?", "#", "\x00", "\n", "\xff", "ñ", "😀",
		"b1 ", strings.Repeat("i", 50), strings.Repeat("i", 51), strings.Repeat("l", 5000)}
	fuzzNames   = []string{"B1", "F1", "n1", "n2", "B1 ", "b1"}
	fuzzHostile = []string{"", " ", "\t", ".", "..", "\x00", "\u2028", "<script>", "a\nb", "\r\n", "😀",
		strings.Repeat("n", 1000), strings.Repeat("n", 1001), strings.Repeat("n", 40000)}
	fuzzVersions = []string{"1", "2", "3", "0", "-1", "latest", "01", "2147483647", "2147483648", "99999999999", "1.0", "", "١", "+1"}
)

// pathID is an id for a path: a stored one, one of the pool, a hostile one.
func (g *fuzzHTTPGen) pathID(stored []string) string {
	switch v := g.u8(); {
	case v < 0x60 && len(stored) > 0:
		return stored[int(v)%len(stored)]
	case v < 0xD0:
		return fuzzIDs[int(v)%len(fuzzIDs)]
	default:
		return fuzzHostileIDs[int(v)%len(fuzzHostileIDs)]
	}
}

func (g *fuzzHTTPGen) name() string {
	if v := g.u8(); v < 0xB0 {
		return fuzzNames[int(v)%len(fuzzNames)]
	} else {
		return fuzzHostile[int(v)%len(fuzzHostile)]
	}
}

// jsonString is a JSON string of s; now and then raw invalid UTF-8 (which
// json.Marshal would replace) or a value of the wrong type.
func (g *fuzzHTTPGen) jsonString(s string) string {
	switch g.pick(48) {
	case 0:
		return "\"" + "a\xffb\xc3" + "\""
	case 1, 2, 3:
		return fuzzOneOf(g, "null", "1", "true", "{}", "[]", `["x"]`, `"\ud800"`, `"\u0000"`, `"\ud83d\ude00"`)
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func (g *fuzzHTTPGen) jsonInt(next int64) string {
	return fuzzOneOf(g, "0", "1", "-1", "2", strconv.FormatInt(next, 10), strconv.FormatInt(next+1, 10),
		"2147483647", "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808",
		"1.5", "1e3", `"1"`, "null", "[]", "1700000000000")
}

// fuzzObj writes a JSON object with members chosen from the input: each
// member is present or not, and sometimes repeated (the last one wins).
type fuzzObj struct {
	g   *fuzzHTTPGen
	buf []byte
}

func (g *fuzzHTTPGen) object() *fuzzObj { return &fuzzObj{g: g, buf: []byte{'{'}} }

func (o *fuzzObj) add(name string, value func() string) *fuzzObj {
	v := o.g.u8()
	if v < 0x50 {
		return o
	}
	n := 1
	if v >= 0xC0 {
		n = 2 // a duplicate member: the last one wins
	}
	for ; n > 0; n-- {
		if len(o.buf) > 1 {
			o.buf = append(o.buf, ',')
		}
		o.buf = append(o.buf, '"')
		o.buf = append(o.buf, name...)
		o.buf = append(o.buf, '"', ':')
		o.buf = append(o.buf, value()...)
	}
	return o
}

func (o *fuzzObj) String() string { return string(append(o.buf, '}')) }

func (g *fuzzHTTPGen) revision() string {
	return g.object().
		add("version", func() string { return fuzzOneOf(g, "0", "1", "2", "-1", `"0"`, "null", "9223372036854775807") }).
		add("clientId", func() string { return g.jsonString(fuzzOneOf(g, "c1", "c2", "", " ")) }).
		add("lastModifier", func() string { return g.jsonString("x") }).String()
}

func (g *fuzzHTTPGen) bucketBody(st *fuzzView) string {
	return g.object().
		add("identifier", func() string { return g.jsonString(g.pathID(st.buckets)) }).
		add("name", func() string { return g.jsonString(g.name()) }).
		add("description", func() string { return g.jsonString(g.name()) }).
		add("allowBundleRedeploy", func() string { return fuzzOneOf(g, "true", "false", "null", `"true"`) }).
		add("allowPublicRead", func() string { return fuzzOneOf(g, "true", "false", "null", "1") }).
		add("createdTimestamp", func() string { return g.jsonInt(0) }).
		add("revision", g.revision).
		add("permissions", func() string { return `{"canRead":false}` }).
		add("link", func() string { return fuzzOneOf(g, `{"href":"x","params":{"rel":"self"}}`, `{"href":1}`) }).String()
}

func (g *fuzzHTTPGen) flowBody(st *fuzzView) string {
	return g.object().
		add("identifier", func() string { return g.jsonString(g.pathID(st.flows)) }).
		add("name", func() string { return g.jsonString(g.name()) }).
		add("description", func() string { return g.jsonString(g.name()) }).
		add("bucketIdentifier", func() string { return g.jsonString(g.pathID(st.buckets)) }).
		add("createdTimestamp", func() string { return g.jsonInt(0) }).
		add("modifiedTimestamp", func() string { return g.jsonInt(0) }).
		add("revision", g.revision).
		add("type", func() string { return g.jsonString(fuzzOneOf(g, "Flow", "Bundle")) }).
		add("versionCount", func() string { return g.jsonInt(0) }).String()
}

func (g *fuzzHTTPGen) flowContents() string {
	switch g.pick(8) {
	case 0:
		return fuzzOneOf(g, "null", `"x"`, "[]", "1", "{}")
	case 1:
		// Over flowdoc's compression threshold.
		return `{"identifier":"pg","name":"` + strings.Repeat("big ", 300+g.pick(4)*500) + `"}`
	case 2:
		return "{\"identifier\":\"pg\",\"name\":\"\xff\xfe\",\"comments\":\"\\ud800\"}"
	case 3:
		return `{"identifier":"pg","processors":[{"identifier":"p1","name":` + g.jsonString(g.name()) + `,"properties":{"a":"b"}}]}`
	}
	return `{"identifier":"pg","name":` + g.jsonString(g.name()) + `,"processGroups":[],"processors":[]}`
}

func (g *fuzzHTTPGen) snapshotBody(st *fuzzView) string {
	md := func() string {
		return g.object().
			add("version", func() string { return g.jsonInt(st.nextVersion) }).
			add("author", func() string { return g.jsonString(g.name()) }).
			add("comments", func() string { return g.jsonString(g.name()) }).
			add("timestamp", func() string { return g.jsonInt(0) }).
			add("bucketIdentifier", func() string { return g.jsonString(g.pathID(st.buckets)) }).
			add("flowIdentifier", func() string { return g.jsonString(g.pathID(st.flows)) }).
			add("link", func() string { return `{"href":"x"}` }).String()
	}
	mapPart := func() string { return fuzzOneOf(g, "{}", `{"p":{"name":"p","parameters":[]}}`, "[]", "null", `"x"`) }
	return g.object().
		add("snapshotMetadata", func() string {
			if g.pick(8) == 0 {
				return fuzzOneOf(g, "null", "[]", `"x"`)
			}
			return md()
		}).
		add("flowContents", g.flowContents).
		add("flowEncodingVersion", func() string { return fuzzOneOf(g, `"1.0"`, "1", "null", `"\u0000"`, "{}") }).
		add("parameterContexts", mapPart).
		add("parameterProviders", mapPart).
		add("externalControllerServices", mapPart).
		add("bucket", func() string { return g.bucketBody(st) }).
		add("flow", func() string { return g.flowBody(st) }).
		add("latest", func() string { return "true" }).String()
}

func (g *fuzzHTTPGen) tenantBody() string {
	return g.object().
		add("identifier", func() string { return g.jsonString(g.pathID(nil)) }).
		add("identity", func() string { return g.jsonString(g.name()) }).
		add("resource", func() string { return g.jsonString("/buckets") }).
		add("action", func() string { return g.jsonString(fuzzOneOf(g, "read", "write", "x")) }).
		add("users", func() string { return fuzzOneOf(g, "[]", `[{"identifier":"u"}]`, "{}") }).
		add("revision", g.revision).String()
}

type fuzzBodyKind int

const (
	fuzzNoBody fuzzBodyKind = iota
	fuzzBucketJSON
	fuzzFlowJSON
	fuzzSnapshotJSON
	fuzzTenantJSON
	fuzzMultipart
)

// body is the request body: usually the JSON the route takes, else
// another kind, raw input, an empty body or a broken one.
func (g *fuzzHTTPGen) body(kind fuzzBodyKind, st *fuzzView) []byte {
	gen := func(k fuzzBodyKind) string {
		switch k {
		case fuzzBucketJSON:
			return g.bucketBody(st)
		case fuzzFlowJSON:
			return g.flowBody(st)
		case fuzzSnapshotJSON:
			return g.snapshotBody(st)
		case fuzzTenantJSON:
			return g.tenantBody()
		case fuzzMultipart:
			return "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.nar\"\r\n\r\nPK\r\n--XX--\r\n"
		}
		return ""
	}
	switch g.pick(10) {
	case 0:
		return nil
	case 1:
		return g.take(48)
	case 2:
		return []byte(fuzzOneOf(g, "null", "[]", `"x"`, "{}", " ", "1", "{", `{"name":"n"}{}`, "\xef\xbb\xbf{}"))
	case 3:
		return []byte(gen(fuzzBodyKind(1 + g.pick(int(fuzzMultipart)))))
	case 4:
		b := []byte(gen(kind))
		if len(b) > 0 && g.u8()&1 == 0 {
			return b[:g.pick(len(b))]
		}
		return append(b, g.take(4)...)
	}
	return []byte(gen(kind))
}

// fuzzRoute is a NiFi Registry path with placeholders, its method and body.
type fuzzRoute struct {
	path   string
	method string
	body   fuzzBodyKind
}

const fuzzFV = "/buckets/{b}/flows/{f}/versions"

var fuzzRoutes = []fuzzRoute{
	{"/buckets", "POST", fuzzBucketJSON},
	{"/buckets/{b}", "PUT", fuzzBucketJSON},
	{"/buckets/{b}", "DELETE", fuzzNoBody},
	{"/buckets/{b}/flows", "POST", fuzzFlowJSON},
	{"/buckets/{b}/flows/{f}", "PUT", fuzzFlowJSON},
	{"/buckets/{b}/flows/{f}", "DELETE", fuzzNoBody},
	{fuzzFV, "POST", fuzzSnapshotJSON},
	{fuzzFV, "POST", fuzzSnapshotJSON},
	{fuzzFV + "/import", "POST", fuzzSnapshotJSON},
	{"/buckets", "GET", fuzzNoBody},
	{"/buckets/{b}", "GET", fuzzNoBody},
	{"/buckets/{b}/flows", "GET", fuzzNoBody},
	{"/buckets/{b}/flows/{f}", "GET", fuzzNoBody},
	{fuzzFV, "GET", fuzzNoBody},
	{fuzzFV + "/latest", "GET", fuzzNoBody},
	{fuzzFV + "/latest/metadata", "GET", fuzzNoBody},
	{fuzzFV + "/{n}", "GET", fuzzNoBody},
	{fuzzFV + "/{n}/export", "GET", fuzzNoBody},
	{"/buckets/{b}/flows/{f}/diff/{n}/{n}", "GET", fuzzNoBody},
	{"/flows/{f}", "GET", fuzzNoBody},
	{"/flows/{f}/versions", "GET", fuzzNoBody},
	{"/flows/{f}/versions/latest", "GET", fuzzNoBody},
	{"/flows/{f}/versions/latest/metadata", "GET", fuzzNoBody},
	{"/flows/{f}/versions/{n}", "GET", fuzzNoBody},
	{"/items", "GET", fuzzNoBody},
	{"/items/{b}", "GET", fuzzNoBody},
	{"/about", "GET", fuzzNoBody},
	{"/config", "GET", fuzzNoBody},
	{"/buckets/fields", "GET", fuzzNoBody},
	{"/flows/fields", "GET", fuzzNoBody},
	{"/items/fields", "GET", fuzzNoBody},
	{"/access", "GET", fuzzNoBody},
	{"/access/token", "POST", fuzzNoBody},
	{"/tenants/users", "POST", fuzzTenantJSON},
	{"/tenants/users/{x}", "PUT", fuzzTenantJSON},
	{"/tenants/user-groups/{x}", "DELETE", fuzzNoBody},
	{"/policies", "POST", fuzzTenantJSON},
	{"/policies/{x}", "PUT", fuzzTenantJSON},
	{"/policies/{action}/buckets/{b}", "GET", fuzzNoBody},
	{"/policies/resources", "GET", fuzzNoBody},
	{"/buckets/{b}/bundles", "GET", fuzzNoBody},
	{"/buckets/{b}/bundles/{type}", "POST", fuzzMultipart},
	{"/bundles/{x}/versions/{n}", "GET", fuzzNoBody},
	{"/extension-repository", "GET", fuzzNoBody},
	{"/extension-repository/{bn}/{x}/{x}/{n}/sha256", "GET", fuzzNoBody},
	{"/extensions", "GET", fuzzNoBody},
	{"/extensions/provided-service-api", "GET", fuzzNoBody},
}

// fuzzView is what the generator knows of the state: stored ids and the
// next version number of each flow (nextVersion: of the flow in the path).
type fuzzView struct {
	buckets, flows, names []string
	next                  map[string]int64
	nextVersion           int64
}

func fuzzViewOf(t *testing.T, st *store.Store) *fuzzView {
	v := &fuzzView{next: map[string]int64{}, nextVersion: 1}
	err := st.Read(func(tx *store.Tx) error {
		bs, err := tx.Buckets()
		if err != nil {
			return err
		}
		for _, b := range bs {
			v.buckets = append(v.buckets, b.ID)
			v.names = append(v.names, b.Name)
			fs, err := tx.Flows(b.ID)
			if err != nil {
				return err
			}
			for _, f := range fs {
				v.flows = append(v.flows, f.ID)
				v.next[f.ID] = f.VersionCount + 1
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	return v
}

// fuzzRequest is one generated request.
type fuzzRequest struct {
	method, target string
	body           []byte
	header         http.Header
}

func (g *fuzzHTTPGen) request(st *fuzzView) fuzzRequest {
	var rt fuzzRoute
	if g.pick(24) == 0 {
		// Somewhere NiFi has nothing, or no context path.
		seg := url.PathEscape(string(g.take(8)))
		rt = fuzzRoute{path: fuzzOneOf(g, "/"+seg, "/buckets/{b}/"+seg, "/../buckets", "//buckets", "/buckets/"), method: "GET", body: fuzzBucketJSON}
	} else {
		rt = fuzzRoutes[g.pick(len(fuzzRoutes))]
	}
	method := rt.method
	if g.pick(12) == 0 {
		method = fuzzOneOf(g, "GET", "POST", "PUT", "DELETE")
	}
	path := rt.path
	for strings.Contains(path, "{") {
		i := strings.Index(path, "{")
		j := strings.Index(path, "}")
		var v string
		switch path[i+1 : j] {
		case "b":
			v = g.pathID(st.buckets)
		case "f":
			v = g.pathID(st.flows)
			st.nextVersion = max(st.next[v], 1)
		case "x":
			v = g.pathID(nil)
		case "n":
			v = fuzzVersions[g.pick(len(fuzzVersions))]
		case "bn":
			v = g.pathID(st.names)
		case "action":
			v = fuzzOneOf(g, "read", "WRITE", "delete", "x", "")
		case "type":
			v = fuzzOneOf(g, "nifi-nar", "minifi-cpp", "x", "NIFI-NAR")
		}
		path = path[:i] + url.PathEscape(v) + path[j+1:]
	}
	if !strings.HasPrefix(path, "/..") && g.pick(32) != 0 {
		path = Base + path
	}
	q := url.Values{}
	for _, p := range []struct {
		name   string
		values []string
	}{
		{"preserveSourceProperties", []string{"true", "TRUE", "false", "yes", ""}},
		{"version", []string{"0", "1", "2", "-1", "x", "", "9223372036854775808"}},
		{"clientId", []string{"c1", "c2", "", " ", "\x00"}},
		{"consistency", []string{"stale", "STALE", "x"}},
	} {
		if v := g.u8(); v >= 0x80 {
			q.Add(p.name, p.values[int(v-0x80)%len(p.values)])
		}
	}
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	h := http.Header{}
	if rt.body == fuzzMultipart {
		h.Set("Content-Type", fuzzOneOf(g, "multipart/form-data; boundary=XX", "application/json", "multipart/form-data"))
	} else {
		h.Set("Content-Type", "application/json")
	}
	if g.pick(4) == 0 {
		h.Set("Comments", fuzzOneOf(g, "imported", " ", "\x00", strings.Repeat("c", 5000)))
	}
	var body []byte
	if method != "GET" || g.pick(8) == 0 {
		body = g.body(rt.body, st)
	}
	return fuzzRequest{method: method, target: target, body: body, header: h}
}

// ---- the pipeline

type fuzzServer struct {
	t      *testing.T
	st     *store.Store
	p      *fuzzProposer
	cached *API // the service as deployed
	plain  *API // render cache off: the reference for reads
}

func fuzzNewServer(t *testing.T, st *store.Store, revisions bool) *fuzzServer {
	p := &fuzzProposer{t: t, st: st}
	// Pinned clock and ids: an iteration must replay exactly.
	var clock, ids atomic.Int64
	clock.Store(1_700_000_000_000)
	opts := registry.Options{
		Revisions: revisions,
		Now:       func() time.Time { return time.UnixMilli(clock.Add(1)) },
		NewID:     func() string { return fmt.Sprintf("id-%d", ids.Add(1)) },
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// A small body limit, so that 413 happens too.
	apiOpts := Options{MaxBody: 32 << 10, Log: log}
	cached := New(registry.New(p, st, opts), nil, fuzzGate{st}, apiOpts)
	opts.RenderCacheBytes = -1
	plain := New(registry.New(p, st, opts), nil, fuzzGate{st}, apiOpts)
	return &fuzzServer{t: t, st: st, p: p, cached: cached, plain: plain}
}

type fuzzResponse struct {
	status int
	ctype  string
	body   []byte
}

func fuzzServe(h http.Handler, r fuzzRequest) (fuzzResponse, bool) {
	req, err := http.NewRequest(r.method, "http://weir.test"+r.target, bytes.NewReader(r.body))
	if err != nil {
		return fuzzResponse{}, false // not a request a client can send
	}
	req.Header = r.header.Clone()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return fuzzResponse{status: rec.Code, ctype: rec.Header().Get("Content-Type"), body: rec.Body.Bytes()}, true
}

func (s *fuzzServer) hash() string {
	h, _, err := s.st.StateHash()
	if err != nil {
		s.t.Fatal(err)
	}
	return h
}

// do sends r and checks the invariants of one answer.
func (s *fuzzServer) do(r fuzzRequest) fuzzResponse {
	t := s.t
	before := s.hash()
	resp, ok := fuzzServe(s.cached, r)
	if !ok {
		return resp
	}
	after := s.hash()
	what := fmt.Sprintf("%s %s (body %q)", r.method, r.target, fuzzAbbrev(r.body))
	if fuzzTrace {
		t.Logf("%s -> %d %s", what, resp.status, fuzzAbbrev(resp.body))
	}
	switch {
	case resp.status >= 500 && resp.status != 503 && resp.status != 507:
		t.Fatalf("%s: answered %d: %s", what, resp.status, fuzzAbbrev(resp.body))
	case resp.status >= 400:
		if mt, _, _ := mime.ParseMediaType(resp.ctype); mt != "text/plain" {
			t.Fatalf("%s: answered %d with Content-Type %q: %s", what, resp.status, resp.ctype, fuzzAbbrev(resp.body))
		}
	case resp.status >= 200 && resp.status < 300:
		if mt, _, _ := mime.ParseMediaType(resp.ctype); mt == "application/json" && !json.Valid(resp.body) {
			t.Fatalf("%s: answered %d with JSON that is not: %s", what, resp.status, fuzzAbbrev(resp.body))
		}
	}
	if (resp.status < 200 || resp.status >= 300 || r.method == "GET") && before != after {
		t.Fatalf("%s: answered %d but changed the state: %s", what, resp.status, fuzzAbbrev(resp.body))
	}
	if r.method == "GET" {
		ref, _ := fuzzServe(s.plain, r)
		if ref.status != resp.status || !bytes.Equal(ref.body, resp.body) {
			c, u := fuzzFirstDiff(resp.body, ref.body)
			t.Fatalf("%s: the render cache changed the answer:\ncached   %d …%s…\nuncached %d …%s…",
				what, resp.status, c, ref.status, u)
		}
	}
	return resp
}

// fuzzFirstDiff returns both texts around their first difference.
func fuzzFirstDiff(a, b []byte) (string, string) {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	around := func(x []byte) string { return string(x[max(i-120, 0):min(i+120, len(x))]) }
	return around(a), around(b)
}

func fuzzAbbrev(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}

// setMaintenance switches maintenance underneath the API, as an operator
// would on any node.
func (s *fuzzServer) setMaintenance(on bool) {
	if _, err := s.p.Propose(context.Background(), &command.SetMaintenance{On: on, Reason: "fuzz", By: "op", At: 1}); err != nil {
		s.t.Fatalf("maintenance: %v", err)
	}
}

func fuzzRunHTTP(t *testing.T, st *store.Store, data []byte) {
	g := &fuzzHTTPGen{b: data}
	s := fuzzNewServer(t, st, g.u8()&1 == 1)
	// The seeded state: bucket b1 ("B1") with flow f1 ("F1") at version 1.
	rev := `"revision":{"version":0}`
	for _, r := range []fuzzRequest{
		{method: "POST", target: Base + "/buckets?preserveSourceProperties=true", body: []byte(`{"identifier":"b1","name":"B1",` + rev + `}`)},
		{method: "POST", target: Base + "/buckets/b1/flows", body: []byte(`{"identifier":"f1","name":"F1",` + rev + `}`)},
		{method: "POST", target: Base + "/buckets/b1/flows/f1/versions", body: []byte(`{"snapshotMetadata":{"version":1},"flowContents":{"identifier":"pg","name":"root"}}`)},
	} {
		r.header = http.Header{"Content-Type": {"application/json"}}
		if resp := s.do(r); resp.status != 200 {
			t.Fatalf("seeding %s: %d %s", r.target, resp.status, resp.body)
		}
	}
	for n := 0; n < fuzzMaxRequests && g.more(); n++ {
		if v := g.u8(); v >= 0xF0 {
			s.setMaintenance(v == 0xF1 || v == 0xF3) // on rarely, off often
		}
		s.do(g.request(fuzzViewOf(t, st)))
	}
	if _, _, err := st.RecomputedStateHash(); err != nil {
		t.Fatal(err)
	}
}

// fuzzHTTPSeeds drive the generator above through typical sessions, byte by
// byte in the order it reads them; the fuzzer mutates them from there.
func fuzzHTTPSeeds() [][]byte {
	idx := func(path, method string) byte {
		for i, r := range fuzzRoutes {
			if r.path == path && r.method == method {
				return byte(i)
			}
		}
		panic("no fuzzRoute " + method + " " + path)
	}
	// A request: no maintenance switch, a listed route (pick 1 of 24),
	// its own method, a byte per path parameter, the context path, four
	// query bytes, no Comments header, then (for a GET: no) body.
	req := func(path, method string, params []byte, query [4]byte, body ...[]byte) []byte {
		out := []byte{0, 1, idx(path, method), 1}
		out = append(out, params...)
		out = append(out, 1)
		out = append(out, query[:]...)
		out = append(out, 1)
		switch {
		case method == "GET":
			out = append(out, 1)
		case len(body) == 0:
			out = append(out, 0) // an empty body
		}
		return append(out, fuzzCat(body...)...)
	}
	var (
		none     = [4]byte{}
		preserve = [4]byte{0x80} // ?preserveSourceProperties=true
		// Path parameters: 0x60+ picks from fuzzIDs.
		b1, b2, f1, f2 byte = 0x60, 0x62, 0x61, 0x63
		// Names: fuzzNames.
		n1, n2 byte = 2, 3
		// Body choice 9: the route's JSON. Members: 0 = absent, else
		// present with value bytes (4 = a plain JSON string).
		json   = []byte{9}
		abs    = []byte{0}
		str    = func(v byte) []byte { return []byte{0x60, v, 4} }
		lit    = func(v byte) []byte { return []byte{0x60, v} }
		rev0   = []byte{0x60, 0x60, 0, 0, 0} // {"version":0}
		next   = byte(4)                     // jsonInt: the next version
		ts     = byte(16)                    // jsonInt: 1700000000000
		bucket = func(id, name byte) []byte {
			return fuzzCat(json, str(id), str(name), abs, abs, abs, abs, rev0, abs, abs)
		}
		rename = func(name byte) []byte { return fuzzCat(json, abs, str(name), abs, abs, lit(0), abs, rev0, abs, abs) }
		flow   = func(id, name byte) []byte {
			return fuzzCat(json, str(id), str(name), abs, abs, lit(ts), lit(ts), rev0, abs, abs)
		}
		version = func(v, name byte) []byte {
			md := fuzzCat([]byte{0x60, 1}, lit(v), str(n1), str(name), lit(ts), abs, abs, abs)
			contents := []byte{0x60, 5, name, 4}
			return fuzzCat(json, md, contents, abs, abs, abs, abs, abs, abs, abs)
		}
	)
	return [][]byte{
		{0},
		{1},
		// Create, commit, read, delete and re-create a flow with the
		// same id (another name), then commit and read again.
		fuzzCat([]byte{0},
			req("/buckets", "POST", nil, preserve, bucket(b2, n1)),
			req("/buckets/{b}/flows", "POST", []byte{b2}, preserve, flow(f2, n2)),
			req(fuzzFV, "POST", []byte{b2, f2}, preserve, version(next, n1)),
			req(fuzzFV+"/latest", "GET", []byte{b2, f2}, none),
			req("/buckets/{b}/flows/{f}", "DELETE", []byte{b2, f2}, none),
			req("/buckets/{b}/flows", "POST", []byte{b2}, preserve, flow(f2, n1)),
			req(fuzzFV, "POST", []byte{b2, f2}, preserve, version(next, n2)),
			req(fuzzFV+"/latest", "GET", []byte{b2, f2}, none),
		),
		// Revisions on: a rename, a stale delete, a delete, the items.
		fuzzCat([]byte{1},
			req("/buckets/{b}", "PUT", []byte{b1}, none, rename(n2)),
			req("/buckets/{b}", "DELETE", []byte{b1}, [4]byte{0, 0x80, 0x80}),
			req("/buckets/{b}", "DELETE", []byte{b1}, [4]byte{0, 0x81, 0x80}),
			req("/items", "GET", nil, none),
		),
		// Maintenance on and off underneath writes.
		fuzzCat([]byte{0}, []byte{0xF1}, req("/buckets", "POST", nil, none, bucket(b2, n2))[1:],
			[]byte{0xF0}, req(fuzzFV+"/import", "POST", []byte{b1, f1}, none, version(next, n2))[1:],
			req("/buckets/{b}/flows/{f}", "PUT", []byte{b1, f1}, none, flow(f1, n2))),
		// Collisions: an existing name, an existing flow id elsewhere.
		fuzzCat([]byte{0},
			req("/buckets", "POST", nil, none, bucket(b1, 0)),
			req("/buckets", "POST", nil, preserve, bucket(b2, n1)),
			req("/buckets/{b}/flows", "POST", []byte{b2}, none, flow(f1, n1)),
			req(fuzzFV+"/{n}", "GET", []byte{b1, f1, 0}, none),
			req("/flows/{f}/versions/{n}", "GET", []byte{f1, 3}, none),
		),
		// A bundle upload with an unknown type (NiFi's 500).
		fuzzCat([]byte{0}, req("/buckets/{b}/bundles/{type}", "POST", []byte{b1, 2}, none, []byte{9})),
	}
}

func fuzzCat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
