package registry

import (
	"bytes"
	"container/list"
	"hash/maphash"
	"sync"
)

// renderCache keeps rendered snapshot answers (GET …/versions/{n} and
// …/latest), which NiFi polls and which are large. A version's document
// never changes, but its answer embeds the bucket and the flow (name,
// versionCount, modified time), so each entry remembers the stored bytes of
// both it was rendered from and is served only while they are unchanged:
// a hit costs two key lookups and two byte comparisons instead of
// decompressing and re-encoding the document. Bounded by total bytes.
//
// Admission is TinyLFU's: every lookup counts in a small frequency sketch,
// and once the cache is full an answer is kept only if its key was asked
// for more often than the least recently used entry it would evict.
// Without it, reads spread evenly over more versions than fit (NiFi
// instances pulling old versions, an export of everything) replaced one
// entry by another of the same worth on every miss: the hit rate stayed
// the fraction that fits, and every miss allocated a document-sized
// buffer for the cache and evicted one. A refused answer is rendered into
// a pooled buffer instead (VersionJSON).
type renderCache struct {
	mu    sync.Mutex
	max   int
	size  int
	ll    *list.List // front = most recently used
	items map[renderKey]*list.Element
	freq  *sketch
}

type renderKey struct {
	bucketID string // "" when addressed by flow id alone
	flowID   string
	version  int32 // 0 = latest
}

type renderEntry struct {
	key       renderKey
	epoch     uint64 // the store's removal epoch it was rendered at
	bucketID  string // the bucket the answer embeds
	bucketRaw []byte
	flowRaw   []byte
	body      []byte
}

func newRenderCache(maxBytes int) *renderCache {
	// A counter per 4 KiB of cache: entries are rendered flow versions,
	// rarely smaller, so the sketch has several counters per entry.
	return &renderCache{max: maxBytes, ll: list.New(), items: map[renderKey]*list.Element{}, freq: newSketch(maxBytes / 4096)}
}

func (e *renderEntry) cost() int { return len(e.body) + len(e.bucketRaw) + len(e.flowRaw) + 128 }

// get returns the cached answer if it was rendered from exactly the
// bucket and flow records that raw returns now (raw reads the stored bytes
// of a bucket or flow id in the caller's read transaction), and no flow
// has been removed since: a flow deleted and created again with the same
// id, name and times (a migration run twice) has byte-identical records
// but other versions.
func (c *renderCache) get(k renderKey, epoch uint64, rawBucket, rawFlow func(string) []byte) ([]byte, bool) {
	if c == nil || c.max <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.freq.add(k)
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	e := el.Value.(*renderEntry)
	if e.epoch != epoch || !bytes.Equal(e.flowRaw, rawFlow(k.flowID)) || !bytes.Equal(e.bucketRaw, rawBucket(e.bucketID)) {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return e.body, true
}

// wants says whether put would keep an answer of size bytes for k (a
// lookup of k, which counts it, came first): one that fits in the free
// room or replaces an entry for k, or one asked for more often than the
// entry it would evict.
func (c *renderCache) wants(k renderKey, size int) bool {
	if c == nil || c.max <= 0 || size+128 > c.max/8 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok || c.size+size+128 <= c.max {
		return true
	}
	last := c.ll.Back()
	return last == nil || c.freq.estimate(k) > c.freq.estimate(last.Value.(*renderEntry).key)
}

// put stores an answer; the records' bytes are copied.
func (c *renderCache) put(k renderKey, epoch uint64, bucketID string, bucketRaw, flowRaw, body []byte) {
	if c == nil || c.max <= 0 {
		return
	}
	e := &renderEntry{key: k, epoch: epoch, bucketID: bucketID, bucketRaw: bytes.Clone(bucketRaw), flowRaw: bytes.Clone(flowRaw), body: body}
	if e.cost() > c.max/8 {
		return // one huge flow must not evict everything else
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.size -= el.Value.(*renderEntry).cost()
		c.ll.Remove(el)
	}
	c.items[k] = c.ll.PushFront(e)
	c.size += e.cost()
	for c.size > c.max {
		last := c.ll.Back()
		old := last.Value.(*renderEntry)
		c.ll.Remove(last)
		delete(c.items, old.key)
		c.size -= old.cost()
	}
}

// sketch is a count-min sketch of how often keys were looked up, with
// 4-bit saturating counters halved every 10 × width additions so that old
// popularity fades (TinyLFU's reset).
type sketch struct {
	seed   maphash.Seed
	rows   [4][]uint8
	mask   uint64
	adds   int
	period int
}

func newSketch(width int) *sketch {
	w := 64
	for w < width && w < 1<<20 {
		w <<= 1
	}
	s := &sketch{seed: maphash.MakeSeed(), mask: uint64(w - 1), period: 10 * w}
	for i := range s.rows {
		s.rows[i] = make([]uint8, w)
	}
	return s
}

// slots gives k's counter in each row, from one hash of k.
func (s *sketch) slots(k renderKey) [4]uint64 {
	h := maphash.Comparable(s.seed, k)
	lo, hi := h, h>>32|h<<32
	var out [4]uint64
	for i := range out {
		out[i] = (lo + uint64(i)*hi) & s.mask
	}
	return out
}

func (s *sketch) add(k renderKey) {
	for i, j := range s.slots(k) {
		if s.rows[i][j] < 15 {
			s.rows[i][j]++
		}
	}
	if s.adds++; s.adds >= s.period {
		s.adds = 0
		for i := range s.rows {
			for j := range s.rows[i] {
				s.rows[i][j] >>= 1
			}
		}
	}
}

func (s *sketch) estimate(k renderKey) uint8 {
	m := uint8(15)
	for i, j := range s.slots(k) {
		m = min(m, s.rows[i][j])
	}
	return m
}
