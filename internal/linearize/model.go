package linearize

import (
	"fmt"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// Kind is what an operation does.
type Kind uint8

const (
	// CreateBucket creates a bucket; Key is BucketKey(name).
	CreateBucket Kind = iota + 1
	// CreateFlow creates a flow; Key is FlowNameKey(bucketID, name).
	CreateFlow
	// LookupName reads whether a bucket or flow name is taken (a list
	// read, projected onto one name); Key as for the create.
	LookupName
	// Commit posts a version of a flow; Key is FlowKey(flowID). Version
	// is -1 (next) or an explicit number.
	Commit
	// ReadLatest reads the latest version's metadata (number and the tag
	// of the commit that wrote it); Key is FlowKey(flowID).
	ReadLatest
	// ReadCount reads the flow's versionCount; Key is FlowKey(flowID).
	ReadCount
)

func (k Kind) String() string {
	switch k {
	case CreateBucket:
		return "createBucket"
	case CreateFlow:
		return "createFlow"
	case LookupName:
		return "lookup"
	case Commit:
		return "commit"
	case ReadLatest:
		return "readLatest"
	case ReadCount:
		return "readCount"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// BucketKey is the partition of a bucket name.
func BucketKey(name string) string { return "bucket:" + name }

// FlowNameKey is the partition of a flow name in a bucket.
func FlowNameKey(bucketID, name string) string { return "flowname:" + bucketID + "/" + name }

// FlowKey is the partition of one flow's versions.
func FlowKey(flowID string) string { return "flow:" + flowID }

// Input is an operation as the client invoked it.
type Input struct {
	Kind Kind
	Key  string
	// Version is the requested version of a Commit: -1 or explicit.
	Version int32
	// Tag identifies the operation; a Commit writes it into the version
	// (comments), so reads can tell which commit they see.
	Tag int
}

// Outcome classifies how an operation ended.
type Outcome uint8

const (
	// OK: the operation succeeded; Output holds what it returned.
	OK Outcome = iota + 1
	// Refused: the state machine refused the write (409 Conflict): it
	// changed nothing.
	Refused
	// Failed: the write certainly did not happen (refused before it was
	// proposed, or the request never reached a server).
	Failed
	// Unknown: the write may or may not have happened.
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Refused:
		return "refused"
	case Failed:
		return "failed"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Output is what the client got back.
type Output struct {
	Outcome Outcome
	// Version: the number a Commit was assigned, or the number a read saw
	// (0 = the flow has no versions).
	Version int32
	// Writer: the Tag of the commit a ReadLatest saw (0 when none).
	Writer int
	// Exists: the answer of a LookupName.
	Exists bool
}

// state is one partition's state: a name partition uses exists, a flow
// partition count and last.
type state struct {
	exists bool
	count  int32 // versions of the flow
	last   int   // Tag of the commit that wrote version count
}

// step returns every state the partition may be in after the operation,
// none if the operation cannot have returned what it did.
func step(s state, in Input, out Output) []state {
	switch in.Kind {
	case CreateBucket, CreateFlow:
		switch out.Outcome {
		case OK:
			if s.exists {
				return nil // a second create of a taken name succeeded
			}
			return []state{{exists: true}}
		case Refused:
			if !s.exists {
				return nil // refused a free name
			}
			return []state{s}
		case Failed:
			return []state{s}
		case Unknown:
			if s.exists {
				return []state{s}
			}
			return []state{s, {exists: true}}
		}
	case LookupName:
		if out.Outcome == OK && out.Exists == s.exists {
			return []state{s}
		}
	case Commit:
		next := s.count + 1
		applied := state{count: next, last: in.Tag}
		switch out.Outcome {
		case OK:
			if out.Version == next && (in.Version == -1 || in.Version == next) {
				return []state{applied}
			}
		case Refused:
			// "-1" means the next number: nothing may refuse it.
			if in.Version != -1 && in.Version != next {
				return []state{s}
			}
		case Failed:
			return []state{s}
		case Unknown:
			if in.Version == -1 || in.Version == next {
				return []state{s, applied}
			}
			return []state{s}
		}
	case ReadLatest:
		if out.Outcome == OK && out.Version == s.count && (s.count == 0 || out.Writer == s.last) {
			return []state{s}
		}
	case ReadCount:
		if out.Outcome == OK && out.Version == s.count {
			return []state{s}
		}
	}
	return nil
}

// Model is the porcupine model of the registry, partitioned by Input.Key.
func Model() porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: partition,
		Init:      func() []interface{} { return []interface{}{state{}} },
		Step: func(st, in, out interface{}) []interface{} {
			next := step(st.(state), in.(Input), out.(Output))
			res := make([]interface{}, len(next))
			for i, s := range next {
				res[i] = s
			}
			return res
		},
		Equal: func(a, b interface{}) bool { return a.(state) == b.(state) },
		Hash: func(st interface{}) uint64 {
			s := st.(state)
			h := uint64(s.count)<<32 ^ uint64(s.last)
			if s.exists {
				h ^= 1 << 63
			}
			return h
		},
		DescribeOperation: describeOp,
		DescribeState: func(st interface{}) string {
			s := st.(state)
			if s.count == 0 && s.last == 0 {
				return fmt.Sprintf("exists=%v", s.exists)
			}
			return fmt.Sprintf("v%d by #%d", s.count, s.last)
		},
	}
	return nm.ToModel()
}

func describeOp(in, out interface{}) string {
	i, o := in.(Input), out.(Output)
	switch i.Kind {
	case CreateBucket, CreateFlow:
		return fmt.Sprintf("#%d %s %s → %s", i.Tag, i.Kind, i.Key, o.Outcome)
	case LookupName:
		return fmt.Sprintf("#%d lookup %s → %v", i.Tag, i.Key, o.Exists)
	case Commit:
		if o.Outcome == OK {
			return fmt.Sprintf("#%d commit(%d) → v%d", i.Tag, i.Version, o.Version)
		}
		return fmt.Sprintf("#%d commit(%d) → %s", i.Tag, i.Version, o.Outcome)
	case ReadLatest:
		return fmt.Sprintf("#%d latest → v%d by #%d", i.Tag, o.Version, o.Writer)
	case ReadCount:
		return fmt.Sprintf("#%d count → %d", i.Tag, o.Version)
	}
	return fmt.Sprintf("#%d %v → %v", i.Tag, i, o)
}

// partition groups operations by key, keeping each group's time order.
func partition(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range history {
		k := op.Input.(Input).Key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], op)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

// Result is the verdict on a history.
type Result struct {
	// Verdict is porcupine.Ok, Illegal, or Unknown (the check timed out).
	Verdict porcupine.CheckResult
	// Info can be rendered with Visualize.
	Info porcupine.LinearizationInfo
	// Partitions is the number of keys checked.
	Partitions int
}

// Check checks a history; timeout bounds the search (0 = none).
func Check(history []porcupine.Operation, timeout time.Duration) Result {
	res, info := porcupine.CheckOperationsVerbose(Model(), history, timeout)
	return Result{Verdict: res, Info: info, Partitions: len(partition(history))}
}

// Visualize writes porcupine's HTML rendering of a checked history.
func Visualize(r Result, path string) error {
	return porcupine.VisualizePath(Model(), r.Info, path)
}

// IllegalKeys checks each partition on its own and returns the keys whose
// operations are not linearizable (for reporting which flow or name broke).
func IllegalKeys(history []porcupine.Operation, timeout time.Duration) []string {
	var out []string
	for _, part := range partition(history) {
		if porcupine.CheckOperationsTimeout(Model(), part, timeout) == porcupine.Illegal {
			out = append(out, part[0].Input.(Input).Key)
		}
	}
	return out
}

// Describe renders one operation for a report.
func Describe(op porcupine.Operation) string { return describeOp(op.Input, op.Output) }
