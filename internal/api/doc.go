// Package api owns the NiFi Registry 2.x REST surface under
// /nifi-registry-api: routing, request decoding, query and header
// parameters, response encoding and NiFi's error format (text/plain bodies
// with NiFi's status mapping).
//
// routes.go serves the flow registry proper; surfaces.go answers the rest of
// the 2.7.2 surface (access, tenants, policies, bundles, extension
// repository, extensions) exactly as an unsecured NiFi Registry without
// extension bundles does, so clients probing those paths see NiFi's answers.
//
// It declares the narrow interfaces it needs (Registry for the operations,
// Freshness for read consistency, Gate for the maintenance fast path) and
// knows nothing of Raft or bbolt. Forwarding writes to the leader happens in
// front of this package (package cluster), so handlers here always run on
// the node that executes the request.
package api
