package linearize

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

// op builds an operation invoked at call and answered at ret.
func op(client int, call, ret int64, in Input, out Output) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
}

func commit(tag int, flow string, v int32) Input {
	return Input{Kind: Commit, Key: FlowKey(flow), Version: v, Tag: tag}
}

func latest(tag int, flow string) Input { return Input{Kind: ReadLatest, Key: FlowKey(flow), Tag: tag} }

func okV(v int32) Output { return Output{Outcome: OK, Version: v} }

func seen(v int32, writer int) Output { return Output{Outcome: OK, Version: v, Writer: writer} }

func TestModel(t *testing.T) {
	const end = 1000
	cases := []struct {
		name  string
		ops   []porcupine.Operation
		legal bool
	}{
		{"sequential versions", []porcupine.Operation{
			op(0, 0, 10, commit(1, "f", -1), okV(1)),
			op(1, 20, 30, commit(2, "f", 2), okV(2)),
			op(0, 40, 50, latest(3, "f"), seen(2, 2)),
		}, true},
		{"concurrent commits take either order", []porcupine.Operation{
			op(0, 0, 10, commit(1, "f", -1), okV(2)),
			op(1, 0, 10, commit(2, "f", -1), okV(1)),
			op(2, 20, 30, latest(3, "f"), seen(2, 1)),
		}, true},
		{"duplicate version number", []porcupine.Operation{
			op(0, 0, 10, commit(1, "f", -1), okV(1)),
			op(1, 0, 10, commit(2, "f", -1), okV(1)),
		}, false},
		{"gap in version numbers", []porcupine.Operation{
			op(0, 0, 10, commit(1, "f", -1), okV(1)),
			op(0, 20, 30, commit(2, "f", -1), okV(3)),
		}, false},
		{"stale read after an acknowledged commit", []porcupine.Operation{
			op(0, 0, 10, commit(1, "f", -1), okV(1)),
			op(0, 20, 30, commit(2, "f", -1), okV(2)),
			op(1, 40, 50, latest(3, "f"), seen(1, 1)),
		}, false},
		{"read concurrent with a commit may see either", []porcupine.Operation{
			op(0, 0, 10, commit(1, "f", -1), okV(1)),
			op(0, 20, 40, commit(2, "f", -1), okV(2)),
			op(1, 30, 50, latest(3, "f"), seen(1, 1)),
		}, true},
		{"read sees content of another commit", []porcupine.Operation{
			op(0, 0, 10, commit(1, "f", -1), okV(1)),
			op(1, 20, 30, latest(3, "f"), seen(1, 7)),
		}, false},
		{"lost write: acknowledged then gone", []porcupine.Operation{
			op(0, 0, 10, commit(1, "f", -1), okV(1)),
			op(1, 20, 30, Input{Kind: ReadCount, Key: FlowKey("f"), Tag: 2}, okV(0)),
		}, false},
		{"explicit version conflict is legal", []porcupine.Operation{
			op(0, 0, 10, commit(1, "f", 1), okV(1)),
			op(1, 20, 30, commit(2, "f", 1), Output{Outcome: Refused}),
		}, true},
		{"explicit next version refused", []porcupine.Operation{
			op(0, 0, 10, commit(1, "f", 1), okV(1)),
			op(1, 20, 30, commit(2, "f", 2), Output{Outcome: Refused}),
		}, false},
		{"-1 is never refused", []porcupine.Operation{
			op(1, 0, 10, commit(1, "f", -1), Output{Outcome: Refused}),
		}, false},
		{"unknown commit may have applied", []porcupine.Operation{
			op(0, 0, end, commit(1, "f", -1), Output{Outcome: Unknown}),
			op(1, 20, 30, latest(2, "f"), seen(1, 1)),
			op(1, 40, 50, commit(3, "f", -1), okV(2)),
		}, true},
		{"unknown commit may not have applied", []porcupine.Operation{
			op(0, 0, end, commit(1, "f", -1), Output{Outcome: Unknown}),
			op(1, 40, 50, commit(3, "f", -1), okV(1)),
		}, true},
		{"failed commit must not apply", []porcupine.Operation{
			op(0, 0, 10, commit(1, "f", -1), Output{Outcome: Failed}),
			op(1, 20, 30, latest(2, "f"), seen(1, 1)),
		}, false},
		{"name created twice", []porcupine.Operation{
			op(0, 0, 10, Input{Kind: CreateBucket, Key: BucketKey("b"), Tag: 1}, Output{Outcome: OK}),
			op(1, 5, 15, Input{Kind: CreateBucket, Key: BucketKey("b"), Tag: 2}, Output{Outcome: OK}),
		}, false},
		{"second create refused", []porcupine.Operation{
			op(0, 0, 10, Input{Kind: CreateFlow, Key: FlowNameKey("b", "x"), Tag: 1}, Output{Outcome: OK}),
			op(1, 5, 15, Input{Kind: CreateFlow, Key: FlowNameKey("b", "x"), Tag: 2}, Output{Outcome: Refused}),
			op(1, 20, 30, Input{Kind: LookupName, Key: FlowNameKey("b", "x"), Tag: 3}, Output{Outcome: OK, Exists: true}),
		}, true},
		{"refused before anyone created", []porcupine.Operation{
			op(1, 0, 10, Input{Kind: CreateBucket, Key: BucketKey("b"), Tag: 2}, Output{Outcome: Refused}),
			op(0, 20, 30, Input{Kind: CreateBucket, Key: BucketKey("b"), Tag: 1}, Output{Outcome: OK}),
		}, false},
		{"unknown create seen by lookup", []porcupine.Operation{
			op(0, 0, end, Input{Kind: CreateBucket, Key: BucketKey("b"), Tag: 1}, Output{Outcome: Unknown}),
			op(1, 20, 30, Input{Kind: LookupName, Key: BucketKey("b"), Tag: 2}, Output{Outcome: OK, Exists: true}),
			op(1, 40, 50, Input{Kind: CreateBucket, Key: BucketKey("b"), Tag: 3}, Output{Outcome: Refused}),
		}, true},
		{"partitions are independent", []porcupine.Operation{
			op(0, 0, 10, commit(1, "f", -1), okV(1)),
			op(1, 0, 10, commit(2, "g", -1), okV(1)),
			op(0, 20, 30, latest(3, "g"), seen(1, 2)),
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Check(c.ops, 0)
			if got := r.Verdict == porcupine.Ok; got != c.legal {
				t.Fatalf("verdict %v, want legal=%v", r.Verdict, c.legal)
			}
		})
	}
}

func TestPartitions(t *testing.T) {
	ops := []porcupine.Operation{
		op(0, 0, 10, commit(1, "f", -1), okV(1)),
		op(1, 0, 10, commit(2, "g", -1), okV(1)),
		op(0, 20, 30, Input{Kind: CreateBucket, Key: BucketKey("b"), Tag: 3}, Output{Outcome: OK}),
	}
	if r := Check(ops, 0); r.Partitions != 3 {
		t.Fatalf("partitions %d, want 3", r.Partitions)
	}
}
