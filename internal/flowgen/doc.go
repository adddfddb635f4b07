// Package flowgen owns Weir's synthetic NiFi flows: a deterministic
// generator of VersionedFlowSnapshot documents, the JSON body NiFi sends to
// POST /nifi-registry-api/buckets/{b}/flows/{f}/versions, so that tests and
// benchmarks need no flow files from outside the repository.
//
//	b := flowgen.Snapshot(flowgen.Options{Seed: 1, TargetBytes: 1 << 20, BucketID: bid, FlowID: fid, Version: 1})
//	v2, err := flowgen.Mutate(b, 2) // the next version of the same flow
//
// # Why the documents look the way they do
//
// Benchmarks built on these documents measure JSON handling and
// compression, so the generator imitates what makes real flows costly or
// cheap to store, as observed in real NiFi 1.x and 2.x exports and Registry
// storage:
//   - Shape. Root and nested process groups (up to four levels), chained
//     through input and output ports; processors with bundle, properties
//     and full propertyDescriptors; connections naming both ends; controller
//     services at the root and in groups, always in scope of their users;
//     parameter contexts with inheritance and, sometimes, a parameter
//     provider; labels, funnels, a remote process group in big flows, and
//     external controller service references.
//   - Encoding. Fields come in NiFi 2.x's order; absent optional fields are
//     left out, empty collections are [] or {}, unset property values are
//     null, and nothing is HTML-escaped (Jackson does not do that).
//   - Content. Real processor types and property names (ConsumeKafka,
//     PutS3Object, InvokeHTTP, ...), values with Expression Language and
//     #{parameter} references, and long texts (Groovy scripts, SQL, JOLT
//     specs, Avro schemas, label prose), some of them non-ASCII.
//   - Identifiers. Every component has a random version 4 UUID identifier
//     and instanceIdentifier, unique in the document. They are the least
//     compressible part of a flow, as in real ones.
//   - Repetition. Stages are often copies of the previous stage with new
//     identifiers and topics, which is how large flows grow and why they
//     compress better than small ones. With gzip -6 generated documents
//     compress about 2.5x at 4 KB, 4.6-5x at 16 KB, 6.5-7.4x at 64 KB,
//     8x at 256 KB and 8.4-8.7x from 1 MB to 5 MB. Real flows of the shared
//     corpus: 2.8x (3 KB), 4-5.2x (7-17 KB), 6.7-7.8x (38-72 KB) and
//     9.8-11x (98-406 KB); those large ones carry no instanceIdentifiers,
//     and given them, as NiFi 2.x writes them, they measure 8.4-9.5x.
//   - 64-bit numbers. Some queue thresholds and label z-indexes are longs
//     beyond 2^53 (Long.MAX_VALUE among them), so that code which decodes a
//     snapshot through float64 changes it and is caught.
//
// # Determinism and size
//
// Output is a function of Options alone. The package uses its own PRNG
// (math/rand's helpers may change between Go releases) and never lets Go's
// map iteration order reach the output.
//
// TargetBytes is met exactly in practice: the generator keeps a running
// size of what it has built, takes back (through an undo journal) any step
// that would pass the target, and pads the last bytes (rarely more than
// a kilobyte) with a note label or root comments. Generating 5 MB takes about 0.15 s
// of CPU, 1 MB about 30 ms.
//
// Mutate decodes a document into the same model and encodes it again;
// for this package's output that round trip is byte-for-byte exact, so two
// consecutive versions differ only where they were edited.
package flowgen
