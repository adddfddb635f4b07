package apidoc

import (
	"github.com/weir-nifi/weir/internal/audit"
	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/dr"
	"github.com/weir-nifi/weir/internal/hooks"
	"github.com/weir-nifi/weir/internal/ops"
	"github.com/weir-nifi/weir/internal/s2s/queue"
	"github.com/weir-nifi/weir/internal/s2s/relay"
)

// op is one of Weir's own operations. Its request and answer schemas are
// generated from the Go values the handler decodes and encodes, so the
// description follows the code.
type op struct {
	method, path string // path: absolute (outside the NiFi API base too)
	summary      string
	query        []string // optional query parameters
	in           any      // the JSON body decoded, nil for none
	status       int      // the answer's status when it succeeds
	out          any      // the JSON answer, nil when outType says otherwise
	outType      string   // the answer's media type when not JSON
	alsoStatus   []int    // other statuses answered with the same body (health probes)
	key          bool     // needs proof of the cluster key
}

// ok is the body of cluster changes that succeed.
type ok struct {
	OK bool `json:"ok"`
}

// localStatus is the answer of GET /weir-api/cluster/local: the node's
// status and its state hash (cluster/httpapi.go builds it inline).
type localStatus struct {
	cluster.LocalStatus
	StateHash string `json:"stateHash"`
	HashIndex uint64 `json:"stateHashIndex"`
}

// weirOps lists what Weir serves besides NiFi's API: the operations
// under the API base (health, maintenance, backups, metrics) and the
// /weir-api surface (cluster, site-to-site ports, audit, disaster
// recovery). TestContractWeirOperations (tests/contract) calls each on a
// real node and validates its answer against the description.
var weirOps = []op{
	{method: "GET", path: ops.Base + "/health", summary: "Health of the node (Spring Boot's shape): 503 when a component is down", status: 200, out: ops.Health{}, alsoStatus: []int{503}},
	{method: "GET", path: ops.Base + "/health/liveness", summary: "Liveness probe", status: 200, out: ops.Component{}},
	{method: "GET", path: ops.Base + "/health/readiness", summary: "Readiness probe: 503 until the node serves current reads", status: 200, out: ops.Component{}, alsoStatus: []int{503}},
	{method: "GET", path: ops.Base + "/health/leader", summary: "200 only on the ready leader (for load balancers sending writes)", status: 200, out: ops.Component{}, alsoStatus: []int{503}},
	{method: "GET", path: ops.Base + "/health/{component}", summary: "One component of the health report", status: 200, out: ops.Component{}, alsoStatus: []int{503}},
	{method: "GET", path: ops.Base + "/maintenance", summary: "Maintenance mode", status: 200, out: ops.MaintenanceStatus{}},
	{method: "POST", path: ops.Base + "/maintenance", summary: "Turn maintenance mode on or off (writes answer 503 while on)", in: ops.MaintenanceRequest{}, status: 200, out: ops.MaintenanceStatus{}, key: true},
	{method: "GET", path: backup.Path, summary: "Download an online backup of the node's state, bundle content included (?content=omit: the database only)", query: []string{"content"}, status: 200, outType: "application/octet-stream", key: true},
	{method: "POST", path: backup.Path, summary: "Write a backup into --backup-dir", status: 200, out: backup.Taken{}, key: true},
	{method: "GET", path: ops.Base + "/prometheus", summary: "Prometheus metrics", status: 200, outType: "text/plain"},
	{method: "GET", path: cluster.AdminBase + "/status", summary: "Leader, term, members, lag, zones and failure tolerance", status: 200, out: cluster.Status{}},
	{method: "GET", path: cluster.AdminBase + "/local", summary: "This node's Raft status and state hash (?recompute=1 walks every entry)", query: []string{"recompute"}, status: 200, out: localStatus{}},
	{method: "POST", path: cluster.AdminBase + "/join", summary: "Add a node (as a non-voter that becomes a voter once caught up)", in: cluster.JoinRequest{}, status: 200, out: ok{}, key: true},
	{method: "POST", path: cluster.AdminBase + "/remove", summary: "Remove a node", in: cluster.RemoveRequest{}, status: 200, out: ok{}, key: true},
	{method: "POST", path: cluster.AdminBase + "/transfer-leader", summary: "Hand leadership to another voter", in: cluster.TransferRequest{}, status: 200, out: ok{}, key: true},
	{method: "POST", path: cluster.IsolatePath, summary: "Cut this node off its cluster for a while (drills)", in: cluster.IsolateRequest{}, status: 200, out: cluster.IsolateResult{}, key: true},
	{method: "DELETE", path: cluster.IsolatePath, summary: "End an isolation", status: 200, out: ok{}, key: true},
	{method: "GET", path: relay.AdminPath, summary: "Site-to-site ports with their queues", status: 200, out: []relay.PortStatus{}},
	{method: "POST", path: relay.AdminPath, summary: "Create a site-to-site port", in: relay.CreateRequest{}, status: 201, out: queue.Port{}, key: true},
	{method: "GET", path: relay.AdminPath + "/{id}", summary: "One site-to-site port", status: 200, out: relay.PortStatus{}},
	{method: "PUT", path: relay.AdminPath + "/{id}", summary: "Change a port (enabled, retention, order, bounds)", in: relay.UpdateRequest{}, status: 200, out: queue.Port{}, key: true},
	{method: "DELETE", path: relay.AdminPath + "/{id}", summary: "Delete a port (?force=true drops its queued flowfiles)", query: []string{"force"}, status: 200, out: queue.Port{}, key: true},
	{method: "GET", path: audit.Path, summary: "This node's audit history", query: []string{"identity", "outcome", "since", "limit"}, status: 200, out: []audit.Event{}, key: true},
	{method: "GET", path: dr.Path, summary: "Disaster recovery role, epoch and lag", status: 200, out: dr.Status{}},
	{method: "GET", path: dr.EntriesPath, summary: "The primary's applied log after an index (standbys pull it)", query: []string{"after"}, status: 200, outType: "application/octet-stream", key: true},
	{method: "GET", path: dr.ContentPath + "{sha256}", summary: "Bundle content kept in a file, by its SHA-256 (standbys fetch what their log entries refer to)", status: 200, outType: "application/octet-stream", key: true},
	{method: "POST", path: dr.FollowPath, summary: "Become a standby of a primary cluster", in: dr.FollowRequest{}, status: 200, out: dr.Status{}, key: true},
	{method: "POST", path: dr.PromotePath, summary: "Promote a standby to primary", in: dr.PromoteRequest{}, status: 200, out: dr.Status{}, key: true},
	{method: "POST", path: dr.FencePath, summary: "Fence the old primary (sent by a promoted cluster)", in: dr.FenceRequest{}, status: 200, out: dr.Status{}, key: true},
	{method: "POST", path: dr.DemotePath, summary: "Make a fenced primary a standby", in: dr.DemoteRequest{}, status: 200, out: dr.DemoteResult{}, key: true},
	{method: "GET", path: hooks.Path, summary: "Registry events after an id, oldest first (wait: long poll; Accept: text/event-stream: Server-Sent Events)", query: []string{"after", "limit", "wait"}, status: 200, out: hooks.Page{}},
	{method: "GET", path: hooks.DeadPath, summary: "Events hooks gave up on (the dead-letter list)", query: []string{"hook"}, status: 200, out: hooks.DeadPage{}},
	{method: "POST", path: hooks.RetryPath, summary: "Deliver dead letters again", in: hooks.RetryRequest{}, status: 200, out: hooks.RetryResult{}, key: true},
}
