// Command backup measures Weir's online backup on this machine, each figure
// side by side with its reference in the same run:
//
//   - backup throughput (weir backup over HTTP, verified and fsynced)
//     against cp of the store file (and a Go copy with fsync), from a warm
//     page cache;
//   - commit latency (p50/p99 of version commits, open loop at -rate:
//     each commit starts on schedule whatever the others do, and its
//     latency counts from its scheduled start, so a stall shows in full)
//     while backups run back to back, against the same load without them
//     in windows before and after (pooled), so a drift in the machine
//     does not favour either side.
//
// Two kinds of backup are measured: `weir backup -o FILE` downloads one
// over HTTP (the node streams a copy of its store, the client verifies and
// fsyncs it), and `weir backup --on-server` has the node write one into its
// --backup-dir (the store copied in place into the backup file, fsynced),
// which is also what scheduled backups do.
//
// It builds cmd/weir, starts one real node on 127.0.0.1 with a fresh data
// directory, fills it with generated flows (internal/flowgen) and prints a
// markdown table. Nothing is asserted.
//
//	go run ./bench/backup -store-mb 256 -duration 20s
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weir-nifi/weir/bench"
	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/durable"
	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/model"
)

func main() {
	storeMB := flag.Int("store-mb", 256, "fill the store to about this size before measuring")
	dur := flag.Duration("duration", 20*time.Second, "length of each commit-latency run")
	clients := flag.Int("clients", 4, "flows committed to (in turn) and, while filling the store, concurrent clients")
	commitRate := flag.Int("rate", 200, "commits per second while measuring latency (open loop)")
	runs := flag.Int("runs", 3, "repetitions of each copy and backup (the median is reported)")
	latencyRuns := flag.Int("latency-runs", 1, "repetitions of the commit-latency windows (each: without, during downloads, during --on-server backups, without); the ratios' median and range are reported")
	work := flag.String("work", "", "working directory (default: a new temp dir, removed at the end)")
	weirBin := flag.String("weir", "", "weir binary (default: build ./cmd/weir)")
	outDir := flag.String("backup-dir", "", "where the backups taken under commit load are written (default: the working directory, on the store's disk; /dev/shm shows the cost without the disk contention)")
	flag.Parse()

	dir := *work
	if dir == "" {
		d, err := os.MkdirTemp("", "weir-bench-backup-")
		must(err)
		defer os.RemoveAll(d)
		dir = d
	}
	bin := *weirBin
	if bin == "" {
		bin = filepath.Join(dir, "weir")
		build := exec.Command("go", "build", "-o", bin, "./cmd/weir")
		build.Dir = moduleRoot()
		build.Stderr = os.Stderr
		must(build.Run())
	}

	port, rport := freePort(), freePort()
	dataDir := filepath.Join(dir, "data")
	srv := exec.Command(bin, "server", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--raft-listen", fmt.Sprintf("127.0.0.1:%d", rport), "--log-level", "warn", "--snapshot-threshold", "100000",
		"--backup-dir", filepath.Join(dir, "server-backups"), "--backup-keep", "2")
	logf, err := os.Create(filepath.Join(dir, "weir.log"))
	must(err)
	srv.Stdout, srv.Stderr = logf, logf
	must(srv.Start())
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := client.New(base)
	ctx := context.Background()
	waitUp(ctx, c)

	// Fill.
	b, err := c.CreateBucket(ctx, model.Bucket{Name: model.Str("bench")}, false)
	must(err)
	bid := *b.Identifier
	var flows []string
	for i := 0; i < *clients; i++ {
		f, err := c.CreateFlow(ctx, bid, model.VersionedFlow{Name: model.Str(fmt.Sprintf("flow-%d", i))})
		must(err)
		flows = append(flows, *f.Identifier)
	}
	var big [][]byte
	for i := 0; i < 16; i++ {
		big = append(big, flowgen.Snapshot(flowgen.Options{Seed: int64(i + 1), TargetBytes: 1 << 20, Version: -1}))
	}
	storePath := filepath.Join(dataDir, "state.db")
	t0 := time.Now()
	var n atomic.Int64
	var wg sync.WaitGroup
	for w, fid := range flows {
		wg.Add(1)
		go func(w int, fid string) {
			defer wg.Done()
			for i := w; fileSize(storePath) < int64(*storeMB)<<20; i += len(flows) {
				_, err := c.CommitVersion(ctx, bid, fid, big[i%len(big)], false)
				must(err)
				n.Add(1)
			}
		}(w, fid)
	}
	wg.Wait()
	size := fileSize(storePath)
	log.Printf("filled the store to %s with %d versions of ~1 MB flows in %v", mb(size), n.Load(), time.Since(t0).Round(time.Second))

	// Throughput: cp against weir backup, warm cache for both.
	copyTo := filepath.Join(dir, "copy.db")
	bkTo := filepath.Join(dir, "b.weirbak")
	// Backups taken under commit load go to -backup-dir when given.
	bkLoad := bkTo
	if *outDir != "" {
		bkLoad = filepath.Join(*outDir, "weirbench-backup.weirbak")
		defer os.Remove(bkLoad)
	}
	_, _ = io.Copy(io.Discard, mustOpen(storePath)) // warm the page cache
	cpT := median(*runs, func() time.Duration {
		os.Remove(copyTo)
		t := time.Now()
		must(exec.Command("cp", storePath, copyTo).Run())
		return time.Since(t)
	})
	cpSyncT := median(*runs, func() time.Duration {
		os.Remove(copyTo)
		t := time.Now()
		goCopySync(storePath, copyTo)
		return time.Since(t)
	})
	onServer := func() {
		if out, err := exec.Command(bin, "backup", "--server", base, "--on-server", "--data-dir", dataDir).CombinedOutput(); err != nil {
			log.Fatalf("weir backup --on-server: %v\n%s", err, out)
		}
	}
	var bkBytes int64
	bkT := median(*runs, func() time.Duration {
		os.Remove(bkTo)
		t := time.Now()
		out, err := exec.Command(bin, "backup", "--server", base, "-o", bkTo, "-q", "--data-dir", dataDir).CombinedOutput()
		if err != nil {
			log.Fatalf("weir backup: %v\n%s", err, out)
		}
		d := time.Since(t)
		bkBytes = fileSize(bkTo)
		return d
	})
	var onBytes int64
	onT := median(*runs, func() time.Duration {
		t := time.Now()
		onServer()
		d := time.Since(t)
		files, _ := filepath.Glob(filepath.Join(dir, "server-backups", "*.weirbak"))
		sort.Strings(files)
		onBytes = fileSize(files[len(files)-1])
		return d
	})
	rawT := median(*runs, func() time.Duration {
		t := time.Now()
		req, err := http.NewRequest(http.MethodGet, base+"/nifi-registry-api/actuator/backup", nil)
		must(err)
		key, err := os.ReadFile(filepath.Join(dataDir, "cluster.key"))
		must(err)
		req.Header.Set("Authorization", "Bearer "+adminauth.Token(bytes.TrimSpace(key)))
		resp, err := http.DefaultClient.Do(req)
		must(err)
		// 1 MB reads (io.Discard's own ReadFrom reads 8 KB at a time).
		_, err = io.CopyBuffer(struct{ io.Writer }{io.Discard}, resp.Body, make([]byte, 1<<20))
		must(err)
		resp.Body.Close()
		return time.Since(t)
	})

	// Commit latency without and with back-to-back backups.
	small := make([][]byte, 32)
	for i := range small {
		small[i] = flowgen.Snapshot(flowgen.Options{Seed: int64(1000 + i), TargetBytes: 16 << 10, Version: -1})
	}
	download := func() {
		// The previous download is removed in steps, as the node frees
		// its own large files (durable.Remove): this client shares the
		// node's disk, and a 120 MB file deleted at once stalls every
		// fsync on it, the node's Raft log included, for tens of ms.
		_ = durable.Remove(bkLoad)
		if out, err := exec.Command(bin, "backup", "--server", base, "-o", bkLoad, "-q", "--data-dir", dataDir).CombinedOutput(); err != nil {
			log.Fatalf("weir backup under load: %v\n%s", err, out)
		}
	}
	// Commits open loop (bench.RunOpenLoop): each is due at its own time
	// and its latency counts from then, so a stall is charged to every
	// commit that should have started during it. (A first version waited
	// on a time.Ticker, which drops ticks while its reader is late: every
	// stall then pushed all later commits' due times back for good, and
	// the drift was charged to each of them. That tripled the medians
	// reported on 2026-12-05.)
	load := func(takeBackup func(), flows []string) ([]time.Duration, int) {
		stop := make(chan struct{})
		var backups atomic.Int64
		var bwg sync.WaitGroup
		if takeBackup != nil {
			bwg.Add(1)
			go func() {
				defer bwg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					takeBackup()
					backups.Add(1)
				}
			}()
		}
		st := bench.RunOpenLoop(ctx, float64(*commitRate), 0, *dur, 1024, func(ctx context.Context, _, i int) error {
			_, err := c.CommitVersion(ctx, bid, flows[i%len(flows)], small[i%len(small)], false)
			return err
		})
		close(stop)
		bwg.Wait()
		if st.Errors > 0 {
			log.Fatalf("commits under load: %d failed, the first: %v", st.Errors, st.FirstErr)
		}
		return st.Latencies, int(backups.Load())
	}
	// The latencies of a window come sorted (bench.RunOpenLoop); the
	// pooled windows without backups are sorted once when pooled.
	p := func(sorted []time.Duration, q float64) time.Duration { return bench.Percentile(sorted, q*100) }
	ratio := func(a, b time.Duration) float64 { return float64(a) / float64(b) }
	// One latency run: the windows without backups run before and after
	// the windows with them and are pooled.
	type latRun struct {
		nb, nbOn               int
		base, during, duringOn []time.Duration
	}
	var lruns []latRun
	for run := range *latencyRuns {
		// The commits of a run go to flows of their own, deleted after it
		// (a run adds about 8,000 versions). The file keeps the pages they
		// took, free, and a backup copies the file up to its highest page,
		// so later runs still back up somewhat more: fewer backups fit in
		// their windows.
		var loadFlows []string
		for i := range *clients {
			f, err := c.CreateFlow(ctx, bid, model.VersionedFlow{Name: model.Str(fmt.Sprintf("load-%d-%d", run, i))})
			must(err)
			loadFlows = append(loadFlows, *f.Identifier)
		}
		var r latRun
		base0, _ := load(nil, loadFlows)
		r.during, r.nb = load(download, loadFlows)
		r.duringOn, r.nbOn = load(onServer, loadFlows)
		base1, _ := load(nil, loadFlows)
		r.base = append(base0, base1...)
		slices.Sort(r.base)
		lruns = append(lruns, r)
		for _, f := range loadFlows {
			must(c.DeleteFlow(ctx, bid, f))
		}
	}

	// Throughput is the bytes each side actually wrote per second: a
	// backup copies the pages up to the highest one in use, not the
	// space the store file has grown into beyond it (its file is smaller
	// than the store file cp copies), so dividing the store's size by
	// both times would credit the backup with bytes it never moved.
	fmt.Printf("\n## Backup (one node, store file %s, warm page cache, median of %d)\n\n", mb(size), *runs)
	fmt.Println("Throughput is the bytes each side wrote over the time it took (the backup file's size for Weir, the store file's for the reference); the ratio is Weir's rate over the reference's.")
	fmt.Println()
	fmt.Println("| measurement | Weir | reference | ratio |")
	fmt.Println("|---|---|---|---|")
	row := func(what string, d time.Duration, bytes int64, refWhat string, ref time.Duration) {
		fmt.Printf("| %s vs %s | %v (%s file) = %s/s | %v = %s/s | %.2f× |\n", what, refWhat,
			d.Round(time.Millisecond), mb(bytes), mb(rate(bytes, d)), ref.Round(time.Millisecond), mb(rate(size, ref)),
			float64(rate(bytes, d))/float64(rate(size, ref)))
	}
	row("`weir backup --on-server` (written in place on the node, fsynced)", onT, onBytes, "`cp` of state.db", cpT)
	row("`weir backup --on-server`", onT, onBytes, "a copy with fsync", cpSyncT)
	row("`weir backup -o FILE` (HTTP download, verified, fsynced)", bkT, bkBytes, "`cp` of state.db", cpT)
	row("`weir backup -o FILE`", bkT, bkBytes, "a copy with fsync", cpSyncT)
	row("backup stream alone (GET, read and discarded)", rawT, bkBytes, "`cp` of state.db", cpT)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
	fmt.Printf("\n## Commit latency during back-to-back backups (open loop at %d/s, %v windows, %d run(s))\n\n", *commitRate, *dur, len(lruns))
	fmt.Println("| run | backups (downloads / `--on-server`) | p50 without / during downloads / during `--on-server` (ms) | p99 without / during downloads / during `--on-server` (ms) | p99 ratio, downloads / `--on-server` |")
	fmt.Println("|---|---|---|---|---|")
	var dl, on, dl50 []float64
	for i, r := range lruns {
		dlP99, onP99 := ratio(p(r.during, .99), p(r.base, .99)), ratio(p(r.duringOn, .99), p(r.base, .99))
		fmt.Printf("| %d | %d / %d | %s / %s / %s | %s / %s / %s | %.2f× / %.2f× |\n", i+1, r.nb, r.nbOn,
			ms(p(r.base, .5)), ms(p(r.during, .5)), ms(p(r.duringOn, .5)),
			ms(p(r.base, .99)), ms(p(r.during, .99)), ms(p(r.duringOn, .99)), dlP99, onP99)
		dl, on, dl50 = append(dl, dlP99), append(on, onP99), append(dl50, ratio(p(r.during, .5), p(r.base, .5)))
	}
	spread := func(v []float64) string {
		sort.Float64s(v)
		return fmt.Sprintf("%.2f× [%.2f–%.2f×]", v[len(v)/2], v[0], v[len(v)-1])
	}
	fmt.Printf("\ncommit p99 ratio during downloads: %s; during `--on-server` backups: %s; p50 ratio during downloads: %s\n",
		spread(dl), spread(on), spread(dl50))
}

func rate(n int64, d time.Duration) int64 { return int64(float64(n) / d.Seconds()) }

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// median runs f n times, each after a pause that lets the previous run's
// writeback and clean-up (deleting old backups) finish, and returns the
// median time.
func median(n int, f func() time.Duration) time.Duration {
	var ds []time.Duration
	for i := 0; i < n; i++ {
		time.Sleep(300 * time.Millisecond)
		ds = append(ds, f())
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func goCopySync(from, to string) {
	in := mustOpen(from)
	defer in.Close()
	out, err := os.Create(to)
	must(err)
	_, err = io.Copy(out, in)
	must(err)
	must(out.Sync())
	must(out.Close())
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

func mustOpen(p string) *os.File {
	f, err := os.Open(p)
	must(err)
	return f
}

func waitUp(ctx context.Context, c *client.Client) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := c.CreateBucket(ctx, model.Bucket{Name: model.Str("probe")}, false); err == nil {
			return
		}
		if time.Now().After(deadline) {
			log.Fatal("weir did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func moduleRoot() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	must(err)
	return filepath.Dir(strings.TrimSpace(string(bytes.TrimSpace(out))))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
