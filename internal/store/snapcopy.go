package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/weir-nifi/weir/internal/durable"
)

// A SnapshotCopy is a Snapshot's database image copied into a file, so
// that streaming it does not hold a read transaction.
//
// Why: while a bbolt read transaction is open, no page freed after it
// began can be reused, and every commit writes the freelist including all
// those pending pages, sorted. A backup streamed straight from a
// transaction over a slow link (or one that yields to writes) makes each
// commit slower the longer it lasts: measured, commit p50 went from
// 0.09 ms to 2 ms after 1,500 commits against one open transaction, and
// commit p99 during back-to-back backups rose 7x. The copy is made by the
// kernel (copy_file_range on Linux: page cache to page cache, no pass
// through this process), so the transaction lasts about as long as a cp.
//
// The image is what bbolt's Tx.WriteTo writes: the transaction's two meta
// pages, then the file's pages up to the transaction's size (pages a
// reader's transaction can see are never overwritten while it is open).
// TestCopySnapshotMatchesSnapshot checks the two agree byte for byte.
//
// Two kinds: CopySnapshot copies into a private temporary file beside the
// store (unlinked as soon as it is created where the OS allows it, so a
// crash leaves nothing to clean up), which WriteTo then streams;
// CopySnapshotInto copies into the caller's file at an offset, and
// FinishFrame completes the frame around it there, so a backup written on
// this machine is one copy of the store, not two.
type SnapshotCopy struct {
	f       *os.File
	owned   bool   // f is the copy's own temporary file, closed at Release
	name    string // removed at Release if it could not be unlinked earlier
	base    int64  // offset of the image in f
	index   uint64
	size    int64
	summary Summary
	files   map[string]int64

	// The copy is made in the background, in copyChunk pieces, so a
	// stream can follow right behind it: a backup takes about as long as
	// the slower of the two, not their sum. The transaction ends when the
	// copy does.
	mu     sync.Mutex
	cond   *sync.Cond
	copied int64 // bytes of the image in f
	err    error // why the copy stopped short
	done   chan struct{}
	stop   atomic.Bool
}

const copyChunk = 8 << 20

var errCopyStopped = errors.New("snapshot copy released")

// errMetaDone stops Tx.WriteTo once it has written the meta pages.
var errMetaDone = errors.New("meta pages written")

// metaWriter keeps the first n bytes written to it and then refuses more.
type metaWriter struct {
	buf []byte
	n   int
}

func (m *metaWriter) Write(p []byte) (int, error) {
	k := min(len(p), m.n-len(m.buf))
	m.buf = append(m.buf, p[:k]...)
	if len(m.buf) == m.n {
		return k, errMetaDone
	}
	return k, nil
}

// CopySnapshot starts copying a point-in-time snapshot of the store into a
// temporary file beside it. It returns once the copy has begun; the
// snapshot is released when the copy is complete.
func (s *Store) CopySnapshot() (*SnapshotCopy, error) {
	f, err := os.CreateTemp(filepath.Dir(s.path), ".snapshot-copy-*")
	if err != nil {
		return nil, fmt.Errorf("snapshot copy: %w", err)
	}
	name := f.Name()
	if os.Remove(name) == nil {
		name = ""
	}
	c, err := s.copyInto(f, 0, true)
	if err != nil {
		f.Close()
		if name != "" {
			os.Remove(name)
		}
		return nil, err
	}
	c.name = name
	return c, nil
}

// CopySnapshotInto starts copying a point-in-time snapshot of the store
// into f, the database image at offset base, which must leave room for
// the frame header before it (base >= FrameHeaderLen). FinishFrame
// completes the frame. f stays the caller's: Release does not close it.
func (s *Store) CopySnapshotInto(f *os.File, base int64) (*SnapshotCopy, error) {
	if base < FrameHeaderLen {
		return nil, fmt.Errorf("snapshot copy: image offset %d leaves no room for the frame header", base)
	}
	return s.copyInto(f, base, false)
}

func (s *Store) copyInto(f *os.File, base int64, owned bool) (*SnapshotCopy, error) {
	sn, err := s.Snapshot()
	if err != nil {
		return nil, err
	}
	files, err := sn.FileContents()
	if err != nil {
		sn.Release()
		return nil, err
	}
	c := &SnapshotCopy{f: f, owned: owned, base: base, index: sn.Index(), size: sn.Size(), summary: sn.Summary(),
		files: files, done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	src, err := s.startCopy(sn, c)
	if err != nil {
		sn.Release()
		return nil, fmt.Errorf("snapshot copy: %w", err)
	}
	go c.copyRest(sn, src)
	return c, nil
}

// startCopy reserves the space, writes the transaction's meta pages and
// opens the store file for the rest.
func (s *Store) startCopy(sn *Snapshot, c *SnapshotCopy) (*os.File, error) {
	if err := preallocate(c.f, c.base, c.size); err != nil {
		return nil, err
	}
	meta := &metaWriter{n: 2 * s.db.Info().PageSize}
	// WriteTo fails with errMetaDone (wrapped as text) once both meta
	// pages are in meta.buf.
	if _, err := sn.tx.WriteTo(meta); err == nil || len(meta.buf) != meta.n {
		return nil, fmt.Errorf("meta pages: got %d of %d bytes (%v)", len(meta.buf), meta.n, err)
	}
	if _, err := c.f.WriteAt(meta.buf, c.base); err != nil {
		return nil, err
	}
	// Snapshot holds the store's shared lock, so Restore cannot replace
	// the file at s.path while the copy runs.
	src, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	c.copied = int64(meta.n)
	return src, nil
}

// copyRest copies the rest of the image and then releases the snapshot.
// Page n of the image is page n of the store file (after the meta pages),
// so each piece is copied to its own offset; the copy never moves c.f's
// file offset, which belongs to the stream (sendImage).
func (c *SnapshotCopy) copyRest(sn *Snapshot, src *os.File) {
	defer close(c.done)
	defer sn.Release()
	defer src.Close()
	var err error
	for c.copied < c.size && err == nil {
		var n int64
		want := min(copyChunk, c.size-c.copied)
		if c.stop.Load() {
			// Readers still waiting (none when Release comes from the
			// streaming goroutine) get the error instead of a hang.
			err = errCopyStopped
		} else {
			n, err = copyRange(c.f, c.base+c.copied, src, c.copied, want)
		}
		if err == nil && n != want {
			err = fmt.Errorf("copied %d of %d bytes", c.copied+n, c.size)
		}
		c.mu.Lock()
		c.copied += n
		c.err = err
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// Available blocks until the copy holds the byte at off of the image and
// returns how many bytes from off it holds. A caller writing a copy made
// with CopySnapshotInto to disk follows the copy with it.
func (c *SnapshotCopy) Available(off int64) (int64, error) {
	if off >= c.size {
		return 0, io.EOF
	}
	c.mu.Lock()
	for c.copied <= off && c.err == nil {
		c.cond.Wait()
	}
	avail, err := c.copied-off, c.err
	c.mu.Unlock()
	if avail <= 0 {
		return 0, fmt.Errorf("snapshot copy: %w", err)
	}
	return avail, nil
}

// Index is the applied index the copy holds.
func (c *SnapshotCopy) Index() uint64 { return c.index }

// FileContents is the bundle content kept in files that the copied state
// refers to (read in the copy's transaction).
func (c *SnapshotCopy) FileContents() (map[string]int64, error) { return c.files, nil }

// Size is the size of the database file the copy holds.
func (c *SnapshotCopy) Size() int64 { return c.size }

// StreamSize is the number of bytes WriteTo writes.
func (c *SnapshotCopy) StreamSize() int64 { return FrameHeaderLen + c.size + FrameSumLen }

// Summary is the copy's state hash and counts.
func (c *SnapshotCopy) Summary() Summary { return c.summary }

// WriteTo streams the framed database image, exactly as Snapshot.WriteTo
// would have. It may be called more than once, not concurrently.
func (c *SnapshotCopy) WriteTo(w io.Writer) (int64, error) {
	return writeFrame(w, c.index, c.size, c.sendImage)
}

// FinishFrame completes the frame around an image copied with
// CopySnapshotInto: it waits for the copy, checksums the header and the
// image, writes the header just before the image and the checksum just
// after it, and returns the frame. Nothing is synced. pace, unless nil,
// is called between pieces of the checksum (a backup yields to commits).
func (c *SnapshotCopy) FinishFrame(pace func()) (Frame, error) {
	fr := Frame{Index: c.index, Size: c.size}
	copy(fr.Header[:], frameHeader(c.index, c.size))
	h := xxhash.New()
	_, _ = h.Write(fr.Header[:])
	if err := c.hashImage(h, nil, pace); err != nil {
		return fr, err
	}
	h.Sum(fr.Sum[:0])
	if _, err := c.f.WriteAt(fr.Header[:], c.base-FrameHeaderLen); err != nil {
		return fr, err
	}
	_, err := c.f.WriteAt(fr.Sum[:], c.base+c.size)
	return fr, err
}

// sendChunk is how much of the image is handed to the writer at a time:
// writers that yield to other work (backup.yieldWriter) check between
// calls.
const sendChunk = 256 << 10

// sendImage writes the image to w and h as the copy proceeds. When w can
// take bytes straight from a file (io.ReaderFrom: an HTTP response on a
// TCP connection sends them with sendfile, a file copies them with
// copy_file_range), it is handed ranges of the copy while another
// goroutine reads and checksums them (hashImage): the bytes are read into
// this process once, never copied into the socket by it, and sending and
// hashing use both cores. Otherwise each piece is read into a buffer,
// checksummed and written.
func (c *SnapshotCopy) sendImage(w io.Writer, h *xxhash.Digest) (int64, error) {
	rf, kernel := w.(io.ReaderFrom)
	var buf []byte
	var hashed chan error
	var sent *lead
	if kernel {
		hashed = make(chan error, 1)
		sent = newLead()
		go func() { hashed <- c.hashImage(h, sent, nil) }()
	} else {
		buf = make([]byte, sendChunk)
	}
	var off int64
	var err error
	for off < c.size && err == nil {
		var avail, n int64
		if avail, err = c.Available(off); err != nil {
			break
		}
		k := min(avail, sendChunk)
		if kernel {
			if _, err = c.f.Seek(c.base+off, io.SeekStart); err == nil {
				n, err = rf.ReadFrom(io.LimitReader(c.f, k))
			}
		} else {
			var m int
			if m, err = c.f.ReadAt(buf[:k], c.base+off); err == nil {
				_, _ = h.Write(buf[:m])
				m, err = w.Write(buf[:m])
			}
			n = int64(m)
		}
		off += n
		if sent != nil {
			sent.advance(off)
		}
		if err == nil && n != k {
			err = io.ErrShortWrite
		}
	}
	if kernel {
		// The hasher must be done with the file (and h) before the copy
		// can be released.
		sent.finish(err != nil)
		if herr := <-hashed; err == nil {
			err = herr
		}
	}
	return off, err
}

// maxLead is how far the checksum may run ahead of the stream.
const maxLead = 4 << 20

// A lead is how far a stream has got, which the checksum beside it waits
// for so that it runs at most maxLead ahead: a stream that pauses for
// other work (backup.yieldWriter) then paces the checksum too, instead of
// the checksum reading the whole copy in one burst.
type lead struct {
	mu      sync.Mutex
	cond    *sync.Cond
	sent    int64
	done    bool // the stream has ended
	stopped bool // ... short: the checksum is not needed
}

func newLead() *lead {
	l := &lead{}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *lead) advance(sent int64) {
	l.mu.Lock()
	l.sent = sent
	l.cond.Broadcast()
	l.mu.Unlock()
}

// finish says the stream has ended, stopped short if failed.
func (l *lead) finish(failed bool) {
	l.mu.Lock()
	l.done, l.stopped = true, failed
	l.cond.Broadcast()
	l.mu.Unlock()
}

// wait blocks until the stream is within maxLead of off or has ended, and
// reports whether the checksum is still wanted.
func (l *lead) wait(off int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for !l.done && off-l.sent >= maxLead {
		l.cond.Wait()
	}
	return !l.stopped
}

// hashImage feeds the whole image to h as the copy proceeds: within
// maxLead of sent unless it is nil (giving up if the stream stops short),
// and calling pace, unless nil, between pieces. (Reading the copy through
// a read-only mapping instead of into a buffer was tried: no measurable
// difference, so the portable way stays.)
func (c *SnapshotCopy) hashImage(h *xxhash.Digest, sent *lead, pace func()) error {
	buf := make([]byte, sendChunk)
	for off := int64(0); off < c.size; {
		if sent != nil && !sent.wait(off) {
			return errCopyStopped
		}
		if pace != nil && off > 0 {
			pace()
		}
		avail, err := c.Available(off)
		if err != nil {
			return err
		}
		m, err := c.f.ReadAt(buf[:min(avail, sendChunk)], c.base+off)
		if err != nil {
			return err
		}
		_, _ = h.Write(buf[:m])
		off += int64(m)
	}
	return nil
}

// Release stops the copy if it is still running and, for a copy in its
// own temporary file, closes and removes the file.
func (c *SnapshotCopy) Release() {
	c.stop.Store(true)
	<-c.done
	if !c.owned {
		return
	}
	f, name := c.f, c.name
	c.f, c.name = nil, ""
	// The copy is as large as the store: freed at once (the close of an
	// unlinked file) it would stall every fsync on the file system for
	// tens of milliseconds, the Raft log's included, so it is freed in
	// steps (durable.Shrink), in the background: the stream that sent it
	// is not held up by the pauses (its last bytes go out when its
	// handler returns).
	go func() {
		if f != nil {
			_ = durable.Shrink(f)
			f.Close()
		}
		if name != "" {
			os.Remove(name)
		}
	}()
}

// copyRangeUser is copyRange through a buffer in this process.
func copyRangeUser(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, error) {
	return io.CopyBuffer(io.NewOffsetWriter(dst, dstOff), io.NewSectionReader(src, srcOff, n), make([]byte, 1<<20))
}
