package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"math/bits"

	bolt "go.etcd.io/bbolt"
)

// The state hash is kept incrementally. Every entry of the registry tables
// (and the maintenance switch) contributes SHA-256(table, key, value) read
// as a 256-bit number, and the state hash is their sum modulo 2^256. A sum
// does not depend on the order entries were written in, and Apply updates
// it with each Put and Delete (subtracting the old entry's term, adding the
// new one's) in the same transaction, so a replica's hash costs nothing to
// read, backups need no pass over the data to report it, and two replicas
// holding the same entries hold the same sum whatever their histories.
// recomputeSummary recomputes it from scratch; tests check the two agree.
//
// Counts of buckets, flows and versions are kept the same way.

// ErrStateMismatch is a store whose entries do not add up to the state
// hash and counts it keeps.
var ErrStateMismatch = errors.New("store state does not match its kept state hash")

var (
	stateHashKey = []byte("statehash") // meta: 32-byte sum
	countsKey    = []byte("counts")    // meta: 3 × u64 buckets, flows, versions
)

// acc is a 256-bit accumulator, most significant word first.
type acc [4]uint64

func (a *acc) add(b acc) {
	var c uint64
	for i := 3; i >= 0; i-- {
		a[i], c = bits.Add64(a[i], b[i], c)
	}
}

func (a *acc) sub(b acc) {
	var c uint64
	for i := 3; i >= 0; i-- {
		a[i], c = bits.Sub64(a[i], b[i], c)
	}
}

func (a acc) bytes() []byte {
	out := make([]byte, 32)
	for i, w := range a {
		binary.BigEndian.PutUint64(out[8*i:], w)
	}
	return out
}

func accFrom(b []byte) acc {
	var a acc
	if len(b) == 32 {
		for i := range a {
			a[i] = binary.BigEndian.Uint64(b[8*i:])
		}
	}
	return a
}

// term is one entry's contribution.
func term(table, k, v []byte) acc {
	h := sha256.New()
	writeKV(h, table, k)
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(v)))])
	h.Write(v)
	return accFrom(h.Sum(nil))
}

// hashed reports whether an entry is part of the state hash: every entry of
// the registry tables, and the maintenance switch in meta.
func hashed(table, k []byte) bool {
	switch string(table) {
	case string(tMeta):
		return string(k) == string(maintenanceKey)
	case string(tNodes):
		return false
	}
	return true
}

// countSlot is the index in Counts a table's entries are counted in.
func countSlot(table []byte) int {
	switch string(table) {
	case string(tBuckets):
		return 0
	case string(tFlows):
		return 1
	case string(tVersions):
		return 2
	}
	return -1
}

// tracker accumulates one write transaction's changes to the hash and
// counts; flush stores them in meta.
type tracker struct {
	sum     acc
	counts  [3]int64
	changed bool
}

func loadTracker(tx *bolt.Tx) *tracker {
	m := tx.Bucket(tMeta)
	t := &tracker{sum: accFrom(m.Get(stateHashKey))}
	if c := m.Get(countsKey); len(c) == 24 {
		for i := range t.counts {
			t.counts[i] = int64(binary.BigEndian.Uint64(c[8*i:]))
		}
	}
	return t
}

func (t *tracker) flush(tx *bolt.Tx) error {
	if !t.changed {
		return nil
	}
	m := tx.Bucket(tMeta)
	if err := m.Put(stateHashKey, t.sum.bytes()); err != nil {
		return err
	}
	c := make([]byte, 24)
	for i, v := range t.counts {
		binary.BigEndian.PutUint64(c[8*i:], uint64(v))
	}
	return m.Put(countsKey, c)
}

// table is a bbolt bucket whose writes keep the tracker up to date.
type table struct {
	b    *bolt.Bucket
	name []byte
	tr   *tracker
}

func (t table) Get(k []byte) []byte { return t.b.Get(k) }

func (t table) Cursor() *bolt.Cursor { return t.b.Cursor() }

func (t table) Put(k, v []byte) error {
	if hashed(t.name, k) {
		old := t.b.Get(k)
		if old != nil {
			t.tr.sum.sub(term(t.name, k, old))
		} else if i := countSlot(t.name); i >= 0 {
			t.tr.counts[i]++
		}
		t.tr.sum.add(term(t.name, k, v))
		t.tr.changed = true
	}
	return t.b.Put(k, v)
}

func (t table) Delete(k []byte) error {
	if hashed(t.name, k) {
		if old := t.b.Get(k); old != nil {
			t.tr.sum.sub(term(t.name, k, old))
			if i := countSlot(t.name); i >= 0 {
				t.tr.counts[i]--
			}
			t.tr.changed = true
		}
	}
	return t.b.Delete(k)
}

// summaryOf reads the kept hash and counts of a transaction's state.
func summaryOf(tx *bolt.Tx) Summary { return loadTracker(tx).summary() }

func (t *tracker) summary() Summary {
	return Summary{StateHash: hex.EncodeToString(t.sum.bytes()),
		Counts: Counts{Buckets: int(t.counts[0]), Flows: int(t.counts[1]), Versions: int(t.counts[2])}}
}

// recompute walks every hashed entry and returns the tracker they add up
// to (what the kept one must equal).
func recompute(tx *bolt.Tx) *tracker {
	t := &tracker{changed: true}
	for _, name := range append([][]byte{tMeta}, registryTables...) {
		_ = tx.Bucket(name).ForEach(func(k, v []byte) error {
			if v == nil || !hashed(name, k) {
				return nil
			}
			t.sum.add(term(name, k, v))
			if i := countSlot(name); i >= 0 {
				t.counts[i]++
			}
			return nil
		})
	}
	return t
}

// recomputeSummary walks the whole state and returns its hash and counts
// computed from scratch (RecomputedStateHash compares them with the kept
// ones; tests compare them directly).
func (s *Store) recomputeSummary() (Summary, error) {
	var out Summary
	err := s.Read(func(tx *Tx) error {
		out = recompute(tx.tx).summary()
		return nil
	})
	return out, err
}

func writeKV(h hash.Hash, k, v []byte) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(k)))])
	h.Write(k)
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(v)))])
	h.Write(v)
}
