package relay

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/s2s/queue"
)

// AdminPath is where ports are configured:
//
//	GET    /weir-api/ports            ports with their queues (any node)
//	POST   /weir-api/ports            create {name, kind, from, comments, maxFlowFiles, maxBytes, maxAge, ordered}
//	GET    /weir-api/ports/{id}       one port
//	PUT    /weir-api/ports/{id}       change {enabled, comments, maxFlowFiles, maxBytes, maxAge, ordered}
//	DELETE /weir-api/ports/{id}       delete (?force=true drops queued flowfiles)
//
// Writes are replicated commands, proposed from whichever node gets them;
// reads wait for the node to have applied every earlier write.
const AdminPath = "/weir-api/ports"

// CreateRequest creates a port. From names (or is the id of) the input
// port an output port is fed from.
type CreateRequest struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	From         string `json:"from,omitempty"`
	Comments     string `json:"comments,omitempty"`
	MaxFlowFiles int64  `json:"maxFlowFiles,omitempty"`
	MaxBytes     int64  `json:"maxBytes,omitempty"`
	// MaxAge (milliseconds, input ports) expires flowfiles that long
	// after their push committed; 0 keeps them until pulled.
	MaxAge int64 `json:"maxAge,omitempty"`
	// Ordered (output ports) hands flowfiles out strictly in queue order,
	// one pull at a time; otherwise concurrent pulls share the queue.
	Ordered bool `json:"ordered,omitempty"`
}

// UpdateRequest changes the fields it sets.
type UpdateRequest struct {
	Enabled      *bool   `json:"enabled,omitempty"`
	Comments     *string `json:"comments,omitempty"`
	MaxFlowFiles *int64  `json:"maxFlowFiles,omitempty"`
	MaxBytes     *int64  `json:"maxBytes,omitempty"`
	MaxAge       *int64  `json:"maxAge,omitempty"`
	Ordered      *bool   `json:"ordered,omitempty"`
}

// Routes adds the admin API to mux. actor names who made a request.
func (r *Relay) Routes(mux *http.ServeMux, actor func(*http.Request) string) {
	mux.HandleFunc("GET "+AdminPath, func(w http.ResponseWriter, req *http.Request) {
		if err := r.c.ReadBarrier(req.Context()); err != nil {
			writeError(w, err)
			return
		}
		ps, err := r.Status()
		if err != nil {
			writeError(w, err)
			return
		}
		if ps == nil {
			ps = []PortStatus{}
		}
		writeJSON(w, http.StatusOK, ps)
	})
	mux.HandleFunc("GET "+AdminPath+"/{id}", func(w http.ResponseWriter, req *http.Request) {
		if err := r.c.ReadBarrier(req.Context()); err != nil {
			writeError(w, err)
			return
		}
		p, err := r.find(req.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("POST "+AdminPath, func(w http.ResponseWriter, req *http.Request) {
		var cr CreateRequest
		if err := decode(req, &cr); err != nil {
			writeError(w, err)
			return
		}
		cmd := &command.CreatePort{ID: uuid.NewString(), Name: strings.TrimSpace(cr.Name), Kind: cr.Kind,
			Comments: cr.Comments, MaxFlowFiles: cr.MaxFlowFiles, MaxBytes: cr.MaxBytes,
			At: r.now(), Actor: actor(req)}
		if cmd.Name == "" {
			writeError(w, model.Invalid("A port needs a name."))
			return
		}
		if cr.MaxAge < 0 || (cr.MaxAge > 0 && cr.Kind != command.PortInput) {
			writeError(w, model.Invalid("maxAge is a number of milliseconds, for input ports."))
			return
		}
		if cr.Ordered && cr.Kind != command.PortOutput {
			writeError(w, model.Invalid("ordered is for output ports."))
			return
		}
		if cr.From != "" {
			if err := r.c.ReadBarrier(req.Context()); err != nil {
				writeError(w, err)
				return
			}
			src, err := r.find(cr.From)
			if err != nil {
				writeError(w, err)
				return
			}
			cmd.From = src.ID
		}
		var p queue.Port
		if err := r.c.ProposeAnywhere(req.Context(), cmd, &p); err != nil {
			writeError(w, err)
			return
		}
		// Retention (level 5) and order (level 7) are commands of their
		// own: a cluster with a voter on an older build refuses them, and
		// the port, new and unknown to anyone, goes again rather than stay
		// without them.
		var more []command.Command
		if cr.MaxAge > 0 {
			more = append(more, &command.SetPortRetention{ID: p.ID, MaxAge: cr.MaxAge, At: cmd.At, Actor: cmd.Actor})
		}
		if cr.Ordered {
			more = append(more, &command.SetPortOrder{ID: p.ID, Ordered: true, At: cmd.At, Actor: cmd.Actor})
		}
		for _, c := range more {
			if err := r.c.ProposeAnywhere(req.Context(), c, &p); err != nil {
				if derr := r.c.ProposeAnywhere(context.WithoutCancel(req.Context()), &command.DeletePort{ID: p.ID, Actor: cmd.Actor}, nil); derr != nil {
					r.opt.Log.Warn("site-to-site port created without its "+c.Type().String()+", and not deleted", "port", p.Name, "err", derr)
				}
				writeError(w, err)
				return
			}
		}
		w.Header().Set("Location", AdminPath+"/"+p.ID)
		writeJSON(w, http.StatusCreated, p)
	})
	mux.HandleFunc("PUT "+AdminPath+"/{id}", func(w http.ResponseWriter, req *http.Request) {
		var ur UpdateRequest
		if err := decode(req, &ur); err != nil {
			writeError(w, err)
			return
		}
		var p queue.Port
		cmd := &command.UpdatePort{ID: req.PathValue("id"), Enabled: ur.Enabled, Comments: ur.Comments,
			MaxFlowFiles: ur.MaxFlowFiles, MaxBytes: ur.MaxBytes, At: r.now(), Actor: actor(req)}
		if ur.MaxAge != nil && *ur.MaxAge < 0 {
			writeError(w, model.Invalid("maxAge is a number of milliseconds, 0 for no retention."))
			return
		}
		var cmds []command.Command
		if ur.Enabled != nil || ur.Comments != nil || ur.MaxFlowFiles != nil || ur.MaxBytes != nil || (ur.MaxAge == nil && ur.Ordered == nil) {
			cmds = append(cmds, cmd)
		}
		if ur.MaxAge != nil {
			cmds = append(cmds, &command.SetPortRetention{ID: cmd.ID, MaxAge: *ur.MaxAge, At: cmd.At, Actor: cmd.Actor})
		}
		if ur.Ordered != nil {
			cmds = append(cmds, &command.SetPortOrder{ID: cmd.ID, Ordered: *ur.Ordered, At: cmd.At, Actor: cmd.Actor})
		}
		for _, c := range cmds {
			if err := r.c.ProposeAnywhere(req.Context(), c, &p); err != nil {
				writeError(w, err)
				return
			}
		}
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("DELETE "+AdminPath+"/{id}", func(w http.ResponseWriter, req *http.Request) {
		force, _ := strconv.ParseBool(req.URL.Query().Get("force"))
		var p queue.Port
		cmd := &command.DeletePort{ID: req.PathValue("id"), Force: force, Actor: actor(req)}
		if err := r.c.ProposeAnywhere(req.Context(), cmd, &p); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
}

// find returns the port with id or name ref (input ports first: a name
// shared by an input and an output port means the input one, which is
// what "from" refers to).
func (r *Relay) find(ref string) (PortStatus, error) {
	ps, err := r.Status()
	if err != nil {
		return PortStatus{}, err
	}
	for _, p := range ps {
		if p.ID == ref {
			return p, nil
		}
	}
	for _, kind := range []string{command.PortInput, command.PortOutput} {
		for _, p := range ps {
			if p.Name == ref && p.Kind == kind {
				return p, nil
			}
		}
	}
	return PortStatus{}, model.NotFound("No site-to-site port has the id or name '" + ref + "'.")
}

func decode(req *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(req.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return model.Invalid("Cannot read the request body: " + err.Error())
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers as the rest of Weir does: text/plain with the status
// of the error's kind.
func writeError(w http.ResponseWriter, err error) {
	var me *model.Error
	if !errors.As(err, &me) {
		me = model.Errorf(model.KindInternal, "%v", err)
	}
	if me.Kind == model.KindUnavailable && me.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((me.RetryAfter+time.Second-1)/time.Second)))
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(me.Status())
	_, _ = io.WriteString(w, me.Msg)
}
