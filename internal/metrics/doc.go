// Package metrics owns Weir's Prometheus metrics, served at
// GET /nifi-registry-api/actuator/prometheus (the path Spring Boot's
// actuator uses, which NiFi Registry operators scrape).
//
// It keeps a private registry (nothing registers globally) with:
//   - weir_http_requests_total and weir_http_request_duration_seconds, by
//     route pattern (the net/http ServeMux pattern that served the request,
//     so /buckets/{bucketId} is one series, not one per bucket), method and
//     status code. Writes a follower forwards to the leader are counted on
//     the follower under the catch-all route /nifi-registry-api/.
//   - weir_commit_duration_seconds: replicated writes from raft.Apply to
//     committed and applied on the leader (cluster.Node.ObservePropose).
//   - Raft state read on every scrape: applied and commit index, apply lag,
//     term, leadership, leader changes.
//   - the newest Raft snapshot's index, age and size, and the newest
//     backup's index, age, size and outcome counts.
//   - the maintenance switch, the store's size and the registry's counts.
//   - the standard Go runtime and process collectors.
package metrics
