package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/weir-nifi/weir/internal/s2s/codec"
)

func portTypeFromPath(seg string) (PortType, bool) {
	switch seg {
	case "input-ports":
		return InputPort, true
	case "output-ports":
		return OutputPort, true
	}
	return 0, false
}

// checkPort is the handshake's checkPortStatus: the port exists with this
// type (404 {200}), runs (503 {201}) and, for an input port, its queue is
// not full (503 {202}). ok is false when the answer was written.
func (s *Server) checkPort(w http.ResponseWriter, id string, typ PortType) bool {
	for _, p := range s.ports.Ports() {
		if p.ID != id || p.Type != typ {
			continue
		}
		if p.State != Running {
			result(w, http.StatusServiceUnavailable, CodePortNotInValidState, "Port not running", 0)
			return false
		}
		if typ == InputPort && s.queues.Full(id) {
			result(w, http.StatusServiceUnavailable, CodePortsDestinationFull, "Received port identifier "+id+", but its destination is full", 0)
			return false
		}
		return true
	}
	result(w, http.StatusNotFound, CodeUnknownPort, "Received unknown port identifier: "+id, 0)
	return false
}

// createTransaction answers POST /data-transfer/{type}/{port}/transactions:
// the handshake, then 201 with the transaction's absolute URL. The body
// (empty, chunked or not, C6) is ignored.
func (s *Server) createTransaction(w http.ResponseWriter, r *http.Request) {
	typ, ok := portTypeFromPath(r.PathValue("type"))
	if !ok {
		result(w, http.StatusNotFound, CodeAbort, msgPortNotFound, 0)
		return
	}
	version, ok := negotiateVersion(w, r)
	if !ok {
		return
	}
	if _, ok := parseHandshake(w, r); !ok {
		return
	}
	portID := r.PathValue("port")
	if !s.checkPort(w, portID, typ) {
		return
	}
	base, err := s.baseURL(r)
	if err != nil {
		result(w, http.StatusBadRequest, CodeAbort, err.Error(), 0)
		return
	}
	tx := &transaction{id: s.newID(), port: portID, typ: typ, touched: s.now()}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		result(w, http.StatusServiceUnavailable, CodeAbort, "The site-to-site server is shutting down.", 0)
		return
	case len(s.txs) >= s.maxTx:
		s.mu.Unlock()
		result(w, http.StatusServiceUnavailable, CodeAbort, "Too many site-to-site transactions are open.", 0)
		return
	}
	s.txs[tx.id] = tx
	s.mu.Unlock()
	s.log.Debug("site-to-site transaction created", "tx", tx.id, "port", portID, "type", typ.String())

	w.Header().Set("Location", base+"/nifi-api/data-transfer/"+typ.pathSegment()+"/"+url.PathEscape(portID)+"/transactions/"+tx.id)
	w.Header().Set(HeaderLocationIntent, LocationIntentTransaction)
	s.commonHeaders(w, version)
	noCache(w)
	result(w, http.StatusCreated, CodePropertiesOK, "Handshake properties are valid, and port is running. A transaction is created:"+tx.id, 0)
}

// txRequest is a request on an existing transaction, past its checks.
type txRequest struct {
	version int
	hs      handshake
	tx      *transaction
}

// openTx runs the checks of every request on a transaction, in NiFi's
// order: version (400), the transaction, live and bound to this port and
// type (404 {250}), the handshake properties (400 {231}), and the port
// (404 {200}, 503 {201}/{202}) unless the transaction already holds data
// (C13). ok is false when the answer was written.
func (s *Server) openTx(w http.ResponseWriter, r *http.Request, typ PortType) (txRequest, bool) {
	var req txRequest
	version, ok := negotiateVersion(w, r)
	if !ok {
		return req, false
	}
	portID := r.PathValue("port")
	tx, state := s.lookup(r.PathValue("tx"), portID, typ)
	if tx == nil {
		result(w, http.StatusNotFound, CodeAbort, msgTransactionNotFound, 0)
		return req, false
	}
	hs, ok := parseHandshake(w, r)
	if !ok {
		return req, false
	}
	if state != txHeld && !s.checkPort(w, portID, typ) {
		return req, false
	}
	return txRequest{version: version, hs: hs, tx: tx}, true
}

// beginExchange starts a request that exchanges flow files on a
// transaction (a push's body, a pull's batch): the checks of openTx, then
// the open transaction turns busy with a context derived from the
// request's, which a cancel (DELETE) or the server closing cancels; in any
// other state it is 409, saying it cannot do what now. ok is false when
// the answer was written; otherwise the caller must call cancel when the
// request ends.
func (s *Server) beginExchange(w http.ResponseWriter, r *http.Request, typ PortType, what string) (txRequest, context.Context, context.CancelFunc, bool) {
	req, ok := s.openTx(w, r, typ)
	if !ok {
		return req, nil, nil, false
	}
	ctx, cancel := context.WithCancel(r.Context())
	if state, ok := s.begin(req.tx, cancel); !ok {
		stateConflict(w, state, what)
		cancel()
		return req, nil, nil, false
	}
	return req, ctx, cancel, true
}

// stateConflict answers a request the transaction's state does not allow
// (NiFi answers these with 500; they are the client's doing).
func stateConflict(w http.ResponseWriter, state txState, what string) {
	msg := fmt.Sprintf("The transaction cannot %s now: it is %s.", what, map[txState]string{
		txOpen: "open, with no flow files exchanged",
		txBusy: "busy with another request",
		txHeld: "already holding flow files",
	}[state])
	result(w, http.StatusConflict, CodeAbort, msg, 0)
}

// receiveFlowFiles answers POST .../input-ports/{port}/transactions/{tx}/flow-files:
// the body is decoded as it arrives and streamed into Queues.Stage; once
// all of it is staged the answer is 202 with the checksum. A body that is
// not a well-formed packet stream, or breaks any limit, is 400 and leaves
// nothing staged; the transaction stays open for another try.
func (s *Server) receiveFlowFiles(w http.ResponseWriter, r *http.Request) {
	req, ctx, cancel, ok := s.beginExchange(w, r, InputPort, "receive flow files")
	if !ok {
		return
	}
	defer cancel()
	tx := req.tx

	dec := codec.NewDecoder(r.Body, req.hs.compress, s.limits)
	first, err := dec.Next()
	if err != nil {
		s.reopen(tx)
		if err == io.EOF {
			writeText(w, http.StatusBadRequest, msgNoFlowFileSent)
			return
		}
		s.badBody(w, tx, err)
		return
	}
	staged, err := s.queues.Stage(ctx, tx.port, tx.id, &packets{first: first, dec: dec})
	if err == nil && !dec.Done() {
		// The queue returned before the end of the body; what it staged
		// cannot be what the client sent.
		s.queues.Discard(staged)
		staged, err = nil, errors.New("the queue stopped reading before the end of the body")
	}
	if err != nil {
		s.reopen(tx)
		switch derr := dec.Err(); {
		case derr != nil:
			s.badBody(w, tx, derr)
		case s.isGone(tx):
			result(w, http.StatusNotFound, CodeAbort, msgTransactionNotFound, 0) // canceled meanwhile
		default:
			s.queueFailure(w, tx, "stage", err)
		}
		return
	}
	if !s.hold(tx, staged, nil, dec.Count(), dec.Checksum()) {
		s.queues.Discard(staged)
		result(w, http.StatusNotFound, CodeAbort, msgTransactionNotFound, 0)
		return
	}
	s.log.Debug("site-to-site flow files staged", "tx", tx.id, "port", tx.port, "flowfiles", dec.Count(), "bytes", dec.Bytes())
	s.commonHeaders(w, req.version)
	noCache(w)
	writeText(w, http.StatusAccepted, codec.FormatChecksum(dec.Checksum()))
}

// packets hands Stage the packet already read (to tell an empty body from
// a non-empty one before staging) and then the rest of the body.
type packets struct {
	first *codec.Packet
	dec   *codec.Decoder
}

func (p *packets) Next() (*codec.Packet, error) {
	if f := p.first; f != nil {
		p.first = nil
		return f, nil
	}
	return p.dec.Next()
}

// badBody answers a push body that could not be decoded (or read).
func (s *Server) badBody(w http.ResponseWriter, tx *transaction, err error) {
	s.log.Info("site-to-site push refused", "tx", tx.id, "port", tx.port, "err", err)
	msg := "Failed to read the flow files: " + err.Error()
	if codec.IsInputError(err) {
		msg = "Invalid flow file data: " + err.Error()
	}
	result(w, http.StatusBadRequest, CodeAbort, msg, 0)
}

// queueFailure answers an error from Queues or Ports: NiFi's status for
// the errors it names, 500 {250} otherwise.
func (s *Server) queueFailure(w http.ResponseWriter, tx *transaction, op string, err error) {
	switch {
	case errors.Is(err, ErrUnknownPort):
		result(w, http.StatusNotFound, CodeUnknownPort, "Received unknown port identifier: "+tx.port, 0)
	case errors.Is(err, ErrPortNotRunning):
		result(w, http.StatusServiceUnavailable, CodePortNotInValidState, "Port not running", 0)
	case errors.Is(err, ErrDestinationFull):
		result(w, http.StatusServiceUnavailable, CodePortsDestinationFull, "Received port identifier "+tx.port+", but its destination is full", 0)
	case errors.Is(err, ErrUnavailable):
		s.log.Info("site-to-site transaction failed; the client may retry", "op", op, "tx", tx.id, "port", tx.port, "err", err)
		result(w, http.StatusServiceUnavailable, CodeAbort, "The transaction could not be completed now; retry: "+err.Error(), 0)
	default:
		s.log.Error("site-to-site queue failure", "op", op, "tx", tx.id, "port", tx.port, "err", err)
		result(w, http.StatusInternalServerError, CodeAbort, msgServerException, 0)
	}
}

// transferFlowFiles answers GET .../output-ports/{port}/transactions/{tx}/flow-files:
// 200 with no body when there is nothing to send (the client sends no
// DELETE then, C12: the transaction stays open until it expires), else 202
// and the packets, streamed from the lease until a batch limit is reached
// or the queue has no more. The lease is then held until the DELETE.
func (s *Server) transferFlowFiles(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet { // the GET pattern also takes HEAD
		w.Header().Set("Allow", http.MethodGet)
		writeText(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	req, ctx, cancel, ok := s.beginExchange(w, r, OutputPort, "send flow files")
	if !ok {
		return
	}
	defer cancel()
	tx := req.tx
	lease, err := s.queues.Lease(ctx, tx.port, tx.id, req.hs.batch)
	if err != nil {
		s.reopen(tx)
		s.queueFailure(w, tx, "lease", err)
		return
	}
	ff, err := lease.Next(ctx)
	if err != nil {
		s.queues.Release(lease)
		s.reopen(tx)
		if err != io.EOF {
			if s.isGone(tx) {
				result(w, http.StatusNotFound, CodeAbort, msgTransactionNotFound, 0)
				return
			}
			s.queueFailure(w, tx, "lease", err)
			return
		}
		s.commonHeaders(w, req.version)
		noCache(w)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}

	s.commonHeaders(w, req.version)
	noCache(w)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusAccepted)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := codec.NewEncoder(bw, req.hs.compress)
	start := s.now()
	var sent int
	var bytes int64
	for {
		if err = enc.Encode(ff.Attributes, ff.Size, ff.Content); err != nil {
			break
		}
		sent++
		bytes += ff.Size
		if !s.morePull(start, sent, bytes, req.hs.batch) {
			break
		}
		if ff, err = lease.Next(ctx); err != nil {
			if err == io.EOF {
				err = nil
			}
			break
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		// The client cannot have a consistent batch: drop the transaction,
		// give the flowfiles back, and cut the response so that the client
		// sees an error rather than a short, well-formed stream.
		s.remove(tx)
		s.queues.Release(lease)
		s.log.Info("site-to-site pull failed", "tx", tx.id, "port", tx.port, "sent", sent, "err", err)
		panic(http.ErrAbortHandler)
	}
	// Held before the handler returns: the client cannot see the end of the
	// body (and send its DELETE) before that.
	if !s.hold(tx, nil, lease, sent, enc.Checksum()) {
		s.queues.Release(lease)
		panic(http.ErrAbortHandler)
	}
	s.log.Debug("site-to-site flow files sent", "tx", tx.id, "port", tx.port, "flowfiles", sent, "bytes", bytes)
}

// morePull is AbstractFlowFileServerProtocol.transferFlowFiles's test after
// each flowfile: stop once any batch limit the client set is reached; with
// none set, send for BatchDuration.
func (s *Server) morePull(start time.Time, sent int, bytes int64, b BatchLimits) bool {
	elapsed := s.now().Sub(start)
	if b.Count == 0 && b.Bytes == 0 && b.Duration == 0 {
		return elapsed < s.batch
	}
	return (b.Duration == 0 || elapsed < b.Duration) &&
		(b.Bytes == 0 || bytes < b.Bytes) &&
		(b.Count == 0 || sent < b.Count)
}

// extendTransaction answers PUT .../transactions/{tx}: the idle time starts
// again. Clients send it every TTL/2 while a body streams and until their
// DELETE.
func (s *Server) extendTransaction(w http.ResponseWriter, r *http.Request) {
	typ, ok := portTypeFromPath(r.PathValue("type"))
	if !ok {
		result(w, http.StatusNotFound, CodeAbort, msgPortNotFound, 0)
		return
	}
	req, ok := s.openTx(w, r, typ)
	if !ok {
		return
	}
	if !s.touch(req.tx) {
		result(w, http.StatusNotFound, CodeAbort, msgTransactionNotFound, 0)
		return
	}
	s.commonHeaders(w, req.version)
	noCache(w)
	result(w, http.StatusOK, CodeContinueTransaction, msgExtended, 0)
}

// endTransaction answers DELETE .../transactions/{tx}?responseCode=N
// [&checksum=C]: the end of a transaction, whichever way it ends.
func (s *Server) endTransaction(w http.ResponseWriter, r *http.Request) {
	typ, ok := portTypeFromPath(r.PathValue("type"))
	if !ok {
		result(w, http.StatusNotFound, CodeAbort, msgPortNotFound, 0)
		return
	}
	req, ok := s.openTx(w, r, typ)
	if !ok {
		return
	}
	q := r.URL.Query()
	v := q.Get("responseCode")
	if v == "" {
		result(w, http.StatusBadRequest, CodeAbort, msgResponseCodeMissing, 0)
		return
	}
	n, err := strconv.Atoi(v)
	code := ResponseCode(n)
	valid := err == nil && (code == CodeConfirmTransaction || code == CodeCancelTransaction ||
		typ == InputPort && code == CodeBadChecksum)
	if !valid {
		result(w, http.StatusBadRequest, CodeAbort, "responseCode "+v+" is invalid. ", 0)
		return
	}
	tx := req.tx

	if code == CodeCancelTransaction || code == CodeBadChecksum {
		// Cancel, or the client found our checksum wrong: roll back. A
		// streaming request is canceled and rolls back its own result.
		if snap, ok := s.remove(tx); ok {
			s.rollback(&snap, "canceled by the client ("+v+")")
		}
		msg := msgCanceled
		if code == CodeBadChecksum {
			msg = "" // NiFi's answer to 19 has no message
		}
		result(w, http.StatusOK, CodeCancelTransaction, msg, 0)
		return
	}

	// Confirm: only a held transaction has something to confirm. It leaves
	// the table now, whatever the outcome, so a second DELETE finds nothing.
	snap, state, ok := s.takeHeld(tx)
	if !ok {
		if state == txGone {
			result(w, http.StatusNotFound, CodeAbort, msgTransactionNotFound, 0)
		} else {
			stateConflict(w, state, "be confirmed")
		}
		return
	}
	if typ == InputPort {
		s.commitPush(w, r, req, &snap)
	} else {
		s.commitPull(w, r, req, &snap, q.Get("checksum"))
	}
}

// commitPush commits staged flowfiles: {13}, or {14} for back-pressure.
func (s *Server) commitPush(w http.ResponseWriter, r *http.Request, req txRequest, tx *transaction) {
	backoff, err := s.queues.Commit(r.Context(), tx.staged)
	if err != nil {
		s.rollback(tx, "commit failed")
		s.queueFailure(w, tx, "commit", err)
		return
	}
	code := CodeTransactionFinished
	if backoff {
		code = CodeTransactionFinishedButFull
	}
	s.log.Debug("site-to-site push committed", "tx", tx.id, "port", tx.port, "flowfiles", tx.count, "backoff", backoff)
	s.commonHeaders(w, req.version)
	noCache(w)
	result(w, http.StatusOK, code, "", tx.count)
}

// commitPull acks sent flowfiles once the client's checksum matches ours
// (compared as strings, as NiFi does); a mismatch is 400 {19} and the
// flowfiles go back to the queue.
func (s *Server) commitPull(w http.ResponseWriter, r *http.Request, req txRequest, tx *transaction, checksum string) {
	ours := codec.FormatChecksum(tx.crc)
	if checksum != ours {
		s.rollback(tx, "checksum mismatch")
		noCache(w)
		result(w, http.StatusBadRequest, CodeBadChecksum, fmt.Sprintf(
			"Sent data to peer but calculated CRC32 Checksum as %s while peer calculated CRC32 Checksum as %s; canceling transaction and rolling back session", ours, checksum), 0)
		return
	}
	if err := s.queues.Ack(r.Context(), tx.lease); err != nil {
		s.rollback(tx, "ack failed")
		s.queueFailure(w, tx, "ack", err)
		return
	}
	s.log.Debug("site-to-site pull confirmed", "tx", tx.id, "port", tx.port, "flowfiles", tx.count)
	s.commonHeaders(w, req.version)
	noCache(w)
	result(w, http.StatusOK, CodeConfirmTransaction, "", tx.count)
}
