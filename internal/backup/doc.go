// Package backup owns Weir's online backups: the backup file format (a
// manifest, a consistent snapshot of the whole store and a checksum
// trailer), the HTTP endpoint that streams one while writes go on, the
// verifier, the restore of a file into the data directory of a new node,
// and the scheduler that keeps backups in a directory with retention.
//
// # File format (version 2)
//
//	8 bytes    magic "WEIRBKUP"
//	4 bytes    format version (2), big endian
//	4 bytes    head length M, big endian
//	M bytes    head manifest, JSON: index, time, node, store format, sizes
//	S bytes    the store's snapshot frame (store.Snapshot.WriteTo): a 32-byte
//	           header (magic "WEIRSNAP", versions, applied index, length L),
//	           the L bytes of the bbolt file, and an XXH64 of header and data
//	512 bytes  trailer: "WEIRBEND", 472 bytes of space-padded JSON (state
//	           hash and counts at the index), and a SHA-256 over the head,
//	           the frame's header and checksum, and the trailer JSON
//
// The database bytes are checksummed once, by the frame, with XXH64 (several
// GB/s, so checksumming does not bound backup speed); the trailer's SHA-256
// binds the manifest, the frame header and that checksum together, so
// changing any byte of the file, or cutting it short, is detected without
// hashing the data twice. The state hash and counts are computed on a
// second read transaction of the same instant while the file streams, which
// is why they sit in the trailer: a backup costs one pass of wall time. A
// restore also recomputes the state hash and counts, which must equal the
// trailer's.
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
