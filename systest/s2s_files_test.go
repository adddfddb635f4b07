package systest

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/metrics"
	"github.com/weir-nifi/weir/internal/s2s/relay"
	"github.com/weir-nifi/weir/sitetosite"
)

// contentDir lists the content files a node holds (temp files excepted).
func contentDir(t *testing.T, n *harness.Node) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(n.Opts.DataDir, "content"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out
}

// waitContentDir waits until ok holds for the files of node n.
func waitContentDir(t *testing.T, n *harness.Node, what string, ok func([]string) bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		files := contentDir(t, n)
		if ok(files) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s: still %d content files: %v", n.Opts.ID, what, len(files), files)
		}
	}
}

// TestS2SChunkFiles: a push's chunks of 64 KiB or more are files beside
// the Raft log (command level 13; docs/s2s-design.md, "Push content
// beside the log"), on real processes in 3 zones:
//   - when a push is confirmed, a majority of the voters hold each of its
//     chunk files; the store's database does not hold the content;
//   - a voter that was down during a push fetches the files by itself;
//   - a backup taken while the flowfiles are queued carries the files;
//   - pulls from any node read the content byte for byte, and once every
//     flowfile is acked no node keeps a chunk file.
func TestS2SChunkFiles(t *testing.T) {
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3})
	leader := c.MustLeader()
	var followers []*harness.Node
	for _, n := range c.Nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}
	in, out := s2sPorts(t, c, leader, relay.CreateRequest{})
	ctx := harness.Context(t)
	r := rand.New(rand.NewPCG(13, 13))
	batch := func(first, n, size int) ([]sitetosite.FlowFile, map[string][32]byte) {
		var fs []sitetosite.FlowFile
		sums := map[string][32]byte{}
		for i := range n {
			b := make([]byte, size)
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			name := fmt.Sprintf("f-%d", first+i)
			fs = append(fs, sitetosite.FlowFile{Attributes: map[string]string{"filename": name}, Content: b})
			sums[name] = sha256.Sum256(b)
		}
		return fs, sums
	}
	send := func(n *harness.Node, fs []sitetosite.FlowFile) {
		t.Helper()
		cl := &sitetosite.Client{URL: n.API, HTTP: &http.Client{Timeout: time.Minute}}
		if _, err := cl.Send(ctx, in, fs); err != nil {
			t.Fatalf("push through %s: %v", n.Opts.ID, err)
		}
	}

	// 1. A push through a follower: 3 × 1.5 MiB, chunks of 1 MiB.
	fs1, want := batch(0, 3, 3<<19)
	send(followers[0], fs1)
	held := map[string]int{}
	for _, n := range c.Nodes {
		for _, f := range contentDir(t, n) {
			held[f]++
		}
	}
	if len(held) < 4 {
		t.Fatalf("%d chunk files for a push of 4.5 MiB, want at least 4: %v", len(held), held)
	}
	for f, k := range held {
		if k < 2 {
			t.Fatalf("chunk file %s was on %d of 3 voters when the push was confirmed, want a majority", f, k)
		}
	}
	// The follower that took the push counted each chunk's steps.
	m := metricsText(t, followers[0])
	for _, step := range []string{"local", "majority", "propose"} {
		if !strings.Contains(m, `weir_s2s_stage_seconds_count{step="`+step+`"} `) {
			t.Errorf("%s's metrics lack the %s step:\n%s", followers[0].Opts.ID, step, grepLines(m, "weir_s2s_stage"))
		}
	}

	// 2. A voter down during a push fetches its files when back.
	down := followers[1]
	down.Kill()
	fs2, sums2 := batch(3, 2, 1<<20)
	for k, v := range sums2 {
		want[k] = v
	}
	send(leader, fs2)
	c.StartNodes(down)
	waitContentDir(t, leader, "all files", func(files []string) bool { return len(files) >= len(held)+2 })
	all := contentDir(t, leader)
	waitContentDir(t, down, "fetching what it missed", func(files []string) bool {
		return slices.Equal(files, all)
	})

	// 3. A backup while the flowfiles are queued carries the files; the
	// database does not hold the content.
	status, full, err := c.Signed(down, "GET", backup.Path, nil)
	if err != nil || status != 200 {
		t.Fatalf("backup: %d %v", status, err)
	}
	info, err := backup.Verify(strings.NewReader(full), nil)
	if err != nil {
		t.Fatal(err)
	}
	var pushed int64
	for _, f := range append(append([]sitetosite.FlowFile{}, fs1...), fs2...) {
		pushed += int64(len(f.Content))
	}
	if info.ContentFiles != len(all) || info.ContentBytes < pushed*9/10 {
		t.Fatalf("backup content section: %d files, %d bytes; want %d files and about %d bytes", info.ContentFiles, info.ContentBytes, len(all), pushed)
	}
	if info.StoreBytes >= pushed/2 {
		t.Fatalf("the store's database is %d bytes for %d bytes queued: the content went into it", info.StoreBytes, pushed)
	}

	// 4. Pull everything, from the node that was down, byte for byte;
	// then no node keeps a chunk file.
	got := map[string][32]byte{}
	cl := &sitetosite.Client{URL: down.API, HTTP: &http.Client{Timeout: time.Minute}}
	for deadline := time.Now().Add(time.Minute); len(got) < len(want); {
		if time.Now().After(deadline) {
			t.Fatalf("pulled %d of %d", len(got), len(want))
		}
		if _, err := cl.Receive(ctx, out, func(fs []sitetosite.FlowFile) error {
			for _, f := range fs {
				got[f.Attributes["filename"]] = sha256.Sum256(f.Content)
			}
			return nil
		}); err != nil {
			t.Fatalf("pull: %v", err)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s pulled with other content", k)
		}
	}
	for _, n := range c.Nodes {
		waitContentDir(t, n, "after every flowfile was acked", func(files []string) bool { return len(files) == 0 })
	}
}

// metricsText is n's Prometheus metrics.
func metricsText(t *testing.T, n *harness.Node) string {
	t.Helper()
	resp, err := http.Get(n.API + metrics.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
