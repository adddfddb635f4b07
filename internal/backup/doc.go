// Package backup owns Weir's online backups: the backup file format (a
// manifest, a consistent snapshot of the whole store and a checksum
// trailer), the HTTP endpoint that streams one while writes go on, the
// verifier, the restore of a file into the data directory of a new node,
// and the scheduler that keeps backups in a directory with retention.
//
// # File format (version 1)
//
//	8 bytes  magic "WEIRBKUP"
//	4 bytes  format version (1), big endian
//	4 bytes  manifest length M, big endian
//	M bytes  manifest, JSON (see Manifest): index, time, counts, state hash, sizes
//	S bytes  the store's snapshot stream (store.Snapshot.WriteTo): its own
//	         32-byte header (magic "WEIRSNAP", versions, applied index,
//	         length L), the L bytes of the bbolt file, then their SHA-256
//	40 bytes trailer: "WEIRBEND" and a SHA-256 over the first 16+M bytes,
//	         the snapshot header and the snapshot's SHA-256
//
// The database bytes are hashed once (by the snapshot stream); the trailer
// binds the manifest and the snapshot header to that hash, so changing
// any byte of the file, or cutting it short, is detected without hashing
// the data twice. A restore also re-checks the bbolt page structure and
// recomputes the state hash, which must equal the manifest's.
//
// # Consistency
//
// A backup is one bbolt read transaction: all state at one applied Raft
// index, taken while writes continue (bbolt is MVCC; Apply is never
// blocked). The endpoint first runs the read barrier, so a backup holds
// every write acknowledged before it was requested. No maintenance mode is
// needed.
//
// # Restore
//
// Restore writes the snapshot into <data-dir>/state.db of an empty data
// directory and prepares it as the first state of a new cluster
// (store.PrepareRestored): `weir server --data-dir DIR` then bootstraps a
// one-node cluster holding the backup, which other nodes can --join. The
// state hash (which leaves out the applied index and the member table) is
// the source's at the backup's index.
package backup
