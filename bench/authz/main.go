// Command authz measures what security costs a registry client: the p50
// and p99 latency of GET .../versions/latest and of a commit on one node
// served (a) as plain HTTP, unsecured, and (b) over HTTPS with mutual TLS,
// an identity mapping and managed policies (every request authorized, the
// caller's permissions written into the answer). Same binary, same data,
// same open-loop load at a stated rate, keep-alive connections on both
// sides (as NiFi's registry client keeps them), runs alternating between
// the two modes; the median of the runs' percentiles is reported.
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
	for i := range *runs {
		modes := []string{"plain", "secured"}
		if i%2 == 1 {
			slices.Reverse(modes)
		}
		for _, m := range modes {
			r := runOnce(*weir, dir, m, pki, admin, doc, *duration, *getRate, *commitRate)
			log.Printf("run %d %-7s GET latest p50 %v p99 %v | commit p50 %v p99 %v", i+1, m, r.getP50, r.getP99, r.commitP50, r.commitP99)
			res[m] = append(res[m], r)
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
	fmt.Printf("\n| measure | plain median (min–max) | secured median (min–max) | secured / plain |\n|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		f    func(result) time.Duration
	}{
		{fmt.Sprintf("GET latest p50 at %d/s", *getRate), func(r result) time.Duration { return r.getP50 }},
		{fmt.Sprintf("GET latest p99 at %d/s", *getRate), func(r result) time.Duration { return r.getP99 }},
		{fmt.Sprintf("commit p50 at %d/s", *commitRate), func(r result) time.Duration { return r.commitP50 }},
		{fmt.Sprintf("commit p99 at %d/s", *commitRate), func(r result) time.Duration { return r.commitP99 }},
	} {
		pm, plo, phi := med("plain", row.f)
		sm, slo, shi := med("secured", row.f)
		fmt.Printf("| %s | %v (%v–%v) | %v (%v–%v) | %.2f× |\n", row.name, round(pm), round(plo), round(phi), round(sm), round(slo), round(shi), float64(sm)/float64(pm))
	}
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

func runOnce(weir, dir, mode string, pki *harness.PKI, admin tls.Certificate, doc []byte, window time.Duration, getRate, commitRate int) result {
	data, err := os.MkdirTemp(dir, mode)
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(data)
	port := freePort()
	args := []string{"server", "--data-dir", data, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--raft-listen", fmt.Sprintf("127.0.0.1:%d", freePort()), "--log-level", "warn"}
	base := fmt.Sprintf("http://127.0.0.1:%d/nifi-registry-api", port)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	if mode == "secured" {
		cert, key := pki.WriteFiles(pki.Issue(pkixName("127.0.0.1"), []string{"127.0.0.1"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)), "server")
		args = append(args, "--tls-cert", cert, "--tls-key", key, "--tls-ca", pki.CAFile, "--client-auth", "need",
			"--identity-mapping", "pattern=^CN=(.*?), OU=(.*?)$;value=$1;transform=LOWER", "--initial-admin-identity", "admin")
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
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait(); logf.Close() }()

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
			return measure(do, flow, doc, window, getRate, commitRate)
		}
		if time.Now().After(deadline) {
			log.Fatalf("%s node not ready: %d %s", mode, status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func measure(do func(string, string, []byte) (int, []byte, time.Duration), flow string, doc []byte, window time.Duration, getRate, commitRate int) result {
	// Warm up the connections and the render cache.
	for range 50 {
		do(http.MethodGet, flow+"/versions/latest", nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	var mu sync.Mutex
	var gets, commits []time.Duration
	var wg sync.WaitGroup
	fire := func(rate int, f func()) {
		defer wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		var inner sync.WaitGroup
		for {
			select {
			case <-ctx.Done():
				inner.Wait()
				return
			case <-tick.C:
				inner.Add(1)
				go func() { defer inner.Done(); f() }()
			}
		}
	}
	wg.Add(2)
	go fire(getRate, func() {
		s, b, d := do(http.MethodGet, flow+"/versions/latest", nil)
		if s != http.StatusOK {
			log.Fatalf("GET latest: %d %s", s, b)
		}
		mu.Lock()
		gets = append(gets, d)
		mu.Unlock()
	})
	go fire(commitRate, func() {
		s, b, d := do(http.MethodPost, flow+"/versions", doc)
		if s != http.StatusOK {
			log.Fatalf("commit: %d %s", s, b)
		}
		mu.Lock()
		commits = append(commits, d)
		mu.Unlock()
	})
	wg.Wait()
	pct := func(ds []time.Duration, p int) time.Duration {
		slices.Sort(ds)
		return ds[min(len(ds)-1, len(ds)*p/100)]
	}
	return result{getP50: pct(gets, 50), getP99: pct(gets, 99), commitP50: pct(commits, 50), commitP99: pct(commits, 99)}
}

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }
