// Package api owns the NiFi Registry 2.x REST surface under
// /nifi-registry-api: routing, request decoding, query and header
// parameters, response encoding and NiFi's error format (text/plain bodies
// with NiFi's status mapping).
//
// It declares the narrow interfaces it needs (Registry for the operations,
// Freshness for read consistency, Gate for the maintenance fast path) and
// knows nothing of Raft or bbolt. Forwarding writes to the leader happens in
// front of this package (package cluster), so handlers here always run on
// the node that executes the request.
package api
