package blobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/model"
)

func shaOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func openStore(t *testing.T) *Store {
	t.Helper()
	st, err := Open(filepath.Join(t.TempDir(), DataDirName))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func readAll(t *testing.T, st *Store, sha string) []byte {
	t.Helper()
	f, err := st.Open(sha)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noTemps fails if a temp file is left in the store's directory.
func noTemps(t *testing.T, st *Store) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(st.Dir(), tmpPrefix+"*"))
	if len(left) > 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

func TestSpoolKeep(t *testing.T) {
	st := openStore(t)
	data := bytes.Repeat([]byte("weir "), 3<<20) // crosses writeBehind
	sp, err := st.Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(sp, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := sp.Finish(); err != nil {
		t.Fatal(err)
	}
	if sp.SHA256 != shaOf(data) || sp.Size != int64(len(data)) {
		t.Fatalf("spool %s %d, want %s %d", sp.SHA256, sp.Size, shaOf(data), len(data))
	}
	if err := sp.Keep(); err != nil {
		t.Fatal(err)
	}
	sp.Close() // after Keep: keeps the file
	if !st.Has(sp.SHA256, sp.Size) || !bytes.Equal(readAll(t, st, sp.SHA256), data) {
		t.Fatal("kept file missing or different")
	}
	// The same bytes again: one file, touched so the sweep spares it.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(st.Dir(), sp.SHA256), old, old)
	sp2, _ := st.Create()
	sp2.Write(data)
	sp2.Finish()
	if err := sp2.Keep(); err != nil {
		t.Fatal(err)
	}
	sp2.Close()
	list, _ := st.List()
	if len(list) != 1 || list[0].ModTime.Before(time.Now().Add(-time.Minute)) {
		t.Fatalf("after a second keep: %+v", list)
	}
	// A spool closed without Keep leaves nothing.
	sp3, _ := st.Create()
	sp3.Write([]byte("dropped"))
	sp3.Close()
	noTemps(t, st)
}

// TestPutVerifies: Put refuses bytes that do not match their name or
// announced size, whether the file is read whole (at most smallFile
// bytes) or spooled, and keeps nothing of them.
func TestPutVerifies(t *testing.T) {
	for _, n := range []int{19, smallFile + 1} {
		st := openStore(t)
		data := bytes.Repeat([]byte("content of a bundle"), n/19+1)[:n]
		other := bytes.Repeat([]byte("other bytes, same size"), n/22+1)[:n]
		sha := shaOf(data)
		for _, bad := range []struct {
			sha  string
			size int64
			body []byte
		}{
			{sha, int64(n), other},
			{sha, int64(n) - 1, data},
			{sha, int64(n) + 1, data},
			{strings.ToUpper(sha), int64(n), data},
			{"../../etc/passwd", 3, []byte("abc")},
		} {
			if err := st.Put(bad.sha, bad.size, bytes.NewReader(bad.body)); !errors.Is(err, ErrMismatch) {
				t.Fatalf("%d bytes: Put(%.12s, %d): %v, want ErrMismatch", n, bad.sha, bad.size, err)
			}
		}
		noTemps(t, st)
		if list, _ := st.List(); len(list) != 0 {
			t.Fatalf("%d bytes: files after refused puts: %+v", n, list)
		}
		if err := st.Put(sha, int64(n), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		// Present already: the reader is not read.
		if err := st.Put(sha, int64(n), iotestErr{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(readAll(t, st, sha), data) {
			t.Fatalf("%d bytes: stored bytes differ", n)
		}
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("read") }

func TestRemoveIfUntouchedAndLeftovers(t *testing.T) {
	st := openStore(t)
	data := []byte("x")
	sha := shaOf(data)
	st.Put(sha, 1, bytes.NewReader(data))
	cut := time.Now().Add(-time.Minute)
	if err := st.RemoveIfUntouched(sha, cut); err != nil || !st.Has(sha, 1) {
		t.Fatalf("a file written after the cut was removed (%v)", err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(st.Dir(), sha), old, old)
	if err := st.RemoveIfUntouched(sha, cut); err != nil || st.Has(sha, 1) {
		t.Fatalf("an untouched file stayed (%v)", err)
	}
	// A crash's temp file goes at the next Open.
	os.WriteFile(filepath.Join(st.Dir(), tmpPrefix+"crash"), []byte("half"), 0o600)
	if _, err := Open(st.Dir()); err != nil {
		t.Fatal(err)
	}
	noTemps(t, st)
}

// peers is a cluster of httptest servers, each a Replicator's handler
// over its own store; addresses are the servers' host:port.
type peers struct {
	self     string
	notVoter bool
	voters   []string
	members  map[string]string
	h        http.Handler
}

func (p *peers) ID() string                              { return p.self }
func (p *peers) HandlePeer(name string, h http.Handler)  { p.h = h }
func (p *peers) PeerClient() *http.Client                { return http.DefaultClient }
func (p *peers) Voters() (bool, []string)                { return !p.notVoter, p.voters }
func (p *peers) Members() map[string]string              { return p.members }
func peerURL(addr, name, path string) string             { return "http://" + addr + "/" + name + "/" + path }
func stripName(name string, h http.Handler) http.Handler { return http.StripPrefix("/"+name, h) }
func quiet() *slog.Logger                                { return slog.New(slog.DiscardHandler) }
func addrOf(s *httptest.Server) string                   { return strings.TrimPrefix(s.URL, "http://") }
func newPeer(t *testing.T, name string) (*Replicator, *peers) {
	p := &peers{self: name, members: map[string]string{}}
	return NewReplicator(openStore(t), p, "content", peerURL, quiet()), p
}

func serve(t *testing.T, r *Replicator, fail *atomic.Bool) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if fail != nil && fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		stripName("content", r).ServeHTTP(w, req)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestReplicateAndFetch(t *testing.T) {
	a, pa := newPeer(t, "a")
	b, _ := newPeer(t, "b")
	c, _ := newPeer(t, "c")
	var cDown atomic.Bool
	sb, sc := serve(t, b, nil), serve(t, c, &cDown)
	pa.voters = []string{addrOf(sb), addrOf(sc)}
	pa.members = map[string]string{"a": "-", "b": addrOf(sb), "c": addrOf(sc)}

	data := bytes.Repeat([]byte("nar"), 1<<20)
	sha := shaOf(data)
	if err := a.Store().Put(sha, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Three voters: this one and one more make the majority, so one
	// voter down does not stop an upload.
	cDown.Store(true)
	if err := a.Replicate(ctx, sha, int64(len(data))); err != nil {
		t.Fatalf("replicate with one voter down: %v", err)
	}
	if !b.Store().Has(sha, int64(len(data))) {
		t.Fatal("the voter up does not hold the file")
	}
	// Two voters down: no majority, refused as unavailable (retryable).
	other := shaOf([]byte("other"))
	a.Store().Put(other, 5, strings.NewReader("other"))
	pa.voters = []string{addrOf(sc), "127.0.0.1:1"}
	err := a.Replicate(ctx, other, 5)
	if model.KindOf(err) != model.KindUnavailable {
		t.Fatalf("replicate with two voters down: %v, want unavailable", err)
	}
	// The voter that was down fetches the file from whoever has it.
	cDown.Store(false)
	pc := &peers{self: "c", members: map[string]string{"a": "127.0.0.1:1", "b": addrOf(sb), "c": "-"}}
	c.c = pc
	if err := c.Fetch(ctx, sha, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, c.Store(), sha), data) {
		t.Fatal("fetched bytes differ")
	}
	// A file no member has: the extra source is tried, and what it
	// sends is verified.
	missing := []byte("only the primary has this")
	c.SetSource(func(ctx context.Context, s string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(bytes.ToUpper(missing))), nil
	})
	if err := c.Fetch(ctx, shaOf(missing), int64(len(missing))); err == nil {
		t.Fatal("a source's wrong bytes were kept")
	}
	c.SetSource(func(ctx context.Context, s string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(missing)), nil
	})
	if err := c.Fetch(ctx, shaOf(missing), int64(len(missing))); err != nil {
		t.Fatal(err)
	}
	noTemps(t, c.Store())
}

// TestReplicateWithoutVoters: a node that cannot read the configuration
// (no voters known) refuses at once instead of waiting for answers that
// never come.
func TestReplicateWithoutVoters(t *testing.T) {
	a, pa := newPeer(t, "a")
	pa.voters = nil
	pa.notVoter = true
	data := []byte("x")
	a.Store().Put(shaOf(data), 1, bytes.NewReader(data))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Replicate(ctx, shaOf(data), 1); model.KindOf(err) != model.KindUnavailable {
		t.Fatalf("replicate with no voters known: %v, want unavailable at once", err)
	}
}

// TestStalledVoterBounded: a voter that takes pushes and never answers
// (SIGSTOPped) holds at most maxInflight of them; the files after those
// are not sent to it at all, and replication goes on with the voter
// that answers.
func TestStalledVoterBounded(t *testing.T) {
	a, pa := newPeer(t, "a")
	b, _ := newPeer(t, "b")
	sb := serve(t, b, nil)
	var now, most atomic.Int32
	release := make(chan struct{})
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := now.Add(1)
		defer now.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		http.Error(w, "stopped", http.StatusServiceUnavailable)
	}))
	t.Cleanup(stalled.Close)
	t.Cleanup(func() { close(release) })
	pa.voters = []string{addrOf(sb), addrOf(stalled)}
	ctx := context.Background()
	for i := range 3 * maxInflight {
		data := []byte(fmt.Sprintf("chunk %d", i))
		sha := shaOf(data)
		if err := a.Store().Put(sha, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := a.Replicate(ctx, sha, int64(len(data))); err != nil {
			t.Fatalf("replicate %d with one voter stalled: %v", i, err)
		}
		if !b.Store().Has(sha, int64(len(data))) {
			t.Fatalf("file %d not on the voter that answers", i)
		}
	}
	if m := most.Load(); m > maxInflight {
		t.Fatalf("the stalled voter held %d pushes at once, want at most %d", m, maxInflight)
	}
	a.mu.Lock()
	n := a.inflight[addrOf(stalled)]
	a.mu.Unlock()
	if n != maxInflight {
		t.Fatalf("%d pushes under way to the stalled voter, want %d", n, maxInflight)
	}
}

// TestBuffer: Buffer gives n bytes, pooled up to smallFile; Recycle takes
// pooled buffers back whatever their length and ignores any other slice.
func TestBuffer(t *testing.T) {
	for _, n := range []int64{0, 1, 64 << 10, smallFile, smallFile + 1} {
		b := Buffer(n)
		if int64(len(b)) != n {
			t.Fatalf("Buffer(%d): %d bytes", n, len(b))
		}
		if pooled := cap(b) == smallFile; pooled != (n <= smallFile) {
			t.Fatalf("Buffer(%d): cap %d", n, cap(b))
		}
		Recycle(b)
	}
	if b := Buffer(-1); len(b) != 0 {
		t.Fatalf("Buffer(-1): %d bytes", len(b))
	}
	Recycle(make([]byte, 10))
	Recycle(nil)
	// A recycled buffer comes back at the length asked for.
	b := Buffer(smallFile)
	Recycle(b[:3])
	if got := Buffer(100); len(got) != 100 {
		t.Fatalf("after Recycle: %d bytes", len(got))
	}
}
