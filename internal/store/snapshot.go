package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"

	"github.com/cespare/xxhash/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/bundles"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/durable"
	"github.com/weir-nifi/weir/internal/s2s/queue"
)

// Snapshot is a point-in-time view of the whole store that can be streamed
// while Apply goes on (bbolt MVCC): one read transaction. Release it when
// done: it pins pages.
type Snapshot struct {
	tx *bolt.Tx
	s  *Store
}

// Snapshot opens a point-in-time view. It holds the store's shared lock
// until Release, so Restore waits for streams in progress.
func (s *Store) Snapshot() (*Snapshot, error) {
	s.mu.RLock()
	if s.db == nil {
		s.mu.RUnlock()
		return nil, errors.New("store is closed")
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	return &Snapshot{tx: tx, s: s}, nil
}

// FileContents is the content kept in files that the snapshot's state
// refers to (see the package function).
func (sn *Snapshot) FileContents() (map[string]int64, error) {
	return FileContents(sn.tx)
}

// FileContents lists the content kept in files beside the log that a
// state refers to (SHA-256 → file size): bundle versions' and queued
// site-to-site chunks'. A node keeps exactly these (it fetches those it
// lacks and sweeps the others), and a backup carries them.
func FileContents(btx *bolt.Tx) (map[string]int64, error) {
	out, err := bundles.FileContents(btx)
	if err != nil {
		return nil, err
	}
	chunks, err := queue.FileContents(btx)
	if err != nil {
		return nil, err
	}
	maps.Copy(out, chunks)
	return out, nil
}

// ContentFiles is FileContents of the applied state (what a
// blobs.Keeper wants).
func (s *Store) ContentFiles() (map[string]int64, error) {
	var out map[string]int64
	err := s.Read(func(tx *Tx) (err error) {
		out, err = FileContents(tx.Bolt())
		return err
	})
	return out, err
}

// Index is the applied index the snapshot holds.
func (sn *Snapshot) Index() uint64 {
	if v := sn.tx.Bucket(tMeta).Get(appliedKey); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Size is the size of the database file the snapshot holds.
func (sn *Snapshot) Size() int64 { return sn.tx.Size() }

// Summary is what a snapshot holds, in one pass: the state hash and counts.
type Summary struct {
	StateHash string `json:"stateHash"`
	Counts    Counts `json:"counts"`
}

// Summary is the snapshot's state hash and counts, as kept by Apply
// (statehash.go): reading them costs nothing.
func (sn *Snapshot) Summary() Summary { return summaryOf(sn.tx) }

// Frame format. A snapshot travels as a frame around the bbolt file so a
// truncated or altered copy is detected before bbolt maps it (bbolt trusts
// its file and faults on a short one):
//
//	8 bytes  magic "WEIRSNAP"
//	4 bytes  frame version (2), big endian
//	4 bytes  store FormatVersion
//	8 bytes  applied index
//	8 bytes  length L of the database file
//	L bytes  database file
//	8 bytes  XXH64 of the header and the L bytes
//
// XXH64 detects truncation and corruption as reliably as a cryptographic
// hash would for accidental damage, at several GB/s, so Raft snapshots and
// backups are not bounded by checksumming. (Frame version 1 used SHA-256.)
const (
	snapMagic   = "WEIRSNAP"
	snapVersion = 2
	// FrameHeaderLen and FrameSumLen are the sizes around the database.
	FrameHeaderLen = 8 + 4 + 4 + 8 + 8
	FrameSumLen    = 8
)

// ErrBadSnapshot is returned for a stream that is not a complete,
// unaltered Weir snapshot frame.
var ErrBadSnapshot = errors.New("invalid snapshot")

// StreamSize is the number of bytes WriteTo writes.
func (sn *Snapshot) StreamSize() int64 { return FrameHeaderLen + sn.tx.Size() + FrameSumLen }

// WriteTo streams the framed database file as of the snapshot.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	return writeFrame(w, sn.Index(), sn.tx.Size(), func(w io.Writer, h *xxhash.Digest) (int64, error) {
		return sn.tx.WriteTo(io.MultiWriter(w, h))
	})
}

// writeFrame writes a frame around a database image of size bytes. image
// writes the image to w and the same bytes to h.
func writeFrame(w io.Writer, index uint64, size int64, image func(w io.Writer, h *xxhash.Digest) (int64, error)) (int64, error) {
	hdr := frameHeader(index, size)
	n, err := w.Write(hdr)
	total := int64(n)
	if err != nil {
		return total, err
	}
	h := xxhash.New()
	_, _ = h.Write(hdr)
	m, err := image(w, h)
	total += m
	if err != nil {
		return total, err
	}
	if m != size {
		return total, fmt.Errorf("database image was %d bytes, expected %d", m, size)
	}
	n, err = w.Write(h.Sum(nil))
	return total + int64(n), err
}

// frameHeader is the header of a frame around a database image.
func frameHeader(index uint64, size int64) []byte {
	hdr := make([]byte, 0, FrameHeaderLen)
	hdr = append(hdr, snapMagic...)
	hdr = binary.BigEndian.AppendUint32(hdr, snapVersion)
	hdr = binary.BigEndian.AppendUint32(hdr, FormatVersion)
	hdr = binary.BigEndian.AppendUint64(hdr, index)
	return binary.BigEndian.AppendUint64(hdr, uint64(size))
}

// Release ends the snapshot.
func (sn *Snapshot) Release() {
	if sn.tx == nil {
		return
	}
	_ = sn.tx.Rollback()
	sn.tx = nil
	sn.s.mu.RUnlock()
}

// StateHash is the state hash Apply keeps (statehash.go) and the applied
// index it belongs to: two replicas with the same hash hold the same
// registry. The applied index and the cluster member table are not part of
// it, so a node restored from a snapshot or a backup compares equal.
// Recompute verifies the kept hash against the stored entries instead.
func (s *Store) StateHash() (hash string, index uint64, err error) {
	return s.stateHash(false)
}

// RecomputedStateHash walks every entry to compute the state hash from
// scratch, and fails if it differs from the kept one: a check that the
// store's entries are what its history says they are.
func (s *Store) RecomputedStateHash() (hash string, index uint64, err error) {
	return s.stateHash(true)
}

func (s *Store) stateHash(full bool) (hash string, index uint64, err error) {
	err = s.Read(func(t *Tx) error {
		kept := summaryOf(t.tx)
		hash = kept.StateHash
		if full {
			if got := recompute(t.tx).summary(); got != kept {
				return fmt.Errorf("%w: the entries add up to state hash %s and counts %+v, the store keeps %s and %+v",
					ErrStateMismatch, got.StateHash, got.Counts, kept.StateHash, kept.Counts)
			}
		}
		if v := t.tx.Bucket(tMeta).Get(appliedKey); len(v) == 8 {
			index = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return hash, index, err
}

// Restore replaces the whole state with a database file read from r (as
// written by Snapshot.WriteTo). The new file is written beside the old one,
// synced and checked before it replaces it, so a crash during Restore leaves
// either the old or the new state, never a mix.
func (s *Store) Restore(r io.Reader) error {
	tmp := s.path + ".restore"
	if _, err := ReadSnapshotFile(r, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	return s.install(tmp, true)
}

// RestoreFile replaces the whole state with the database inside the
// snapshot frame stored in the file at path (as Snapshot.WriteTo writes
// it); that file is only read. verified says the frame's length and
// checksum were checked while the file was written, in this process (a
// snapshot store that verifies what it receives); otherwise they are
// checked here first, in one read pass. The database is then copied by the
// kernel (copy_file_range on Linux: no pass through this process), because
// bbolt writes into its file and the snapshot must stay intact to be sent
// to other nodes later.
//
// A log-backed store neither fsyncs the copy nor needs the swap to be
// atomic: the snapshot file it comes from is durable, and a store that a
// crash left behind it (the old state, or none at all) is restored from
// that snapshot when the node starts (see Options.LogBacked). Other stores
// get Restore's guarantee: a crash leaves the old or the new state.
func (s *Store) RestoreFile(path string, verified bool) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	fr, err := checkFrameFile(src, verified)
	if err != nil {
		return fmt.Errorf("snapshot file %s: %w", path, err)
	}
	durable := !s.opts.NoSync && !s.opts.LogBacked
	tmp := s.path + ".restore"
	if err := copyFileRange(src, FrameHeaderLen, fr.Size, tmp, durable); err != nil {
		os.Remove(tmp)
		return err
	}
	return s.install(tmp, durable)
}

// checkFrameFile reads the frame header of a snapshot file and checks that
// the file holds exactly one frame; unless verified, it also reads the
// whole frame through a FrameChecker.
func checkFrameFile(f *os.File, verified bool) (Frame, error) {
	st, err := f.Stat()
	if err != nil {
		return Frame{}, err
	}
	fr, err := ReadFrameHeader(io.NewSectionReader(f, 0, FrameHeaderLen))
	if err != nil {
		return fr, err
	}
	if want := FrameHeaderLen + fr.Size + FrameSumLen; st.Size() != want {
		return fr, fmt.Errorf("%w: file has %d bytes, the frame %d", ErrBadSnapshot, st.Size(), want)
	}
	if verified {
		return fr, nil
	}
	var c FrameChecker
	if _, err := io.CopyBuffer(&c, io.NewSectionReader(f, 0, st.Size()), make([]byte, 1<<20)); err != nil {
		return fr, err
	}
	return c.Finish()
}

// copyFileRange copies n bytes at offset off of src into a new file at
// path, in the kernel where it can (copyRange).
func copyFileRange(src *os.File, off, n int64, path string, sync bool) error {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	m, err := copyRange(out, 0, src, off, n)
	if err != nil {
		return err
	}
	if m != n {
		return fmt.Errorf("%w: copied %d of %d bytes", ErrBadSnapshot, m, n)
	}
	if sync {
		if err := out.Sync(); err != nil {
			return err
		}
	}
	return out.Close()
}

// A Stage is a copy of the database inside a snapshot frame, written while
// the frame itself is being received and verified by someone else (the
// Raft snapshot store), so that restoring that snapshot afterwards is a
// rename instead of a copy. It holds unverified bytes: only InstallStaged,
// given the frame the receiver verified, ever uses it. One stage exists at
// a time (a new one replaces the file).
type Stage struct {
	path string
	f    *os.File
	fr   Frame // header as received
	nhdr int
	n    int64 // database bytes written
	err  error
}

func (s *Store) stagePath() string { return s.path + ".staged" }

// NewStage starts a stage beside the store file.
func (s *Store) NewStage() (*Stage, error) {
	f, err := os.OpenFile(s.stagePath(), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return &Stage{path: s.stagePath(), f: f}, nil
}

// RemoveStage deletes a stage file a crash left behind.
func (s *Store) RemoveStage() error {
	if err := os.Remove(s.stagePath()); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// Write takes the next bytes of the frame (all of them, in order, exactly
// as the receiver verifies them) and writes the database part.
func (g *Stage) Write(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n := len(p)
	if p, g.err = g.fr.takeHeader(p, &g.nhdr); g.err != nil {
		return 0, g.err
	}
	if k := min(int64(len(p)), g.fr.Size-g.n); k > 0 {
		m, err := g.f.Write(p[:k])
		g.n += int64(m)
		if err != nil {
			g.err = err
			return 0, err
		}
	}
	// The checksum after the database is not part of the copy.
	return n, nil
}

// Discard drops the stage and its file.
func (g *Stage) Discard() {
	if g.f != nil {
		g.f.Close()
		g.f = nil
	}
	os.Remove(g.path)
}

// InstallStaged replaces the whole state with a stage. fr is the frame the
// receiver verified while the same bytes went into the stage; the stage
// must hold that frame's whole database. The stage is used up either way.
// Durability and atomicity are as for RestoreFile.
func (s *Store) InstallStaged(g *Stage, fr Frame) error {
	f := g.f
	g.f = nil
	if f == nil {
		return errors.New("stage already used")
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(g.path)
		return err
	}
	if g.err != nil {
		return fail(g.err)
	}
	if g.nhdr != FrameHeaderLen || g.fr.Header != fr.Header || g.n != fr.Size {
		return fail(fmt.Errorf("%w: the stage does not hold the verified frame (%d of %d bytes)", ErrBadSnapshot, g.n, fr.Size))
	}
	durable := !s.opts.NoSync && !s.opts.LogBacked
	if durable {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(g.path)
		return err
	}
	return s.install(g.path, durable)
}

// install checks the format of a complete, verified copy of a store file at
// tmp and swaps it in for the current state. With atomic, it is renamed
// over the old file, so a crash leaves one or the other. Without, the old
// file is removed first: renaming over an existing file makes ext4 write
// out the whole new file at once (its auto_da_alloc safeguard, tens of ms
// for a large store), which only a caller that can lose both files in a
// crash (RestoreFile for a log-backed store) may skip.
func (s *Store) install(tmp string, atomic bool) error {
	// The frame's checksum proved the copy complete and unaltered; a
	// format check suffices before it replaces the state.
	if err := checkFile(tmp, false); err != nil {
		os.Remove(tmp)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Whatever happens from here, the state may have changed: even a
	// failed install leaves another file, or none, in place.
	defer s.generation.Add(1)
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			return err
		}
		s.db = nil
	}
	if !atomic {
		if err := os.Remove(s.path); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return err
	}
	if err := durable.SyncParent(s.path); err != nil {
		return err
	}
	db, err := openDB(s.path, s.opts)
	if err != nil {
		return err
	}
	s.db = db
	if err := s.loadApplied(); err != nil {
		return err
	}
	s.removals.Add(1)
	s.members.Add(1)
	s.wake()
	return nil
}

// CheckFile opens a store file read-only and verifies its format and page
// structure without changing it.
func CheckFile(path string) error { return checkFile(path, true) }

func checkFile(path string, deep bool) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2e9})
	if err != nil {
		return fmt.Errorf("not a Weir store: %w", err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(tMeta)
		if m == nil {
			return fmt.Errorf("%w: no meta table", ErrFormat)
		}
		if v := m.Get(formatKey); len(v) != 4 || binary.BigEndian.Uint32(v) != FormatVersion {
			return fmt.Errorf("%w: format %x", ErrFormat, v)
		}
		// Tables added since (the site-to-site ones) are created by Open:
		// files written before them are complete without them.
		for _, t := range append([][]byte{tMeta, tNodes}, registryTables...) {
			if tx.Bucket(t) == nil {
				return fmt.Errorf("%w: missing table %s", ErrFormat, t)
			}
		}
		if !deep {
			return nil
		}
		var first error
		for err := range tx.Check() { // drain fully: the checker goroutine blocks otherwise
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return fmt.Errorf("store file is damaged: %w", first)
		}
		return nil
	})
}

// Frame is what a snapshot frame says about itself, with its raw header
// and checksum (a backup's trailer covers both).
type Frame struct {
	Index  uint64
	Size   int64
	Header [FrameHeaderLen]byte
	Sum    [FrameSumLen]byte
}

// CopyFrame reads one snapshot frame from r, copies the database bytes to w
// and verifies length and checksum. w has received unverified bytes when
// it fails; callers discard them.
func CopyFrame(r io.Reader, w io.Writer) (Frame, error) {
	f, err := ReadFrameHeader(r)
	if err != nil {
		return f, err
	}
	hdr := f.Header[:]
	sum := xxhash.New()
	_, _ = sum.Write(hdr)
	n, err := io.Copy(io.MultiWriter(w, sum), io.LimitReader(r, f.Size))
	if err != nil {
		return f, err
	}
	if n != f.Size {
		return f, fmt.Errorf("%w: truncated: %d of %d bytes", ErrBadSnapshot, n, f.Size)
	}
	if _, err := io.ReadFull(r, f.Sum[:]); err != nil {
		return f, fmt.Errorf("%w: missing checksum: %v", ErrBadSnapshot, err)
	}
	if !bytes.Equal(f.Sum[:], sum.Sum(nil)) {
		return f, fmt.Errorf("%w: checksum mismatch", ErrBadSnapshot)
	}
	return f, nil
}

// ReadFrameHeader reads and checks the header of a snapshot frame (the
// data and checksum are left in r).
func ReadFrameHeader(r io.Reader) (Frame, error) {
	var f Frame
	if _, err := io.ReadFull(r, f.Header[:]); err != nil {
		return f, fmt.Errorf("%w: short header: %v", ErrBadSnapshot, err)
	}
	return f, f.parseHeader()
}

// takeHeader copies the front of p into f.Header, of which *have bytes
// were taken before, parses the header once it is complete, and returns
// what is left of p (nothing until the header is complete).
func (f *Frame) takeHeader(p []byte, have *int) ([]byte, error) {
	if *have >= FrameHeaderLen {
		return p, nil
	}
	k := copy(f.Header[*have:], p)
	*have += k
	if *have < FrameHeaderLen {
		return nil, nil
	}
	return p[k:], f.parseHeader()
}

// parseHeader checks f.Header and sets Index and Size from it.
func (f *Frame) parseHeader() error {
	hdr := f.Header[:]
	if string(hdr[:8]) != snapMagic {
		return fmt.Errorf("%w: not a Weir snapshot", ErrBadSnapshot)
	}
	if v := binary.BigEndian.Uint32(hdr[8:]); v != snapVersion {
		return fmt.Errorf("%w: frame version %d, this build reads %d", ErrBadSnapshot, v, snapVersion)
	}
	if v := binary.BigEndian.Uint32(hdr[12:]); v != FormatVersion {
		return fmt.Errorf("%w: store format %d, this build reads %d", ErrFormat, v, FormatVersion)
	}
	f.Index = binary.BigEndian.Uint64(hdr[16:])
	f.Size = int64(binary.BigEndian.Uint64(hdr[24:]))
	if f.Size <= 0 || f.Size > 1<<40 {
		return fmt.Errorf("%w: bad length %d", ErrBadSnapshot, f.Size)
	}
	return nil
}

// FrameChecker verifies a snapshot frame as it is written through it, so
// that a copy written elsewhere at the same time (a file receiving the
// frame) is known complete and unaltered when Finish succeeds, without
// being read again. Write fails as soon as the header is bad or bytes
// follow the checksum.
type FrameChecker struct {
	f    Frame
	nhdr int // header bytes seen
	data int64
	nsum int // checksum bytes seen
	h    *xxhash.Digest
	err  error
}

// Write feeds the next bytes of the frame.
func (c *FrameChecker) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n := len(p)
	if c.nhdr < FrameHeaderLen {
		if p, c.err = c.f.takeHeader(p, &c.nhdr); c.err != nil {
			return 0, c.err
		}
		if c.nhdr < FrameHeaderLen {
			return n, nil
		}
		c.h = xxhash.New()
		_, _ = c.h.Write(c.f.Header[:])
	}
	if k := min(int64(len(p)), c.f.Size-c.data); k > 0 {
		_, _ = c.h.Write(p[:k])
		c.data += k
		p = p[k:]
	}
	if len(p) > 0 {
		k := copy(c.f.Sum[c.nsum:], p)
		c.nsum += k
		if k < len(p) {
			c.err = fmt.Errorf("%w: %d bytes after the checksum", ErrBadSnapshot, len(p)-k)
			return 0, c.err
		}
	}
	return n, nil
}

// Finish checks that a whole frame was written and that its checksum
// matches, and returns what the frame says about itself.
func (c *FrameChecker) Finish() (Frame, error) {
	switch {
	case c.err != nil:
		return c.f, c.err
	case c.nhdr < FrameHeaderLen:
		return c.f, fmt.Errorf("%w: short header: %d bytes", ErrBadSnapshot, c.nhdr)
	case c.data < c.f.Size:
		return c.f, fmt.Errorf("%w: truncated: %d of %d bytes", ErrBadSnapshot, c.data, c.f.Size)
	case c.nsum < FrameSumLen:
		return c.f, fmt.Errorf("%w: missing checksum", ErrBadSnapshot)
	case !bytes.Equal(c.f.Sum[:], c.h.Sum(nil)):
		return c.f, fmt.Errorf("%w: checksum mismatch", ErrBadSnapshot)
	}
	return c.f, nil
}

// ReadSnapshotFile reads one snapshot frame from r into a synced file at
// path, verifying its length and checksum. On error the file may exist and
// must be removed by the caller.
func ReadSnapshotFile(r io.Reader, path string) (Frame, error) {
	return readFrameFile(r, path, true)
}

// readFrameFile is ReadSnapshotFile, syncing the file only when asked: a
// scratch copy that is rewritten at once need not reach the disk.
func readFrameFile(r io.Reader, path string, sync bool) (Frame, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return Frame{}, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	fr, err := CopyFrame(r, bw)
	if err != nil {
		return fr, err
	}
	if err := bw.Flush(); err != nil {
		return fr, err
	}
	if sync {
		if err := f.Sync(); err != nil {
			return fr, err
		}
	}
	return fr, f.Close()
}

// PrepareRestored turns a store file written from another cluster's
// snapshot (a backup) into the first state of a new cluster: the applied
// index restarts at 0, because the new cluster's Raft log starts at 1 and
// entries at or below the applied index would be skipped, and the old
// cluster's member table is dropped.
func PrepareRestored(path string) error {
	db, err := openDB(path, Options{})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(tMeta).Delete(appliedKey); err != nil {
			return err
		}
		return dropMembers(tx)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// dropMembers empties the member table of a state taken from another
// cluster: its nodes are not this cluster's.
func dropMembers(tx *bolt.Tx) error {
	if err := tx.DeleteBucket(tNodes); err != nil {
		return err
	}
	_, err := tx.CreateBucket(tNodes)
	return err
}

// SeedFrame copies the snapshot frame read from r (a primary's state,
// verified) to a frame file at path whose state has the member table
// emptied and then cmds applied, and returns the size of that frame. A DR
// standby installs a primary's state this way with its own member records
// and its standby role already in it: no replica of the standby ever reads
// the primary's role from the installed state, which would let it take
// writes or fence its own primary until a later command corrected it. A
// command the image refuses fails the seed.
func SeedFrame(r io.Reader, path string, cmds ...command.Command) (size int64, err error) {
	img := path + ".db"
	defer os.Remove(img)
	fr, err := readFrameFile(r, img, false)
	if err != nil {
		return 0, err
	}
	db, err := openDB(img, Options{NoSync: true})
	if err != nil {
		return 0, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := dropMembers(tx); err != nil {
			return err
		}
		var removed, members bool
		var gone []string
		w := wtx{tx: tx, tr: loadTracker(tx), removed: &removed, members: &members, gone: &gone}
		for _, c := range cmds {
			if err := checkArgs(c); err != nil {
				return err
			}
			if _, err := w.applyCommand(c, false); err != nil {
				return fmt.Errorf("the seed's %T: %w", c, err)
			}
		}
		return w.tr.flush(tx)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	src, err := os.Open(img)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return 0, err
	}
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	bw := bufio.NewWriterSize(dst, 1<<20)
	n, err := writeFrame(bw, fr.Index, st.Size(), func(w io.Writer, h *xxhash.Digest) (int64, error) {
		return io.Copy(io.MultiWriter(w, h), src)
	})
	if err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return n, dst.Close()
}
