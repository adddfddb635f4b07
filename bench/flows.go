package bench

import (
	"fmt"
	"sync"

	"github.com/weir-nifi/weir/internal/flowgen"
)

// Bodies is a pool of request bodies: flowgen snapshots of exactly the
// requested size, each from its own seed, so that every commit a client
// sends differs from its previous one.
type Bodies struct {
	// Chains[c][i] is the i-th body of client c.
	Chains [][][]byte
}

// NewBodies generates chains × length documents of size bytes, document
// (c, i) from seed base + 1000·c + i. They say version -1 and name no
// bucket or flow, so any flow accepts them.
func NewBodies(base int64, chains, length, size int) (*Bodies, error) {
	b := &Bodies{Chains: make([][][]byte, chains)}
	var wg sync.WaitGroup
	for c := range chains {
		b.Chains[c] = make([][]byte, length)
		for i := range length {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.Chains[c][i] = flowgen.Snapshot(flowgen.Options{Seed: base + 1000*int64(c) + int64(i), TargetBytes: size, Version: -1})
			}()
		}
	}
	wg.Wait()
	for c, ch := range b.Chains {
		for i, d := range ch {
			if len(d) == 0 {
				return nil, fmt.Errorf("flowgen gave an empty document for (%d, %d)", c, i)
			}
		}
	}
	return b, nil
}

// Get returns the body for the i-th commit of client c.
func (b *Bodies) Get(c, i int) []byte {
	ch := b.Chains[c%len(b.Chains)]
	return ch[i%len(ch)]
}

// AvgSize is the mean document size in bytes.
func (b *Bodies) AvgSize() int {
	n, sum := 0, 0
	for _, ch := range b.Chains {
		for _, d := range ch {
			n++
			sum += len(d)
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}
