package command

// Event commands (level 8): the outbox of registry events and the
// delivery state of the hooks that consume it (package events).

// StartEvents turns the outbox on: from this entry on, every registry,
// user and group change writes its event in the same apply. It is a
// command of its own, proposed by a leader once every voter runs a build
// that records events, so no replica records an event another skips.
type StartEvents struct{}

// HookCursor moves one hook's delivery cursor: every event up to and
// including Through was delivered, filtered out, or dead-lettered.
type HookCursor struct {
	Hook    string `json:"hook"`
	Through uint64 `json:"through"`
}

// DeadEvent is an event a hook gave up on after Attempts tries.
type DeadEvent struct {
	Hook     string `json:"hook"`
	Event    uint64 `json:"event"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
	At       int64  `json:"at"`
}

// HooksProgress records what the leader's hooks delivered since the last
// one: cursors moved forward, events given up on (dead letters), and dead
// letters delivered after a retry (Cleared). Apply never moves a cursor
// back and ignores dead letters of events already compacted.
type HooksProgress struct {
	Cursors []HookCursor `json:"cursors,omitempty"`
	Dead    []DeadEvent  `json:"dead,omitempty"`
	Cleared []DeadEvent  `json:"cleared,omitempty"`
}

// RetryDead marks dead letters for another delivery: Events of Hook, or
// all of the hook's with Events empty, or every hook's with Hook empty.
type RetryDead struct {
	Hook   string   `json:"hook,omitempty"`
	Events []uint64 `json:"events,omitempty"`
	By     string   `json:"by"`
}

// CompactEvents removes the events before Before from the outbox (not
// their dead letters). The leader picks Before among delivered events by
// the retention settings; Apply refuses to pass the newest event.
type CompactEvents struct {
	Before uint64 `json:"before"`
}

func (*StartEvents) Type() Type   { return TypeStartEvents }
func (*HooksProgress) Type() Type { return TypeHooksProgress }
func (*RetryDead) Type() Type     { return TypeRetryDead }
func (*CompactEvents) Type() Type { return TypeCompactEvents }
