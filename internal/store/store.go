package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/boltjson"
	"github.com/weir-nifi/weir/internal/bundles"
	"github.com/weir-nifi/weir/internal/events"
	"github.com/weir-nifi/weir/internal/s2s/queue"
	"github.com/weir-nifi/weir/internal/tenants"
	"github.com/weir-nifi/weir/internal/tokens"
)

// FormatVersion is the on-disk format this build writes and reads.
const FormatVersion = 1

// Table names. Keys that combine identifiers use prefixed(): a uvarint
// length, then the identifier, so no identifier can be a prefix of another.
var (
	tMeta        = []byte("meta")        // formatKey, appliedKey, maintenanceKey
	tBuckets     = []byte("buckets")     // bucket id → BucketRec
	tBucketNames = []byte("bucketNames") // name → bucket id
	tFlows       = []byte("flows")       // flow id → FlowRec
	tFlowNames   = []byte("flowNames")   // prefixed(bucket id)+name → flow id
	tVersions    = []byte("versions")    // prefixed(flow id)+u32be(version) → VersionRec
	tContents    = []byte("contents")    // prefixed(flow id)+u32be(version) → flowdoc bytes
	tRevisions   = []byte("revisions")   // entity id → Revision
	tNodes       = []byte("nodes")       // node id → NodeRec

	// registryTables are hashed by StateHash, in this order. The member
	// table (tNodes) is replicated too but describes the cluster, not the
	// registry, so a registry restored into another cluster hashes equal.
	registryTables = [][]byte{tBuckets, tBucketNames, tFlows, tFlowNames, tVersions, tContents, tRevisions}
	// allTables are created by Open; the site-to-site tables (package
	// queue) and the users, groups and policies (package tenants) live in
	// the same file, outside the state hash.
	allTables = slices.Concat([][]byte{tMeta, tNodes}, registryTables, queue.Tables, tenants.Tables, tokens.Tables, events.Tables, bundles.Tables)

	formatKey      = []byte("format")
	appliedKey     = []byte("applied")
	maintenanceKey = []byte("maintenance")
)

// ErrFormat is returned by Open for a file of an unknown format.
var ErrFormat = errors.New("unsupported store format")

// Options tune the bbolt file.
type Options struct {
	// NoSync skips fsync everywhere. Only for tests and benchmarks that
	// say so: it can lose acknowledged writes.
	NoSync bool
	// LogBacked says the Raft log and snapshots already make every applied
	// entry durable, so commits skip fsync: a process crash loses nothing
	// (the kernel still holds the writes) and a crash of the machine is
	// recovered by restoring the last Raft snapshot and replaying the log.
	// Open tells the two apart with the kernel's boot id: a file left
	// unsynced by a previous boot is discarded (see Discarded).
	LogBacked bool
}

// Store is the state database. Reads run concurrently with Apply; Restore
// swaps the whole file under an exclusive lock.
type Store struct {
	path string
	opts Options

	mu sync.RWMutex // held shared by readers and Apply, exclusively by Restore
	db *bolt.DB
	// applyMu serializes Apply: it checks entries against the applied
	// index it read before its transaction.
	applyMu sync.Mutex

	applied atomic.Uint64
	// removals is the removal epoch (Tx.RemovalEpoch): not replicated,
	// bumped after every applied batch that removed a flow and after
	// restores.
	removals atomic.Uint64
	// members is the member-table epoch (Tx.MembersEpoch), bumped after
	// every applied batch that changed the member table and after
	// restores, so what is derived from the table (the cluster's command
	// level, read on every proposal) can be kept until it moves.
	members atomic.Uint64
	// generation counts the changes to the file's contents on this node
	// since it started (Generation): bumped after every committed write
	// transaction and after restores.
	generation atomic.Uint64
	// discarded is set when Open found an unsynced file from a previous
	// boot or mount, or a damaged file, and moved it aside.
	discarded     string
	discardReason string
	// notify is closed and replaced after every applied batch, so waiters
	// (linearizable reads on followers) wake without polling.
	notifyMu sync.Mutex
	notify   chan struct{}

	// gone lists the content files the applied state stopped referring
	// to, for the node to remove (TakeGone); goneC signals additions.
	goneMu sync.Mutex
	gone   []string
	goneC  chan struct{}
}

// Open opens or creates the store file at path.
func Open(path string, opts Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	s := &Store{path: path, opts: opts, notify: make(chan struct{}), goneC: make(chan struct{}, 1)}
	if opts.LogBacked {
		aside, err := checkBoot(path)
		if err != nil {
			return nil, err
		}
		s.discarded = aside
		if aside != "" {
			s.discardReason = "the machine or its file system stopped without the store being synced"
		}
	}
	db, err := openDBRecovering(path, opts)
	if err != nil && opts.LogBacked && isDamaged(err) {
		// A log-backed store holds nothing the Raft log and snapshots do
		// not: a file that cannot be opened is moved aside and rebuilt,
		// as after a crash of the machine (the node refuses to start if
		// the log cannot cover it; see cluster.checkLogCovers).
		aside := fmt.Sprintf("%s.damaged-%d", path, time.Now().UnixNano())
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		s.discarded, s.discardReason = aside, "the store file is damaged ("+err.Error()+")"
		db, err = openDB(path, opts)
	}
	if err != nil {
		return nil, err
	}
	s.db = db
	if err := s.loadApplied(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func openDB(path string, opts Options) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: 2 * time.Second,
		// The freelist is synced (unlike the Raft log's file): the state
		// only grows and shrinks slowly, so the freelist stays small, and
		// an unsynced one would make every start walk every page of a
		// large registry to rebuild it (slow start, high RSS).
		FreelistType: bolt.FreelistMapType,
		// A large virtual mapping means the file rarely needs a remap,
		// which would wait for long snapshot read transactions.
		InitialMmapSize: 1 << 30,
		NoSync:          opts.NoSync || opts.LogBacked,
	})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open %s: file is locked by another process (is another weir using this data directory?)", path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, t := range allTables {
			if _, err := tx.CreateBucketIfNotExists(t); err != nil {
				return err
			}
		}
		m := tx.Bucket(tMeta)
		if m.Get(stateHashKey) == nil {
			// A new store, or one from before the kept state hash:
			// compute it once.
			if err := recompute(tx).flush(tx); err != nil {
				return err
			}
		}
		v := m.Get(formatKey)
		if v == nil {
			return m.Put(formatKey, u32(FormatVersion))
		}
		if len(v) != 4 || binary.BigEndian.Uint32(v) != FormatVersion {
			return fmt.Errorf("%w: %s has format %x, this build reads %d", ErrFormat, path, v, FormatVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (s *Store) loadApplied() error {
	return s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(tMeta).Get(appliedKey); len(v) == 8 {
			s.applied.Store(binary.BigEndian.Uint64(v))
		} else {
			s.applied.Store(0)
		}
		return nil
	})
}

// BecomeLogBacked stops syncing commits on a store opened without
// LogBacked: from now on the Raft log and snapshots make applied entries
// durable (a restored store is synced until its seed snapshot exists).
func (s *Store) BecomeLogBacked() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil || s.opts.LogBacked {
		return nil
	}
	if err := s.db.Sync(); err != nil {
		return err
	}
	if err := writeBootMark(s.path, false); err != nil {
		return err
	}
	s.opts.LogBacked = true
	s.db.NoSync = true
	return nil
}

// Path is the file the store lives in.
func (s *Store) Path() string { return s.path }

// Discarded returns where Open moved an unsynced store file left by a
// crash of the machine, or a damaged one ("" when it did not), and why:
// the state must then be rebuilt from a Raft snapshot and the log.
func (s *Store) Discarded() (path, reason string) { return s.discarded, s.discardReason }

// openDBRecovering is openDB that turns a panic of bbolt while it reads a
// damaged file into an error.
func openDBRecovering(path string, opts Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: %v", errDamaged, r)
		}
	}()
	return openDB(path, opts)
}

var errDamaged = errors.New("damaged store file")

func isDamaged(err error) bool {
	return errors.Is(err, errDamaged) || errors.Is(err, bolt.ErrInvalid) || errors.Is(err, bolt.ErrChecksum) ||
		errors.Is(err, bolt.ErrVersionMismatch) || errors.Is(err, bolt.ErrInvalidMapping)
}

// Close syncs (for a log-backed store) and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	var err error
	if s.opts.LogBacked {
		err = s.db.Sync()
	}
	err = errors.Join(err, s.db.Close())
	s.db = nil
	if s.opts.LogBacked && err == nil {
		err = writeBootMark(s.path, true)
	}
	return err
}

// Generation counts the changes to the state on this node since it
// started: every applied batch, every restore and every reset of the
// applied index bump it after they are committed. A view read in a
// transaction begun after Generation returned g holds every change up to
// g (and maybe later ones), so what is derived from it may be kept, and
// labelled g, until Generation moves.
func (s *Store) Generation() uint64 { return s.generation.Load() }

// TakeGone returns, and forgets, the SHA-256s of the content files that
// entries applied since the last call stopped referring to for good
// (site-to-site chunks acknowledged, expired or dropped): this node can
// remove them. Gone signals when there are some. A restart or an
// installed snapshot loses the list; what it held is then left to the
// sweep of unreferenced files.
func (s *Store) TakeGone() []string {
	s.goneMu.Lock()
	defer s.goneMu.Unlock()
	g := s.gone
	s.gone = nil
	return g
}

// maxGone bounds the list TakeGone returns.
const maxGone = 1 << 16

// Gone is signalled when TakeGone has something.
func (s *Store) Gone() <-chan struct{} { return s.goneC }

// AppliedIndex is the Raft index of the last applied entry.
func (s *Store) AppliedIndex() uint64 { return s.applied.Load() }

// WaitApplied blocks until the applied index reaches idx or done closes.
func (s *Store) WaitApplied(done <-chan struct{}, idx uint64) bool {
	for {
		s.notifyMu.Lock()
		ch := s.notify
		s.notifyMu.Unlock()
		if s.applied.Load() >= idx {
			return true
		}
		select {
		case <-ch:
		case <-done:
			return s.applied.Load() >= idx
		}
	}
}

func (s *Store) wake() {
	s.notifyMu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.notifyMu.Unlock()
}

// Size is the size of the store file in bytes.
func (s *Store) Size() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return 0
	}
	var n int64
	_ = s.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return n
}

func u32(v uint32) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, v)
	return b
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// prefixed returns uvarint(len(id)) + id, optionally followed by more bytes.
func prefixed(id string, extra ...byte) []byte {
	b := make([]byte, 0, binary.MaxVarintLen32+len(id)+len(extra))
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	return append(b, extra...)
}

func versionKey(flowID string, v int32) []byte {
	var vb [4]byte
	binary.BigEndian.PutUint32(vb[:], uint32(v))
	return prefixed(flowID, vb[:]...)
}

// getJSON and putJSON are the store's JSON records (package boltjson).
var (
	getJSON = boltjson.Get
	putJSON = boltjson.Put
)

func nameKey(bucketID, name string) []byte {
	return append(prefixed(bucketID), name...)
}

func jsonUnmarshal(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("corrupt record: %w", err)
	}
	return nil
}
