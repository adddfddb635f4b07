package systest

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/harness"
)

// TestHardenRestoreInterrupted: a restore, or the first start of a
// restored node, killed at a random moment. Before the fix, starting weir
// server on what a killed `weir restore` left created an empty registry,
// and a restored node killed during its first start later seeded joiners
// with nothing (state hash zero, GET /buckets → [], health UP, later writes
// silently missing there). Now a data directory is complete or refused,
// and every node that serves holds the whole backup.
func TestHardenRestoreInterrupted(t *testing.T) {
	long(t)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewSource(seed))

	file, want := restoreSource(t, rnd)

	// How long a whole restore takes here (the fastest of three), to
	// spread the kills over it.
	restoreTook := time.Hour
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		if _, stderr, err := weirCLI(t, "restore", file, "--data-dir", t.TempDir(), "-q"); err != nil {
			t.Fatalf("restore: %v %s", err, stderr)
		}
		restoreTook = min(restoreTook, time.Since(t0))
	}
	t.Logf("a restore takes %v", restoreTook)

	// servesBackup starts a node on dir and requires it to serve exactly
	// the backup, or (refusable) to refuse the directory. It reports
	// whether the node served.
	servesBackup := func(dir string, refusable bool) bool {
		t.Helper()
		n := harness.NewNode(t, harness.Options{DataDir: dir})
		n.Start()
		defer n.Terminate()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if gone, status := n.ExitedUnexpectedly(); gone {
				if !refusable || !strings.Contains(n.Log(), "interrupted restore") {
					t.Fatalf("node on %s exited (%s):\n%s", dir, status, n.Log())
				}
				return false
			}
			if l, err := n.Local(); err == nil && l.LeaderID != "" {
				if l.StateHash != want {
					t.Fatalf("node on %s serves state hash %s, the backup's is %s", dir, l.StateHash, want)
				}
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("node on %s neither served nor refused:\n%s", dir, n.Log())
		return false
	}

	bin := harness.Binary(t)
	for round := 0; round < 10; round++ {
		dir := filepath.Join(t.TempDir(), "data")
		cmd := exec.Command(bin, "restore", file, "--data-dir", dir, "-q")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rnd.Int63n(int64(restoreTook))))
		_ = cmd.Process.Kill()
		completed := cmd.Wait() == nil
		if entries, _ := os.ReadDir(dir); len(entries) == 0 {
			// Killed before it wrote anything: an empty directory, which is
			// a new node's, not a restore's.
			continue
		}
		served := servesBackup(dir, !completed)
		if !served {
			// Refused: running the restore again finishes it.
			if _, stderr, err := weirCLI(t, "restore", file, "--data-dir", dir, "-q"); err != nil {
				t.Fatalf("round %d: restore again over an interrupted one: %v %s", round, err, stderr)
			}
			servesBackup(dir, false)
		}
		t.Logf("round %d: restore completed=%v, first start served=%v", round, completed, served)
	}

	// The restored node's first start, killed at random moments; then the
	// node and nodes that join it must hold the whole backup.
	for round := 0; round < 6; round++ {
		dir := filepath.Join(t.TempDir(), "data")
		if _, stderr, err := weirCLI(t, "restore", file, "--data-dir", dir, "-q"); err != nil {
			t.Fatal(err, stderr)
		}
		n := harness.NewNode(t, harness.Options{ID: "r1", DataDir: dir})
		for k := 0; k < 2; k++ {
			n.Start()
			time.Sleep(time.Duration(rnd.Int63n(int64(700 * time.Millisecond))))
			n.Kill()
		}
		n.Start()
		if err := n.WaitReady(60 * time.Second); err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, n.Log())
		}
		if l, err := n.Local(); err != nil || l.StateHash != want {
			t.Fatalf("round %d: restored node serves %+v (%v), want state hash %s", round, l, err, want)
		}
		if round%3 == 2 {
			j := harness.StartNode(t, harness.Options{ID: fmt.Sprintf("j%d", round), Args: []string{"--join", n.API}})
			eventually(t, 60*time.Second, "joiner has the restored registry", func() error {
				l, err := j.Local()
				if err != nil {
					return err
				}
				if l.StateHash != want {
					return fmt.Errorf("joiner state hash %s, want %s", l.StateHash, want)
				}
				return nil
			})
			st, _, body := req(t, j, "GET", "/nifi-registry-api/buckets?consistency=stale", "")
			if st != 200 || strings.Count(body, `"identifier"`) != 3 {
				t.Fatalf("joiner's buckets: %d %s", st, body)
			}
			j.Terminate()
		}
		n.Terminate()
	}
}

// randomText is n bytes of letters that do not compress away, so a backup
// has some size.
func randomText(rnd *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rnd.Intn(26))
	}
	return string(b)
}

// TestHardenIncompleteDataDirRefused: a node whose store and snapshots are
// gone but whose compacted Raft log remains must not start: replaying the
// log from its first entry would make a registry with holes that it would
// serve, and could seed others from. It refuses, saying what to do, and
// the cluster goes on; wiped, it rejoins and gets everything.
func TestHardenIncompleteDataDirRefused(t *testing.T) {
	long(t)
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3,
		ExtraArgs: []string{"--snapshot-threshold", "16", "--trailing-logs", "4", "--snapshot-interval", "200ms"}})
	leader := c.MustLeader()
	for i := 0; i < 80; i++ {
		if st, _, body := req(t, leader, "POST", "/nifi-registry-api/buckets", fmt.Sprintf(`{"name":"b%d"}`, i)); st != 200 {
			t.Fatalf("create: %d %s", st, body)
		}
	}
	c.MustConverge()
	var victim *harness.Node
	for _, n := range c.Nodes {
		if n != leader {
			victim = n
			break
		}
	}
	// Wait until the victim has compacted its log.
	eventually(t, 30*time.Second, "the follower snapshotted", func() error {
		snaps, _ := filepath.Glob(filepath.Join(victim.Opts.DataDir, "raft", "snapshots", "*"))
		if len(snaps) == 0 {
			return fmt.Errorf("no snapshot yet")
		}
		return nil
	})
	victim.Terminate()
	for _, p := range []string{"state.db", "state.db.boot", filepath.Join("raft", "snapshots")} {
		if err := os.RemoveAll(filepath.Join(victim.Opts.DataDir, p)); err != nil {
			t.Fatal(err)
		}
	}
	victim.Start()
	eventually(t, 30*time.Second, "the node refuses its incomplete data directory", func() error {
		if gone, _ := victim.ExitedUnexpectedly(); !gone {
			return fmt.Errorf("still running")
		}
		return nil
	})
	if !strings.Contains(victim.Log(), "this data directory is incomplete") {
		t.Fatalf("refusal does not say why:\n%s", victim.Log())
	}
	victim.Kill() // reap
	// The others go on; the wiped node rejoins and gets everything.
	if st, _, body := req(t, leader, "POST", "/nifi-registry-api/buckets", `{"name":"after"}`); st != 200 {
		t.Fatalf("write with the node down: %d %s", st, body)
	}
	victim.Wipe()
	victim.Start()
	c.MustConverge()
}

// restoreSource builds a registry with some content on a node of its own,
// backs it up with the CLI and returns the file and its state hash.
func restoreSource(t *testing.T, rnd *rand.Rand) (string, string) {
	t.Helper()
	src := harness.StartNode(t, harness.Options{})
	if err := src.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	sc := client.New(src.API)
	for i := 0; i < 3; i++ {
		b, flows := bucketWithFlows(t, sc, fmt.Sprintf("restored-%d", i), 4)
		for _, f := range flows {
			for v := 1; v <= 3; v++ {
				body := fmt.Sprintf(`{"snapshotMetadata":{"version":%d},"flowContents":{"identifier":"pg","name":"%s-v%d","comments":"%s"}}`, v, f, v, randomText(rnd, 200<<10))
				if _, err := sc.CommitVersion(ctxT(t), b, f, []byte(body), false); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	file := filepath.Join(t.TempDir(), "src.weirbak")
	jsonOut, stderr, err := weirCLI(t, "backup", "--server", src.API, "-o", file, "--json")
	if err != nil {
		t.Fatalf("backup: %v %s", err, stderr)
	}
	out, _, err := weirCLI(t, "backup", "verify", file, "-q")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`state hash: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no state hash in %q", out)
	}
	want := m[1]
	// --json: the same manifest as an object, and no progress output.
	var written, verified struct {
		Result    string `json:"result"`
		Path      string `json:"path"`
		StateHash string `json:"stateHash"`
		Index     uint64 `json:"index"`
	}
	vOut, vErr, err := weirCLI(t, "backup", "verify", file, "--json")
	if err != nil || jsonUnmarshal(jsonOut, &written) != nil || jsonUnmarshal(vOut, &verified) != nil || stderr != "" || vErr != "" {
		t.Fatalf("--json: %v\n%s%s\n%s%s", err, jsonOut, stderr, vOut, vErr)
	}
	if written.Path != file || written.StateHash != want || verified.Result != "backup OK" || verified.StateHash != want || verified.Index != written.Index {
		t.Fatalf("--json reports: backup %+v, verify %+v, want state hash %s", written, verified, want)
	}
	src.Terminate()

	return file, want
}

// TestHardenRestoreClusterUnderLoad: a restored node whose first start is
// killed twice, then grown into a 3-node cluster in three zones while
// clients write through every node, and SIGKILLed once more under load:
// every node holds the whole backup, every acknowledged write is there, the
// history is linearizable, and the state hashes agree.
func TestHardenRestoreClusterUnderLoad(t *testing.T) {
	long(t)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewSource(seed))
	file, _ := restoreSource(t, rnd)
	c := harness.NewCluster(t, harness.ClusterOptions{N: 3, Zones: zones3, Join: true})
	first := c.Nodes[0]
	if _, stderr, err := weirCLI(t, "restore", file, "--data-dir", first.Opts.DataDir, "-q"); err != nil {
		t.Fatal(err, stderr)
	}
	for k := 0; k < 2; k++ {
		first.Start()
		time.Sleep(time.Duration(rnd.Int63n(int64(700 * time.Millisecond))))
		first.Kill()
	}
	first.Start()
	if err := first.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	c.StartNodes(c.Nodes[1:]...)
	if err := c.WaitVoters(3, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	w := c.StartWorkload(harness.WorkloadOptions{Seed: seed})
	w.MustProgress(30)
	first.Kill()
	w.MustProgress(30)
	first.Start()
	w.MustProgress(30)
	w.Verify(t)
	// The backup's buckets are on every node.
	for _, n := range c.Nodes {
		st, _, body := req(t, n, "GET", "/nifi-registry-api/buckets?consistency=stale", "")
		for i := 0; i < 3; i++ {
			if st != 200 || !strings.Contains(body, fmt.Sprintf(`"name":"restored-%d"`, i)) {
				t.Fatalf("%s lacks the restored bucket restored-%d: %d %.300s", n.Opts.ID, i, st, body)
			}
		}
	}
}
