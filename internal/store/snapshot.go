package store

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/cespare/xxhash/v2"
	bolt "go.etcd.io/bbolt"
)

// Snapshot is a point-in-time view of the whole store that can be streamed
// while Apply goes on (bbolt MVCC). It holds two read transactions opened
// at the same instant: one streams the file, the other walks the tables for
// the summary, so both can run at once on different cores. Release it when
// done: it pins pages.
type Snapshot struct {
	tx   *bolt.Tx // streamed by WriteTo
	view *bolt.Tx // walked by Summary
	s    *Store
}

// Snapshot opens a point-in-time view. It holds the store's shared lock
// until Release, so Restore waits for streams in progress.
func (s *Store) Snapshot() (*Snapshot, error) {
	s.mu.RLock()
	if s.db == nil {
		s.mu.RUnlock()
		return nil, errors.New("store is closed")
	}
	// No Apply may commit between the two Begins.
	s.applyMu.Lock()
	tx, err := s.db.Begin(false)
	var view *bolt.Tx
	if err == nil {
		view, err = s.db.Begin(false)
		if err != nil {
			_ = tx.Rollback()
		}
	}
	s.applyMu.Unlock()
	if err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	return &Snapshot{tx: tx, view: view, s: s}, nil
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

// Summary walks the snapshot's tables once for the state hash and counts.
// It may run while WriteTo streams the same snapshot.
func (sn *Snapshot) Summary() Summary { return summarize(sn.view) }

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
	hdr := make([]byte, 0, FrameHeaderLen)
	hdr = append(hdr, snapMagic...)
	hdr = binary.BigEndian.AppendUint32(hdr, snapVersion)
	hdr = binary.BigEndian.AppendUint32(hdr, FormatVersion)
	hdr = binary.BigEndian.AppendUint64(hdr, sn.Index())
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(sn.tx.Size()))
	n, err := w.Write(hdr)
	total := int64(n)
	if err != nil {
		return total, err
	}
	h := xxhash.New()
	_, _ = h.Write(hdr)
	m, err := sn.tx.WriteTo(io.MultiWriter(w, h))
	total += m
	if err != nil {
		return total, err
	}
	n, err = w.Write(h.Sum(nil))
	return total + int64(n), err
}

// Release ends the snapshot.
func (sn *Snapshot) Release() {
	if sn.tx == nil {
		return
	}
	_ = sn.tx.Rollback()
	_ = sn.view.Rollback()
	sn.tx, sn.view = nil, nil
	sn.s.mu.RUnlock()
}

// StateHash is a SHA-256 over the registry's tables (and the maintenance
// switch) in key order: two replicas with the same hash hold the same
// registry. The applied index and the cluster member table are not part of
// it, so a node restored from a snapshot or a backup compares equal.
func (s *Store) StateHash() (hash string, index uint64, err error) {
	err = s.Read(func(t *Tx) error {
		hash = summarize(t.tx).StateHash
		if v := t.tx.Bucket(tMeta).Get(appliedKey); len(v) == 8 {
			index = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return hash, index, err
}

func summarize(tx *bolt.Tx) Summary {
	var out Summary
	h := sha256.New()
	m := tx.Bucket(tMeta)
	writeKV(h, maintenanceKey, m.Get(maintenanceKey))
	for _, name := range registryTables {
		writeKV(h, name, nil)
		n := 0
		_ = tx.Bucket(name).ForEach(func(k, v []byte) error {
			writeKV(h, k, v)
			n++
			return nil
		})
		switch string(name) {
		case string(tBuckets):
			out.Counts.Buckets = n
		case string(tFlows):
			out.Counts.Flows = n
		case string(tVersions):
			out.Counts.Versions = n
		}
	}
	out.StateHash = hex.EncodeToString(h.Sum(nil))
	return out
}

func writeKV(h hash.Hash, k, v []byte) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(k)))])
	h.Write(k)
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(v)))])
	h.Write(v)
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
	// The stream's checksum proved the copy complete and unaltered; a
	// format check suffices before it replaces the state.
	if err := checkFile(tmp, false); err != nil {
		os.Remove(tmp)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			return err
		}
		s.db = nil
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return err
	}
	if err := syncDir(s.path); err != nil {
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
		for _, t := range allTables {
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
	hdr := f.Header[:]
	if string(hdr[:8]) != snapMagic {
		return f, fmt.Errorf("%w: not a Weir snapshot", ErrBadSnapshot)
	}
	if v := binary.BigEndian.Uint32(hdr[8:]); v != snapVersion {
		return f, fmt.Errorf("%w: frame version %d, this build reads %d", ErrBadSnapshot, v, snapVersion)
	}
	if v := binary.BigEndian.Uint32(hdr[12:]); v != FormatVersion {
		return f, fmt.Errorf("%w: store format %d, this build reads %d", ErrFormat, v, FormatVersion)
	}
	f.Index = binary.BigEndian.Uint64(hdr[16:])
	f.Size = int64(binary.BigEndian.Uint64(hdr[24:]))
	if f.Size <= 0 || f.Size > 1<<40 {
		return f, fmt.Errorf("%w: bad length %d", ErrBadSnapshot, f.Size)
	}
	return f, nil
}

// ReadSnapshotFile reads one snapshot frame from r into a synced file at
// path, verifying its length and checksum. On error the file may exist and
// must be removed by the caller.
func ReadSnapshotFile(r io.Reader, path string) (Frame, error) {
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
	if err := f.Sync(); err != nil {
		return fr, err
	}
	return fr, f.Close()
}

func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
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
		if err := tx.DeleteBucket(tNodes); err != nil {
			return err
		}
		_, err := tx.CreateBucket(tNodes)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}
