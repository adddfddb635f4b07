// Package ops owns the operator endpoints under
// /nifi-registry-api/actuator: health in Spring Boot's shape (the paths and
// JSON NiFi Registry operators and load balancers already know), liveness,
// readiness, a leader probe, and the cluster-wide maintenance switch.
//
//	GET  /nifi-registry-api/actuator/health             status + components (cluster, storage, maintenance, backup)
//	GET  /nifi-registry-api/actuator/health/{component} one component
//	GET  /nifi-registry-api/actuator/health/liveness    {"status":"UP"} while the process serves
//	GET  /nifi-registry-api/actuator/health/readiness   UP, or DOWN without quorum, OUT_OF_SERVICE while catching up
//	GET  /nifi-registry-api/actuator/health/leader      200 on the leader, 503 elsewhere (route writes to it)
//	GET  /nifi-registry-api/actuator/maintenance        the switch: enabled, reason, since, by
//	POST /nifi-registry-api/actuator/maintenance        {"enabled":true,"reason":"...","by":"..."} turns it on or off
//
// Status codes follow Spring Boot: 200 for UP, 503 for DOWN and
// OUT_OF_SERVICE. Maintenance does not make a node unhealthy or unready:
// reads keep working, so the maintenance component reports READ_ONLY and
// the aggregate stays UP.
//
// Maintenance is replicated state (command.SetMaintenance, applied by the
// store), not a node setting: the POST is a write like any other, so the
// cluster layer forwards it to the leader, which proposes the command. It
// deliberately bypasses the API's maintenance gate (otherwise it could not
// be turned off). Raft orders it after every write proposed before it, so
// when "on" is acknowledged every earlier write is committed and applied,
// and every later one is refused by the state machine even if it passed a
// gate a moment before. The leader then waits (up to a second) until every
// reachable member has applied it, and lists them in the answer.
//
// Health reads only this node's state plus one status probe per member
// (cluster.Node.ClusterStatus), never the registry through Raft, so it
// answers while the cluster has no leader.
package ops
