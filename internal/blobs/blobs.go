// Package blobs keeps large content outside the Raft log and its
// snapshots: files in one directory of the data dir, each named by the
// SHA-256 of its bytes (lower-case hex), written whole or not at all
// (temp file, fsync, rename, fsync of the directory), and verified against
// their name whenever they arrive from elsewhere.
//
// The replicated state refers to content by its SHA-256 only; which files
// a node holds is not part of it (docs/bundles-design.md, "Content in
// files"). Replicate sends a file to the other voters before the metadata
// that refers to it is proposed; Fetch gets a file a node lacks from a peer
// that has it.
package blobs

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weir-nifi/weir/internal/durable"
)

// DataDirName is the directory of a node's data dir that holds its
// content files.
const DataDirName = "content"

// tmpPrefix names files being written; a restart removes them.
const tmpPrefix = ".tmp-"

// ErrMismatch is returned for bytes whose SHA-256 or size is not the one
// they were sent under.
var ErrMismatch = errors.New("content does not match its SHA-256 or size")

// Store is a directory of content-addressed files.
type Store struct {
	dir string
	// NoSync skips every fsync (--unsafe-no-sync: tests and benchmarks).
	NoSync bool

	mu       sync.Mutex
	holds    int
	deferred []string // discarded while held
}

// Open makes dir (if needed) and removes files a crash left half written.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	left, _ := filepath.Glob(filepath.Join(dir, tmpPrefix+"*"))
	for _, f := range left {
		os.Remove(f)
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// ValidSHA reports whether sha is a SHA-256 in lower-case hex (the only
// names the store uses, so no name can leave its directory).
func ValidSHA(sha string) bool {
	if len(sha) != 2*sha256.Size {
		return false
	}
	for _, c := range sha {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *Store) path(sha string) string { return filepath.Join(s.dir, sha) }

// Has reports whether the file for sha is present with size bytes.
func (s *Store) Has(sha string, size int64) bool {
	if !ValidSHA(sha) {
		return false
	}
	st, err := os.Stat(s.path(sha))
	return err == nil && st.Size() == size
}

// Open opens the file for sha; fs.ErrNotExist when it is absent.
func (s *Store) Open(sha string) (*os.File, error) {
	if !ValidSHA(sha) {
		return nil, fs.ErrNotExist
	}
	return os.Open(s.path(sha))
}

// Spool is content being written: its bytes go to a temp file of the
// store's directory while they are hashed.
type Spool struct {
	s      *Store
	f      *os.File
	w      *bufio.Writer
	h      hash.Hash // nil in WriteSum, whose caller has the sum
	synced int64
	// Size and SHA256 are known once Finish returns.
	Size   int64
	SHA256 string
	kept   bool
}

// Create starts a spool.
func (s *Store) Create() (*Spool, error) {
	f, err := os.CreateTemp(s.dir, tmpPrefix+"*")
	if err != nil {
		return nil, err
	}
	sp := &Spool{s: s, f: f, h: sha256.New()}
	// A multipart part reads a few KiB at a time: unbuffered, each read
	// would be a write system call of its own.
	sp.w = bufio.NewWriterSize(writerFunc(sp.write), 1<<20)
	return sp, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// writeBehind is how far the written bytes may run ahead of the disk:
// every writeBehind bytes the kernel is asked to start writing them back,
// so the final fsync waits for the last stretch only, not for the whole
// file (what makes `cp` + `sync` of the same bytes fast is the same
// overlap).
const writeBehind = 8 << 20

func (sp *Spool) write(p []byte) (int, error) {
	n, err := sp.f.Write(p)
	if sp.h != nil {
		sp.h.Write(p[:n])
	}
	sp.Size += int64(n)
	if err == nil && sp.Size-sp.synced >= writeBehind {
		// Only a hint: an error here changes nothing, the fsync in Keep
		// is what makes the file durable.
		_ = unix.SyncFileRange(int(sp.f.Fd()), sp.synced, sp.Size-sp.synced, unix.SYNC_FILE_RANGE_WRITE)
		sp.synced = sp.Size
	}
	return n, err
}

// Write adds bytes to the spool.
func (sp *Spool) Write(p []byte) (int, error) { return sp.w.Write(p) }

// Finish flushes the spool and fixes its size and SHA-256.
func (sp *Spool) Finish() error {
	if err := sp.w.Flush(); err != nil {
		return err
	}
	sp.SHA256 = hex.EncodeToString(sp.h.Sum(nil))
	return nil
}

// File is the spooled file, for reading it back before it is kept.
func (sp *Spool) File() *os.File { return sp.f }

// Keep makes the finished spool the store's file for its SHA-256, durable
// (fsynced, renamed, the directory fsynced). A file already there with
// that name holds the same bytes; the spool is dropped then.
func (sp *Spool) Keep() error {
	if sp.SHA256 == "" {
		return errors.New("blobs: spool kept before it was finished")
	}
	if sp.s.Has(sp.SHA256, sp.Size) {
		sp.Close()
		sp.kept = true
		return sp.s.touch(sp.SHA256)
	}
	if !sp.s.NoSync {
		if err := sp.f.Sync(); err != nil {
			return err
		}
	}
	if err := os.Rename(sp.f.Name(), sp.s.path(sp.SHA256)); err != nil {
		return err
	}
	sp.kept = true
	sp.f.Close()
	if sp.s.NoSync {
		return nil
	}
	return durable.SyncDir(sp.s.dir)
}

// SumOf is the SHA-256 (lower-case hex) of the concatenation of parts.
func SumOf(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// WriteSum stores the concatenation of parts as the file for sha, which
// the caller computed over the same bytes in memory (SumOf), durable when
// WriteSum returns. The bytes are written as they are, without the
// spool's buffer or a second hash.
func (s *Store) WriteSum(sha string, parts ...[]byte) error {
	if !ValidSHA(sha) {
		return fmt.Errorf("blobs: bad name %q", sha)
	}
	f, err := os.CreateTemp(s.dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	sp := &Spool{s: s, f: f} // no hash: the caller has the sum
	defer sp.Close()
	for _, p := range parts {
		if _, err := sp.write(p); err != nil {
			return err
		}
	}
	sp.SHA256 = sha
	return sp.Keep()
}

// Close drops a spool that was not kept.
func (sp *Spool) Close() error {
	sp.f.Close()
	if sp.kept {
		return nil
	}
	return os.Remove(sp.f.Name())
}

// Put writes size bytes from r as the file for sha, verifying both; the
// file is durable when Put returns nil. A file already present is kept
// and r is not read.
func (s *Store) Put(sha string, size int64, r io.Reader) error {
	if !ValidSHA(sha) || size < 0 {
		return ErrMismatch
	}
	if s.Has(sha, size) {
		return s.touch(sha)
	}
	if size <= smallFile {
		return s.putSmall(sha, size, r)
	}
	sp, err := s.Create()
	if err != nil {
		return err
	}
	defer sp.Close()
	n, err := io.Copy(sp, io.LimitReader(r, size+1))
	if err != nil {
		return err
	}
	if err := sp.Finish(); err != nil {
		return err
	}
	if n != size || sp.SHA256 != sha {
		return ErrMismatch
	}
	return sp.Keep()
}

// smallFile is the largest file Put reads whole into a pooled buffer
// before writing it (a site-to-site chunk is at most 1 MiB + 64 KiB plus
// its header). Spooling each received chunk through a new 1 MiB buffer
// (allocated and zeroed per file, its pages faulted in) and 32 KiB copies
// cost about a fifth of the servers' CPU per MiB pushed (docs/benchmarks.md,
// set I).
const smallFile = 1<<20 + 128<<10

// smallBufs holds the buffers of smallFile bytes that Put reads files
// into and that readers of small files (the relay's pulls) borrow through
// Buffer and Recycle: one pool for both, so that a node pushing and
// pulling keeps one set of these buffers, not two.
var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallFile); return &b }}

// Buffer returns a buffer of n bytes to read a file into: from the pool
// when n is at most the pooled size, else a new one. Give it back with
// Recycle once nothing reads it.
func Buffer(n int64) []byte {
	if n > smallFile {
		return make([]byte, n)
	}
	n = max(n, 0)
	return (*smallBufs.Get().(*[]byte))[:n]
}

// Recycle gives a buffer from Buffer back to the pool. Buffers of any
// other size are left to the garbage collector.
func Recycle(b []byte) {
	if cap(b) == smallFile {
		b = b[:cap(b)]
		smallBufs.Put(&b)
	}
}

// putSmall is Put for a file of at most smallFile bytes.
func (s *Store) putSmall(sha string, size int64, r io.Reader) error {
	buf := Buffer(size)
	defer Recycle(buf)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return ErrMismatch
		}
		return err
	}
	// More bytes than announced is a mismatch, as in Put.
	var one [1]byte
	if n, _ := r.Read(one[:]); n > 0 {
		return ErrMismatch
	}
	if SumOf(buf) != sha {
		return ErrMismatch
	}
	return s.WriteSum(sha, buf)
}

// touch marks a file as wanted now: a file nothing referred to may be
// about to be referred to again (the same bytes uploaded anew), and the
// sweep removes only files untouched for a while.
func (s *Store) touch(sha string) error {
	now := time.Now()
	return os.Chtimes(s.path(sha), now, now)
}

// Info is a file of the store.
type Info struct {
	SHA256  string
	Size    int64
	ModTime time.Time
}

// List returns the store's files (temp files excepted).
func (s *Store) List() ([]Info, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) || !ValidSHA(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, Info{SHA256: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return out, nil
}

// RemoveIfUntouched deletes the file for sha unless it was written or
// touched after before (an upload of the same bytes may have touched it
// since the caller listed it).
func (s *Store) RemoveIfUntouched(sha string, before time.Time) error {
	if !ValidSHA(sha) {
		return fmt.Errorf("blobs: bad name %q", sha)
	}
	st, err := os.Stat(s.path(sha))
	if err != nil || st.ModTime().After(before) {
		return nil
	}
	return s.Remove(sha)
}

// Hold keeps Discard from removing files until release is called: what
// lists the files a state refers to and then opens them (a backup) holds
// the store across both, so none of them goes in between.
func (s *Store) Hold() (release func()) {
	s.mu.Lock()
	s.holds++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.holds--
			var now []string
			if s.holds == 0 {
				now, s.deferred = s.deferred, nil
			}
			s.mu.Unlock()
			for _, sha := range now {
				_ = s.Remove(sha)
			}
		})
	}
}

// Discard removes the files of content the state no longer refers to and
// never will again, at once or, while the store is held, when the last
// hold ends.
func (s *Store) Discard(shas ...string) error {
	s.mu.Lock()
	if s.holds > 0 {
		s.deferred = append(s.deferred, shas...)
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	var errs []error
	for _, sha := range shas {
		errs = append(errs, s.Remove(sha))
	}
	return errors.Join(errs...)
}

// Remove deletes the file for sha.
func (s *Store) Remove(sha string) error {
	if !ValidSHA(sha) {
		return fmt.Errorf("blobs: bad name %q", sha)
	}
	err := os.Remove(s.path(sha))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
