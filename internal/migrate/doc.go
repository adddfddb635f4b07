// Package migrate owns moving a registry's contents into Weir:
//
//   - Migrate copies every bucket, flow and version from a running NiFi
//     Registry (or another Weir) over its REST API, keeping identifiers,
//     version numbers, authors, timestamps and comments, and every
//     extension bundle version, its content streamed and checked by its
//     SHA-256 (bundle ids, authors and times are the destination's: NiFi's
//     upload keeps none of the source's).
//   - ImportGit loads a NiFi Registry GitFlowPersistenceProvider directory
//     (bucket.yml files and {"header":…,"content":{"flowSnapshot":…}}
//     snapshot files), with every version from the git history when the
//     directory is a git repository, else the versions on disk.
//
// Both are idempotent and resumable: each bucket, flow and version is
// created by one atomic write, and a run first reads what the destination
// already has and only writes what is missing. Running twice changes
// nothing; an interrupted run is completed by running it again.
//
// Preservation relies on ?preserveSourceProperties=true: buckets keep
// their identifier and createdTimestamp, flows their identifier and
// created/modified timestamps, versions their number, author, timestamp
// and comments (Weir never moves a flow's modified time backwards for a
// preserved version), so listings and version documents on the
// destination are equal to the source's.
package migrate
