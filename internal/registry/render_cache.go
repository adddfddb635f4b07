package registry

import (
	"bytes"
	"container/list"
	"sync"
)

// renderCache keeps rendered snapshot answers (GET …/versions/{n} and
// …/latest), which NiFi polls and which are large. A version's document
// never changes, but its answer embeds the bucket and the flow (name,
// versionCount, modified time), so each entry remembers the stored bytes of
// both it was rendered from and is served only while they are unchanged:
// a hit costs two key lookups and two byte comparisons instead of
// decompressing and re-encoding the document. Bounded by total bytes.
type renderCache struct {
	mu    sync.Mutex
	max   int
	size  int
	ll    *list.List // front = most recently used
	items map[renderKey]*list.Element
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
	return &renderCache{max: maxBytes, ll: list.New(), items: map[renderKey]*list.Element{}}
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
