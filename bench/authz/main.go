// Command authz measures what security costs a registry client: the p50
// and p99 latency of GET .../versions/latest and of a commit on one node
// served (a) as plain HTTP, unsecured, (b) over HTTPS with mutual TLS but
// no policies (every caller identified by its certificate and allowed
// everything: what TLS alone costs), and (c) over HTTPS with mutual TLS,
// an identity mapping and managed policies (every request authorized, the
// caller's permissions written into the answer). Same binary, same data,
// same open-loop load at a stated rate, keep-alive connections on both
// sides (as NiFi's registry client keeps them). The three nodes run side
// by side in each run: one schedule of requests goes round them, so all
// see the same machine at the same moments (drift between runs on
// this VM was larger than the difference being measured). Reported: the
// median of the runs' percentiles per mode and the median of the per-run
// ratios.
//
//	go run ./bench/authz -runs 3 -duration 10s
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
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
	"sync"
	"syscall"
	"time"

	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/harness"
)

type tb struct{ dir string }

func (t *tb) Helper()           {}
func (t *tb) Fatal(args ...any) { log.Fatal(args...) }
func (t *tb) TempDir() string {
	d, err := os.MkdirTemp(t.dir, "pki")
	if err != nil {
		log.Fatal(err)
	}
	return d
}

type result struct{ getP50, getP99, commitP50, commitP99 time.Duration }

func main() {
	weir := flag.String("weir", "", "weir binary (default: build ./cmd/weir)")
	runs := flag.Int("runs", 3, "runs per mode")
	duration := flag.Duration("duration", 10*time.Second, "measured window per run")
	getRate := flag.Int("get-rate", 200, "GET latest requests per second (open loop)")
	commitRate := flag.Int("commit-rate", 20, "commits per second (open loop)")
	size := flag.Int("size", 16<<10, "flow document size in bytes")
	flag.Parse()

	dir, err := os.MkdirTemp("", "weir-authz-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if *weir == "" {
		*weir = filepath.Join(dir, "weir")
		if out, err := exec.Command("go", "build", "-o", *weir, "./cmd/weir").CombinedOutput(); err != nil {
			log.Fatalf("build: %v\n%s", err, out)
		}
	}
	pki := harness.NewPKI(&tb{dir: dir}, "bench CA")
	admin := pki.Client("Admin", "ops")
	doc := flowgen.Snapshot(flowgen.Options{Seed: 1, TargetBytes: *size, Version: -1})

	res := map[string][]result{}
	ratios := map[string][]float64{}
	for i := range *runs {
		r := runSideBySide(*weir, dir, pki, admin, doc, *duration, *getRate, *commitRate)
		for _, m := range modes {
			log.Printf("run %d %-7s GET latest p50 %v p99 %v | commit p50 %v p99 %v", i+1, m, r[m].getP50, r[m].getP99, r[m].commitP50, r[m].commitP99)
			res[m] = append(res[m], r[m])
		}
		for _, q := range quotients {
			ratios[q[0]+"/"+q[1]] = append(ratios[q[0]+"/"+q[1]], float64(r[q[0]].getP50)/float64(r[q[1]].getP50))
		}
	}
	med := func(m string, f func(result) time.Duration) (time.Duration, time.Duration, time.Duration) {
		var ds []time.Duration
		for _, r := range res[m] {
			ds = append(ds, f(r))
		}
		slices.Sort(ds)
		return ds[len(ds)/2], ds[0], ds[len(ds)-1]
	}
	fmt.Printf("\n| measure | plain median (min–max) | tls | secured | tls / plain | secured / plain | secured / tls |\n|---|---|---|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		f    func(result) time.Duration
	}{
		{fmt.Sprintf("GET latest p50 at %d/s", *getRate), func(r result) time.Duration { return r.getP50 }},
		{fmt.Sprintf("GET latest p99 at %d/s", *getRate), func(r result) time.Duration { return r.getP99 }},
		{fmt.Sprintf("commit p50 at %d/s", *commitRate), func(r result) time.Duration { return r.commitP50 }},
		{fmt.Sprintf("commit p99 at %d/s", *commitRate), func(r result) time.Duration { return r.commitP99 }},
	} {
		m := map[string]time.Duration{}
		fmt.Printf("| %s ", row.name)
		for _, mode := range modes {
			md, lo, hi := med(mode, row.f)
			m[mode] = md
			fmt.Printf("| %v (%v–%v) ", round(md), round(lo), round(hi))
		}
		for _, q := range quotients {
			fmt.Printf("| %.2f× ", float64(m[q[0]])/float64(m[q[1]]))
		}
		fmt.Println("|")
	}
	fmt.Println()
	for _, q := range quotients {
		rs := ratios[q[0]+"/"+q[1]]
		slices.Sort(rs)
		fmt.Printf("GET latest p50, %s / %s per run: median %.2f× (%.2f–%.2f×) over %d runs\n", q[0], q[1], rs[len(rs)/2], rs[0], rs[len(rs)-1], len(rs))
	}
}

// modes are the three nodes of a run; quotients the ratios reported.
var (
	modes     = []string{"plain", "tls", "secured"}
	quotients = [][2]string{{"tls", "plain"}, {"secured", "plain"}, {"secured", "tls"}}
)

// target is one running node with its flow.
type target struct {
	do   func(method, path string, body []byte) (int, []byte, time.Duration)
	flow string
	stop func()
}

// runSideBySide starts a node of each mode and measures them in one
// window.
func runSideBySide(weir, dir string, pki *harness.PKI, admin tls.Certificate, doc []byte, window time.Duration, getRate, commitRate int) map[string]result {
	var ts []target
	for _, m := range modes {
		t := start(weir, dir, m, pki, admin, doc)
		defer t.stop()
		ts = append(ts, t)
	}
	rs := measure(ts, doc, window, getRate, commitRate)
	out := map[string]result{}
	for i, m := range modes {
		out[m] = rs[i]
	}
	return out
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func start(weir, dir, mode string, pki *harness.PKI, admin tls.Certificate, doc []byte) target {
	data, err := os.MkdirTemp(dir, mode)
	if err != nil {
		log.Fatal(err)
	}
	port := freePort()
	args := []string{"server", "--data-dir", data, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--raft-listen", fmt.Sprintf("127.0.0.1:%d", freePort()), "--log-level", "warn"}
	base := fmt.Sprintf("http://127.0.0.1:%d/nifi-registry-api", port)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	if mode != "plain" {
		cert, key := pki.WriteFiles(pki.Issue(pkixName("127.0.0.1"), []string{"127.0.0.1"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)), "server")
		args = append(args, "--tls-cert", cert, "--tls-key", key, "--tls-ca", pki.CAFile, "--client-auth", "need")
		if mode == "secured" {
			args = append(args, "--identity-mapping", "pattern=^CN=(.*?), OU=(.*?)$;value=$1;transform=LOWER", "--initial-admin-identity", "admin")
		}
		base = fmt.Sprintf("https://127.0.0.1:%d/nifi-registry-api", port)
		hc.Transport = &http.Transport{MaxIdleConnsPerHost: 64, TLSClientConfig: pki.ClientConfig(admin)}
	}
	if p := os.Getenv("WEIR_BENCH_PROFILE"); p != "" {
		args = append(args, "--cpuprofile", filepath.Join(p, mode+".pprof"))
	}
	cmd := exec.Command(weir, args...)
	logf, _ := os.Create(filepath.Join(data, "..", mode+".log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	stop := func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait(); logf.Close(); os.RemoveAll(data) }

	do := func(method, path string, body []byte) (int, []byte, time.Duration) {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, time.Since(t0)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, b, time.Since(t0)
	}
	// Ready and, secured, the initial policies in force.
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, body, _ := do(http.MethodPost, "/buckets", []byte(`{"name":"bench"}`))
		if status == http.StatusOK {
			var b struct{ Identifier string }
			_ = json.Unmarshal(body, &b)
			status, body, _ = do(http.MethodPost, "/buckets/"+b.Identifier+"/flows", []byte(`{"name":"f"}`))
			var f struct{ Identifier string }
			_ = json.Unmarshal(body, &f)
			flow := "/buckets/" + b.Identifier + "/flows/" + f.Identifier
			if s, b, _ := do(http.MethodPost, flow+"/versions", doc); s != http.StatusOK {
				log.Fatalf("%s: first commit %d %s", mode, s, b)
			}
			return target{do: do, flow: flow, stop: stop}
		}
		if time.Now().After(deadline) {
			stop()
			log.Fatalf("%s node not ready: %d %s", mode, status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// measure runs one open-loop schedule per kind of request at twice the
// stated rate, each tick going to the next node in turn: every node gets
// the stated rate, evenly spaced, and the nodes share the same moments.
func measure(ts []target, doc []byte, window time.Duration, getRate, commitRate int) []result {
	// Warm up the connections and the render caches.
	for range 50 {
		for _, t := range ts {
			t.do(http.MethodGet, t.flow+"/versions/latest", nil)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	var mu sync.Mutex
	gets, commits := make([][]time.Duration, len(ts)), make([][]time.Duration, len(ts))
	var wg sync.WaitGroup
	fire := func(rate int, f func(t target) time.Duration, into [][]time.Duration) {
		defer wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate*len(ts)))
		defer tick.Stop()
		var inner sync.WaitGroup
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				inner.Wait()
				return
			case <-tick.C:
				inner.Add(1)
				go func(i int) {
					defer inner.Done()
					d := f(ts[i])
					mu.Lock()
					into[i] = append(into[i], d)
					mu.Unlock()
				}(n % len(ts))
			}
		}
	}
	wg.Add(2)
	go fire(getRate, func(t target) time.Duration {
		s, b, d := t.do(http.MethodGet, t.flow+"/versions/latest", nil)
		if s != http.StatusOK {
			log.Fatalf("GET latest: %d %s", s, b)
		}
		return d
	}, gets)
	go fire(commitRate, func(t target) time.Duration {
		s, b, d := t.do(http.MethodPost, t.flow+"/versions", doc)
		if s != http.StatusOK {
			log.Fatalf("commit: %d %s", s, b)
		}
		return d
	}, commits)
	wg.Wait()
	pct := func(ds []time.Duration, p int) time.Duration {
		slices.Sort(ds)
		return ds[min(len(ds)-1, len(ds)*p/100)]
	}
	out := make([]result, len(ts))
	for i := range ts {
		out[i] = result{getP50: pct(gets[i], 50), getP99: pct(gets[i], 99), commitP50: pct(commits[i], 50), commitP99: pct(commits[i], 99)}
	}
	return out
}

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }
