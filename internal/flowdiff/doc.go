// Package flowdiff owns the flow comparison behind
// GET /nifi-registry-api/buckets/{bucketId}/flows/{flowId}/diff/{versionA}/{versionB}:
// given the flowContents of two versions of a flow it produces the
// componentDifferenceGroups of NiFi Registry's VersionedFlowDifference.
// Choosing the versions (the older one is always A) and filling bucketId,
// flowId, versionA and versionB is the caller's job.
//
// The output has to match Apache NiFi Registry, so the package is a port of
// the registry's pipeline rather than a generic JSON diff:
//
//   - StandardFlowComparator with the DEEP strategy, as RegistryService
//     builds it: components are matched by identifier, the root group's
//     name and position are ignored, a nested group that is versioned at
//     the same coordinates on both sides is not looked into, added and
//     removed groups report their whole contents, and each field is
//     compared with the Java defaults and null/empty rules.
//   - ConciseEvolvingDifferenceDescriptor for changeDescription.
//   - FlowMappings for valueA/valueB: a component is shown by its
//     identifier, any other value by its Java toString (Position prints as
//     "[x=1.0, y=2.0]", a Set<String> in HashSet iteration order, a style
//     map as "{k=v}", and so on; see values.go).
//   - The de-duplication that the Java HashSet of differences performs, and
//     the grouping by component identifier.
//
// Documents are decoded with Jackson's leniency (absent, null and
// unknown fields are fine, numbers and strings coerce into each other), but
// never with a panic: malformed JSON or a component list that is not a list
// is an error. Where the Java code would throw on odd input (and the
// registry would answer 500) the package picks the evident meaning instead;
// each such place is commented.
//
// Output order is deterministic; see Compare.
//
// Files: flowdiff.go is the API, grouping and ordering; comparator.go the
// comparator; describe.go the difference types and descriptions; values.go
// the Java value semantics (equals, toString, HashSet order); model.go and
// decode.go the flow model and its single-pass JSON reader.
//
// Tests: oracle_test.go replays results produced by NiFi's own Java code;
// corpus_test.go runs over the real flows in the shared test corpus.
package flowdiff
