package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/daemon"
)

// The in-process benchmarks run a weir server inside the test binary
// (daemon.Start on 127.0.0.1:0 with a temp data dir) so that
// `go test -cpuprofile/-blockprofile/-mutexprofile` profile the server.
// The clients are in the same process and show up in the profile too;
// look at the server's frames (internal/..., raft, bbolt).
//
//	go test ./bench -run '^$' -bench InProcessCommit -benchtime 20s -cpuprofile /tmp/cpu.out
//	go tool pprof -top -cum bench.test /tmp/cpu.out

func startInProcess(b *testing.B) (*daemon.Server, *API) {
	b.Helper()
	cfg := daemon.Config{Listen: "127.0.0.1:0", RaftListen: "127.0.0.1:0", DataDir: b.TempDir(),
		ClusterKey: ClusterKey, WriteMode: "forward", MaxVoters: 5, MinQuorum: 3, LogLevel: "warn",
		// WEIRBENCH_UNSAFE_NO_SYNC=1 skips fsync: comparing with and
		// without tells how much of a figure is the disk.
		UnsafeNoSync: os.Getenv("WEIRBENCH_UNSAFE_NO_SYNC") == "1"}
	s, err := daemon.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	if err := poll(30*time.Second, 5*time.Millisecond, func() (bool, error) { return s.Node().IsLeader(), nil }); err != nil {
		b.Fatal(err)
	}
	return s, &API{Base: "http://" + s.Addr(), HC: NewHTTPClient(16, 60*time.Second)}
}

// parallel runs fn from 16 goroutines (the clients of measurements b, c).
func parallel(b *testing.B, fn func(c, seq int) error) {
	b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var next atomic.Int64
	var failed atomic.Value
	t0 := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := int(next.Add(1) - 1)
		for seq := 0; pb.Next(); seq++ {
			if err := fn(c, seq); err != nil {
				failed.CompareAndSwap(nil, errBox{err})
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "ops/s")
	if e, ok := failed.Load().(errBox); ok {
		b.Fatal(e.err)
	}
}

func BenchmarkInProcessCommit(b *testing.B) {
	_, api := startInProcess(b)
	ctx := context.Background()
	bodies, err := NewBodies(1, 16, 16, 64<<10)
	if err != nil {
		b.Fatal(err)
	}
	flows, err := api.CreateFlows(ctx, 64)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 10)
	b.ResetTimer()
	parallel(b, func(c, seq int) error { return api.Commit(ctx, flows[c], bodies.Get(c, seq)) })
}

func BenchmarkInProcessCommitSerial(b *testing.B) {
	_, api := startInProcess(b)
	ctx := context.Background()
	bodies, err := NewBodies(1, 1, 16, 64<<10)
	if err != nil {
		b.Fatal(err)
	}
	flows, err := api.CreateFlows(ctx, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 10)
	b.ResetTimer()
	for i := range b.N {
		if err := api.Commit(ctx, flows[0], bodies.Get(0, i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInProcessGetLatest(b *testing.B) {
	_, api := startInProcess(b)
	ctx := context.Background()
	bodies, err := NewBodies(1, 16, 1, 64<<10)
	if err != nil {
		b.Fatal(err)
	}
	flows, err := api.CreateFlows(ctx, 64)
	if err != nil {
		b.Fatal(err)
	}
	for c := range 16 {
		if err := api.Commit(ctx, flows[c], bodies.Get(c, 0)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(64 << 10)
	b.ResetTimer()
	parallel(b, func(c, _ int) error { return api.Get(ctx, flows[c].LatestPath()) })
}

// BenchmarkInProcessCluster3Commit runs three servers in this process
// (127.0.0.1-3, static bootstrap) and commits to the leader: the profile
// holds the leader's and both followers' work.
func BenchmarkInProcessCluster3Commit(b *testing.B) {
	var cfgs []daemon.Config
	var boot []string
	for i := 1; i <= 3; i++ {
		ip := fmt.Sprintf("127.0.0.%d", i)
		rp, err := FreePort(ip)
		if err != nil {
			b.Fatal(err)
		}
		id := fmt.Sprintf("p%d", i)
		cfgs = append(cfgs, daemon.Config{NodeID: id, Listen: ip + ":0", RaftListen: fmt.Sprintf("%s:%d", ip, rp),
			DataDir: b.TempDir(), ClusterKey: ClusterKey, WriteMode: "forward", MaxVoters: 5, MinQuorum: 3, LogLevel: "warn"})
		boot = append(boot, fmt.Sprintf("%s=%s:%d", id, ip, rp))
	}
	var servers []*daemon.Server
	for _, cfg := range cfgs {
		cfg.Bootstrap = strings.Join(boot, ",")
		s, err := daemon.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		servers = append(servers, s)
		b.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx)
		})
	}
	var leader *daemon.Server
	if err := poll(60*time.Second, 10*time.Millisecond, func() (bool, error) {
		for _, s := range servers {
			if s.Node().IsLeader() {
				leader = s
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		b.Fatal(err)
	}
	api := &API{Base: "http://" + leader.Addr(), HC: NewHTTPClient(16, 60*time.Second)}
	ctx := context.Background()
	bodies, err := NewBodies(1, 16, 16, 64<<10)
	if err != nil {
		b.Fatal(err)
	}
	flows, err := api.CreateFlows(ctx, 64)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 10)
	b.ResetTimer()
	parallel(b, func(c, seq int) error { return api.Commit(ctx, flows[c], bodies.Get(c, seq)) })
}
