package store

import (
	"reflect"
	"testing"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/events"
	"github.com/weir-nifi/weir/internal/model"
)

func (a *applier) events(after uint64) []events.Event {
	a.t.Helper()
	var out []events.Event
	if err := a.s.Read(func(tx *Tx) (err error) {
		out, err = events.After(tx.Bolt(), after, 1000)
		return err
	}); err != nil {
		a.t.Fatal(err)
	}
	return out
}

func (a *applier) dead(hook string) []events.Dead {
	a.t.Helper()
	var out []events.Dead
	if err := a.s.Read(func(tx *Tx) (err error) {
		out, err = events.DeadLetters(tx.Bolt(), hook)
		return err
	}); err != nil {
		a.t.Fatal(err)
	}
	return out
}

func fields(kv ...string) []events.Field {
	var out []events.Field
	for i := 0; i < len(kv); i += 2 {
		out = append(out, events.Field{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// TestOutbox: once the outbox is started, each change writes the event
// NiFi Registry's EventFactory makes for it, in the same apply, with ids
// 1, 2, 3, … and the entry's index; a refused change, policies and changes
// before the start write none.
func TestOutbox(t *testing.T) {
	a := seed(t)
	if got := a.events(0); len(got) != 0 {
		t.Fatalf("events before the outbox started: %+v", got)
	}
	a.ok(&command.StartEvents{})
	a.ok(&command.StartEvents{}) // again: nothing changes
	comments := "first"
	a.ok(version(1, 2000))
	a.ok(&command.CreateVersion{BucketID: "b1", FlowID: "f1", Version: 2, Timestamp: 2100, Author: "alice", Comments: &comments, Modified: 2100, Content: []byte{0, 0, 0, 0, 0, 0}})
	a.fails(version(9, 3000), model.KindConflict, "") // a gap: refused, no event
	a.ok(&command.UpdateBucket{ID: "b1", Name: model.Str("renamed"), Actor: "bob"})
	a.ok(&command.UpdateFlow{BucketID: "b1", ID: "f1", Name: model.Str("flow"), Modified: 2200, Actor: "bob"})
	a.ok(&command.CreateUser{ID: "u1", Identity: "carol", Actor: "admin"})
	a.ok(&command.UpdateUser{ID: "u1", Identity: "carol2", Actor: "admin"})
	a.ok(&command.CreateGroup{ID: "g1", Identity: "ops", Users: []string{"u1"}, Actor: "admin"})
	a.ok(&command.CreatePolicy{ID: "p1", Resource: "/buckets", Action: "read", Users: []string{"u1"}, Actor: "admin"}) // no event, as in NiFi
	a.ok(&command.DeleteGroup{ID: "g1", Actor: "admin"})
	a.ok(&command.DeleteUser{ID: "u1", Actor: "admin"})
	a.ok(&command.DeleteFlow{BucketID: "b1", ID: "f1", Actor: "bob"})
	a.ok(&command.DeleteBucket{ID: "b1", Actor: "bob"})

	want := []events.Event{
		{Type: events.CreateFlowVersion, Time: 2000, Fields: fields("BUCKET_ID", "b1", "FLOW_ID", "f1", "VERSION", "1", "USER", "anonymous", "COMMENT", "")},
		{Type: events.CreateFlowVersion, Time: 2100, Fields: fields("BUCKET_ID", "b1", "FLOW_ID", "f1", "VERSION", "2", "USER", "alice", "COMMENT", "first")},
		{Type: events.UpdateBucket, Fields: fields("BUCKET_ID", "b1", "USER", "bob")},
		{Type: events.UpdateFlow, Time: 2200, Fields: fields("BUCKET_ID", "b1", "FLOW_ID", "f1", "USER", "bob")},
		{Type: events.CreateUser, Fields: fields("USER_ID", "u1", "USER_IDENTITY", "carol")},
		{Type: events.UpdateUser, Fields: fields("USER_ID", "u1", "USER_IDENTITY", "carol2")},
		{Type: events.CreateUserGroup, Fields: fields("USER_GROUP_ID", "g1", "USER_GROUP_IDENTITY", "ops")},
		{Type: events.DeleteUserGroup, Fields: fields("USER_GROUP_ID", "g1", "USER_GROUP_IDENTITY", "ops")},
		{Type: events.DeleteUser, Fields: fields("USER_ID", "u1", "USER_IDENTITY", "carol2")},
		{Type: events.DeleteFlow, Fields: fields("BUCKET_ID", "b1", "FLOW_ID", "f1", "USER", "bob")},
		{Type: events.DeleteBucket, Fields: fields("BUCKET_ID", "b1", "USER", "bob")},
	}
	got := a.events(0)
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	var lastIndex uint64
	for i, e := range got {
		if e.ID != uint64(i+1) || e.Index <= lastIndex {
			t.Fatalf("event %d: id %d index %d (after index %d)", i, e.ID, e.Index, lastIndex)
		}
		lastIndex = e.Index
		w := want[i]
		if e.Type != w.Type || e.Time != w.Time || !reflect.DeepEqual(e.Fields, w.Fields) {
			t.Fatalf("event %d:\n got %+v\nwant %+v", i+1, e, w)
		}
	}
	if got := a.events(9); len(got) != 2 || got[0].ID != 10 {
		t.Fatalf("after 9: %+v", got)
	}
}

// TestHookProgress: cursors only move forward and never past the newest
// event; a dead letter keeps its event after compaction; a retry marks
// it; refusals write nothing.
func TestHookProgress(t *testing.T) {
	a := seed(t)
	a.fails(&command.HooksProgress{Cursors: []command.HookCursor{{Hook: "h", Through: 0}}}, model.KindConflict, "")
	a.ok(&command.StartEvents{})
	for v := int32(1); v <= 5; v++ {
		a.ok(version(v, int64(v)))
	}
	cursor := func(hook string) uint64 {
		var c uint64
		_ = a.s.Read(func(tx *Tx) error { c = events.Cursor(tx.Bolt(), hook); return nil })
		return c
	}
	outbox := func() [32]byte { return fuzzStateOf(t, a.s).outbox }
	refused := func(c command.Command, kind model.Kind) {
		t.Helper()
		before := outbox()
		a.fails(c, kind, "")
		if outbox() != before {
			t.Fatalf("%s: refused but changed the outbox", c.Type())
		}
	}
	refused(&command.HooksProgress{Cursors: []command.HookCursor{{Hook: "h", Through: 3}, {Hook: "h2", Through: 6}}}, model.KindInvalid)
	refused(&command.HooksProgress{Cursors: []command.HookCursor{{Hook: "", Through: 1}}}, model.KindInvalid)
	a.ok(&command.HooksProgress{Cursors: []command.HookCursor{{Hook: "h", Through: 3}},
		Dead: []command.DeadEvent{{Hook: "h", Event: 2, Attempts: 5, Error: "503", At: 77}}})
	a.ok(&command.HooksProgress{Cursors: []command.HookCursor{{Hook: "h", Through: 1}}}) // a deposed leader's
	if c := cursor("h"); c != 3 {
		t.Fatalf("cursor %d, want 3", c)
	}
	refused(&command.RetryDead{Hook: "h", Events: []uint64{2, 4}}, model.KindNotFound)
	refused(&command.RetryDead{Events: []uint64{2}}, model.KindInvalid)
	a.refusedCompact(t, 7)
	if n := a.ok(&command.CompactEvents{Before: 4}); n != 3 {
		t.Fatalf("compacted %v, want 3", n)
	}
	if got := a.events(0); len(got) != 2 || got[0].ID != 4 {
		t.Fatalf("after compaction: %+v", got)
	}
	d := a.dead("h")
	if len(d) != 1 || d[0].Event.ID != 2 || d[0].Event.Type != events.CreateFlowVersion || d[0].Attempts != 5 || d[0].Retry {
		t.Fatalf("dead letters: %+v", d)
	}
	if n := a.ok(&command.RetryDead{Hook: "h", Events: []uint64{2}}); n != 1 {
		t.Fatalf("retried %v", n)
	}
	if d := a.dead(""); len(d) != 1 || !d[0].Retry {
		t.Fatalf("after retry: %+v", d)
	}
	a.ok(&command.HooksProgress{Cleared: []command.DeadEvent{{Hook: "h", Event: 2}}})
	if d := a.dead(""); len(d) != 0 {
		t.Fatalf("after clearing: %+v", d)
	}
	// A dead letter for a compacted event keeps nothing.
	a.ok(&command.HooksProgress{Dead: []command.DeadEvent{{Hook: "h", Event: 1}}})
	if d := a.dead(""); len(d) != 0 {
		t.Fatalf("dead letter of a compacted event: %+v", d)
	}
}

func (a *applier) refusedCompact(t *testing.T, before uint64) {
	t.Helper()
	a.fails(&command.CompactEvents{Before: before}, model.KindInvalid, "")
}
