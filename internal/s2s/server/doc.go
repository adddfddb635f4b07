// Package server owns NiFi's HTTP site-to-site surface, mounted under
// /nifi-api: GET /site-to-site (the controller and its public ports), GET
// /site-to-site/peers, and the /data-transfer transactions that push
// flowfiles to input ports and pull them from output ports.
//
// It owns the protocol around the bytes: transport version negotiation
// (version 1 only, transaction protocol 5), the handshake properties sent as
// headers on every request, the transactions (ids, the TTL and the reaper,
// the state machine, NiFi's response codes and status pairs), the absolute
// transaction URL, and NiFi's JSON bodies. The bytes themselves are package
// codec's. Ports, peers and the queues that hold the data are known only
// through the interfaces in api.go, so the same server runs over the
// in-memory queues of package memqueue in tests and over the replicated
// queues of the daemon.
//
// Memory is bounded whatever the data: a push body is decoded as it arrives
// and each packet's content is handed to Queues.Stage as a stream; a pull
// streams packets from Queues.Lease into the response. A transaction holds
// only counters, its checksum and the queue's handles.
//
// Behaviour follows NiFi's DataTransferResource, SiteToSiteResource and
// HttpRemoteSiteListener (shared/reference/s2s-protocol.md §2–§4, §6, §9)
// except where that would let bad input through: malformed bodies and
// requests a transaction's state does not allow are 4xx with a
// TransactionResultEntity body (NiFi answers 500 to several of them), and a
// transaction is bound to the port and direction it was created for.
package server
