package server

import (
	"context"
	"log/slog"
	"time"
)

// txState is where a transaction is in its life. A transaction is removed
// from the table when it ends (commit, cancel, expiry); it is never in a
// "committing" state, so a second DELETE finds nothing.
type txState int

const (
	// txOpen: created, nothing held. An empty pull or a refused push body
	// leaves a transaction open, as in NiFi.
	txOpen txState = iota
	// txBusy: a flow-files request is streaming. It is not reaped (NiFi
	// does not check the TTL while a body streams); PUT extends it and a
	// cancel stops it.
	txBusy
	// txHeld: push flowfiles are staged, or pulled flowfiles were sent and
	// their lease is held, waiting for the client's DELETE.
	txHeld
	// txGone is never a transaction's state; takeHeld reports it for one
	// that left the table.
	txGone
)

func (st txState) String() string {
	return [...]string{"open", "busy", "held", "gone"}[st]
}

// transaction is one site-to-site transaction, bound to the port and
// direction it was created for. Its fields are guarded by Server.mu.
type transaction struct {
	id      string
	port    string
	typ     PortType
	state   txState
	touched time.Time          // the start of the idle time
	cancel  context.CancelFunc // of the streaming request, while busy
	gone    bool               // removed from the table; whoever holds it cleans up

	// Held (state txHeld) only.
	staged Staged // push
	lease  Lease  // pull
	count  int    // flowfiles received or sent
	crc    uint32 // checksum of their uncompressed packet bytes
}

// expired is HttpRemoteSiteListener's test: whole seconds idle greater
// than the TTL, so expiry comes after at least TTL+1 s. Busy transactions
// do not expire.
func (s *Server) expired(tx *transaction, now time.Time) bool {
	return tx.state != txBusy && int64(now.Sub(tx.touched)/time.Second) > s.ttlSec
}

// lookup returns the live transaction id bound to port and typ, or nil.
// An expired one found here is removed and rolled back at once rather than
// left to the reaper.
func (s *Server) lookup(id, port string, typ PortType) (*transaction, txState) {
	s.mu.Lock()
	tx := s.txs[id]
	if tx == nil {
		s.mu.Unlock()
		return nil, 0
	}
	if s.expired(tx, s.now()) {
		delete(s.txs, id)
		tx.gone = true
		s.mu.Unlock()
		s.rollback(tx, "expired")
		return nil, 0
	}
	state := tx.state
	s.mu.Unlock()
	if tx.port != port || tx.typ != typ {
		return nil, 0
	}
	return tx, state
}

// begin marks an open transaction busy with a streaming request; false if
// it is not open (or no longer in the table).
func (s *Server) begin(tx *transaction, cancel context.CancelFunc) (txState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tx.gone {
		return 0, false
	}
	if tx.state != txOpen {
		return tx.state, false
	}
	tx.state = txBusy
	tx.cancel = cancel
	return txOpen, true
}

// reopen returns a busy transaction whose request failed or found nothing
// to open. Nothing is held; the idle time starts again.
func (s *Server) reopen(tx *transaction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx.state = txOpen
	tx.cancel = nil
	tx.touched = s.now()
}

// hold makes a busy transaction held by what its request produced; false
// if the transaction was canceled or the server closed meanwhile, and the
// caller must then roll back what it holds.
func (s *Server) hold(tx *transaction, staged Staged, lease Lease, count int, crc uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx.cancel = nil
	if tx.gone {
		return false
	}
	tx.state = txHeld
	tx.staged, tx.lease, tx.count, tx.crc = staged, lease, count, crc
	tx.touched = s.now()
	return true
}

// remove takes a transaction out of the table for good and returns it as
// it was (its state and handles), or false if it was already gone. A busy
// transaction's request is canceled; it rolls back what it produces.
func (s *Server) remove(tx *transaction) (transaction, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tx.gone {
		return transaction{}, false
	}
	delete(s.txs, tx.id)
	tx.gone = true
	if tx.cancel != nil {
		tx.cancel()
	}
	snap := *tx
	tx.staged, tx.lease = nil, nil
	return snap, true
}

// isGone reports whether the transaction left the table (canceled,
// expired, or the server closed).
func (s *Server) isGone(tx *transaction) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return tx.gone
}

// takeHeld removes a held transaction from the table and returns it as it
// was; otherwise it changes nothing and returns the state that prevents it.
func (s *Server) takeHeld(tx *transaction) (transaction, txState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case tx.gone:
		return transaction{}, txGone, false
	case tx.state != txHeld:
		return transaction{}, tx.state, false
	}
	delete(s.txs, tx.id)
	tx.gone = true
	snap := *tx
	tx.staged, tx.lease = nil, nil
	return snap, txHeld, true
}

// touch restarts the idle time (PUT).
func (s *Server) touch(tx *transaction) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tx.gone {
		return false
	}
	tx.touched = s.now()
	return true
}

// rollback gives back what a removed transaction held.
func (s *Server) rollback(tx *transaction, why string) {
	level := slog.LevelInfo
	switch {
	case tx.staged != nil:
		s.queues.Discard(tx.staged)
		tx.staged = nil
	case tx.lease != nil:
		s.queues.Release(tx.lease)
		tx.lease = nil
	default:
		level = slog.LevelDebug // nothing was held (an empty pull, an idle create)
	}
	s.log.Log(context.Background(), level, "site-to-site transaction rolled back",
		"tx", tx.id, "port", tx.port, "type", tx.typ.String(), "state", tx.state.String(), "flowfiles", tx.count, "reason", why)
}
