package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/weir-nifi/weir/internal/bundles/nar/nartest"
)

// bundleRuns is how many uploads (and copies) measurement m times.
const bundleRuns = 3

// BundleUpload is measurement m: a 200 MB NAR (incompressible payload)
// uploaded to a single node (or the leader of Opts.BundleNodes), against
// copying the same file into the data directory's file system and syncing
// it (the upload is durable when it is answered). The node's RSS is
// sampled every 20 ms during each upload.
func (r *Runner) BundleUpload(ctx context.Context) ([]Result, error) {
	size := r.Opts.BundleMB << 20
	dir, err := r.Env.Dir("nars")
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(r.Opts.Seed), 7))
	payload := make([]byte, size)
	for i := 0; i+8 <= len(payload); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			payload[i+j] = byte(v >> (8 * j))
		}
	}
	nodes := max(r.Opts.BundleNodes, 1)
	wc, err := r.Env.StartWeirCluster(nodes)
	if err != nil {
		return nil, err
	}
	defer wc.Stop()
	n, err := wc.Leader()
	if err != nil {
		return nil, err
	}
	api := &API{Base: n.API, HC: NewHTTPClient(r.Opts.Clients, 60*time.Second)}
	bucket, err := api.CreateBucket(ctx, "bundles")
	if err != nil {
		return nil, err
	}
	time.Sleep(2 * time.Second) // settle before the idle figure
	idle, err := RSS(n.Proc.PID())
	if err != nil {
		return nil, err
	}
	var ups, cps, grew []float64
	var narBytes int64
	for i := range bundleRuns {
		nar := nartest.Build(nartest.Spec{Group: "org.bench", Artifact: "big-nar", Version: fmt.Sprintf("1.%d", i), SystemAPI: "2.7.2",
			Extensions: []nartest.Extension{{Name: "org.bench.Big", Type: "PROCESSOR"}}, Payload: payload})
		file := filepath.Join(dir, fmt.Sprintf("big-%d.nar", i))
		if err := os.WriteFile(file, nar, 0o644); err != nil {
			return nil, err
		}
		narBytes = int64(len(nar))
		sum := sha256.Sum256(nar)
		nar = nil
		peak := idle
		var peakAnon, peakFile int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				if v, err := RSS(n.Proc.PID()); err == nil {
					peak = max(peak, v)
				}
				// Apart, for the reader: the store's file is mapped, and
				// its pages the node touches count in VmRSS as RssFile.
				if v, err := procField(n.Proc.PID(), "RssAnon:"); err == nil {
					peakAnon = max(peakAnon, v)
				}
				if v, err := procField(n.Proc.PID(), "RssFile:"); err == nil {
					peakFile = max(peakFile, v)
				}
			}
		})
		// Each side starts with nothing dirty in the page cache: the NAR
		// just written, and the files of the previous round, would
		// otherwise be written back during whichever comes next.
		quietDisk()
		t0 := time.Now()
		err := uploadFile(ctx, api, bucket, file, hex.EncodeToString(sum[:]))
		up := time.Since(t0)
		close(stop)
		wg.Wait()
		if err != nil {
			return nil, err
		}
		quietDisk()
		_, cpSync, err := r.copyFile(file)
		if err != nil {
			return nil, err
		}
		if err := os.Remove(file); err != nil {
			return nil, err
		}
		r.Env.logf("m. upload %d: %d MB in %v (%.0f MB/s); cp + sync %v; RSS idle %d MB, peak %d MB (RssAnon peak %d MB, RssFile peak %d MB)", i+1, narBytes>>20, up.Round(time.Millisecond),
			float64(narBytes)/up.Seconds()/(1<<20), cpSync.Round(time.Millisecond), idle>>20, peak>>20, peakAnon>>20, peakFile>>20)
		ups, cps, grew = append(ups, up.Seconds()), append(cps, cpSync.Seconds()), append(grew, float64(peak-idle)/(1<<20))
	}
	var ratios []float64
	for i := range ups {
		ratios = append(ratios, cps[i]/ups[i]) // throughput ratio: same bytes
	}
	ratio, worstGrowth := median(ratios), maxF(grew)
	mbps := float64(narBytes) / median(ups) / (1 << 20)
	where := "single node"
	if nodes > 1 {
		where = fmt.Sprintf("%d nodes, to the leader", nodes)
	}
	return []Result{{ID: "m", Name: fmt.Sprintf("%s: upload of a %d MB NAR (incompressible), median of %d", where, narBytes>>20, bundleRuns),
		Weir:   fmt.Sprintf("%.0f MB/s (%.2f s); RSS %.0f MB above idle at most", mbps, median(ups), worstGrowth),
		Ref:    fmt.Sprintf("cp + sync into the data dir's file system: %.2f s", median(cps)),
		Goal:   "≥ 0.5× the copy; RSS < 100 MB above idle",
		Met:    fmt.Sprintf("%s (%.2f×; +%.0f MB)", yesNo(ratio >= 0.5 && worstGrowth < 100), ratio, worstGrowth),
		Values: map[string]float64{"ratio": ratio, "upload_s": median(ups), "copy_s": median(cps), "rss_growth_mb": worstGrowth, "mb_per_s": mbps}}}, nil
}

// uploadFile posts a NAR as NiFi's client does (multipart: file, sha256),
// streamed from the file.
func uploadFile(ctx context.Context, api *API, bucket, file, sum string) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			fw, err := mw.CreateFormFile("file", filepath.Base(file))
			if err != nil {
				return err
			}
			if _, err := io.Copy(fw, f); err != nil {
				return err
			}
			if err := mw.WriteField("sha256", sum); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api.Base+apiBase+"/buckets/"+bucket+"/bundles/nifi-nar", pr)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := api.HC.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("upload: %s: %s", resp.Status, b)
	}
	return nil
}
