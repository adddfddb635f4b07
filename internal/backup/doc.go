// Package backup owns Weir's online backups: the backup file format (a
// manifest, a consistent snapshot of the whole store and a checksum
// trailer), the HTTP endpoint that streams one while writes go on, the
// verifier, the restore of a file into the data directory of a new node,
// and the scheduler that keeps backups in a directory with retention.
//
// # File format (version 3)
//
//	8 bytes    magic "WEIRBKUP"
//	4 bytes    format version (3), big endian
//	4 bytes    head length M, big endian
//	M bytes    head manifest, JSON: index, time, node, store format, sizes,
//	           the content section's file count and bytes (backups written
//	           on the node pad it with spaces so the database starts at
//	           offset 4096)
//	S bytes    the store's snapshot frame (store.Snapshot.WriteTo): a 32-byte
//	           header (magic "WEIRSNAP", versions, applied index, length L),
//	           the L bytes of the bbolt file, and an XXH64 of header and data
//	C bytes    the content section: for each bundle content file the state
//	           refers to (sorted by SHA-256), its 32-byte SHA-256, its size
//	           (8 bytes, big endian) and its bytes
//	512 bytes  trailer: "WEIRBEND", 472 bytes of space-padded JSON (state
//	           hash and counts at the index), and a SHA-256 over the head,
//	           the frame's header and checksum, the SHA-256 of the content
//	           section's entry heads, and the trailer JSON
//
// Format 2 is format 3 without the content section (and without the
// entry heads' SHA-256 in the trailer's); this build reads both. A
// backup asked for with ?content=omit (a DR standby seeding itself, which
// fetches content from its primary) has an empty section.
//
// The database bytes are checksummed once, by the frame, with XXH64 (several
// GB/s, so checksumming does not bound backup speed); the trailer's SHA-256
// binds the manifest, the frame header and that checksum together, so
// changing any byte of the file, or cutting it short, is detected without
// hashing the data twice. Each content file is checked against its own
// SHA-256 as it passes. The state hash and counts are the ones the store
// keeps as it applies commands (store/statehash.go); a restore recomputes
// them from every entry, and they must equal the trailer's. Checker
// verifies a file written through it in one pass, so a download is saved
// and verified at once, and a restore writes the database out while it is
// verified.
//
// # Consistency and cost
//
// A backup is all state at one applied Raft index, taken while writes
// continue: the store is copied by the kernel under one bbolt read
// transaction (store.SnapshotCopy), which ends when the copy does. The
// endpoint first runs the read barrier, so a backup holds every write
// acknowledged before it was requested. No maintenance mode is needed.
//
// A download (GET) streams from an unlinked copy beside the store with
// sendfile; a backup into the backup directory (scheduled, or POST) is
// copied straight into the backup file and written to disk by writeBack.
// Both yield to this node's write requests (yield.go).
//
// # Restore
//
// Restore writes the snapshot into <data-dir>/state.db of an empty data
// directory and the content files into <data-dir>/content, and prepares
// the store as the first state of a new cluster (store.PrepareRestored):
// `weir server --data-dir DIR` then bootstraps a one-node cluster holding
// the backup, which other nodes can --join (and fetch the content files
// from). The state hash (which leaves out the applied index and the
// member table) is the source's at the backup's index.
package backup
