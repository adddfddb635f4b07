package systest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
)

// browser starts a headless Chromium (Debian's chromium package) for one
// test. Without it the test skips, and fails when CI=true.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed (apt-get install chromium): %v", err)
		}
		t.Skip("chromium is not installed")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in containers
		// Shared memory in /dev/shm is small in containers and VMs.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900))
	opts = append(opts, extra...)
	// Chromium now and then exits while starting on a loaded machine
	// (seen once in ten runs: crashpad's "no stack mapping", before any
	// page); that is not what these tests check, so a start is tried
	// three times, and each failure is logged.
	for attempt := 1; attempt <= 3; attempt++ {
		actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		// The first run starts the browser; it must not have a deadline
		// (the deadline would end the browser).
		if err = chromedp.Do(ctx); err == nil {
			t.Cleanup(func() { cancel(); cancelA() })
			return ctx
		}
		cancel()
		cancelA()
		t.Logf("starting chromium, attempt %d: %v", attempt, err)
	}
	t.Fatalf("starting chromium: %v", err)
	return nil
}

// run runs browser steps with a time limit.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one browser action that returns a value, with a time limit.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// screenshotDir is where the tests leave a picture of each page:
// $WEIR_UI_SCREENSHOTS, or a temporary directory named in the log.
var screenshotDir = sync.OnceValue(func() string {
	if d := os.Getenv("WEIR_UI_SCREENSHOTS"); d != "" {
		_ = os.MkdirAll(d, 0o755)
		return d
	}
	d, _ := os.MkdirTemp("", "weir-ui-screenshots-")
	return d
})

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	p := filepath.Join(screenshotDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", p)
}

// textOf reads an element's text once it is there. A read that meets
// the cluster page's own reload is tried again.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %s: %v", sel, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// crawlerVersions are three versions of a real NiFi flow (Apache NiFi's
// docs web crawler): v2 changes a property; v3 also removes a processor
// with its connections and adds a processor.
func crawlerVersions(t *testing.T) [3]map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "shared", "testdata", "flows", "apache-nifi-docs-web-crawler.json"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("flow corpus: %v", err)
		}
		t.Skipf("flow corpus: %v", err)
	}
	var out [3]map[string]any
	for i := range out {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	setProp := func(doc map[string]any) {
		p := doc["flowContents"].(map[string]any)["processors"].([]any)[0].(map[string]any)
		props := p["properties"].(map[string]any)
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		props[keys[0]] = "changed in the UI test"
	}
	setProp(out[1])
	setProp(out[2])
	fc := out[2]["flowContents"].(map[string]any)
	ps := fc["processors"].([]any)
	gone := ps[1].(map[string]any)["identifier"].(string)
	added := map[string]any{}
	for k, v := range ps[2].(map[string]any) {
		added[k] = v
	}
	pos := added["position"].(map[string]any)
	added["identifier"], added["name"] = "0a1b2c3d-0000-4000-8000-000000000001", "Added by the UI test"
	added["position"] = map[string]any{"x": pos["x"].(float64) + 600, "y": pos["y"]}
	fc["processors"] = append(append([]any{ps[0]}, ps[2:]...), added)
	var conns []any
	for _, c := range fc["connections"].([]any) {
		cm := c.(map[string]any)
		if cm["source"].(map[string]any)["id"] != gone && cm["destination"].(map[string]any)["id"] != gone {
			conns = append(conns, c)
		}
	}
	fc["connections"] = conns
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUIRegistryScenario drives the web UI of a real weir process with a
// real headless Chromium: a bucket created in the UI, three versions of a
// real flow committed through the API, the history, a version, the
// diff of versions 1 and 3 (marks and listed changes are the /diff
// endpoint's), import, maintenance mode turned on in the UI refusing a
// write there, off again, and a bucket deleted after confirmation.
func TestUIRegistryScenario(t *testing.T) {
	ctx := browser(t)
	docs := crawlerVersions(t)
	bk := t.TempDir()
	n := harness.StartNode(t, harness.Options{Args: []string{"--backup-dir", bk, "--backup-interval", "1h"}})
	if err := n.WaitReady(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	ui := n.API + "/nifi-registry"

	// Create a bucket in the UI.
	run(t, ctx, "create bucket",
		chromedp.Navigate(n.API+"/"), // redirects to the UI
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "ui-bucket"),
		chromedp.SendKeys(chromedp.CSS("#description"), "made by the browser test"),
		chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS("#done")))
	if s := textOf(t, ctx, "#done"); !strings.Contains(s, "ui-bucket") {
		t.Fatalf("after create: %q", s)
	}
	shot(t, ctx, "buckets")
	st, _, body := req(t, n, "GET", "/nifi-registry-api/buckets", "")
	var bs []model.Bucket
	if st != 200 || json.Unmarshal([]byte(body), &bs) != nil || len(bs) != 1 || model.Deref(bs[0].Name) != "ui-bucket" {
		t.Fatalf("buckets after the UI created one: %d %s", st, body)
	}
	b := model.Deref(bs[0].Identifier)

	// Three versions through the API.
	st, _, body = req(t, n, "POST", "/nifi-registry-api/buckets/"+b+"/flows", `{"name":"Web crawler"}`)
	if st != 200 {
		t.Fatalf("create flow: %d %s", st, body)
	}
	var fl model.VersionedFlow
	_ = json.Unmarshal([]byte(body), &fl)
	f := model.Deref(fl.Identifier)
	fp := "/nifi-registry-api/buckets/" + b + "/flows/" + f
	for i, d := range docs {
		d["snapshotMetadata"] = map[string]any{"version": -1, "comments": fmt.Sprintf("version %d from the UI test", i+1)}
		if st, _, body := req(t, n, "POST", fp+"/versions", mustJSON(t, d)); st != 200 {
			t.Fatalf("commit %d: %d %s", i+1, st, body)
		}
	}

	// The history.
	run(t, ctx, "open the bucket", chromedp.Navigate(ui+"/buckets/"+b), chromedp.WaitVisible(chromedp.CSS("#flows")))
	shot(t, ctx, "bucket")
	run(t, ctx, "open the flow", chromedp.Click(chromedp.CSS(`#flows a`)), chromedp.WaitVisible(chromedp.CSS("#history")))
	hist := textOf(t, ctx, "#history tbody")
	for i := 1; i <= 3; i++ {
		if !strings.Contains(hist, fmt.Sprintf("version %d from the UI test", i)) {
			t.Errorf("history lacks version %d: %q", i, hist)
		}
	}
	shot(t, ctx, "flow-history")

	// One version: its process-group tree.
	run(t, ctx, "open version 3", chromedp.Navigate(ui+"/buckets/"+b+"/flows/"+f+"/versions/3"), chromedp.WaitVisible(chromedp.CSS("#tree-h")))
	tree := textOf(t, ctx, "main")
	for _, want := range []string{"Added by the UI test", "Processors", "Connections", "Export"} {
		if !strings.Contains(tree, want) {
			t.Errorf("version page lacks %q", want)
		}
	}
	shot(t, ctx, "version")

	// The diff of 1 and 3, picked on the history page (the oldest and the
	// newest are preselected).
	run(t, ctx, "compare", chromedp.Navigate(ui+"/buckets/"+b+"/flows/"+f),
		chromedp.WaitVisible(chromedp.CSS("#compare")), chromedp.Click(chromedp.CSS("#compare")),
		chromedp.WaitVisible(chromedp.CSS("#graph")))
	loc := get(t, ctx, "location", chromedp.Location())
	if !strings.Contains(loc, "a=1") || !strings.Contains(loc, "b=3") {
		t.Fatalf("compare opened %s, want versions 1 and 3", loc)
	}
	shot(t, ctx, "diff")
	checkDiffPage(t, ctx, n, fp)
	// Keyboard only: Tab reaches the marked components on the picture,
	// Enter shows that component's entry in the change list.
	inGraph := false
	for i := 0; i < 60 && !inGraph; i++ {
		run(t, ctx, "tab", chromedp.KeyEvent("\t"))
		inGraph = get(t, ctx, "focus", chromedp.Evaluate[bool](`!!document.activeElement.closest('#graph')`))
	}
	if !inGraph {
		t.Fatal("Tab never reached a component on the picture")
	}
	run(t, ctx, "enter", chromedp.KeyEvent("\r"))
	if ok := get(t, ctx, "target", chromedp.Evaluate[bool](
		`location.hash.startsWith('#chg-') && document.getElementById(location.hash.slice(1)) !== null && document.getElementById(location.hash.slice(1)).matches(':target')`)); !ok {
		t.Errorf("Enter on a component did not show its change (hash %q)", get(t, ctx, "hash", chromedp.Evaluate[string](`location.hash`)))
	}

	// Import a version from a file (the export of version 1).
	st, _, body = req(t, n, "GET", fp+"/versions/1/export", "")
	if st != 200 {
		t.Fatalf("export: %d", st)
	}
	// A narrow screen (a phone's width): no page is wider than the
	// screen; wide tables and the picture scroll or shrink inside it.
	run(t, ctx, "narrow", chromedp.EmulateViewport(390, 844))
	for _, p := range []struct{ name, path string }{
		{"buckets", "/"}, {"bucket", "/buckets/" + b}, {"flow-history", "/buckets/" + b + "/flows/" + f},
		{"version", "/buckets/" + b + "/flows/" + f + "/versions/3"}, {"diff", "/buckets/" + b + "/flows/" + f + "/diff?a=1&b=3"},
		{"cluster", "/cluster"},
	} {
		run(t, ctx, "narrow "+p.name, chromedp.Navigate(ui+p.path), chromedp.WaitVisible(chromedp.CSS("main")))
		if w := get(t, ctx, "width", chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`)); len(w) != 2 || w[0] > w[1] {
			t.Errorf("%s at 390 px: page %v px wide (scrollWidth, innerWidth)", p.name, w)
		}
		shot(t, ctx, "narrow-"+p.name)
	}
	run(t, ctx, "wide again", chromedp.ResetViewport())

	// The UI's export is the API's download.
	resp, err := http.Get(ui + "/buckets/" + b + "/flows/" + f + "/versions/1/export")
	if err != nil {
		t.Fatal(err)
	}
	uiExp, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(uiExp) != body || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment; filename=") {
		t.Errorf("UI export: %d, %d bytes (API %d), %q", resp.StatusCode, len(uiExp), len(body), resp.Header.Get("Content-Disposition"))
	}
	exp := filepath.Join(t.TempDir(), "v1.json")
	if err := os.WriteFile(exp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "import", chromedp.Navigate(ui+"/buckets/"+b+"/flows/"+f), chromedp.WaitVisible(chromedp.CSS("#file")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{exp}),
		chromedp.SendKeys(chromedp.CSS("#comments"), "imported in the UI"),
		chromedp.Click(chromedp.CSS("#import")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if s := textOf(t, ctx, "#done"); !strings.Contains(s, "version 4") {
		t.Errorf("import: %q", s)
	}
	if h := textOf(t, ctx, "#history tbody"); !strings.Contains(h, "imported in the UI") {
		t.Errorf("history after import: %q", h)
	}

	// Maintenance on in the UI (with confirmation and the admin token).
	token := adminauth.Token([]byte(harness.TestKey))
	run(t, ctx, "maintenance on", chromedp.Navigate(ui+"/cluster"), chromedp.WaitVisible(chromedp.CSS("#maint-toggle")),
		chromedp.Click(chromedp.CSS("#maint-toggle")), chromedp.WaitVisible(chromedp.CSS("#reason")))
	shot(t, ctx, "confirm-maintenance")
	run(t, ctx, "confirm maintenance",
		chromedp.SendKeys(chromedp.CSS("#reason"), "UI test upgrade"),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if s := textOf(t, ctx, "#maintenance"); !strings.Contains(s, "ON") || !strings.Contains(s, "UI test upgrade") {
		t.Fatalf("cluster page after maintenance on: %q", s)
	}
	shot(t, ctx, "cluster-maintenance")
	// A write in the UI is refused, with the API's 503 and reason.
	run(t, ctx, "create bucket in maintenance", chromedp.Navigate(ui+"/"), chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "refused-bucket"),
		chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#error")))
	if s := textOf(t, ctx, "#error"); !strings.Contains(s, "503") || !strings.Contains(s, "UI test upgrade") {
		t.Errorf("refusal shown: %q", s)
	}
	shot(t, ctx, "write-refused")
	if _, _, body := req(t, n, "GET", "/nifi-registry-api/buckets", ""); strings.Contains(body, "refused-bucket") {
		t.Fatalf("the refused bucket exists: %s", body)
	}
	// Without the token the switch is refused (the API's 401) and stays on.
	run(t, ctx, "maintenance off without token", chromedp.Navigate(ui+"/cluster/maintenance?enabled=false"),
		chromedp.WaitVisible(chromedp.CSS("#confirm")), chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#error")))
	if s := textOf(t, ctx, "#error"); !strings.Contains(s, "401") && !strings.Contains(s, "403") {
		t.Errorf("maintenance off without the admin token: %q", s)
	}
	run(t, ctx, "maintenance off", chromedp.Navigate(ui+"/cluster/maintenance?enabled=false"),
		chromedp.WaitVisible(chromedp.CSS("#token")), chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if s := textOf(t, ctx, "#maintenance"); !strings.Contains(s, "Off") {
		t.Fatalf("after maintenance off: %q", s)
	}

	// A backup taken from the UI.
	run(t, ctx, "backup", chromedp.Navigate(ui+"/cluster/backup"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if s := textOf(t, ctx, "#backup-last"); !strings.Contains(s, "index") || !strings.Contains(s, "MiB") {
		t.Errorf("last backup after taking one: %q", s)
	}
	if files, _ := filepath.Glob(filepath.Join(bk, "*")); len(files) == 0 {
		t.Errorf("no backup file in %s", bk)
	}

	// Search, then delete the bucket after confirmation.
	run(t, ctx, "search", chromedp.Navigate(ui+"/?q=nomatch"), chromedp.WaitVisible(chromedp.CSS("#buckets")))
	if s := textOf(t, ctx, "#buckets tbody"); !strings.Contains(s, "No buckets") {
		t.Errorf("search for nomatch: %q", s)
	}
	run(t, ctx, "delete", chromedp.Navigate(ui+"/?q=UI-B"), chromedp.WaitVisible(chromedp.CSS("#buckets .danger-link")),
		chromedp.Click(chromedp.CSS("#buckets .danger-link")), chromedp.WaitVisible(chromedp.CSS("#question")))
	if s := textOf(t, ctx, "#question"); !strings.Contains(s, "ui-bucket") {
		t.Errorf("confirmation: %q", s)
	}
	shot(t, ctx, "confirm-delete")
	run(t, ctx, "confirm delete", chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if _, _, body := req(t, n, "GET", "/nifi-registry-api/buckets", ""); strings.TrimSpace(body) != "[]" {
		t.Errorf("buckets after delete: %s", body)
	}
}

// uiChange is one entry of the diff page's change list, as read from the
// page.
type uiChange struct {
	ID    string   `json:"id"`
	Mark  string   `json:"mark"`
	Types []string `json:"types"`
	Descs []string `json:"descs"`
}

// checkDiffPage compares the diff page with the /diff endpoint: the same
// components with the same differences listed, and each drawn component
// marked as the endpoint says.
func checkDiffPage(t *testing.T, ctx context.Context, n *harness.Node, fp string) {
	t.Helper()
	st, _, body := req(t, n, "GET", fp+"/diff/1/3", "")
	if st != 200 {
		t.Fatalf("/diff: %d %s", st, body)
	}
	var d struct {
		Groups []struct {
			ComponentID string `json:"componentId"`
			Differences []struct {
				DifferenceType    string `json:"differenceType"`
				ChangeDescription string `json:"changeDescription"`
			} `json:"differences"`
		} `json:"componentDifferenceGroups"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	listed := get(t, ctx, "read the change list", chromedp.Evaluate[[]uiChange](`[...document.querySelectorAll('#changes > li')].map(li => ({id: li.dataset.componentId, mark: li.dataset.mark,
			types: [...li.querySelectorAll('tr[data-type]')].map(tr => tr.dataset.type),
			descs: [...li.querySelectorAll('tr[data-type] td:first-child')].map(td => td.textContent)}))`))
	boxes := get(t, ctx, "read the picture", chromedp.Evaluate[map[string]string](
		`Object.fromEntries([...document.querySelectorAll('#graph g.box')].map(g => [g.dataset.id, g.dataset.mark]))`))
	if len(listed) != len(d.Groups) {
		t.Fatalf("the page lists %d changed components, /diff has %d", len(listed), len(d.Groups))
	}
	want := map[string]string{"COMPONENT_ADDED": "added", "COMPONENT_REMOVED": "removed"}
	marks := map[string]int{}
	for i, g := range d.Groups {
		l := listed[i]
		var types, descs []string
		mark := "changed"
		for _, x := range g.Differences {
			types, descs = append(types, x.DifferenceType), append(descs, x.ChangeDescription)
			if m, ok := want[x.DifferenceType]; ok {
				mark = m
			}
		}
		if l.ID != g.ComponentID || !slices.Equal(l.Types, types) || !slices.Equal(l.Descs, descs) || l.Mark != mark {
			t.Errorf("change %d: page %+v, /diff %s %v %v (%s)", i, l, g.ComponentID, types, descs, mark)
		}
		if m, drawn := boxes[g.ComponentID]; drawn {
			marks[m]++
			if m != mark {
				t.Errorf("%s drawn as %q, /diff says %s", g.ComponentID, m, mark)
			}
		}
	}
	// The scenario's changes are all on the top level: one added, one
	// removed and one changed processor are drawn marked.
	if marks["added"] != 1 || marks["removed"] != 1 || marks["changed"] < 1 {
		t.Errorf("marked boxes %v, want one added, one removed, changed ones", marks)
	}
	if s := textOf(t, ctx, "#changes"); !strings.Contains(s, "changed in the UI test") {
		t.Errorf("the property's new value is not listed: %q", s)
	}
}

// TestUIClusterLeaderChange: the cluster page of a 3-node cluster, read
// from a follower, shows the leader, zones and quorum risk; after the
// leader is killed (SIGKILL) the page, reloading by itself, shows the new
// leader and the old one unreachable.
func TestUIClusterLeaderChange(t *testing.T) {
	long(t)
	ctx := browser(t)
	// Two of three voters in zone a: losing it loses quorum (a warning).
	c := harness.StartCluster(t, harness.ClusterOptions{Zones: []string{"a", "a", "b"}})
	leader := c.MustLeader()
	follower := c.Others(leader)[0]
	run(t, ctx, "cluster page", chromedp.Navigate(follower.API+"/nifi-registry/cluster"), chromedp.WaitVisible(chromedp.CSS("#nodes")))
	if s := textOf(t, ctx, "#leader"); !strings.Contains(s, leader.Opts.ID) {
		t.Fatalf("leader shown: %q, want %s", s, leader.Opts.ID)
	}
	if s := textOf(t, ctx, "#zones"); !strings.Contains(s, "would lose quorum") {
		t.Errorf("zones: %q, want zone a's loss flagged", s)
	}
	leader.Kill()
	next := c.MustNewLeader(leader)
	// No reload by the test: the page refreshes itself.
	var seen string
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		c2, cancel := context.WithTimeout(ctx, 3*time.Second)
		var err error
		seen, err = chromedp.Run(c2, chromedp.Text(chromedp.CSS("#leader")))
		cancel()
		if err == nil && strings.Contains(seen, next.Opts.ID) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(seen, next.Opts.ID) {
		t.Fatalf("after the leader was killed the page shows %q, want %s", seen, next.Opts.ID)
	}
	eventuallyText(t, ctx, fmt.Sprintf(`#nodes tr[data-node=%q]`, leader.Opts.ID), "unreachable", 30*time.Second)
	// Some writes through the page's node; its sparklines fill in.
	for i := range 5 {
		if st, _, body := req(t, follower, "POST", "/nifi-registry-api/buckets", fmt.Sprintf(`{"name":"after-%d"}`, i)); st != 200 {
			t.Fatalf("write after the leader change: %d %s", st, body)
		}
	}
	eventuallyText(t, ctx, "#metrics", "max", 30*time.Second)
	// The page, reloading by itself, catches up with the writes.
	st, err := c.Status(follower)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the page shows the writes' commit index", func() error {
		var shown uint64
		text := textOf(t, ctx, "#leader")
		_, after, _ := strings.Cut(text, "commit index ")
		if _, err := fmt.Sscanf(after, "%d", &shown); err != nil || shown < st.CommitIndex {
			return errorf("page %q, status commit index %d", text, st.CommitIndex)
		}
		return nil
	})
	shot(t, ctx, "cluster")
}

// eventuallyText waits for sel's text to contain want across the page's
// own reloads.
func eventuallyText(t *testing.T, ctx context.Context, sel, want string, timeout time.Duration) {
	t.Helper()
	var s string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c2, cancel := context.WithTimeout(ctx, 3*time.Second)
		var err error
		s, err = chromedp.Run(c2, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil && strings.Contains(s, want) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: %q, want %q", sel, s, want)
}
