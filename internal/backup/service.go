package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/weir-nifi/weir/internal/api"
	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// Path is where the backup endpoint lives.
const Path = api.Base + "/actuator/backup"

// Store is the state store backups are taken from. A backup is streamed
// from a copy of the store (see store.SnapshotCopy): a read transaction
// held for the whole stream would slow every commit meanwhile.
type Store interface {
	PointInTime() (p store.PointInTime, copied bool, err error)
	CopySnapshotInto(f *os.File, base int64) (*store.SnapshotCopy, error)
	StateHash() (hash string, index uint64, err error)
}

// hold starts a Config.Hold, if there is one.
func (s *Service) hold() (release func()) {
	if s.cfg.Hold == nil {
		return func() {}
	}
	return s.cfg.Hold()
}

// pointInTime takes the state a backup is written from, and warns when
// there was no room to copy it.
func (s *Service) pointInTime(kind string) (store.PointInTime, error) {
	p, copied, err := s.st.PointInTime()
	if err == nil && !copied {
		s.log.Warn("no room beside the store for a copy to back up from: streaming from a read transaction, commits will be slower until the backup ends",
			"kind", kind, "storeBytes", p.Size())
	}
	return p, err
}

// Node is what backups need from the cluster node.
type Node interface {
	ID() string
	IsLeader() bool
	ReadBarrier(ctx context.Context) error
}

// Config configures the service. Dir, Interval and Keep configure
// scheduled backups; they are off when Dir or Interval is empty.
type Config struct {
	Dir      string
	Interval time.Duration
	Keep     int
	// StallTimeout cuts off a download whose client takes nothing for
	// this long, releasing its copy of the store (DefaultStallTimeout).
	StallTimeout time.Duration
	// Content opens the content kept in files (bundles, queued
	// site-to-site chunks), which backups carry in their content section
	// (nil: the store has none).
	Content Content
	// Hold, when set, keeps content files the state lets go of from being
	// removed until release is called (blobs.Store.Hold): a backup holds
	// from its point in time until it has opened the files that state
	// refers to (a download) or written them (a backup on the node),
	// since relay traffic would otherwise remove them in between.
	Hold func() (release func())
	Log  *slog.Logger
	Now  func() time.Time
}

// DefaultKeep is how many scheduled backups are kept by default.
const DefaultKeep = 7

// Service takes backups: on request over HTTP, and on a schedule.
type Service struct {
	st     Store
	node   Node
	writes Writes // nil: the node does not count writes; never yield
	cfg    Config
	log    *slog.Logger

	runMu sync.Mutex // one backup into Dir at a time

	mu     sync.Mutex
	status Status
	// lastGen is the store's bundle generation when this service last
	// wrote a backup into Dir (lastGenKnown: it has since it started).
	lastGen      uint64
	lastGenKnown bool
}

// Kinds of backup, as status and metrics name them.
const (
	KindScheduled = "scheduled" // by the schedule, into Dir
	KindRequested = "requested" // by POST to the endpoint, into Dir
	KindDownload  = "download"  // streamed to a client
)

// ErrNoDir is returned when a backup into the backup directory is asked
// of a node that has none.
var ErrNoDir = errors.New("this node has no backup directory: start it with --backup-dir")

// Status is what the service reports to health and metrics.
type Status struct {
	// Last is the newest successful backup (by this node, or found in the
	// backup directory at start).
	Last     *Manifest     `json:"last,omitempty"`
	LastPath string        `json:"lastPath,omitempty"`
	LastSize int64         `json:"lastSizeBytes,omitempty"`
	LastTook time.Duration `json:"-"`
	LastKind string        `json:"lastKind,omitempty"` // scheduled | requested | download
	// LastError is the newest failure, if it came after the newest success.
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
	Succeeded   map[string]uint64
	Failed      map[string]uint64
	Skipped     uint64 // scheduled runs with nothing new to back up
}

// New builds the service.
func New(st Store, node Node, cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	writes, _ := node.(Writes)
	return &Service{st: st, node: node, writes: writes, cfg: cfg, log: cfg.Log,
		status: Status{Succeeded: map[string]uint64{}, Failed: map[string]uint64{}}}
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Status returns a copy of the current status.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.status
	out.Succeeded, out.Failed = copyMap(s.status.Succeeded), copyMap(s.status.Failed)
	if s.status.Last != nil {
		m := *s.status.Last
		out.Last = &m
	}
	return out
}

func copyMap(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *Service) succeeded(kind string, m Manifest, path string, size int64, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.Last, s.status.LastPath, s.status.LastSize, s.status.LastTook, s.status.LastKind = &m, path, size, took, kind
	s.status.LastError, s.status.LastErrorAt = "", time.Time{}
	s.status.Succeeded[kind]++
}

func (s *Service) failed(kind string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.LastError, s.status.LastErrorAt = err.Error(), s.cfg.Now()
	s.status.Failed[kind]++
}

// Handler serves GET /nifi-registry-api/actuator/backup: a consistent
// backup of the whole registry, streamed with its exact Content-Length.
// Unless ?consistency=stale it first waits until this node has applied
// every write acknowledged before the request.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !api.StaleOK(r) {
			if err := s.node.ReadBarrier(r.Context()); err != nil {
				httpwire.WriteError(w, err)
				return
			}
		}
		start := time.Now()
		release := s.hold()
		defer release()
		sn, err := s.pointInTime(KindDownload)
		if err != nil {
			s.failed(KindDownload, err)
			httpwire.WriteError(w, err)
			return
		}
		defer sn.Release()
		content := s.cfg.Content
		if r.URL.Query().Get("content") == "omit" {
			// A DR standby seeding itself takes the database only and
			// fetches the content files on its own.
			content = nil
		}
		p, err := Prepare(sn, s.node.ID(), s.cfg.Now(), content)
		release() // the files are open
		if err != nil {
			s.failed(KindDownload, err)
			httpwire.WriteError(w, err)
			return
		}
		defer p.Close()
		name := FileName(p.Manifest)
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.FormatInt(p.Size(), 10))
		h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
		h.Set("X-Weir-Backup-Index", strconv.FormatUint(p.Manifest.Index, 10))
		w.WriteHeader(http.StatusOK)
		n, err := p.WriteTo(newYieldWriter(newDeadlineWriter(w, p.Size(), start, s.cfg.StallTimeout), s.writes))
		if err != nil {
			// The client sees a short body (Content-Length promised more).
			s.failed(KindDownload, fmt.Errorf("streaming backup to %s: %w", r.RemoteAddr, err))
			s.log.Warn("backup download failed", "remote", r.RemoteAddr, "sent", n, "err", err)
			return
		}
		s.succeeded(KindDownload, p.Manifest, "", n, time.Since(start))
		s.log.Info("backup streamed", "remote", r.RemoteAddr, "index", p.Manifest.Index, "bytes", n,
			"took", time.Since(start).Round(time.Millisecond))
	})
}

// Taken is the answer to a backup request into the backup directory.
type Taken struct {
	Path      string   `json:"path"`
	SizeBytes int64    `json:"sizeBytes"`
	TookMs    int64    `json:"tookMs"`
	Manifest  Manifest `json:"manifest"`
}

// TakeHandler serves POST /nifi-registry-api/actuator/backup: a backup into
// the node's backup directory, now, answered with where it is and what it
// holds. A POST is a write, so a follower forwards it to the leader, which
// also takes the scheduled ones. It first waits until the node has applied
// every write acknowledged before the request.
func (s *Service) TakeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.node.ReadBarrier(r.Context()); err != nil {
			httpwire.WriteError(w, err)
			return
		}
		t, err := s.TakeNow()
		switch {
		case errors.Is(err, ErrNoDir):
			httpwire.WriteError(w, model.Conflict(err.Error()))
			return
		case err != nil:
			httpwire.WriteError(w, model.Errorf(model.KindInternal, "backup into %s failed: %v", s.cfg.Dir, err))
			return
		}
		_ = httpwire.WriteJSON(w, http.StatusOK, t)
	})
}

// FileName is the name a backup is saved under: its time and index, so
// names sort by time.
func FileName(m Manifest) string {
	return fmt.Sprintf("weir-backup-%s-%012d%s", m.CreatedAt.UTC().Format("20060102T150405.000Z"), m.Index, Ext)
}
