package server

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/weir-nifi/weir/internal/s2s/codec"
)

// Defaults for Options.
const (
	DefaultTTL             = 30 * time.Second // nifi.remote.input.http.transaction.ttl
	DefaultBatchDuration   = 5 * time.Second  // AbstractFlowFileServerProtocol.DEFAULT_BATCH_NANOS
	DefaultMaxTransactions = 10000
)

// Options configure a Server. Ports, Peers and Queues are required.
type Options struct {
	Ports      Ports
	Peers      Peers
	Queues     Queues
	Controller Controller
	Log        *slog.Logger

	// TTL is how long a transaction may sit idle (no request, no PUT)
	// before the reaper rolls it back. It is sent to clients in whole
	// seconds, which must be at least 2: NiFi's clients extend every
	// ttl/2 seconds in integer arithmetic and fail on 0. Default 30 s.
	TTL time.Duration
	// Now is the clock for idle times and pull batch durations; the
	// reaper's period is real time. Default time.Now.
	Now func() time.Time
	// Limits bound the attributes of each pushed packet; zero fields take
	// codec's defaults.
	Limits codec.Limits
	// BatchDuration is how long a pull keeps sending when the client sets
	// no batch limit. Default 5 s, as NiFi.
	BatchDuration time.Duration
	// ContextPaths are the proxy context paths a request may name in
	// X-ProxyContextPath, X-Forwarded-Context or X-Forwarded-Prefix
	// (NiFi's nifi.web.proxy.context.path); others are refused.
	ContextPaths []string
	// MaxTransactions bounds the transactions open at once; beyond it a
	// create is answered 503 and the client tries another peer.
	MaxTransactions int
	// NewID makes transaction ids; default random UUIDs, as NiFi.
	NewID func() string
}

// Server serves NiFi's HTTP site-to-site API. Mount it so that it sees the
// full path, /nifi-api/... included.
type Server struct {
	ports        Ports
	peers        Peers
	queues       Queues
	ctrl         Controller
	log          *slog.Logger
	ttlSec       int64
	now          func() time.Time
	limits       codec.Limits
	batch        time.Duration
	contextPaths map[string]bool
	maxTx        int
	newID        func() string
	mux          *http.ServeMux

	mu     sync.Mutex
	txs    map[string]*transaction
	closed bool

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New checks the options, starts the reaper (every TTL/2 seconds) and
// returns the server. Close stops it.
func New(o Options) (*Server, error) {
	if o.Ports == nil || o.Peers == nil || o.Queues == nil {
		return nil, errors.New("s2s server: Ports, Peers and Queues are required")
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	ttlSec := int64(o.TTL / time.Second)
	if ttlSec < 2 {
		return nil, errors.New("s2s server: the transaction TTL must be at least 2 s")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.BatchDuration <= 0 {
		o.BatchDuration = DefaultBatchDuration
	}
	if o.MaxTransactions <= 0 {
		o.MaxTransactions = DefaultMaxTransactions
	}
	if o.NewID == nil {
		o.NewID = uuid.NewString
	}
	s := &Server{
		ports: o.Ports, peers: o.Peers, queues: o.Queues, ctrl: o.Controller,
		log: o.Log, ttlSec: ttlSec, now: o.Now, limits: o.Limits, batch: o.BatchDuration,
		contextPaths: map[string]bool{}, maxTx: o.MaxTransactions, newID: o.NewID,
		mux: http.NewServeMux(), txs: map[string]*transaction{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	for _, p := range o.ContextPaths {
		s.contextPaths[p] = true
	}
	s.mux.HandleFunc("GET /nifi-api/site-to-site", s.siteToSite)
	s.mux.HandleFunc("GET /nifi-api/site-to-site/peers", s.listPeers)
	s.mux.HandleFunc("POST /nifi-api/data-transfer/{type}/{port}/transactions", s.createTransaction)
	s.mux.HandleFunc("POST /nifi-api/data-transfer/input-ports/{port}/transactions/{tx}/flow-files", s.receiveFlowFiles)
	s.mux.HandleFunc("GET /nifi-api/data-transfer/output-ports/{port}/transactions/{tx}/flow-files", s.transferFlowFiles)
	s.mux.HandleFunc("PUT /nifi-api/data-transfer/{type}/{port}/transactions/{tx}", s.extendTransaction)
	s.mux.HandleFunc("DELETE /nifi-api/data-transfer/{type}/{port}/transactions/{tx}", s.endTransaction)
	go s.reaper(time.Duration(ttlSec/2) * time.Second)
	return s, nil
}

// ServeHTTP routes a request under /nifi-api.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Close stops the reaper and rolls back every transaction: staged pushes
// are discarded and leases released. Requests still streaming are
// canceled; they roll back their own transactions as they end.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.mu.Lock()
		s.closed = true
		var dead []*transaction
		for id, tx := range s.txs {
			delete(s.txs, id)
			tx.gone = true
			if tx.cancel != nil {
				tx.cancel()
			}
			dead = append(dead, tx)
		}
		s.mu.Unlock()
		for _, tx := range dead {
			s.rollback(tx, "server closing")
		}
	})
	return nil
}

func (s *Server) reaper(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Reap()
		}
	}
}

// Reap rolls back the transactions idle for longer than the TTL and
// returns how many there were. The reaper calls it every TTL/2 seconds.
func (s *Server) Reap() int {
	now := s.now()
	var dead []*transaction
	s.mu.Lock()
	for id, tx := range s.txs {
		if s.expired(tx, now) {
			delete(s.txs, id)
			tx.gone = true
			dead = append(dead, tx)
		}
	}
	s.mu.Unlock()
	for _, tx := range dead {
		s.rollback(tx, "expired")
	}
	return len(dead)
}

// Transactions returns the number of transactions open.
func (s *Server) Transactions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.txs)
}
