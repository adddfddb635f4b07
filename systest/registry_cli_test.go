package systest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/harness"
)

// regCLI runs `weir registry <args>` and fails the test on an error.
func regCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := weirCLI(t, append([]string{"registry"}, args...)...)
	if err != nil {
		t.Fatalf("weir registry %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// regCLIFails runs `weir registry <args>`, wants it to fail and returns
// its standard error.
func regCLIFails(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := weirCLI(t, append([]string{"registry"}, args...)...)
	if err == nil {
		t.Fatalf("weir registry %s succeeded: %s", strings.Join(args, " "), out)
	}
	return errOut
}

// TestRegistryCLI uses the NiFi Toolkit's registry commands of `weir
// registry` against a real node as an operator would: buckets and flows
// created, listed and deleted (refused without --force while they hold
// something), versions imported from snapshot files, listed, exported in
// the toolkit's format, compared, transferred and synced between flows.
func TestRegistryCLI(t *testing.T) {
	n := harness.StartCluster(t, harness.ClusterOptions{N: 1}).MustLeader()
	srv := []string{"--server", n.API}
	reg := func(args ...string) string { t.Helper(); return strings.TrimSpace(regCLI(t, append(args, srv...)...)) }
	dir := t.TempDir()

	if got := reg("current-user"); got != "anonymous" {
		t.Fatalf("current-user: %q", got)
	}
	bucket := reg("create-bucket", "--name", "team-a", "--description", "the team's flows")
	if out := reg("list-buckets"); !strings.Contains(out, "team-a") || !strings.Contains(out, bucket) || !strings.Contains(out, "the team's flows") {
		t.Fatalf("list-buckets: %s", out)
	}
	var bs []struct{ Identifier, Name string }
	if err := json.Unmarshal([]byte(reg("list-buckets", "--json")), &bs); err != nil || len(bs) != 1 || bs[0].Identifier != bucket {
		t.Fatalf("list-buckets --json: %v %+v", err, bs)
	}
	flow := reg("create-flow", "--bucket", bucket, "--name", "ingest")
	copyFlow := reg("create-flow", "--bucket", bucket, "--name", "ingest-copy", "--description", "a copy")

	// Two versions imported from snapshot files, numbered by the registry.
	for i, seed := range []int64{1, 2} {
		file := filepath.Join(dir, "v.json")
		if err := os.WriteFile(file, flowgen.Snapshot(flowgen.Options{Seed: seed, TargetBytes: 8 << 10, Comments: "from file"}), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := reg("import-flow-version", "--flow", flow, "--input", file); got != []string{"1", "2"}[i] {
			t.Fatalf("import-flow-version %d printed %q", i+1, got)
		}
	}
	// The toolkit's option names work too.
	if out, _, err := weirCLI(t, "registry", "list-flows", "-u", n.API, "--bucketIdentifier", bucket); err != nil || !strings.Contains(out, "ingest-copy") || !strings.Contains(out, flow) {
		t.Fatalf("list-flows: %v %s", err, out)
	}
	out := reg("list-flow-versions", "--flow", flow)
	if lines := strings.Split(out, "\n"); len(lines) != 3 || !strings.HasPrefix(lines[1], "2 ") || !strings.Contains(lines[2], "from file") {
		t.Fatalf("list-flow-versions: %s", out)
	}

	// Export: the snapshot without bucket, flow and the metadata's ids.
	exported := filepath.Join(dir, "export.json")
	reg("export-flow-version", "--flow", flow, "--version", "1", "--output", exported)
	raw, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	var ex map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatal(err)
	}
	if ex["bucket"] != nil || ex["flow"] != nil || ex["flowContents"] == nil || strings.Contains(string(ex["snapshotMetadata"]), "Identifier") || !strings.Contains(string(ex["snapshotMetadata"]), `"version": 1`) {
		t.Fatalf("exported snapshot: %.600s", raw)
	}
	_, _, v1 := req(t, n, "GET", "/nifi-registry-api/flows/"+flow+"/versions/1", "")
	var stored map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v1), &stored); err != nil || !jsonEqual(t, stored["flowContents"], ex["flowContents"]) {
		t.Fatalf("exported flowContents differ from version 1: %v", err)
	}
	if latest := reg("export-flow-version", "--flow", flow); !strings.Contains(latest, `"version": 2`) {
		t.Fatalf("export of the latest: %.300s", latest)
	}

	// Diff: a table of differences, or the API's JSON.
	if out := reg("diff-flow-versions", "--flow", flow, "--version1", "1", "--version2", "2"); !strings.HasPrefix(out, "COMPONENT") || strings.Count(out, "\n") < 1 {
		t.Fatalf("diff-flow-versions: %s", out)
	}
	var d struct {
		VersionA, VersionB        int
		ComponentDifferenceGroups []json.RawMessage
	}
	if err := json.Unmarshal([]byte(reg("diff-flow-versions", "--flow", flow, "--version1", "1", "--version2", "2", "--json")), &d); err != nil || d.VersionA != 1 || d.VersionB != 2 || len(d.ComponentDifferenceGroups) == 0 {
		t.Fatalf("diff --json: %v %+v", err, d)
	}

	// Transfer version 1 into the copy, then sync the rest; a second sync
	// has nothing to do.
	if got := reg("transfer-flow-version", "--src-flow", flow, "--src-version", "1", "--flow", copyFlow); got != "1" {
		t.Fatalf("transfer-flow-version printed %q", got)
	}
	if got := reg("sync-flow-versions", "--src-flow", flow, "--flow", copyFlow, "--src-server", n.API); got != "copied 1 versions" {
		t.Fatalf("sync-flow-versions printed %q", got)
	}
	if got := reg("sync-flow-versions", "--src-flow", flow, "--flow", copyFlow); got != "already in sync" {
		t.Fatalf("second sync printed %q", got)
	}
	for _, v := range []string{"1", "2"} {
		_, _, a := req(t, n, "GET", "/nifi-registry-api/flows/"+flow+"/versions/"+v, "")
		_, _, b := req(t, n, "GET", "/nifi-registry-api/flows/"+copyFlow+"/versions/"+v, "")
		var sa, sb map[string]json.RawMessage
		if json.Unmarshal([]byte(a), &sa) != nil || json.Unmarshal([]byte(b), &sb) != nil || !jsonEqual(t, sa["flowContents"], sb["flowContents"]) {
			t.Fatalf("version %s of the copy differs from the source", v)
		}
	}
	if got := reg("transfer-flow-version", "--src-flow", flow, "--flow", copyFlow); got != "3" {
		t.Fatalf("transfer of the latest printed %q", got)
	}
	if errOut := regCLIFails(t, append([]string{"sync-flow-versions", "--src-flow", flow, "--flow", copyFlow}, srv...)...); !strings.Contains(errOut, "more versions") {
		t.Fatalf("sync into a flow with more versions: %s", errOut)
	}

	// NiFi's status and message reach the user.
	if errOut := regCLIFails(t, append([]string{"export-flow-version", "--flow", flow, "--version", "9"}, srv...)...); !strings.Contains(errOut, "404 Not Found") {
		t.Fatalf("export of a missing version: %s", errOut)
	}

	// Deletes: refused while holding something unless forced.
	if errOut := regCLIFails(t, append([]string{"delete-flow", "--flow", flow}, srv...)...); !strings.Contains(errOut, "--force") {
		t.Fatalf("delete-flow with versions: %s", errOut)
	}
	reg("delete-flow", "--flow", flow, "--force")
	empty := reg("create-flow", "--bucket", bucket, "--name", "empty")
	reg("delete-flow", "--flow", empty)
	if out := reg("list-flows", "--bucket", bucket); strings.Contains(out, flow) || strings.Contains(out, empty) || !strings.Contains(out, copyFlow) {
		t.Fatalf("list-flows after deletes: %s", out)
	}
	if errOut := regCLIFails(t, append([]string{"delete-bucket", "--bucket", bucket}, srv...)...); !strings.Contains(errOut, "--force") {
		t.Fatalf("delete-bucket with flows: %s", errOut)
	}
	reg("delete-bucket", "--bucket", bucket, "--force")
	if out := reg("list-buckets"); strings.Contains(out, "team-a") {
		t.Fatalf("list-buckets after delete: %s", out)
	}
}

// TestRegistryCLIExportImportAll moves a registry's flows to another with
// export-all-flows and import-all-flows, as the toolkit's commands do:
// the buckets and flows keep their ids (NiFi refers to them), every
// version its number, contents, author and comments; a second import
// adds nothing. A flow's versions are then synced and transferred from
// the other registry (--src-server).
func TestRegistryCLIExportImportAll(t *testing.T) {
	src := harness.StartCluster(t, harness.ClusterOptions{N: 1}).MustLeader()
	dst := harness.StartCluster(t, harness.ClusterOptions{N: 1}).MustLeader()
	on := func(n *harness.Node, args ...string) string {
		t.Helper()
		return strings.TrimSpace(regCLI(t, append(args, "--server", n.API)...))
	}
	dir := t.TempDir()
	flows := map[string]string{}
	for _, bucket := range []string{"team_a", "team-b"} {
		b := on(src, "create-bucket", "--name", bucket, "--description", "d "+bucket)
		for i, name := range []string{"ingest", "route/out"} {
			f := on(src, "create-flow", "--bucket", b, "--name", name)
			flows[f] = b
			for v := range i + 2 {
				file := filepath.Join(dir, "v.json")
				if err := os.WriteFile(file, flowgen.Snapshot(flowgen.Options{Seed: int64(v), TargetBytes: 4 << 10, Comments: "c" + strconv.Itoa(v)}), 0o600); err != nil {
					t.Fatal(err)
				}
				on(src, "import-flow-version", "--flow", f, "--input", file)
			}
		}
	}
	out := filepath.Join(dir, "all")
	if got := on(src, "export-all-flows", "--output-dir", out); got != "exported 10 versions to "+out {
		t.Fatalf("export-all-flows: %q", got)
	}
	if _, err := os.Stat(filepath.Join(out, "toolkit_registry_export_all_team-a_route-out_3")); err != nil {
		t.Fatalf("the toolkit's file names: %v", err)
	}
	if got := on(dst, "import-all-flows", "--input", out); got != "imported 10 versions" {
		t.Fatalf("import-all-flows: %q", got)
	}
	if got := on(dst, "import-all-flows", "--input", out); got != "imported 0 versions" {
		t.Fatalf("second import-all-flows: %q", got)
	}
	// Versions also move between registries one flow at a time.
	var anyFlow string
	for f := range flows {
		anyFlow = f
	}
	copyFlow := on(dst, "create-flow", "--bucket", flows[anyFlow], "--name", "copy")
	if got := on(dst, "sync-flow-versions", "--src-server", src.API, "--src-flow", anyFlow, "--flow", copyFlow); !strings.HasPrefix(got, "copied ") {
		t.Fatalf("sync-flow-versions from another registry: %q", got)
	}
	if got := on(dst, "transfer-flow-version", "--src-server", src.API, "--src-flow", anyFlow, "--src-version", "1", "--flow", copyFlow); got == "1" || got == "" {
		t.Fatalf("transfer-flow-version from another registry printed %q", got)
	}
	for f, b := range flows {
		_, _, sv := req(t, src, "GET", "/nifi-registry-api/buckets/"+b+"/flows/"+f+"/versions", "")
		status, _, dv := req(t, dst, "GET", "/nifi-registry-api/buckets/"+b+"/flows/"+f+"/versions", "")
		var a, d []struct {
			Version   int
			Author    string
			Comments  string
			Timestamp int64
		}
		if status != 200 || json.Unmarshal([]byte(sv), &a) != nil || json.Unmarshal([]byte(dv), &d) != nil || len(a) != len(d) {
			t.Fatalf("flow %s in bucket %s: %d %s", f, b, status, dv)
		}
		for i := range a {
			if a[i] != d[i] {
				t.Fatalf("flow %s version %d: %+v, want %+v", f, a[i].Version, d[i], a[i])
			}
			v := strconv.Itoa(a[i].Version)
			_, _, x := req(t, src, "GET", "/nifi-registry-api/flows/"+f+"/versions/"+v, "")
			_, _, y := req(t, dst, "GET", "/nifi-registry-api/flows/"+f+"/versions/"+v, "")
			var sx, sy map[string]json.RawMessage
			if json.Unmarshal([]byte(x), &sx) != nil || json.Unmarshal([]byte(y), &sy) != nil || !jsonEqual(t, sx["flowContents"], sy["flowContents"]) {
				t.Fatalf("flow %s version %s: contents differ", f, v)
			}
		}
	}
}
