package store

import (
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
)

// drKey holds the cluster's DR role in meta. It is this cluster's own
// (not in the state hash), so a standby's hash equals its primary's at the
// same primary index.
var drKey = []byte("dr")

// DRState is the cluster's disaster-recovery role.
type DRState struct {
	// Role is command.RolePrimary (also when empty), RoleStandby or
	// RoleFenced.
	Role  string `json:"role,omitempty"`
	Epoch int64  `json:"epoch,omitempty"`
	// Primary: for a standby the primary it follows; for a fenced
	// cluster the one that replaced it.
	Primary []string `json:"primary,omitempty"`
	// Index: for a standby the primary's log index its state stands at;
	// for a fenced cluster the last of its own entries the promoted
	// cluster had (later ones were never shipped).
	Index uint64 `json:"index,omitempty"`
	// Previous: for a promoted cluster, the primary it followed (to be
	// fenced when it comes back).
	Previous []string `json:"previous,omitempty"`
	// Since is the log index (of this cluster) from which this cluster
	// is a primary: a standby may follow it only from there on (earlier
	// entries were applied under another role).
	Since uint64 `json:"since,omitempty"`
	// NeedsSeed: a standby that must take the primary's snapshot before
	// it applies entries (it just followed, or was demoted).
	NeedsSeed bool   `json:"needsSeed,omitempty"`
	At        int64  `json:"at,omitempty"`
	By        string `json:"by,omitempty"`
}

// IsPrimary reports whether the cluster takes writes.
func (d DRState) IsPrimary() bool { return d.Role == "" || d.Role == command.RolePrimary }

// RoleName is the role, "primary" when unset.
func (d DRState) RoleName() string {
	if d.Role == "" {
		return command.RolePrimary
	}
	return d.Role
}

// WritesRefused is the refusal a non-primary answers writes with.
func (d DRState) WritesRefused() error {
	if d.IsPrimary() {
		return nil
	}
	where := strings.Join(d.Primary, ", ")
	msg := fmt.Sprintf("This cluster is a DR standby of %s: it serves reads only. Write to the primary.", where)
	if d.Role == command.RoleFenced {
		msg = fmt.Sprintf("This cluster was replaced as primary by %s (DR epoch %d) and refuses writes. Write there; `weir dr demote` makes this cluster its standby.", where, d.Epoch)
	}
	return &model.Error{Kind: model.KindUnavailable, Msg: msg, Reason: reasonDR + d.Role, NotApplied: true}
}

// reasonDR prefixes the model.Error Reason of a DR refusal.
const reasonDR = "dr."

// IsDRRefusal reports whether reason (a model.Error's) is a DR refusal:
// final for this cluster, however often the write is sent to its leader.
func IsDRRefusal(reason string) bool { return strings.HasPrefix(reason, reasonDR) }

// DR returns the cluster's DR role.
func (t *Tx) DR() (DRState, error) {
	var d DRState
	_, err := getJSON(t.b(tMeta), drKey, &d)
	return d, err
}

func (w wtx) dr() (DRState, error) {
	var d DRState
	_, err := getJSON(w.t(tMeta), drKey, &d)
	return d, err
}

// drLocal reports commands that are this cluster's own business, applied
// whatever its DR role: members, and the DR commands themselves.
func drLocal(c command.Command) bool {
	switch c.(type) {
	case *command.SetNode, *command.RemoveNode, *command.SetDRRole, *command.DRApply:
		return true
	}
	// The outbox's commands are not: a standby applies its primary's
	// (StartEvents, hook cursors, dead letters, compaction) with its
	// changes, so its outbox holds the same events under the same ids and
	// a promoted standby's hooks resume where the primary's stopped.
	return false
}

func (w wtx) setDRRole(c *command.SetDRRole) (any, error) {
	cur, err := w.dr()
	if err != nil {
		return nil, err
	}
	from := cur.RoleName()
	next := cur
	next.At, next.By = c.At, c.By
	bad := func() (any, error) {
		return nil, model.Conflict(fmt.Sprintf("This cluster is %s (DR epoch %d): it cannot become %s with epoch %d.", from, cur.Epoch, c.Role, c.Epoch))
	}
	switch c.Role {
	case command.RoleStandby:
		if len(c.Primary) == 0 {
			return nil, model.Invalid("A standby needs the primary's URLs.")
		}
		switch {
		case from == command.RolePrimary, from == command.RoleFenced, c.Reset:
		case from == command.RoleStandby && c.Index == cur.Index:
			// the same standby pointed at other URLs of its primary
		default:
			return bad()
		}
		next.Role, next.Primary, next.Index = command.RoleStandby, c.Primary, c.Index
		next.Epoch = max(cur.Epoch, c.Epoch)
		next.Previous, next.Since = nil, 0
		// Seeded when the state was just replaced; otherwise seeded
		// unless it was already a standby standing at Index.
		next.NeedsSeed = !c.Reset && !(from == command.RoleStandby && !cur.NeedsSeed)
	case command.RolePrimary:
		if from != command.RoleStandby || c.Epoch <= cur.Epoch {
			return bad()
		}
		next.Role, next.Epoch = command.RolePrimary, c.Epoch
		next.Previous, next.Primary, next.NeedsSeed = cur.Primary, nil, false
		next.Since = w.index
	case command.RoleFenced:
		switch {
		case from == command.RolePrimary && c.Epoch > cur.Epoch:
		case from == command.RoleFenced && c.Epoch >= cur.Epoch:
		default:
			return bad()
		}
		if len(c.Primary) == 0 {
			return nil, model.Invalid("A fenced cluster needs the URLs of the primary that replaced it.")
		}
		next.Role, next.Epoch, next.Primary, next.Index = command.RoleFenced, c.Epoch, c.Primary, c.Index
	default:
		return nil, model.Invalid(fmt.Sprintf("A DR role is %s, %s or %s, not %q.", command.RolePrimary, command.RoleStandby, command.RoleFenced, c.Role))
	}
	return next, putJSON(w.t(tMeta), drKey, next)
}

// DRApplied is what DRApply answers.
type DRApplied struct {
	Index   uint64 `json:"index"`
	Applied int    `json:"applied"`
}

// drApply applies a primary's entries on a standby (see command.DRApply).
func (w wtx) drApply(c *command.DRApply) (any, error) {
	cur, err := w.dr()
	if err != nil {
		return nil, err
	}
	if cur.RoleName() != command.RoleStandby {
		return nil, model.Conflict("This cluster is not a DR standby: it does not apply another cluster's log.")
	}
	entries, err := c.Entries()
	if err != nil {
		return nil, model.Invalid(err.Error())
	}
	res := DRApplied{}
	for i, data := range entries {
		idx := c.Indexes[i]
		if idx <= cur.Index {
			continue // a retried batch
		}
		inner, err := command.Decode(data)
		switch {
		case errors.Is(err, command.ErrUnknown):
			// A newer primary: stop before it, as for our own log
			// (the standby must be upgraded first).
			return nil, err
		case err != nil:
			// Refused as malformed by the primary too.
		case drLocal(inner):
			// The primary's members and DR role are its own.
		default:
			if err := checkArgs(inner); err == nil {
				if _, err := w.applyCommand(inner, true); err != nil {
					var me *model.Error
					if !errors.As(err, &me) {
						return nil, err
					}
					// Refused here as it was on the primary.
				}
			}
			res.Applied++
		}
		cur.Index = idx
	}
	cur.Index = max(cur.Index, c.Last)
	res.Index = cur.Index
	return res, putJSON(w.t(tMeta), drKey, cur)
}

// SetAppliedIndex records that the state stands at Raft index idx. Only
// for a state just restored from a snapshot whose frame carries another
// index (another cluster's, for a DR standby): Apply then takes the
// entries after idx.
func (s *Store) SetAppliedIndex(idx uint64) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(tMeta).Put(appliedKey, u64(idx)) }); err != nil {
		return err
	}
	s.generation.Add(1)
	s.applied.Store(idx)
	s.wake()
	return nil
}
