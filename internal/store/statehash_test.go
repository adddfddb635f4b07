package store

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
)

// The kept state hash and counts always equal a recomputation from
// scratch, through a random mix of every kind of write (including refused
// ones, cascades, renames and maintenance).
func TestKeptStateHashMatchesRecompute(t *testing.T) {
	a := &applier{t: t, s: mustOpen(t)}
	rng := rand.New(rand.NewPCG(1, 2))
	buckets := []string{}
	flows := map[string]string{} // flow -> bucket
	versions := map[string]int32{}
	pick := func(xs []string) string {
		if len(xs) == 0 {
			return "none"
		}
		return xs[rng.IntN(len(xs))]
	}
	flowIDs := func() []string {
		var out []string
		for f := range flows {
			out = append(out, f)
		}
		return out
	}
	for i := 0; i < 600; i++ {
		var c command.Command
		switch op := rng.IntN(10); op {
		case 0:
			id := fmt.Sprintf("b%d", i)
			c = &command.CreateBucket{ID: id, Name: fmt.Sprintf("bucket %d", rng.IntN(20)), Created: int64(i)}
		case 1:
			c = &command.UpdateBucket{ID: pick(buckets), Name: model.Str(fmt.Sprintf("bucket %d", rng.IntN(20))), Description: model.Str("d")}
		case 2:
			if rng.IntN(4) == 0 {
				c = &command.DeleteBucket{ID: pick(buckets)}
			} else {
				c = &command.CreateFlow{BucketID: pick(buckets), ID: fmt.Sprintf("f%d", i), Name: fmt.Sprintf("flow %d", rng.IntN(5)), Created: 1, Modified: 1}
			}
		case 3:
			f := pick(flowIDs())
			c = &command.UpdateFlow{BucketID: flows[f], ID: f, Name: model.Str(fmt.Sprintf("flow %d", rng.IntN(5))), Modified: int64(i)}
		case 4:
			f := pick(flowIDs())
			c = &command.DeleteFlow{BucketID: flows[f], ID: f}
		case 5:
			c = &command.SetMaintenance{On: rng.IntN(3) == 0, Reason: "r", At: int64(i)}
		default:
			f := pick(flowIDs())
			c = &command.CreateVersion{BucketID: flows[f], FlowID: f, Version: versions[f] + 1, Timestamp: int64(i), Author: "a",
				Modified: int64(i), Content: []byte(fmt.Sprintf("content %d", i))}
		}
		r := a.do(c)
		if r.Err == nil {
			switch c := c.(type) {
			case *command.CreateBucket:
				buckets = append(buckets, c.ID)
			case *command.DeleteBucket:
				for f, b := range flows {
					if b == c.ID {
						delete(flows, f)
					}
				}
			case *command.CreateFlow:
				flows[c.ID] = c.BucketID
			case *command.DeleteFlow:
				delete(flows, c.ID)
			case *command.CreateVersion:
				versions[c.FlowID] = c.Version
			}
		}
		var kept Summary
		_ = a.s.Read(func(tx *Tx) error { kept = summaryOf(tx.tx); return nil })
		full, err := a.s.recomputeSummary()
		if err != nil {
			t.Fatal(err)
		}
		if kept != full {
			t.Fatalf("after %d writes (%s, err %v): kept %+v, recomputed %+v", i+1, c.Type(), r.Err, kept, full)
		}
	}
}
