package dr

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/durable"
	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// Paths of the DR API (under /weir-api, every call but GET Path needs the
// cluster key).
const (
	Path        = "/weir-api/dr"
	EntriesPath = Path + "/entries"  // GET ?after=N: the primary's log after N
	FollowPath  = Path + "/follow"   // POST {primary}: become a standby
	PromotePath = Path + "/promote"  // POST {force}: a standby becomes the primary
	FencePath   = Path + "/fence"    // POST {epoch, primary, index}: a promoted cluster fences us
	DemotePath  = Path + "/demote"   // POST {primary}: a fenced primary becomes a standby
	ContentPath = Path + "/content/" // GET {sha256}: bundle content kept in a file (a standby's fetcher)
)

// Status is GET /weir-api/dr.
type Status struct {
	store.DRState
	Role string `json:"role"`
	// Lag is the standby's lag as its leader sees it (absent elsewhere).
	Lag *Lag `json:"lag,omitempty"`
	// Unshipped counts, on a fenced cluster, its entries the promoted
	// cluster never had.
	Unshipped *int `json:"unshipped,omitempty"`
}

// FollowRequest makes a cluster a standby of Primary (URLs of its nodes).
type FollowRequest struct {
	Primary []string `json:"primary"`
}

// PromoteRequest promotes a standby. Without Force a primary that still
// answers as one is not replaced (fence it, or stop it, first).
type PromoteRequest struct {
	Force bool `json:"force,omitempty"`
}

// FenceRequest is the promoted cluster telling the old primary.
type FenceRequest struct {
	Epoch   int64    `json:"epoch"`
	Primary []string `json:"primary"`
	Index   uint64   `json:"index"`
}

// DemoteRequest makes a fenced cluster a standby (of Primary, default the
// cluster that fenced it).
type DemoteRequest struct {
	Primary []string `json:"primary,omitempty"`
}

// DemoteResult tells what the old primary had that was never shipped:
// saved in File (the commands, base64) before its state is replaced.
type DemoteResult struct {
	Unshipped int    `json:"unshipped"`
	From      uint64 `json:"from"`
	File      string `json:"file,omitempty"`
	Compacted bool   `json:"compacted,omitempty"`
}

// Routes adds the DR API to mux. actor names the caller.
func (d *DR) Routes(mux *http.ServeMux, actor func(*http.Request) string) {
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		s, err := d.State()
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		out := Status{DRState: s, Role: s.RoleName()}
		if s.RoleName() == command.RoleStandby && d.n.IsLeader() {
			l := d.LagNow()
			out.Lag = &l
		}
		if s.RoleName() == command.RoleFenced {
			if idx, _, _, _, err := d.n.LogEntries(s.Index, 1<<30, 1<<30); err == nil {
				n := len(idx)
				out.Unshipped = &n
			}
		}
		_ = httpwire.WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET "+EntriesPath, d.serveEntries)
	mux.HandleFunc("GET "+ContentPath+"{sha}", d.serveContent)
	mux.HandleFunc("POST "+FollowPath, func(w http.ResponseWriter, r *http.Request) {
		var req FollowRequest
		if err := readJSON(r, &req); err != nil {
			httpwire.WriteError(w, err)
			return
		}
		var urls []string
		for _, u := range req.Primary {
			if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
				urls = append(urls, u)
			}
		}
		if len(urls) == 0 {
			httpwire.WriteError(w, model.Invalid("Give the URLs of some of the primary's nodes."))
			return
		}
		d.propose(w, r, &command.SetDRRole{Role: command.RoleStandby, Primary: urls, At: d.now(), By: actor(r)})
	})
	mux.HandleFunc("POST "+PromotePath, func(w http.ResponseWriter, r *http.Request) {
		var req PromoteRequest
		s, ok := d.begin(w, r, &req)
		if !ok {
			return
		}
		if s.RoleName() != command.RoleStandby {
			httpwire.WriteError(w, model.Conflict("This cluster is "+s.RoleName()+", not a standby: there is nothing to promote."))
			return
		}
		if !req.Force {
			if who := d.livePrimary(r.Context(), s.Primary); who != "" {
				httpwire.WriteError(w, model.Conflict(fmt.Sprintf("The primary %s still answers as the primary: promoting now would leave two clusters taking writes until it is fenced. Stop it, or promote with force.", who)))
				return
			}
		}
		d.propose(w, r, &command.SetDRRole{Role: command.RolePrimary, Epoch: s.Epoch + 1, At: d.now(), By: actor(r)})
	})
	mux.HandleFunc("POST "+FencePath, func(w http.ResponseWriter, r *http.Request) {
		var req FenceRequest
		s, ok := d.begin(w, r, &req)
		if !ok {
			return
		}
		// Fenced already, or demoted since (a standby at this epoch):
		// nothing to do, and the promoted cluster stops asking.
		if (s.RoleName() == command.RoleFenced || s.RoleName() == command.RoleStandby) && s.Epoch >= req.Epoch {
			_ = httpwire.WriteJSON(w, http.StatusOK, Status{DRState: s, Role: s.RoleName()})
			return
		}
		d.propose(w, r, &command.SetDRRole{Role: command.RoleFenced, Epoch: req.Epoch, Primary: req.Primary, Index: req.Index, At: d.now(), By: actor(r)})
	})
	mux.HandleFunc("POST "+DemotePath, func(w http.ResponseWriter, r *http.Request) {
		var req DemoteRequest
		s, ok := d.begin(w, r, &req)
		if !ok {
			return
		}
		if s.RoleName() != command.RoleFenced {
			httpwire.WriteError(w, model.Conflict("Only a fenced cluster (a primary another cluster replaced) is demoted; this one is "+s.RoleName()+"."))
			return
		}
		primary := req.Primary
		if len(primary) == 0 {
			primary = s.Primary
		}
		res, err := d.saveUnshipped(s)
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		c := &command.SetDRRole{Role: command.RoleStandby, Epoch: s.Epoch, Primary: primary, At: d.now(), By: actor(r)}
		if err := d.n.ProposeAnywhere(r.Context(), c, nil); err != nil {
			httpwire.WriteError(w, err)
			return
		}
		_ = httpwire.WriteJSON(w, http.StatusOK, res)
	})
}

func (d *DR) now() int64 { return d.opt.Now().UnixMilli() }

// serveContent sends a standby content its log entries refer to but do
// not carry (bundle content kept in files beside the log).
func (d *DR) serveContent(w http.ResponseWriter, r *http.Request) {
	if d.opt.Content == nil {
		httpwire.WriteError(w, model.NotFound("This node keeps no content in files."))
		return
	}
	body, err := d.opt.Content(r.Context(), r.PathValue("sha"))
	if err != nil {
		httpwire.WriteError(w, err)
		return
	}
	defer body.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = io.Copy(w, body)
}

// ContentSource fetches content from the primary while this cluster is a
// standby (blobs.Source): the entries a standby applies refer to files
// its own nodes never received.
func (d *DR) ContentSource() func(ctx context.Context, sha string) (io.ReadCloser, error) {
	return func(ctx context.Context, sha string) (io.ReadCloser, error) {
		s, err := d.State()
		if err != nil {
			return nil, err
		}
		if s.RoleName() != command.RoleStandby {
			return nil, fs.ErrNotExist
		}
		var errs []error
		for _, u := range s.Primary {
			resp, err := d.request(ctx, http.MethodGet, u+ContentPath+sha, nil)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if resp.StatusCode == http.StatusOK {
				return resp.Body, nil
			}
			resp.Body.Close()
			errs = append(errs, fmt.Errorf("%s answered %d", u, resp.StatusCode))
		}
		return nil, fmt.Errorf("no primary node sent %s: %w", sha, errors.Join(errs...))
	}
}

// begin decodes a request's JSON body into req and reads the DR state;
// on failure it has answered.
func (d *DR) begin(w http.ResponseWriter, r *http.Request, req any) (store.DRState, bool) {
	if err := readJSON(r, req); err != nil {
		httpwire.WriteError(w, err)
		return store.DRState{}, false
	}
	s, err := d.State()
	if err != nil {
		httpwire.WriteError(w, err)
		return s, false
	}
	return s, true
}

func (d *DR) propose(w http.ResponseWriter, r *http.Request, c *command.SetDRRole) {
	var s store.DRState
	if err := d.n.ProposeAnywhere(r.Context(), c, &s); err != nil {
		httpwire.WriteError(w, err)
		return
	}
	_ = httpwire.WriteJSON(w, http.StatusOK, Status{DRState: s, Role: s.RoleName()})
}

// serveEntries is the primary's side of shipping: this node's applied
// entries after ?after, held up to Wait when there are none yet.
func (d *DR) serveEntries(w http.ResponseWriter, r *http.Request) {
	s, err := d.State()
	if err != nil {
		httpwire.WriteError(w, err)
		return
	}
	if !s.IsPrimary() {
		httpwire.WriteError(w, model.Conflict("This cluster is "+s.RoleName()+", not a primary: follow the primary instead."))
		return
	}
	q := r.URL.Query()
	after, err := strconv.ParseUint(q.Get("after"), 10, 64)
	if err != nil {
		httpwire.WriteError(w, model.Invalid("?after must be a log index."))
		return
	}
	maxBytes, _ := strconv.Atoi(q.Get("maxBytes"))
	if maxBytes <= 0 || maxBytes > 64<<20 {
		maxBytes = 4 << 20
	}
	if after < s.Since {
		// Entries before the promotion were applied as a standby.
		http.Error(w, fmt.Sprintf("this cluster is a primary from index %d on: take its snapshot", s.Since), http.StatusGone)
		return
	}
	if d.st.AppliedIndex() <= after {
		ctx, cancel := context.WithTimeout(r.Context(), d.opt.Wait)
		d.st.WaitApplied(ctx.Done(), after+1)
		cancel()
	}
	idx, data, last, applied, err := d.n.LogEntries(after, 10000, maxBytes)
	if err != nil {
		if errors.Is(err, cluster.ErrCompacted) {
			http.Error(w, err.Error(), http.StatusGone)
			return
		}
		httpwire.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(hdrApplied, strconv.FormatUint(applied, 10))
	w.Header().Set(hdrLast, strconv.FormatUint(last, 10))
	w.WriteHeader(http.StatusOK)
	_ = writeEntries(w, idx, data)
}

// livePrimary returns the URL of a node of urls that answers as a primary.
func (d *DR) livePrimary(ctx context.Context, urls []string) string {
	for _, u := range urls {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := d.request(cctx, http.MethodGet, strings.TrimRight(u, "/")+Path, nil)
		if err == nil {
			var st Status
			ok := resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil
			resp.Body.Close()
			if ok && st.Role == command.RolePrimary {
				cancel()
				return u
			}
		}
		cancel()
	}
	return ""
}

// fence tells the old primary that this cluster replaced it, until it
// has heard it.
func (d *DR) fence(ctx context.Context, s store.DRState) {
	body, _ := json.Marshal(FenceRequest{Epoch: s.Epoch, Primary: d.selfURLs(), Index: s.Index})
	for _, u := range s.Previous {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := d.request(cctx, http.MethodPost, strings.TrimRight(u, "/")+FencePath, bytes.NewReader(body))
		if err != nil {
			cancel()
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		if resp.StatusCode == http.StatusOK {
			d.mu.Lock()
			d.fenced = s.Epoch
			d.mu.Unlock()
			d.opt.Log.Warn("dr: the old primary is fenced", "old", u, "epoch", s.Epoch)
			return
		}
		d.opt.Log.Info("dr: the old primary refused to be fenced", "old", u, "status", resp.Status, "answer", strings.TrimSpace(string(msg)))
	}
}

// selfURLs are the API URLs of this cluster's members.
func (d *DR) selfURLs() []string {
	var out []string
	for _, n := range d.ownMembers() {
		if n.APIURL != "" {
			out = append(out, strings.TrimRight(n.APIURL, "/"))
		}
	}
	if len(out) == 0 && d.opt.Self != "" {
		out = []string{d.opt.Self}
	}
	return out
}

// saveUnshipped writes the entries after the fence's index (never
// shipped to the promoted cluster) to a file in the data directory, before
// a demotion replaces the state.
func (d *DR) saveUnshipped(s store.DRState) (DemoteResult, error) {
	res := DemoteResult{From: s.Index + 1}
	type entry struct {
		Index   uint64 `json:"index"`
		Type    string `json:"type"`
		Command string `json:"command"` // base64 of the command bytes
	}
	var out []entry
	after := s.Index
	for {
		idx, data, last, _, err := d.n.LogEntries(after, 10000, 64<<20)
		if err != nil {
			res.Compacted = true
			break
		}
		for i := range idx {
			typ := "?"
			if c, err := command.Decode(data[i]); err == nil {
				typ = c.Type().String()
			}
			out = append(out, entry{Index: idx[i], Type: typ, Command: base64.StdEncoding.EncodeToString(data[i])})
		}
		if last == after {
			break
		}
		after = last
	}
	res.Unshipped = len(out)
	if len(out) == 0 && !res.Compacted {
		return res, nil
	}
	b, err := json.MarshalIndent(map[string]any{"epoch": s.Epoch, "replacedBy": s.Primary, "from": res.From, "compacted": res.Compacted, "entries": out}, "", "  ")
	if err != nil {
		return res, err
	}
	res.File = filepath.Join(d.opt.DataDir, fmt.Sprintf("dr-unshipped-epoch-%d.json", s.Epoch))
	if err := durable.ReplaceFile(res.File, b, 0o600); err != nil {
		return res, fmt.Errorf("saving the unshipped entries: %w", err)
	}
	return res, nil
}

func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return model.Invalid(err.Error())
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return model.Invalid("The request body is not valid JSON: " + err.Error())
	}
	return nil
}
