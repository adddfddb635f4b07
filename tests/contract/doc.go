// Package contract owns the compatibility tests of a single Weir node
// against the NiFi Registry 2.x REST contract. It holds tests only; this
// file exists to say what they cover.
//
// Every test starts a real in-process server (daemon.Start on 127.0.0.1:0
// ports and a temporary data directory) and talks HTTP to it:
//
//   - contract_test.go: every implemented operation of the API, each
//     response body validated against the schemas of the description the
//     node serves (package apidoc: NiFi Registry 2.7.2's document and
//     Weir's operations; kin-openapi), the JAXB Link wire
//     form checked on its own (the spec's Link schema describes a different
//     object), and a probe of every operation in the spec that the tests do
//     not exercise by name, so a newly added surface cannot go unvalidated.
//   - weir_ops_test.go: the description is served where NiFi Registry
//     serves its own, and every Weir operation (health, maintenance,
//     backups, metrics, cluster, ports, audit, disaster recovery) is called
//     and its answer validated against it.
//   - secured_test.go: the operations that answer only on a secured node
//     with managed policies (current user, token, users, groups,
//     policies), as the initial admin over HTTPS, validated the same way.
//   - surfaces_test.go: the fixed answers of an unsecured registry
//     without extension bundles (access, tenants, policies, bundles,
//     extensions, extension repository), validated and pinned the same way.
//   - golden_test.go and testdata/golden: the exact JSON of every entity
//     kind and the text of every key error, with server-generated ids and
//     timestamps replaced by placeholders and compared byte for byte, so
//     field set, field order and values are pinned. Rewrite them with
//     go test ./tests/contract/ -run 'Contract|BadInput' -update
//     (check the diff before committing it).
//   - badinput_test.go: malformed and wrong input gets NiFi's status and
//     message and leaves the replicated state (its state hash) unchanged.
//     Where Weir answers differently from NiFi the case says so and names
//     the Java source that decides NiFi's answer.
//   - realflow_test.go: real NiFi flow documents (when
//     /work/shared/testdata/flows exists) and generated flows of 4 KB to
//     5 MB survive commit, read, export and import unchanged in meaning.
package contract
