// Package webui is Weir's web UI at /nifi-registry: server-rendered pages
// (html/template, embedded with the stylesheet; no script, no CDN) for
// buckets, flows, versions, the visual diff of two versions, and the
// cluster (nodes, zones, maintenance, backups, sparklines).
//
// The UI holds no state of the registry and has no private way in: each
// page reads, and each form writes, by sending an ordinary API request
// through the node's own handler chain in-process (UI.SetBackend), with
// the browser's TLS state and Host. So authentication and authorization,
// the admin-token check of operations, the maintenance gate and the
// forwarding of writes to the leader apply to the UI unchanged, and their
// refusals are shown with the API's status and message.
//
// The diff picture (Layout) is pure: the flow's own stored positions, and
// marks taken only from the /diff endpoint's answer, so the picture and
// the list beside it show the same differences as the API.
//
// Nothing below the daemon imports this package.
package webui
