package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/weir-nifi/weir/internal/s2s/server"
	"github.com/weir-nifi/weir/internal/s2s/server/memqueue"
	"github.com/weir-nifi/weir/sitetosite"
)

// s2sClientPort is the input port of `weirbench serve-s2s`.
const s2sClientPort = "bench-in"

// ServeS2S is the reference server of measurement j: NiFi's HTTP
// site-to-site server (package server) over an in-memory queue that keeps
// each pushed flowfile's attributes, size and SHA-256 (memqueue with
// DigestOnly), nothing durable. cmd/weirbench runs it as a process of its
// own (`weirbench serve-s2s`), as the NiFi client figures it is compared
// with were taken against an in-memory Go server in another process.
func ServeS2S(listen string) error {
	store := memqueue.New()
	store.DigestOnly = true
	store.AddPort(server.Port{ID: s2sClientPort, Name: "in", Type: server.InputPort, State: server.Running})
	srv, err := server.New(server.Options{Ports: store, Peers: store, Queues: store,
		Controller: server.Controller{ID: "weirbench", InstanceID: "weirbench", Name: "weirbench"}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	return (&http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
}

// S2SClient is measurement j: the Go site-to-site client
// (sitetosite.Client, one goroutine, transactions one after another, no
// compression) pushing to `weirbench serve-s2s` over loopback, in the three
// shapes of the NiFi client figures in s2s-protocol.md §10, 5 runs each
// (the flowfile counts of the 1000 and 1 MiB shapes are not in §10: 20
// transactions here).
// NiFi's own client is not run here (no NiFi on this machine); its
// figures are quoted from §10 (same kind of machine, same kind of server).
func (r *Runner) S2SClient(ctx context.Context) ([]Result, error) {
	if err := r.Env.BuildSelf(); err != nil {
		return nil, err
	}
	port, err := FreePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := r.Env.Start(ProcSpec{Name: "s2s-server", Bin: r.Env.SelfBin, Args: []string{"serve-s2s", "--listen", addr}})
	if err != nil {
		return nil, err
	}
	defer p.Kill()
	url := "http://" + addr
	err = poll(30*time.Second, 10*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, errors.New("s2s server exited: " + p.Tail(2000))
		}
		resp, err := ctlClient.Get(url + "/nifi-api/site-to-site")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return nil, err
	}
	c := &sitetosite.Client{URL: url, HTTP: NewHTTPClient(4, time.Minute)}
	shapes := []struct {
		name             string
		perTx, size, txs int
		ref              string
		refFFps, refMBps float64
	}{
		{"100 × 1 KB flowfiles per transaction, 200 transactions", 100, 1 << 10, 200,
			"NiFi's client (HEAD and 2.6.0): 3.4k flowfiles/s for one JVM run including about 1.7 s of start, about 20 ms per transaction", 3400, 0},
		{"1000 × 1 KB flowfiles per transaction, 20 transactions", 1000, 1 << 10, 20,
			"NiFi's client: 7.2k flowfiles/s (HEAD), 9.5k/s (2.6.0), JVM start included", 9500, 0},
		{"10 × 1 MiB flowfiles per transaction, 20 transactions", 10, 1 << 20, 20,
			"NiFi's client: 51 MB/s (HEAD), 67 MB/s (2.6.0), JVM start included", 0, 67},
	}
	// -reps below 2 (the tooling test) runs each shape once, with a tenth
	// of the transactions.
	runs := 5
	if r.Opts.Reps < 2 {
		runs = 1
		for i := range shapes {
			shapes[i].txs = max(2, shapes[i].txs/10)
		}
	}
	var out []Result
	for _, sh := range shapes {
		content := make([]byte, sh.size)
		for i := range content {
			content[i] = byte(i * 7)
		}
		var ffps, mbps, msTx []float64
		for run := range runs {
			t0 := time.Now()
			for tx := range sh.txs {
				files := make([]sitetosite.FlowFile, sh.perTx)
				for i := range files {
					n := strconv.Itoa(tx*sh.perTx + i)
					files[i] = sitetosite.FlowFile{Content: content,
						Attributes: map[string]string{"filename": "bench-" + n, "path": "./", "uuid": fmt.Sprintf("00000000-0000-4000-8000-%012d", tx*sh.perTx+i)}}
				}
				if _, err := c.Send(ctx, s2sClientPort, files); err != nil {
					return out, fmt.Errorf("j. %s, run %d, transaction %d: %w", sh.name, run+1, tx+1, err)
				}
			}
			d := time.Since(t0)
			n := float64(sh.txs * sh.perTx)
			ffps = append(ffps, n/d.Seconds())
			mbps = append(mbps, n*float64(sh.size)/1e6/d.Seconds())
			msTx = append(msTx, msf(d)/float64(sh.txs))
			r.Env.logf("j. %s, run %d: %.0f flowfiles/s, %.1f MB/s, %.2f ms per transaction", sh.name, run+1, ffps[run], mbps[run], msTx[run])
		}
		res := Result{ID: "j", Name: "Go site-to-site client, one goroutine, push: " + sh.name,
			Weir:   fmt.Sprintf("%s flowfiles/s, %s MB/s, %s ms per transaction", spreadF(ffps, "%.0f"), spreadF(mbps, "%.1f"), spreadF(msTx, "%.2f")),
			Ref:    sh.ref,
			Values: map[string]float64{"ffps_median": median(ffps), "mbps_median": median(mbps), "ms_per_tx_median": median(msTx)}}
		if sh.refFFps > 0 {
			res.Weir += fmt.Sprintf(" (%.1f× NiFi's best)", median(ffps)/sh.refFFps)
			res.Met = yesNo(median(ffps) >= sh.refFFps)
		} else {
			res.Weir += fmt.Sprintf(" (%.1f× NiFi's best)", median(mbps)/sh.refMBps)
			res.Met = yesNo(median(mbps) >= sh.refMBps)
		}
		res.Goal = "≥ NiFi's client"
		out = append(out, res)
	}
	return out, nil
}
