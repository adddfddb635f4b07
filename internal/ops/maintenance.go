package ops

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/api"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// MaintenanceStatus is the switch as the endpoint and health report it.
type MaintenanceStatus struct {
	Enabled bool   `json:"enabled"`
	Reason  string `json:"reason,omitempty"`
	// Since is when the switch was last turned on or off (epoch ms).
	Since    int64  `json:"since,omitempty"`
	SinceISO string `json:"sinceIso,omitempty"`
	By       string `json:"by,omitempty"`
	// AppliedOn and Pending are only in the answer to a change: the
	// members that had applied it when the answer was sent, and those that
	// had not after a second (unreachable or far behind).
	AppliedOn []string `json:"appliedOn,omitempty"`
	Pending   []string `json:"pending,omitempty"`
}

// MaintenanceRequest is the POST body. "enabled" is required; "by" names
// the operator and is only used for unauthenticated callers (with security
// on, the caller's identity is recorded instead).
type MaintenanceRequest struct {
	Enabled *bool   `json:"enabled"`
	Reason  *string `json:"reason,omitempty"`
	By      *string `json:"by,omitempty"`
}

const (
	maxReasonLen = 1000
	maxByLen     = 4096
	// confirmWait bounds how long a change waits for the other members.
	confirmWait = time.Second
)

// Maintenance reads the switch from the local replica.
func (o *Ops) Maintenance() (MaintenanceStatus, error) {
	var m store.Maintenance
	err := o.st.Read(func(tx *store.Tx) error {
		var err error
		m, err = tx.Maintenance()
		return err
	})
	return statusOf(m), err
}

func statusOf(m store.Maintenance) MaintenanceStatus {
	s := MaintenanceStatus{Enabled: m.On, Reason: m.Reason, Since: m.Since, By: m.By}
	if m.Since > 0 {
		s.SinceISO = time.UnixMilli(m.Since).UTC().Format(time.RFC3339Nano)
	}
	return s
}

func (o *Ops) serveMaintenanceGet(w http.ResponseWriter, r *http.Request) {
	m, err := o.Maintenance()
	if err != nil {
		httpwire.WriteError(w, err)
		return
	}
	_ = httpwire.WriteJSON(w, http.StatusOK, m)
}

// serveMaintenancePost changes the switch. It runs on the leader (the
// cluster layer forwards every POST under the API base there) and is not
// behind the API's maintenance gate.
func (o *Ops) serveMaintenancePost(w http.ResponseWriter, r *http.Request) {
	req, err := decodeMaintenance(r)
	if err != nil {
		httpwire.WriteError(w, err)
		return
	}
	by := "anonymous"
	if c, ok := api.CallerFrom(r.Context()); ok && !c.Anonymous {
		by = c.Identity
	} else if req.By != nil && strings.TrimSpace(*req.By) != "" {
		by = strings.TrimSpace(*req.By)
	}
	cur, err := o.Maintenance()
	if err != nil {
		httpwire.WriteError(w, err)
		return
	}
	if cur.Enabled == *req.Enabled && (!*req.Enabled || req.Reason == nil || *req.Reason == cur.Reason) {
		// Already so: keep the original time and operator.
		_ = httpwire.WriteJSON(w, http.StatusOK, cur)
		return
	}
	c := &command.SetMaintenance{On: *req.Enabled, By: by, At: o.opts.Now().UnixMilli()}
	if req.Reason != nil {
		c.Reason = strings.TrimSpace(*req.Reason)
	}
	v, err := o.node.Propose(r.Context(), c)
	if err != nil {
		httpwire.WriteError(w, err)
		return
	}
	m, ok := v.(store.Maintenance)
	if !ok {
		httpwire.WriteError(w, model.Errorf(model.KindInternal, "unexpected result %T", v))
		return
	}
	out := statusOf(m)
	out.AppliedOn, out.Pending = o.confirm(o.st.AppliedIndex())
	o.opts.Log.Info("maintenance switched", "enabled", m.On, "reason", m.Reason, "by", m.By,
		"appliedOn", out.AppliedOn, "pending", out.Pending)
	_ = httpwire.WriteJSON(w, http.StatusOK, out)
}

// confirm waits up to confirmWait until every member has applied idx
// (followers learn the commit with the next heartbeat, within tens of
// milliseconds) and reports who has.
func (o *Ops) confirm(idx uint64) (applied, pending []string) {
	deadline := time.Now().Add(confirmWait)
	for {
		cs, err := o.node.ClusterStatus()
		applied, pending = nil, nil
		if err == nil {
			for _, m := range cs.Members {
				if m.Reachable && m.AppliedIndex >= idx {
					applied = append(applied, m.ID)
				} else {
					pending = append(pending, m.ID)
				}
			}
		}
		if (err == nil && len(pending) == 0) || time.Now().After(deadline) {
			return applied, pending
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func decodeMaintenance(r *http.Request) (*MaintenanceRequest, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil {
		return nil, model.Invalid("Unable to read request body: " + err.Error())
	}
	if len(b) > 64<<10 {
		return nil, &model.Error{Kind: model.KindTooLarge, Msg: "Maintenance request exceeds 65536 bytes"}
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil, model.Invalid(`Maintenance request cannot be null: send {"enabled":true,"reason":"..."} or {"enabled":false}`)
	}
	var req MaintenanceRequest
	if err := json.Unmarshal(b, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, model.Invalid("Unable to process maintenance request: field '" + te.Field + "' must not be a JSON " + te.Value)
		}
		return nil, model.Invalid("Unable to parse maintenance request as JSON: " + err.Error())
	}
	if req.Enabled == nil {
		return nil, model.Invalid(`Maintenance request must say "enabled": true or false`)
	}
	if req.Reason != nil && len(*req.Reason) > maxReasonLen {
		return nil, model.Invalid("Maintenance reason must be at most 1000 characters")
	}
	if req.By != nil && len(*req.By) > maxByLen {
		return nil, model.Invalid("Maintenance operator name must be at most 4096 characters")
	}
	return &req, nil
}
