// Package daemon owns the weir server process: it turns configuration into
// a running node (store, Raft node, registry service, HTTP API, cluster
// API) and shuts it down in order on a signal.
//
// Request path: net/http → router (this package) → cluster.Node.ServeAPI
// (followers forward writes to the leader) → api (NiFi REST surface) →
// registry (semantics, stamping) → cluster.Node.Propose (Raft) →
// store (state machine on bbolt).
package daemon
