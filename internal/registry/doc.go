// Package registry owns NiFi Registry's semantics on top of the replicated
// store: request validation with NiFi's messages, stamping of identifiers,
// timestamps, authors and version numbers into commands, and mapping stored
// records to wire entities (links, permissions, revisions).
//
// Writes: validate the request, build a fully stamped command, hand it to a
// Proposer (the Raft node) and map the state machine's result. Only the
// leader runs this path; followers forward the HTTP request to it. Reads go
// straight to the local store; the API layer decides how fresh they must be.
//
// Version numbers: "-1" (next) is resolved here, under a per-flow lock held
// until the command is applied, so concurrent commits to one flow get
// consecutive numbers instead of racing into a 409.
package registry
