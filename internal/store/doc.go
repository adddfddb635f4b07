// Package store owns Weir's replicated state: an embedded bbolt database
// holding buckets, flows, flow versions, revisions, the maintenance switch
// and cluster member facts, and the deterministic state machine that applies
// commands (package command) to it.
//
// Invariants (see DESIGN.md):
//   - Apply is a pure function of (current state, command bytes): it never
//     reads the clock, random numbers or configuration, so replicas that
//     apply the same log hold the same logical bytes. StateHash proves it.
//   - A command either applies completely or not at all: each handler checks
//     every precondition before its first write, and a failed precondition
//     returns a *model.Error that the client sees, changing nothing.
//   - The index of the last applied log entry is written in the same bbolt
//     transaction as the state it produced, so after a crash a replayed
//     entry at or below it is skipped instead of applied twice.
//   - The file carries a format version; Open refuses formats it does not
//     know rather than misreading them.
package store
