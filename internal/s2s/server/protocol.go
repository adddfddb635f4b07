package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names (CLIENT/protocol/http/HttpHeaders.java). NiFi writes them in
// lower case; Go writes them in canonical case over HTTP/1.1 (HTTP/2 lower-
// cases every name). Both of NiFi's clients look headers up
// case-insensitively.
const (
	HeaderProtocolVersion = "x-nifi-site-to-site-protocol-version"
	HeaderTransactionTTL  = "x-nifi-site-to-site-server-transaction-ttl"
	HeaderCompression     = "x-nifi-site-to-site-use-compression"
	HeaderExpiration      = "x-nifi-site-to-site-request-expiration"
	HeaderBatchCount      = "x-nifi-site-to-site-batch-count"
	HeaderBatchSize       = "x-nifi-site-to-site-batch-size"
	HeaderBatchDuration   = "x-nifi-site-to-site-batch-duration"
	HeaderLocationIntent  = "x-location-uri-intent"

	// LocationIntentTransaction is the intent NiFi's clients require.
	LocationIntentTransaction = "transaction-url"
)

// TransportVersion is the only HTTP transport protocol version there is; it
// maps to transaction protocol version 5.
const TransportVersion = 1

// ResponseCode is a site-to-site response code (ResponseCode.java), sent
// in TransactionResultEntity.responseCode.
type ResponseCode int

const (
	CodePropertiesOK               ResponseCode = 1
	CodeContinueTransaction        ResponseCode = 10
	CodeConfirmTransaction         ResponseCode = 12
	CodeTransactionFinished        ResponseCode = 13
	CodeTransactionFinishedButFull ResponseCode = 14
	CodeCancelTransaction          ResponseCode = 15
	CodeBadChecksum                ResponseCode = 19
	CodeUnknownPort                ResponseCode = 200
	CodePortNotInValidState        ResponseCode = 201
	CodePortsDestinationFull       ResponseCode = 202
	CodeUnknownPropertyName        ResponseCode = 230
	CodeIllegalPropertyValue       ResponseCode = 231
	CodeMissingProperty            ResponseCode = 232
	CodeUnauthorized               ResponseCode = 240
	CodeAbort                      ResponseCode = 250
)

// TransactionResultEntity is NiFi's answer body on /data-transfer. The two
// ints are Java primitives, always present; the message is omitted when
// null, as NiFi's Jackson omits nulls.
type TransactionResultEntity struct {
	FlowFileSent int          `json:"flowFileSent"`
	ResponseCode ResponseCode `json:"responseCode"`
	Message      string       `json:"message,omitempty"`
}

// ControllerEntity is the answer of GET /site-to-site.
type ControllerEntity struct {
	Controller ControllerDTO `json:"controller"`
}

// ControllerDTO holds what NiFi's getSiteToSiteDetails fills in. Both port
// arrays are always present (C7: a NiFi RPG fails on null).
type ControllerDTO struct {
	ID                          string    `json:"id"`
	Name                        string    `json:"name"`
	Comments                    string    `json:"comments"`
	InstanceID                  string    `json:"instanceId,omitempty"`
	RunningCount                int       `json:"runningCount"`
	StoppedCount                int       `json:"stoppedCount"`
	InvalidCount                int       `json:"invalidCount"`
	DisabledCount               int       `json:"disabledCount"`
	InputPortCount              int       `json:"inputPortCount"`
	OutputPortCount             int       `json:"outputPortCount"`
	RemoteSiteHTTPListeningPort *int      `json:"remoteSiteHttpListeningPort,omitempty"`
	SiteToSiteSecure            bool      `json:"siteToSiteSecure"`
	InputPorts                  []PortDTO `json:"inputPorts"`
	OutputPorts                 []PortDTO `json:"outputPorts"`
}

// PortDTO is a port in ControllerDTO.
type PortDTO struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Comments string    `json:"comments"`
	State    PortState `json:"state"`
}

// PeersEntity is the answer of GET /site-to-site/peers.
type PeersEntity struct {
	Peers []PeerDTO `json:"peers"`
}

// PeerDTO is one peer; zone is Weir's extension, ignored by NiFi's Jackson.
type PeerDTO struct {
	Hostname      string `json:"hostname"`
	Port          int    `json:"port"`
	Secure        bool   `json:"secure"`
	FlowFileCount int    `json:"flowFileCount"`
	Zone          string `json:"zone,omitempty"`
}

// cacheControl is what JAX-RS writes for NiFi's noCache(): private,
// no-cache, no-store, and Jersey's default no-transform.
const cacheControl = "private, no-cache, no-store, no-transform"

func noCache(w http.ResponseWriter) { w.Header().Set("Cache-Control", cacheControl) }

// commonHeaders are ApplicationResource.setCommonHeaders: the negotiated
// version and the TTL in seconds; clients require both on the 201.
func (s *Server) commonHeaders(w http.ResponseWriter, version int) {
	w.Header().Set(HeaderProtocolVersion, strconv.Itoa(version))
	w.Header().Set(HeaderTransactionTTL, strconv.FormatInt(s.ttlSec, 10))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// result writes a TransactionResultEntity with the status.
func result(w http.ResponseWriter, status int, code ResponseCode, msg string, sent int) {
	writeJSON(w, status, TransactionResultEntity{FlowFileSent: sent, ResponseCode: code, Message: msg})
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(status)
	w.Write([]byte(text))
}

// Messages NiFi sends, kept verbatim.
const (
	msgTransactionNotFound = "Transaction was not found."
	msgPortNotFound        = "Port was not found."
	msgNoFlowFileSent      = "Client should send request when there is data to send. There was no flow file sent."
	msgServerException     = "Server encountered an exception."
	msgExtended            = "Extended TTL."
	msgCanceled            = "Transaction has been canceled."
	msgResponseCodeMissing = "responseCode is required."
)

// negotiateVersion is ApplicationResource.negotiateTransportProtocolVersion
// with the one supported version: a missing or non-numeric header is 400,
// a version at or above 1 gets 1 (the preferred lower version), anything
// below 1 is 400. ok is false when the answer was written.
func negotiateVersion(w http.ResponseWriter, r *http.Request) (version int, ok bool) {
	v := r.Header.Get(HeaderProtocolVersion)
	if v == "" {
		result(w, http.StatusBadRequest, CodeAbort, "Protocol version was not specified.", 0)
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32) // Java's Integer.valueOf
	if err != nil {
		result(w, http.StatusBadRequest, CodeAbort, "Specified protocol version was not in a valid number format: "+v, 0)
		return 0, false
	}
	if n < TransportVersion {
		result(w, http.StatusBadRequest, CodeAbort, "Specified protocol version is not supported: "+v, 0)
		return 0, false
	}
	return TransportVersion, true
}

// handshake holds the properties DataTransferResource.constructPeer reads
// from the headers of every /data-transfer request.
type handshake struct {
	compress   bool
	expiration time.Duration // REQUEST_EXPIRATION_MILLIS; read and checked, not used
	batch      BatchLimits
}

// parseHandshake reads the handshake headers. As in NiFi, compression is
// on only for "true" (any case) and a non-numeric number is 400 {231};
// negative batch values parse and count as unset. ok is false when the
// answer was written.
func parseHandshake(w http.ResponseWriter, r *http.Request) (h handshake, ok bool) {
	h.compress = strings.EqualFold(r.Header.Get(HeaderCompression), "true")
	num := func(header, property string, bits int) (int64, bool) {
		v := r.Header.Get(header)
		if v == "" {
			return 0, true
		}
		n, err := strconv.ParseInt(v, 10, bits)
		if err != nil {
			result(w, http.StatusBadRequest, CodeIllegalPropertyValue,
				fmt.Sprintf("Received invalid value for property '%s'; invalid value: %s", property, v), 0)
			return 0, false
		}
		return n, true
	}
	exp, ok := num(HeaderExpiration, "REQUEST_EXPIRATION_MILLIS", 64)
	if !ok {
		return h, false
	}
	count, ok := num(HeaderBatchCount, "BATCH_COUNT", 32)
	if !ok {
		return h, false
	}
	size, ok := num(HeaderBatchSize, "BATCH_SIZE", 64)
	if !ok {
		return h, false
	}
	dur, ok := num(HeaderBatchDuration, "BATCH_DURATION", 64)
	if !ok {
		return h, false
	}
	h.expiration = time.Duration(max(exp, 0)) * time.Millisecond
	h.batch.Count = int(max(count, 0))
	h.batch.Bytes = max(size, 0)
	if dur > 0 && dur < int64(1<<63-1)/int64(time.Millisecond) {
		h.batch.Duration = time.Duration(dur) * time.Millisecond
	}
	return h, true
}
