// Package dr makes a Weir cluster a disaster-recovery standby of another:
// the standby's leader pulls the primary's committed log entries over the
// primary's API (any node of it) and replicates them through its own Raft
// log as DRApply commands, which apply the primary's commands in the
// primary's order (store.drApply), so the standby's registry, queues,
// users and keys equal the primary's at the index it reached. A standby
// that is new, reset or too far behind is seeded from the primary's
// backup stream (a Raft restore of its snapshot frame). Promotion raises
// an epoch kept in the replicated state; the promoted cluster then fences
// the old primary (it refuses writes) as soon as it can reach it, and
// `weir dr demote` turns the old primary into a standby after saving the
// entries it never shipped. See docs/dr.md.
package dr

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/store"
)

// Node is what DR needs from the Raft node (cluster.Node).
type Node interface {
	IsLeader() bool
	ProposeAnywhere(ctx context.Context, c command.Command, out any) error
	LogEntries(after uint64, max, maxBytes int) (idx []uint64, data [][]byte, last, applied uint64, err error)
	InstallSnapshot(r io.Reader, size int64, timeout time.Duration) error
	Members() map[string]string
}

// Options configure DR; zero fields take defaults.
type Options struct {
	// Key is the cluster key: DR clusters share it, and each calls the
	// other with its admin token.
	Key []byte
	// Self is this node's public API URL (told to an old primary when
	// fencing it, as where writes go now).
	Self string
	// DataDir holds the reports of entries a demoted primary never
	// shipped.
	DataDir string
	HTTP    *http.Client
	Log     *slog.Logger
	// BatchBytes bounds one DRApply (default 4 MiB).
	BatchBytes int
	// Wait is how long the primary holds a request for new entries when
	// it has none (default 1 s).
	Wait time.Duration
	Now  func() time.Time
	// Content opens bundle content kept in a file by its SHA-256, for a
	// standby that asks (registry.Service.OpenContent).
	Content func(ctx context.Context, sha string) (io.ReadCloser, error)
}

// DR runs a cluster's side of disaster recovery on one node.
type DR struct {
	n   Node
	st  *store.Store
	opt Options

	mu     sync.Mutex
	lag    Lag
	fenced int64 // the epoch this node has fenced the old primary with
}

// Lag is what the standby's leader knows of how far behind it is.
type Lag struct {
	// PrimaryIndex is the primary's applied index at the last answer,
	// Index the primary index this standby stands at.
	PrimaryIndex uint64 `json:"primaryIndex"`
	Index        uint64 `json:"index"`
	Entries      uint64 `json:"entries"`
	// Seconds is how long the standby has been behind the primary's
	// applied index (0 when it has everything the primary had at the
	// last answer): the window of data at risk.
	Seconds     float64   `json:"seconds"`
	behindSince time.Time // zero when caught up
	LastContact time.Time `json:"lastContact,omitzero"`
	// Error is the last failure to reach or follow the primary.
	Error string `json:"error,omitempty"`
	// Seeds counts the snapshots installed from the primary.
	Seeds int `json:"seeds"`
}

// New returns DR for a node; Run starts its loops.
func New(n Node, st *store.Store, opt Options) *DR {
	if opt.HTTP == nil {
		opt.HTTP = &http.Client{Timeout: 0}
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.BatchBytes <= 0 {
		opt.BatchBytes = 4 << 20
	}
	if opt.Wait <= 0 {
		opt.Wait = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &DR{n: n, st: st, opt: opt}
}

// State reads the replicated DR role.
func (d *DR) State() (store.DRState, error) {
	var s store.DRState
	err := d.st.Read(func(tx *store.Tx) (err error) { s, err = tx.DR(); return })
	return s, err
}

// WritesRefused refuses writes on a cluster that is not a primary, before
// anything is proposed. Apply refuses them too; this only answers sooner.
func (d *DR) WritesRefused() error {
	s, err := d.State()
	if err != nil {
		return nil
	}
	return s.WritesRefused()
}

// LagNow is the standby's lag as this node (its leader) sees it.
func (d *DR) LagNow() Lag {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.lag
	if !l.behindSince.IsZero() {
		l.Seconds = d.opt.Now().Sub(l.behindSince).Seconds()
	}
	return l
}

// Run follows the primary while this node leads a standby, and fences the
// old primary while it leads a promoted cluster, until ctx ends.
func (d *DR) Run(ctx context.Context) {
	for ctx.Err() == nil {
		s, err := d.State()
		switch {
		case err != nil || !d.n.IsLeader():
		case s.RoleName() == command.RoleStandby:
			d.follow(ctx)
		case s.IsPrimary() && len(s.Previous) > 0 && d.fencedEpoch() < s.Epoch:
			d.fence(ctx, s)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (d *DR) fencedEpoch() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fenced
}

func (d *DR) setError(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		d.lag.Error = ""
	} else {
		d.lag.Error = err.Error()
	}
}
