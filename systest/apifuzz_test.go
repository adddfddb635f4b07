package systest

// TestAPIFuzzCluster sends thousands of generated requests, one at a time,
// to a real 3-node cluster and checks invariants after every one.
//
// Run it (about 3000 cases, a fixed seed, under three minutes on two cores):
//
//	go test -count=1 -run TestAPIFuzzCluster -v ./systest/
//
// Longer, or with another seed (the seed in use is logged first; a
// violation names the case number and a curl command for its request):
//
//	WEIR_APIFUZZ_CASES=50000 WEIR_APIFUZZ_SEED=7 go test -count=1 -timeout 2h -run TestAPIFuzzCluster -v ./systest/
//
// A seed replays the same choices; ids the server makes (UUIDs) differ
// between runs, so requests that carry them differ too.
//
// Requests: every operation (method and path template) of NiFi Registry's
// OpenAPI document, plus Weir's own endpoints (actuator maintenance, health,
// prometheus, /weir-api/cluster/...). Path parameters are ids that exist
// (a few buckets, flows and versions are created first, and ids are learned
// from every 2xx answer), random strings and hostile values; query
// parameters are the declared ones plus Weir's flags; bodies come from the
// request schema and are often mutated (apifuzz_gen_test.go). Each case goes
// to a random node (followers forward writes to the leader).
//
// Weir's administrative operations are sent unsigned and must be refused
// (401/403). Until that holds, the fuzzer keeps them harmless: membership
// calls (join, remove, transfer-leader) always carry an id that is not a
// member (never missing, null or empty, and never a body that decodes to an
// empty request), and a join that is accepted anyway is undone with a signed
// remove. Maintenance POSTs are fuzzed with enabled=true too: after every
// maintenance POST the switch is read on the leader and, if it is on,
// turned off again (signed with the cluster key) before the next case.
//
// Invariants, checked after every case:
//
//	1 no 5xx except 503 (unavailable, retry) and 507 (insufficient storage);
//	2 every node still runs, and no node log has "panic:", "fatal error:"
//	  or "http: panic serving" (a handler panic net/http recovered);
//	3 an answer other than 2xx (3xx, 4xx, 503, 507) leaves the leader's state
//	  hash as it was before the case; so does any GET, whatever its status;
//	4 error answers (>= 400) are text/plain, NiFi's format (except the
//	  Spring Boot health documents, which are JSON with 503 when DOWN);
//	5 no 3xx redirect for a path with "." or ".." segments (in any
//	  spelling: %2e%2e too) — a client following it would apply the method
//	  to another resource; also none for a path with an empty segment
//	  ("//"), which net/http cleans and redirects the same way, and none at
//	  all otherwise (Weir forwards writes, it does not redirect them here);
//	6 unsigned administrative operations answer 401 or 403: POST
//	  actuator/maintenance, POST /weir-api/cluster/{join,remove,
//	  transfer-leader}, and also GET and POST actuator/backup and GET
//	  /weir-api/cluster/local?recompute (a whole-store download and walk).
//	  A 4xx from the checks every route makes first (a query that is not
//	  UTF-8, a body not sent as JSON) is not a violation when the same
//	  request sent to a route without credentials gets the same status
//	  and message (genericRefusal); any other answer is;
//	7 a JSON body that is not valid UTF-8 is never accepted (2xx);
//	8 a non-empty body whose Content-Type is missing or not one the
//	  operation declares (text/plain for application/json) is never
//	  accepted (2xx).
//
// A request that gets no answer within 10 s counts as a violation too
// (except a request target net/http cannot parse: it answers 400 and
// closes, and a client still sending a body may see only the reset). At
// the end every node must have the same state hash (MustConverge). A
// leader change is logged as a note (the hash is then not compared for
// that case); after a body above --max-body the test waits for a settled
// leader, since moving 33 MiB on a small machine can cost the leader its
// 200 ms lease.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/harness"
)

const (
	apifuzzDefaultCases = 3000
	apifuzzDefaultSeed  = 20240611
)

func TestAPIFuzzCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts weir processes")
	}
	cases := apifuzzDefaultCases
	if v := os.Getenv("WEIR_APIFUZZ_CASES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("WEIR_APIFUZZ_CASES=%q: want a positive number", v)
		}
		cases = n
	}
	seed := int64(apifuzzDefaultSeed)
	if v := os.Getenv("WEIR_APIFUZZ_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("WEIR_APIFUZZ_SEED=%q: want a number", v)
		}
		seed = n
	}
	t.Logf("apifuzz: seed %d, %d cases (replay: WEIR_APIFUZZ_SEED=%d WEIR_APIFUZZ_CASES=%d)", seed, cases, seed, cases)
	ops := apifuzzOps(t)

	start := time.Now()
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3})
	c.MustConverge()
	f := newAPIFuzzer(t, c, ops, seed)
	f.leader = c.MustLeader()
	f.replenish()
	f.hash, _ = f.leaderHash()
	t.Logf("apifuzz: cluster up and seeded in %v (%d buckets, %d flows); leader %s; %d operations",
		time.Since(start).Round(time.Millisecond), len(f.buckets), len(f.flows), f.leader.Opts.ID, len(ops))

	runStart := time.Now()
	ran := 0
	for i := 1; i <= cases; i++ {
		fc := f.genCase(i)
		f.wrote = false
		before := f.hash
		res := f.send(fc)
		after, sameLeader := f.leaderHash()
		ran++
		stop := f.check(fc, res, before, after, sameLeader)
		f.hash = after
		f.prev = fc
		if stop || f.noLeader != nil {
			break
		}
		f.afterCase(fc, res)
		if f.noLeader != nil {
			break
		}
		if i%500 == 0 {
			t.Logf("apifuzz: %d cases in %v, %d distinct violations so far", i, time.Since(runStart).Round(time.Millisecond), len(f.viol))
		}
	}
	elapsed := time.Since(runStart)

	if !f.dead && f.noLeader == nil {
		c.MustConverge()
	}
	c.CheckAlive()
	f.report(ran, elapsed)
	if f.dead {
		t.Fatalf("apifuzz: stopped after case %d: a node is gone", ran)
	}
	if f.noLeader != nil {
		t.Fatalf("apifuzz: stopped after case %d: %v", ran, f.noLeader)
	}
}

// apiFuzzer holds the state of one run.
type apiFuzzer struct {
	t      *testing.T
	c      *harness.Cluster
	rng    *rand.Rand
	ops    []*fzOp
	weight int
	hc     *http.Client
	seq    int

	// Ids: live ones (from the last refresh and learned since) and every
	// one ever seen (deleted ones give 404 cases).
	buckets     []fzBucket
	flows       []fzFlow
	seenBuckets []string
	seenFlows   []string
	seen        map[string]bool

	leader *harness.Node
	hash   string
	logs   map[*harness.Node]*fzLogWatch
	prev   *fzCase
	dead   bool
	// noLeader is set when the cluster had no leader for 30 s.
	noLeader error

	statuses  map[int]int
	opCases   map[*fzOp]int
	op2xx     map[*fzOp]int
	viol      map[string]*fzViolation
	notes     []string
	slowest   time.Duration
	slowestN  int
	wrote     bool   // bookkeeping wrote since the hash was read
	big       []byte // the body above --max-body, made once
	maintOffs int
	// genericAdmin counts unsigned admin calls refused by the checks
	// every route applies (see genericRefusal).
	genericAdmin int
}

func newAPIFuzzer(t *testing.T, c *harness.Cluster, ops []*fzOp, seed int64) *apiFuzzer {
	f := &apiFuzzer{
		t: t, c: c, ops: ops, rng: rand.New(rand.NewSource(seed)),
		hc: &http.Client{
			Timeout: 10 * time.Second,
			// A redirect is an answer to check, not to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport:     &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true},
		},
		seen:     map[string]bool{},
		logs:     map[*harness.Node]*fzLogWatch{},
		statuses: map[int]int{},
		opCases:  map[*fzOp]int{},
		op2xx:    map[*fzOp]int{},
		viol:     map[string]*fzViolation{},
	}
	for _, o := range ops {
		f.weight += o.weight
	}
	for _, n := range c.Nodes {
		f.logs[n] = &fzLogWatch{}
	}
	return f
}

// ---- cases

type fzCase struct {
	n       int
	op      *fzOp
	method  string
	admin   string
	node    *harness.Node
	leader  bool // node led when the case was sent
	path    string
	query   string
	header  http.Header
	body    []byte
	hasBody bool
	chunked bool
	note    string
}

func (c *fzCase) uri() string {
	if c.query == "" {
		return c.path
	}
	return c.path + "?" + c.query
}

type fzResult struct {
	status int
	header http.Header
	body   []byte
	err    error
	dur    time.Duration
}

func (f *apiFuzzer) pickOp() *fzOp {
	w := f.pick(f.weight)
	for _, o := range f.ops {
		if w < o.weight {
			return o
		}
		w -= o.weight
	}
	return f.ops[len(f.ops)-1]
}

// adminKind says whether a request is one of Weir's administrative
// operations (o.admin, with its own method; for GET
// /weir-api/cluster/local only when the query has "recompute").
func adminKind(o *fzOp, method, query string) string {
	if o.admin == "" || method != o.method {
		return ""
	}
	if o.admin == "recompute" {
		q, _ := url.ParseQuery(query) // as the server reads it: bad pairs dropped
		if !q.Has("recompute") {
			return ""
		}
	}
	return o.admin
}

func (f *apiFuzzer) genCase(n int) *fzCase {
	o := f.pickOp()
	path, pc := f.genPath(o)
	fc := &fzCase{n: n, op: o, method: o.method, path: path, header: http.Header{}}
	fc.query = f.genQuery(o, pc)
	for _, h := range o.headers {
		if f.chance(0.6) {
			fc.header.Set(h.name, []string{f.alnum(f.pick(30)), "comment é 日本 🙂", strings.Repeat("c", 5000), ""}[f.pick(4)])
		}
	}
	if f.chance(0.05) {
		fc.header.Set("X-Weir-Consistency", []string{"stale", "STALE", "linearizable", ""}[f.pick(4)])
	}
	if f.chance(0.02) {
		// Another method on the same path (405s, and the routing of
		// methods NiFi's document does not list).
		fc.method = []string{"PATCH", "OPTIONS", "PUT", "DELETE", "POST", "GET"}[f.pick(6)]
	}
	if len(o.bodyTypes) > 0 || f.chance(0.03) {
		if len(o.bodyTypes) == 0 || !f.chance(0.05) {
			fc.body, fc.note = f.genBody(o, pc)
			fc.hasBody = true
		} else {
			fc.note = "no body"
		}
		if ct := f.genContentType(o); ct != "" && fc.hasBody {
			fc.header.Set("Content-Type", ct)
		}
		fc.chunked = fc.hasBody && f.chance(0.15)
	}
	fc.admin = adminKind(o, fc.method, fc.query)
	fc.node = f.c.Nodes[f.pick(len(f.c.Nodes))]
	fc.leader = fc.node == f.leader
	return fc
}

func (f *apiFuzzer) send(fc *fzCase) *fzResult {
	f.opCases[fc.op]++
	var body io.Reader = http.NoBody
	if fc.hasBody {
		body = bytes.NewReader(fc.body)
	}
	req, err := http.NewRequest(fc.method, fc.node.API, body)
	if err != nil {
		f.t.Fatalf("case %d: build request: %v", fc.n, err)
	}
	// The raw path goes on the wire as generated: no cleaning, no
	// re-encoding.
	req.URL.Opaque = fc.path
	req.URL.RawQuery = fc.query
	for k, vs := range fc.header {
		req.Header[k] = vs
	}
	if fc.chunked {
		req.Body = io.NopCloser(bytes.NewReader(fc.body))
		req.ContentLength = -1
		req.GetBody = nil
	}
	t0 := time.Now()
	resp, err := f.hc.Do(req)
	res := &fzResult{err: err}
	if err == nil {
		res.status, res.header = resp.StatusCode, resp.Header
		res.body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			res.err = fmt.Errorf("reading the answer: %w", err)
		}
	}
	res.dur = time.Since(t0)
	if res.err != nil && strings.Contains(res.err.Error(), "net/http: invalid") {
		f.t.Fatalf("case %d: the fuzzer built a request Go refuses to send: %v", fc.n, res.err)
	}
	if res.dur > f.slowest {
		f.slowest, f.slowestN = res.dur, fc.n
	}
	return res
}

// ---- invariants

type fzViolation struct {
	inv, op, what string
	count, first  int
	routes        map[string]bool
	ex            *fzCase
	exRes         *fzResult
	exSize        int
	detail        string
}

var fzLogMarkers = [][]byte{[]byte("panic:"), []byte("fatal error:"), []byte("http: panic serving")}

// check verifies the invariants after one case and reports whether the
// run must stop (a node is gone).
func (f *apiFuzzer) check(fc *fzCase, res *fzResult, before, after string, sameLeader bool) bool {
	st := res.status
	f.statuses[st]++
	if st/100 == 2 {
		f.op2xx[fc.op]++
	}
	ct := ""
	if res.header != nil {
		ct = res.header.Get("Content-Type")
	}

	if fc.note == fzBigNote {
		f.note(fmt.Sprintf("case %d: %s %s with a 33 MiB body: %s", fc.n, fc.method, fc.op.template, describeAnswer(res)))
	}
	if res.err != nil {
		if _, err := url.ParseRequestURI(fc.uri()); err != nil {
			// net/http answers a request target it cannot parse with 400
			// and closes at once; with a body still arriving the client
			// may see the reset before the answer. Not Weir's doing.
			f.note(fmt.Sprintf("case %d: malformed request target (%v); connection closed: %v", fc.n, err, res.err))
		} else {
			f.violate("no answer", fc, res, "no answer in 10 s", res.err.Error())
		}
	}
	// 1: server errors.
	if st >= 500 && st != 503 && st != 507 {
		f.violate("1 5xx", fc, res, strconv.Itoa(st), "")
	}
	// 4: NiFi's error format.
	if st >= 400 && !strings.HasPrefix(strings.ToLower(ct), "text/plain") &&
		!(st == 503 && fc.method == "GET" && strings.HasPrefix(fc.op.template, apifuzzBase+"/actuator/health") && strings.HasPrefix(ct, "application/json")) {
		f.violate("4 error not text/plain", fc, res, fmt.Sprintf("%d %q", st, ct), "")
	}
	// 5: redirects.
	if st >= 300 && st < 400 {
		dot, empty := fzOddSegments(fc.path)
		what := "other redirect"
		switch {
		case dot:
			what = "dot segment"
		case empty:
			what = "empty segment"
		}
		f.violate("5 redirect", fc, res, fmt.Sprintf("%s %d", what, st), "Location: "+res.header.Get("Location"))
	}
	// 6: unsigned administrative operations.
	if fc.admin != "" && res.err == nil && st != 401 && st != 403 {
		if st/100 == 4 && f.genericRefusal(fc, res) {
			f.genericAdmin++
		} else {
			what := fmt.Sprintf("answered %d", st)
			if st/100 == 2 {
				what = fmt.Sprintf("accepted (%d)", st)
			}
			f.violate("6 unsigned admin call not refused with 401/403", fc, res, what, "")
		}
	}
	// 7, 8: bodies that must not be accepted.
	if st/100 == 2 && fc.hasBody && len(fc.body) > 0 && fc.method == fc.op.method {
		if fc.op.takesJSON() && !utf8.Valid(fc.body) {
			f.violate("7 invalid UTF-8 accepted", fc, res, strconv.Itoa(st), "")
		}
		if len(fc.op.bodyTypes) > 0 && !fc.op.accepts(fc.header.Get("Content-Type")) {
			what := fc.header.Get("Content-Type")
			if what == "" {
				what = "missing"
			}
			f.violate("8 wrong Content-Type accepted", fc, res, "Content-Type "+what, "")
		}
	}
	// 3: refused requests and reads change nothing.
	if res.err == nil && (st/100 != 2 || fc.method == "GET") && before != "" && after != "" {
		if !sameLeader {
			f.note(fmt.Sprintf("case %d: the leader changed; state hash not compared", fc.n))
		} else if before != after {
			prev := "none"
			if f.prev != nil {
				prev = fmt.Sprintf("case %d %s %.120s", f.prev.n, f.prev.method, f.prev.uri())
			}
			f.violate("3 state changed", fc, res, strconv.Itoa(st),
				fmt.Sprintf("state hash %.12s -> %.12s (previous case: %s)", before, after, prev))
		}
	}
	// 2: processes and logs.
	stop := false
	for _, n := range f.c.Nodes {
		if gone, status := n.ExitedUnexpectedly(); gone {
			f.violate("2 node exited", fc, res, n.Opts.ID, status)
			stop = true
		}
	}
	for _, hit := range f.scanLogs() {
		f.violate("2 panic in log", fc, res, hit[:strings.Index(hit, ":")], hit)
	}
	if stop {
		f.dead = true
	}
	return stop
}

// genericRefusal tells whether an unsigned admin call was refused by the
// checks every route makes before any credential is looked at (query not
// UTF-8, a body that is not declared JSON, ...): the same request sent to
// a route that needs no credentials — the flows of a bucket that does not
// exist, so nothing can change — gets the same status and message. A
// refusal that only the admin route gives (it parsed or judged the body
// before asking for the key) stays a violation.
func (f *apiFuzzer) genericRefusal(fc *fzCase, res *fzResult) bool {
	path := apifuzzBase + "/buckets/apifuzz-control-no-such-bucket"
	if fc.method != "GET" {
		path += "/flows"
	}
	var body io.Reader = http.NoBody
	if fc.hasBody {
		body = bytes.NewReader(fc.body)
	}
	req, err := http.NewRequest(fc.method, fc.node.API, body)
	if err != nil {
		f.t.Fatal(err)
	}
	req.URL.Opaque, req.URL.RawQuery = path, fc.query
	for k, vs := range fc.header {
		req.Header[k] = vs
	}
	if fc.chunked {
		req.Body, req.ContentLength, req.GetBody = io.NopCloser(bytes.NewReader(fc.body)), -1, nil
	}
	f.wrote = true // refused as it must be, but the hash is read again
	resp, err := f.hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode == res.status && bytes.Equal(b, res.body)
}

// fzOddSegments reports whether a raw path has a segment that decodes to
// "." or ".." (or holds one after an encoded slash), and whether it has an
// empty segment before its end ("//").
func fzOddSegments(raw string) (dot, empty bool) {
	segs := strings.Split(raw, "/")[1:]
	for i, s := range segs {
		d, err := url.PathUnescape(s)
		if err != nil {
			d = s
		}
		for _, x := range strings.Split(d, "/") {
			if x == "." || x == ".." {
				dot = true
			}
		}
		if s == "" && i < len(segs)-1 {
			empty = true
		}
	}
	return dot, empty
}

func (f *apiFuzzer) violate(inv string, fc *fzCase, res *fzResult, what, detail string) {
	// Redirects have one cause whatever the route: they are grouped by
	// method, cause and status, the others by operation.
	op := fc.method + " " + fc.op.template
	group := op
	if strings.HasPrefix(inv, "5 ") {
		group = fc.method + " (any route)"
	}
	key := inv + "|" + group + "|" + what
	v := f.viol[key]
	size := len(fc.uri()) + len(fc.body) + 20*len(fc.header)
	if v == nil {
		v = &fzViolation{inv: inv, op: group, what: what, first: fc.n, routes: map[string]bool{}}
		f.viol[key] = v
		f.t.Logf("apifuzz: case %d: new violation [%s] %s: %s %s\n    %s\n    answer: %s",
			fc.n, inv, op, what, detail, f.repro(fc, false, ""), describeAnswer(res))
	}
	v.routes[op] = true
	v.count++
	if v.ex == nil || size < v.exSize {
		v.ex, v.exRes, v.exSize, v.detail = fc, res, size, detail
	}
}

func (f *apiFuzzer) note(s string) {
	if len(f.notes) < 50 {
		f.notes = append(f.notes, s)
	}
}

// ---- logs

type fzLogWatch struct {
	off  int64
	tail []byte
}

// scanLogs reads what every node logged since the last scan and returns
// the lines with a crash marker ("node: line").
func (f *apiFuzzer) scanLogs() []string {
	var hits []string
	for _, n := range f.c.Nodes {
		w := f.logs[n]
		fh, err := os.Open(n.LogPath)
		if err != nil {
			continue
		}
		if _, err := fh.Seek(w.off, io.SeekStart); err != nil {
			fh.Close()
			continue
		}
		data, _ := io.ReadAll(fh)
		fh.Close()
		w.off += int64(len(data))
		buf := append(w.tail, data...)
		for _, m := range fzLogMarkers {
			if i := bytes.Index(buf, m); i >= 0 {
				from := bytes.LastIndexByte(buf[:i], '\n') + 1
				to := min(len(buf), i+300)
				if j := bytes.IndexByte(buf[i:], '\n'); j >= 0 {
					to = min(to, i+j)
				}
				hits = append(hits, n.Opts.ID+": "+string(buf[from:to]))
			}
		}
		// Keep less than the shortest marker, so a marker split across
		// two reads is found and a found one is not found again.
		if k := 5; len(buf) > k {
			w.tail = append([]byte{}, buf[len(buf)-k:]...)
		} else {
			w.tail = append([]byte{}, buf...)
		}
	}
	return hits
}

// ---- the leader's state hash

// leaderHash reads the leader's kept state hash; the second result is
// false when the leader changed (then the hash is the new leader's).
func (f *apiFuzzer) leaderHash() (string, bool) {
	var last error
	for try := 0; try < 5; try++ {
		l, err := harness.LocalOf(f.leader)
		if err == nil && l.State == "Leader" {
			return l.StateHash, true
		}
		if err == nil {
			last = fmt.Errorf("%s is %s", f.leader.Opts.ID, l.State)
			break
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	old := f.leader
	n, err := f.c.WaitLeader(30 * time.Second)
	if err != nil {
		f.noLeader = fmt.Errorf("no leader (last: %v): %w", last, err)
		return "", false
	}
	f.leader = n
	f.note(fmt.Sprintf("leader %s -> %s (%v)", old.Opts.ID, n.Opts.ID, last))
	l, err := harness.LocalOf(n)
	if err != nil {
		return "", false
	}
	return l.StateHash, false
}

// ---- bookkeeping between cases

// afterCase learns ids from the answer and puts back what the case may
// have disturbed; any write here re-reads the hash the next case starts
// from.
func (f *apiFuzzer) afterCase(fc *fzCase, res *fzResult) {
	if res.err == nil && res.status/100 == 2 {
		f.learn(res.body)
		switch fc.admin {
		case "join":
			var j struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(fc.body, &j) == nil && j.ID != "" {
				st, msg, err := f.c.Admin(f.leader, "remove", cluster.RemoveRequest{ID: j.ID, Force: true})
				f.t.Logf("apifuzz: case %d: an unsigned join was accepted; signed remove of %q: %d %s %v", fc.n, j.ID, st, msg, err)
			}
		case "transfer-leader":
			f.leader = f.c.MustLeader()
		}
	}
	if fc.note == fzBigNote {
		// Moving 33 MiB through loopback on a small machine can keep a
		// leader from renewing its 200 ms lease (seen on the commit
		// before this test too); let any election finish before the next
		// case, whose hash comparison needs a settled leader.
		time.Sleep(time.Second)
		f.leader = f.c.MustLeader()
		f.wrote = true
	}
	if fc.method == "POST" && strings.HasPrefix(fc.op.template, apifuzzBase+"/actuator/maintenance") {
		f.maintenanceOff(fc)
	}
	if (res.err == nil && res.status/100 == 2 && fc.method == "DELETE") || fc.n%25 == 0 {
		f.refresh()
	}
	f.replenish()
	if f.wrote {
		f.hash, _ = f.leaderHash()
	}
}

// call sends a bookkeeping request to the leader (not a case).
func (f *apiFuzzer) call(method, path string, body any, sign bool) (int, []byte) {
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, f.leader.API+path, bytes.NewReader(payload))
	if err != nil {
		f.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if sign {
		adminauth.Sign([]byte(f.c.Opts.Key), req, payload)
	}
	if method != "GET" {
		f.wrote = true
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		f.t.Logf("apifuzz: bookkeeping %s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// maintenanceOff turns the replicated read-only switch off if a case
// turned it on.
func (f *apiFuzzer) maintenanceOff(fc *fzCase) {
	on := func() bool {
		st, b := f.call("GET", apifuzzBase+"/actuator/maintenance", nil, false)
		var m struct {
			Enabled bool `json:"enabled"`
		}
		if st != 200 || json.Unmarshal(b, &m) != nil {
			f.t.Fatalf("apifuzz: after case %d: read the maintenance switch: %d %s", fc.n, st, b)
		}
		return m.Enabled
	}
	if !on() {
		return
	}
	st, b := f.call("POST", apifuzzBase+"/actuator/maintenance", map[string]any{"enabled": false, "reason": "apifuzz: off again"}, true)
	if st != 200 || on() {
		f.t.Fatalf("apifuzz: after case %d turned maintenance on, turning it off failed: %d %s", fc.n, st, b)
	}
	f.maintOffs++
}

// learn records the buckets, flows and versions in a 2xx answer.
func (f *apiFuzzer) learn(body []byte) {
	var v any
	if len(body) == 0 || len(body) > 4<<20 || json.Unmarshal(body, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			id, _ := x["identifier"].(string)
			name, _ := x["name"].(string)
			if b, ok := x["bucketIdentifier"].(string); ok && id != "" && (x["type"] == "Flow" || x["versionCount"] != nil) {
				vc, _ := x["versionCount"].(float64)
				f.addFlow(fzFlow{bucket: b, id: id, name: name, versions: int(vc)})
			} else if _, ok := x["allowBundleRedeploy"]; ok && id != "" {
				f.addBucket(fzBucket{id: id, name: name})
			}
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

func (f *apiFuzzer) addBucket(b fzBucket) {
	f.remember(&f.seenBuckets, b.id)
	for i := range f.buckets {
		if f.buckets[i].id == b.id {
			f.buckets[i] = b
			return
		}
	}
	f.buckets = append(f.buckets, b)
}

func (f *apiFuzzer) addFlow(fl fzFlow) {
	f.remember(&f.seenFlows, fl.id)
	for i := range f.flows {
		if f.flows[i].id == fl.id {
			if fl.versions < f.flows[i].versions {
				fl.versions = f.flows[i].versions
			}
			f.flows[i] = fl
			return
		}
	}
	f.flows = append(f.flows, fl)
}

func (f *apiFuzzer) remember(list *[]string, id string) {
	if f.seen[id] {
		return
	}
	f.seen[id] = true
	if len(*list) < 200 {
		*list = append(*list, id)
	} else {
		(*list)[f.pick(len(*list))] = id
	}
}

// refresh replaces the live ids with the leader's lists.
func (f *apiFuzzer) refresh() {
	st, b := f.call("GET", apifuzzBase+"/buckets", nil, false)
	var bs []struct {
		Identifier string `json:"identifier"`
		Name       string `json:"name"`
	}
	if st != 200 || json.Unmarshal(b, &bs) != nil {
		f.t.Logf("apifuzz: refresh buckets: %d %.200s", st, b)
		return
	}
	st, b = f.call("GET", apifuzzBase+"/items", nil, false)
	var items []struct {
		Identifier       string `json:"identifier"`
		BucketIdentifier string `json:"bucketIdentifier"`
		Name             string `json:"name"`
		Type             string `json:"type"`
		VersionCount     int    `json:"versionCount"`
	}
	if st != 200 || json.Unmarshal(b, &items) != nil {
		f.t.Logf("apifuzz: refresh items: %d %.200s", st, b)
		return
	}
	f.buckets, f.flows = nil, nil
	for _, x := range bs {
		f.addBucket(fzBucket{id: x.Identifier, name: x.Name})
	}
	for _, x := range items {
		if x.Type == "Flow" {
			f.addFlow(fzFlow{bucket: x.BucketIdentifier, id: x.Identifier, name: x.Name, versions: x.VersionCount})
		}
	}
}

// replenish keeps a few buckets, flows and versions alive to aim at.
func (f *apiFuzzer) replenish() {
	withVersions := func() int {
		n := 0
		for _, fl := range f.flows {
			if fl.versions > 0 {
				n++
			}
		}
		return n
	}
	for tries := 0; (len(f.buckets) < 3 || len(f.flows) < 4 || withVersions() < 3) && tries < 5; tries++ {
		bk := f.seed("a bucket", apifuzzBase+"/buckets", map[string]any{"name": f.name(), "description": "apifuzz seed"})
		for i := 0; i < 2; i++ {
			fl := f.seed("a flow", apifuzzBase+"/buckets/"+bk+"/flows", map[string]any{"name": f.name()})
			for v := 1; v <= 2; v++ {
				snap := map[string]any{
					"snapshotMetadata": map[string]any{"version": v, "comments": "apifuzz seed"},
					"flowContents":     map[string]any{"identifier": "pg", "name": "PG", "processors": []any{}},
				}
				f.seed("a version", apifuzzBase+"/buckets/"+bk+"/flows/"+fl+"/versions", snap)
			}
		}
	}
}

// seed creates what replenish asks for (an unsigned POST that must answer
// 200), learns from the answer and returns its identifier.
func (f *apiFuzzer) seed(what, path string, body any) string {
	st, b := f.call("POST", path, body, false)
	if st != 200 {
		f.t.Fatalf("apifuzz: seed %s: %d %s", what, st, b)
	}
	f.learn(b)
	var x struct {
		Identifier string `json:"identifier"`
	}
	_ = json.Unmarshal(b, &x)
	return x.Identifier
}

// ---- the report

func (f *apiFuzzer) report(ran int, elapsed time.Duration) {
	t := f.t
	var b strings.Builder
	for _, s := range slices.Sorted(maps.Keys(f.statuses)) {
		name := "no answer"
		if s != 0 {
			name = strconv.Itoa(s)
		}
		fmt.Fprintf(&b, " %s:%d", name, f.statuses[s])
	}
	t.Logf("apifuzz: %d cases in %v (%.0f/s); slowest case %d took %v", ran, elapsed.Round(time.Millisecond),
		float64(ran)/elapsed.Seconds(), f.slowestN, f.slowest.Round(time.Millisecond))
	t.Logf("apifuzz: statuses:%s", b.String())
	exercised, ok := 0, 0
	var never []string
	for _, o := range f.ops {
		if f.opCases[o] > 0 {
			exercised++
		}
		if f.op2xx[o] > 0 {
			ok++
		} else if o.weight >= 3 {
			never = append(never, o.String())
		}
	}
	t.Logf("apifuzz: %d of %d operations sent, %d answered 2xx at least once; maintenance turned off again %d times; "+
		"%d unsigned admin calls refused by the checks every route makes (not 401/403, same answer on a plain route)",
		exercised, len(f.ops), ok, f.maintOffs, f.genericAdmin)
	if len(never) > 0 {
		t.Logf("apifuzz: registry operations never answered 2xx: %s", strings.Join(never, "; "))
	}
	for _, n := range f.notes {
		t.Logf("apifuzz: note: %s", n)
	}
	keys := slices.Sorted(maps.Keys(f.viol))
	if len(keys) == 0 {
		t.Logf("apifuzz: no invariant violated")
		return
	}
	t.Logf("apifuzz: %d distinct violations:", len(keys))
	var bodyDir string
	for _, k := range keys {
		v := f.viol[k]
		bodyFile := ""
		if len(v.ex.body) > 400 {
			// Long bodies go to files that outlive the test, so the
			// curl commands below run as printed.
			if bodyDir == "" {
				bodyDir, _ = os.MkdirTemp("", "weir-apifuzz-")
			}
			if bodyDir != "" {
				bodyFile = fmt.Sprintf("%s/case-%d.body", bodyDir, v.ex.n)
				if os.WriteFile(bodyFile, v.ex.body, 0o644) != nil {
					bodyFile = ""
				}
			}
		}
		routes := ""
		if len(v.routes) > 1 {
			routes = fmt.Sprintf(" on %d routes", len(v.routes))
		}
		t.Errorf("apifuzz: [%s] %s (%s): %d cases%s, first #%d; smallest (#%d): %s\n    %s\n    answer: %s",
			v.inv, v.op, v.what, v.count, routes, v.first, v.ex.n, v.detail, f.repro(v.ex, true, bodyFile), describeAnswer(v.exRes))
	}
}

// repro renders a case as a curl command. In the final report (full) the
// URI is whole and a body longer than a line is read from bodyFile; while
// the run goes on, both are shortened.
func (f *apiFuzzer) repro(fc *fzCase, full bool, bodyFile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "curl -sS -i --path-as-is -X %s", fc.method)
	for _, k := range slices.Sorted(maps.Keys(fc.header)) {
		v := fc.header.Get(k)
		if len(v) > 200 && !full {
			v = v[:100] + fmt.Sprintf("…(%d bytes)", len(v))
		}
		b.WriteString(" -H " + fzShellQuote(k+": "+v))
	}
	if fc.hasBody && fc.header.Get("Content-Type") == "" {
		b.WriteString(" -H 'Content-Type:'") // or curl sends one
	}
	if fc.chunked {
		b.WriteString(" -H 'Transfer-Encoding: chunked'")
	}
	uri := fc.uri()
	if len(uri) > 600 && !full {
		uri = uri[:300] + fmt.Sprintf("…(%d bytes)…", len(uri)) + uri[len(uri)-100:]
	}
	b.WriteString(" " + fzShellQuote(fc.node.API+uri))
	if fc.hasBody {
		switch {
		case len(fc.body) <= 400:
			b.WriteString(" --data-binary " + fzShellQuote(string(fc.body)))
		case bodyFile != "":
			fmt.Fprintf(&b, " --data-binary @%s", bodyFile)
		default:
			fmt.Fprintf(&b, " --data-binary @body  # %d bytes: %s…%s", len(fc.body),
				fzShellQuote(string(fc.body[:200])), fzShellQuote(string(fc.body[len(fc.body)-60:])))
		}
	}
	role := "follower"
	if fc.leader {
		role = "leader"
	}
	fmt.Fprintf(&b, "\n    (case %d to %s, the %s; body: %s)", fc.n, fc.node.Opts.ID, role, orDash(fc.note))
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func describeAnswer(res *fzResult) string {
	if res == nil {
		return "-"
	}
	if res.err != nil {
		return "error: " + res.err.Error()
	}
	body := res.body
	if len(body) > 200 {
		body = body[:200]
	}
	loc := ""
	if l := res.header.Get("Location"); l != "" {
		loc = " Location: " + l
	}
	return fmt.Sprintf("%d Content-Type %q%s %q", res.status, res.header.Get("Content-Type"), loc, body)
}

// fzShellQuote quotes s for bash: '…' when plain, $'…' with escapes
// otherwise (invalid UTF-8 and control bytes as \xHH).
func fzShellQuote(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '\'' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return "'" + s + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString("'")
	return b.String()
}
