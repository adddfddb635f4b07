package server_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"

	"github.com/weir-nifi/weir/internal/s2s/codec"
	"github.com/weir-nifi/weir/internal/s2s/server"
	"github.com/weir-nifi/weir/internal/s2s/server/memqueue"
)

// Many clients push and pull at once, over HTTP/1.1 and HTTP/2; every
// flowfile is committed once and pulled once. Run with -race.
func TestConcurrentTransactions(t *testing.T) {
	e1 := newEnv(t, envOpts{tls: true})
	const workers, rounds, perTx = 8, 5, 3
	var want []string
	for i := range workers * rounds * perTx {
		name := fmt.Sprintf("pull-%03d", i)
		want = append(want, name)
		e1.store.Put(outPort, map[string]string{"filename": name}, gen(i*13, i))
	}
	var mu sync.Mutex
	pulled := map[string]int{}
	t.Run("group", func(t *testing.T) {
		for w := range workers {
			t.Run(fmt.Sprint(w), func(t *testing.T) {
				t.Parallel()
				var c client
				if w%2 == 0 {
					c = newH2Client(t, e1, w%4 == 0)
				} else {
					c = newRawClient(t, e1, w%3 == 0, w%4 == 1)
				}
				compress := w%4 < 2
				if _, ok := c.(*rawClient); ok {
					compress = w%4 == 1
				}
				c.set(server.HeaderBatchCount, fmt.Sprint(perTx))
				for r := range rounds {
					files := manyFiles(perTx)
					for i := range files {
						files[i].attrs = append(files[i].attrs, kv{"worker", fmt.Sprintf("%d/%d", w, r)})
					}
					resp, b, loc := c.create("input-ports", inPort)
					if resp.StatusCode != 201 {
						t.Fatalf("create: %d %s", resp.StatusCode, b)
					}
					data, crc := body(t, files, compress)
					if resp, b := c.push(loc, data, nil); resp.StatusCode != 202 || string(b) != crc {
						t.Fatalf("push: %d %s", resp.StatusCode, b)
					}
					resp, b = c.end(loc, "responseCode=12")
					expectResult(t, resp, b, 200, 13)

					_, _, loc = c.create("output-ports", outPort)
					resp, b = c.pull(loc)
					if resp.StatusCode != 202 {
						t.Fatalf("pull: %d", resp.StatusCode)
					}
					got, sum := decodePull(t, b, compress)
					resp, b = c.end(loc, "responseCode=12&checksum="+sum)
					expectResult(t, resp, b, 200, 12)
					mu.Lock()
					for _, f := range got {
						pulled[f.attrMap()["filename"]]++
					}
					mu.Unlock()
				}
			})
		}
	})
	if n := len(e1.store.Committed(inPort)); n != workers*rounds*perTx {
		t.Fatalf("%d committed, want %d", n, workers*rounds*perTx)
	}
	for _, name := range want {
		if pulled[name] != 1 {
			t.Fatalf("%s pulled %d times", name, pulled[name])
		}
	}
	e1.settled()
}

// Close rolls back everything held.
func TestCloseRollsBack(t *testing.T) {
	e := newEnv(t, envOpts{})
	files := manyFiles(3)
	for _, f := range files {
		e.store.Put(outPort, f.attrMap(), f.content)
	}
	c := newRawClient(t, e, false, false)
	_, _, push := c.create("input-ports", inPort)
	data, _ := body(t, files, false)
	c.push(push, data, nil)
	d := newRawClient(t, e, false, false)
	_, _, pull := d.create("output-ports", outPort)
	d.pull(pull)
	newRawClient(t, e, false, false).create("input-ports", inPort)
	if e.srv.Transactions() != 3 {
		t.Fatal(e.srv.Transactions())
	}
	e.srv.Close()
	e.settled()
	sameFiles(t, e.store.Committed(outPort), files)
	if len(e.store.Committed(inPort)) != 0 {
		t.Fatal("committed on close")
	}
	resp, b, _ := newRawClient(t, e, false, false).create("input-ports", inPort)
	expectResult(t, resp, b, 503, 250)
}

// bigQueue hands out one generated flowfile of a given size.
type bigQueue struct {
	*memqueue.Store
	size int64
}

type bigLease struct {
	size int64
	done bool
}

func (l *bigLease) Next(context.Context) (*server.FlowFile, error) {
	if l.done {
		return nil, io.EOF
	}
	l.done = true
	return &server.FlowFile{Attributes: map[string]string{"filename": "big.bin"}, Size: l.size, Content: &source{n: l.size, x: 88172645463325252}}, nil
}

func (q bigQueue) Lease(context.Context, string, string, server.BatchLimits) (server.Lease, error) {
	return &bigLease{size: q.size}, nil
}
func (q bigQueue) Ack(context.Context, server.Lease) error { return nil }
func (q bigQueue) Release(server.Lease)                    {}

// A 100 MB pull streams from the lease to the client in bounded memory.
func TestPull100MB(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB")
	}
	for _, compress := range []bool{false, true} {
		size := int64(100 << 20)
		if compress && raceBuild {
			size = 20 << 20
		}
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			var q bigQueue
			e := newEnv(t, envOpts{mutate: func(o *server.Options) {
				q = bigQueue{Store: o.Queues.(*memqueue.Store), size: size}
				o.Queues = q
			}})
			c := newRawClient(t, e, false, compress)
			_, _, loc := c.create("output-ports", outPort)

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			conn, br := c.txConn()
			c.writeHead(conn, "GET", c.target(loc, "/flow-files"), c.lines("*/*", true)[1:], noBody, true)
			resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
			if err != nil || resp.StatusCode != 202 {
				t.Fatal(err, resp)
			}
			dec := codec.NewDecoder(resp.Body, compress, codec.Limits{})
			p, err := dec.Next()
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.New()
			if n, err := io.Copy(digest, p.Content); err != nil || n != size {
				t.Fatal(n, err)
			}
			if _, err := dec.Next(); err != io.EOF {
				t.Fatal(err)
			}
			resp.Body.Close()
			runtime.ReadMemStats(&after)
			want := sha256.New()
			io.Copy(want, &source{n: size, x: 88172645463325252})
			if string(digest.Sum(nil)) != string(want.Sum(nil)) {
				t.Fatal("content differs")
			}
			grew := after.TotalAlloc - before.TotalAlloc
			if grew > 32<<20 {
				t.Fatalf("streaming %d MiB allocated %d MiB", size>>20, grew>>20)
			}
			t.Logf("%d MiB pulled; the process allocated %.1f MiB meanwhile", size>>20, float64(grew)/(1<<20))
			r, b := c.end(loc, "responseCode=12&checksum="+codec.FormatChecksum(dec.Checksum()))
			expectResult(t, r, b, 200, 12)
		})
	}
}
