// Package cluster owns Weir's Raft membership: the hashicorp/raft node and
// its stores (raft-wal log, snapshots), the authenticated cluster port that
// carries Raft and internal RPC, proposing commands, linearizable read
// barriers, forwarding writes from followers to the leader (or redirecting
// them), joins and removals, zone-aware voter placement, and the cluster
// status and admin API under /weir-api/cluster. See DESIGN.md for the
// invariants and failure handling.
package cluster
