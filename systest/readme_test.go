package systest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/harness"
)

// readmeBlock returns the commands of the README's first sh block that
// contains marker, continuation lines joined.
func readmeBlock(t *testing.T, marker string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.ModuleRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(b), "```sh\n")[1:] {
		body, _, _ := strings.Cut(block, "```")
		if !strings.Contains(body, marker) {
			continue
		}
		var cmds []string
		cur := ""
		for _, line := range strings.Split(body, "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			if c, ok := strings.CutSuffix(line, "\\"); ok {
				cur += c
				continue
			}
			cmds = append(cmds, cur+line)
			cur = ""
		}
		return cmds
	}
	t.Fatalf("no sh block with %q in README.md", marker)
	return nil
}

// TestReadmeBootstrap runs the README's --bootstrap example as written,
// its 10.0.x.10 addresses moved to loopback addresses and /var/lib/weir to
// a directory per node: the key command makes the key, the three nodes
// form a cluster. Without the key file a node refuses to start and names
// the flag.
func TestReadmeBootstrap(t *testing.T) {
	long(t)
	cmds := readmeBlock(t, "--bootstrap n1=")
	if len(cmds) != 4 || !strings.HasPrefix(cmds[0], "head -c 32") {
		t.Fatalf("the README's --bootstrap block changed shape: %q", cmds)
	}
	dir := t.TempDir()
	net := fmt.Sprintf("127.%d.", 100+rand.IntN(150))
	adapt := func(cmd, node string) string {
		cmd = strings.ReplaceAll(cmd, "10.0.", net)
		cmd = strings.ReplaceAll(cmd, "/var/lib/weir", filepath.Join(dir, node))
		if c, ok := strings.CutPrefix(cmd, "weir "); ok {
			cmd = harness.Binary(t) + " " + c
		}
		return cmd
	}
	run := func(cmd string) *exec.Cmd {
		c := exec.Command("bash", "-c", cmd)
		c.Dir = dir
		return c
	}
	if out, err := run(cmds[0]).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmds[0], err, out)
	}

	// Without the key: refused, naming the flag.
	noKey := strings.ReplaceAll(adapt(cmds[1], "nokey"), " --cluster-key-file cluster.key", "")
	if out, err := run(noKey).CombinedOutput(); err == nil || !strings.Contains(string(out), "--cluster-key-file") {
		t.Fatalf("a --bootstrap node without a key: %v\n%s", err, out)
	}

	t0 := time.Now()
	for i, cmd := range cmds[1:] {
		node := fmt.Sprintf("n%d", i+1)
		c := run("exec " + adapt(cmd, node))
		logf, err := os.Create(filepath.Join(dir, node+".log"))
		if err != nil {
			t.Fatal(err)
		}
		c.Stdout, c.Stderr = logf, logf
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = c.Process.Kill()
			_ = c.Wait()
			logf.Close()
		})
	}
	url := "http://" + net + "1.10:18080" + cluster.AdminBase + "/status"
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st cluster.Status
		resp, err := http.Get(url)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
		}
		if err == nil && st.LeaderID != "" && st.Voters == 3 && st.HealthyVoters == 3 {
			t.Logf("the README's three nodes elected %s %v after the last start (for information; the issue's goal is 5 s)", st.LeaderID, time.Since(t0).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "n1.log"))
			t.Fatalf("no 3-voter cluster from the README's example: %+v %v\n%s", st, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
