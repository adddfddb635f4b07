// Package events is the replicated outbox of registry events and the
// delivery state of the hooks that consume it. Each registry, user and
// group change writes its event (NiFi Registry's event type and fields) in
// the same apply as the change itself, so an event exists exactly when its
// change does, on every replica. Hooks (package hooks) deliver from the
// outbox on the leader and commit their cursors through the log, so a new
// leader resumes where the old one stopped.
//
// The tables live in the store's bbolt file (names prefixed "e."), outside
// the registry's state hash. Apply follows the store's rules: it reads no
// clock, re-checks every precondition and refuses with a *model.Error what
// it cannot apply, writing nothing; any other error is a database failure.
package events

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
)

// Table names, all in the store's file.
var (
	tLog   = []byte("e.log")   // event id (u64) → stored
	tMeta  = []byte("e.meta")  // startedKey, nextKey, firstKey, sinceKey → u64
	tHooks = []byte("e.hooks") // hook name → cursor (u64)
	tDead  = []byte("e.dead")  // uvarint(len(hook)) hook, event id (u64) → Dead

	// Tables are created by the store with its own.
	Tables = [][]byte{tLog, tMeta, tHooks, tDead}

	startedKey = []byte("started")
	nextKey    = []byte("next")
	firstKey   = []byte("first")
	sinceKey   = []byte("since")
)

// MaxHookName bounds a hook's name (a key in two tables).
const MaxHookName = 200

// NiFi Registry's event types (org.apache.nifi.registry.hook.EventType)
// that Weir records.
const (
	CreateBucket      = "CREATE_BUCKET"
	UpdateBucket      = "UPDATE_BUCKET"
	DeleteBucket      = "DELETE_BUCKET"
	CreateFlow        = "CREATE_FLOW"
	UpdateFlow        = "UPDATE_FLOW"
	DeleteFlow        = "DELETE_FLOW"
	CreateFlowVersion = "CREATE_FLOW_VERSION"
	CreateUser        = "CREATE_USER"
	UpdateUser        = "UPDATE_USER"
	DeleteUser        = "DELETE_USER"
	CreateUserGroup   = "CREATE_USER_GROUP"
	UpdateUserGroup   = "UPDATE_USER_GROUP"
	DeleteUserGroup   = "DELETE_USER_GROUP"

	CreateBundle        = "CREATE_EXTENSION_BUNDLE"
	CreateBundleVersion = "CREATE_EXTENSION_BUNDLE_VERSION"
	DeleteBundle        = "DELETE_EXTENSION_BUNDLE"
	DeleteBundleVersion = "DELETE_EXTENSION_BUNDLE_VERSION"
)

// Types lists every event type NiFi Registry defines, for validating hook
// whitelists. REGISTRY_START is a valid name though Weir records no such
// event (a cluster has no single start).
var Types = []string{
	CreateBucket, CreateFlow, CreateFlowVersion, CreateBundle, CreateBundleVersion,
	"REGISTRY_START", UpdateBucket, UpdateFlow, DeleteBucket, DeleteFlow, DeleteBundle,
	DeleteBundleVersion, CreateUser, UpdateUser, DeleteUser, CreateUserGroup, UpdateUserGroup, DeleteUserGroup,
}

// Field is one of an event's fields (NiFi's EventField: an EventFieldName
// and its value), in the order NiFi's EventFactory adds them.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Event is one recorded change. ID is dense and increasing (1, 2, 3, …)
// for the life of the cluster; Index is the log entry that made the change.
// Time is the change's own timestamp (ms) when the command carries one.
type Event struct {
	ID     uint64  `json:"id"`
	Index  uint64  `json:"index"`
	Type   string  `json:"eventType"`
	Time   int64   `json:"time,omitempty"`
	Fields []Field `json:"fields"`
}

// Field returns the value of the named field.
func (e Event) Field(name string) (string, bool) {
	for _, f := range e.Fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// stored is an event as the outbox keeps it. Since is what retention by
// age goes by: the event's own time, or for an event whose command carries
// none, the latest time recorded before it (the clock of the state
// machine, which never reads a real one).
type stored struct {
	Event
	Since int64 `json:"since,omitempty"`
}

// Dead is an event a hook gave up on, with the event itself (the outbox
// may compact it). Retry marks it for another delivery.
type Dead struct {
	Hook     string `json:"hook"`
	Event    Event  `json:"event"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
	At       int64  `json:"at"`
	Retry    bool   `json:"retry,omitempty"`
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func getU64(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func deadKey(hook string, id uint64) []byte {
	k := binary.AppendUvarint(nil, uint64(len(hook)))
	return binary.BigEndian.AppendUint64(append(k, hook...), id)
}

func deadPrefix(hook string) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(hook))), hook...)
}

// Started reports whether the outbox records events (see StartEvents).
func Started(btx *bolt.Tx) bool {
	b := btx.Bucket(tMeta)
	return b != nil && getU64(b, startedKey) != 0
}

// Range returns the ids of the oldest kept and the newest event (first >
// last when the outbox is empty or not started).
func Range(btx *bolt.Tx) (first, last uint64) {
	b := btx.Bucket(tMeta)
	if b == nil || getU64(b, startedKey) == 0 {
		return 1, 0
	}
	return max(getU64(b, firstKey), 1), getU64(b, nextKey) - 1
}

// Record writes the event of a change applied at log index index, if the
// outbox is started. It is called by the store inside the change's apply.
func Record(btx *bolt.Tx, index uint64, typ string, at int64, fields ...Field) error {
	m := btx.Bucket(tMeta)
	if getU64(m, startedKey) == 0 {
		return nil
	}
	id := getU64(m, nextKey)
	since := max(getU64Int(m, sinceKey), at)
	rec := stored{Event: Event{ID: id, Index: index, Type: typ, Time: at, Fields: fields}, Since: since}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := btx.Bucket(tLog).Put(u64(id), v); err != nil {
		return err
	}
	if err := m.Put(nextKey, u64(id+1)); err != nil {
		return err
	}
	return m.Put(sinceKey, u64(uint64(since)))
}

func getU64Int(b *bolt.Bucket, k []byte) int64 { return int64(getU64(b, k)) }

func load(btx *bolt.Tx, id uint64) (stored, bool, error) {
	v := btx.Bucket(tLog).Get(u64(id))
	if v == nil {
		return stored{}, false, nil
	}
	var s stored
	if err := json.Unmarshal(v, &s); err != nil {
		return stored{}, false, fmt.Errorf("event %d: %w", id, err)
	}
	return s, true, nil
}

// After returns up to limit events with ids above after, oldest first.
func After(btx *bolt.Tx, after uint64, limit int) ([]Event, error) {
	var out []Event
	c := btx.Bucket(tLog).Cursor()
	for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
		var s stored
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
		}
		out = append(out, s.Event)
	}
	return out, nil
}

// Since returns the retention time of event id (see stored.Since).
func Since(btx *bolt.Tx, id uint64) (int64, bool, error) {
	s, ok, err := load(btx, id)
	return s.Since, ok, err
}

// Cursor is a hook's delivery cursor: every event up to it is done.
func Cursor(btx *bolt.Tx, hook string) uint64 {
	return getU64(btx.Bucket(tHooks), []byte(hook))
}

// Cursors returns every hook's cursor, by name.
func Cursors(btx *bolt.Tx) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := btx.Bucket(tHooks).ForEach(func(k, v []byte) error {
		if len(v) == 8 {
			out[string(k)] = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return out, err
}

// DeadLetters returns the dead letters of hook (every hook's with hook
// empty), ordered by hook and event id.
func DeadLetters(btx *bolt.Tx, hook string) ([]Dead, error) {
	var out []Dead
	c := btx.Bucket(tDead).Cursor()
	var prefix []byte
	if hook != "" {
		prefix = deadPrefix(hook)
	}
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var d Dead
		if err := json.Unmarshal(v, &d); err != nil {
			return nil, fmt.Errorf("dead letter: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// Handles reports whether c is an event command.
func Handles(c command.Command) bool {
	switch c.(type) {
	case *command.StartEvents, *command.HooksProgress, *command.RetryDead, *command.CompactEvents:
		return true
	}
	return false
}

// Apply applies an event command in the store's transaction. Refusals are
// *model.Error and write nothing.
func Apply(btx *bolt.Tx, c command.Command) (any, error) {
	m := btx.Bucket(tMeta)
	if _, ok := c.(*command.StartEvents); ok {
		if getU64(m, startedKey) != 0 {
			return nil, nil
		}
		for k, v := range map[string]uint64{string(startedKey): 1, string(nextKey): 1, string(firstKey): 1} {
			if err := m.Put([]byte(k), u64(v)); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	if getU64(m, startedKey) == 0 {
		return nil, model.Conflict("The event outbox is not started yet (every voter must run a build that records events).")
	}
	last := getU64(m, nextKey) - 1
	switch c := c.(type) {
	case *command.HooksProgress:
		return nil, progress(btx, c, last)
	case *command.RetryDead:
		return retry(btx, c)
	case *command.CompactEvents:
		if c.Before > last+1 {
			return nil, model.Invalid(fmt.Sprintf("Cannot compact events before %d: the newest event is %d.", c.Before, last))
		}
		first := max(getU64(m, firstKey), 1)
		if c.Before <= first {
			return 0, nil
		}
		lg := btx.Bucket(tLog)
		n := 0
		cur := lg.Cursor()
		for k, _ := cur.First(); k != nil && binary.BigEndian.Uint64(k) < c.Before; k, _ = cur.First() {
			if err := lg.Delete(k); err != nil {
				return nil, err
			}
			n++
		}
		return n, m.Put(firstKey, u64(c.Before))
	}
	return nil, model.Invalid(fmt.Sprintf("command %s cannot be applied", c.Type()))
}

func checkHook(name string) error {
	if name == "" || len(name) > MaxHookName {
		return model.Invalid(fmt.Sprintf("A hook name must have 1 to %d bytes.", MaxHookName))
	}
	return nil
}

// progress checks the whole command before writing any of it.
func progress(btx *bolt.Tx, c *command.HooksProgress, last uint64) error {
	for _, h := range c.Cursors {
		if err := checkHook(h.Hook); err != nil {
			return err
		}
		if h.Through > last {
			return model.Invalid(fmt.Sprintf("Hook %q cannot be past event %d: the newest event is %d.", h.Hook, h.Through, last))
		}
	}
	for _, d := range slices.Concat(c.Dead, c.Cleared) {
		if err := checkHook(d.Hook); err != nil {
			return err
		}
	}
	hooks := btx.Bucket(tHooks)
	for _, h := range c.Cursors {
		// A cursor never moves back: a deposed leader's late progress
		// (it delivered less) changes nothing.
		if h.Through > getU64(hooks, []byte(h.Hook)) {
			if err := hooks.Put([]byte(h.Hook), u64(h.Through)); err != nil {
				return err
			}
		}
	}
	dead := btx.Bucket(tDead)
	for _, d := range c.Dead {
		ev, ok, err := load(btx, d.Event)
		if err != nil {
			return err
		}
		if !ok {
			continue // compacted since: nothing left to keep
		}
		v, err := json.Marshal(Dead{Hook: d.Hook, Event: ev.Event, Attempts: d.Attempts, Error: d.Error, At: d.At})
		if err != nil {
			return err
		}
		if err := dead.Put(deadKey(d.Hook, d.Event), v); err != nil {
			return err
		}
	}
	for _, d := range c.Cleared {
		if err := dead.Delete(deadKey(d.Hook, d.Event)); err != nil {
			return err
		}
	}
	return nil
}

func retry(btx *bolt.Tx, c *command.RetryDead) (int, error) {
	if c.Hook != "" {
		if err := checkHook(c.Hook); err != nil {
			return 0, err
		}
	}
	if c.Hook == "" && len(c.Events) > 0 {
		return 0, model.Invalid("Name the hook of the events to retry.")
	}
	dead := btx.Bucket(tDead)
	// Every named dead letter must exist before any is marked.
	var missing []string
	for _, id := range c.Events {
		if dead.Get(deadKey(c.Hook, id)) == nil {
			missing = append(missing, strconv.FormatUint(id, 10))
		}
	}
	if len(missing) > 0 {
		return 0, model.NotFound(fmt.Sprintf("Hook %q has no dead letter for event %s.", c.Hook, strings.Join(missing, ", ")))
	}
	want := map[uint64]bool{}
	for _, id := range c.Events {
		want[id] = true
	}
	ds, err := DeadLetters(btx, c.Hook)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range ds {
		if len(want) > 0 && !want[d.Event.ID] {
			continue
		}
		d.Retry = true
		v, err := json.Marshal(d)
		if err != nil {
			return 0, err
		}
		if err := dead.Put(deadKey(d.Hook, d.Event.ID), v); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}
