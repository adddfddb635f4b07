package webui

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/weir-nifi/weir/internal/flowdiff"
	"github.com/weir-nifi/weir/internal/model"
)

// bucketRow is a bucket in the list.
type bucketRow struct {
	ID, Name, Description string
	Created               int64
	// CanDelete: the caller's permissions (in answers when secured)
	// allow deleting; the link is not offered otherwise.
	CanDelete bool
}

func (u *UI) buckets(w http.ResponseWriter, r *http.Request) {
	var bs []model.Bucket
	if err := u.getJSON(r, apiPath("buckets"), &bs); err != nil {
		u.fail(w, r, err, Base+"/cluster")
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	sortBy := r.URL.Query().Get("sort")
	rows := filterBuckets(bs, q, sortBy)
	u.render(w, r, http.StatusOK, "buckets", page{Title: "Buckets", Nav: "buckets", Data: struct {
		Q, Sort   string
		Rows      []bucketRow
		Total     int
		CanCreate bool
	}{q, sortBy, rows, len(bs), u.mayCreateBuckets(r)}})
}

// filterBuckets keeps the buckets whose name or description contains q
// (case-insensitive) and sorts them: by name (default), "-name", "created"
// (oldest first) or "-created".
func filterBuckets(bs []model.Bucket, q, sortBy string) []bucketRow {
	lq := strings.ToLower(q)
	rows := make([]bucketRow, 0, len(bs))
	for _, b := range bs {
		row := bucketRow{ID: model.Deref(b.Identifier), Name: model.Deref(b.Name), Description: model.Deref(b.Description), Created: b.CreatedTimestamp,
			CanDelete: b.Permissions == nil || b.Permissions.CanDelete}
		if lq != "" && !strings.Contains(strings.ToLower(row.Name), lq) && !strings.Contains(strings.ToLower(row.Description), lq) {
			continue
		}
		rows = append(rows, row)
	}
	desc := strings.HasPrefix(sortBy, "-")
	key := strings.TrimPrefix(sortBy, "-")
	slices.SortStableFunc(rows, func(a, b bucketRow) int {
		c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		if key == "created" {
			c = cmp.Compare(a.Created, b.Created)
		}
		if desc {
			c = -c
		}
		return c
	})
	return rows
}

// mayCreateBuckets reads the caller's permission on /buckets (GET
// /access), to offer the form only to who may use it. When it cannot be
// read the form is offered: the API decides either way.
func (u *UI) mayCreateBuckets(r *http.Request) bool {
	var acc struct {
		ResourcePermissions struct {
			Buckets *model.Permissions `json:"buckets"`
		} `json:"resourcePermissions"`
	}
	if err := u.getJSON(r, apiPath("access"), &acc); err != nil || acc.ResourcePermissions.Buckets == nil {
		return true
	}
	return acc.ResourcePermissions.Buckets.CanWrite
}

// canWrite: the answer's permissions (always there, the caller's when
// secured) allow writing; nil allows (the API decides either way).
func canWrite(p *model.Permissions) bool { return p == nil || p.CanWrite }

func (u *UI) createBucket(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	body, _ := json.Marshal(map[string]any{"name": name, "description": r.PostFormValue("description")})
	a := u.call(r, http.MethodPost, apiPath("buckets"), body, nil)
	if err := a.err(); err != nil {
		u.fail(w, r, err, Base+"/")
		return
	}
	done(w, r, Base+"/", "Bucket “"+name+"” created")
}

func (u *UI) bucketOf(r *http.Request) (model.Bucket, error) {
	var b model.Bucket
	err := u.getJSON(r, apiPath("buckets", r.PathValue("b")), &b)
	return b, err
}

func (u *UI) bucket(w http.ResponseWriter, r *http.Request) {
	b, err := u.bucketOf(r)
	if err != nil {
		u.fail(w, r, err, Base+"/")
		return
	}
	var flows []model.VersionedFlow
	if err := u.getJSON(r, apiPath("buckets", r.PathValue("b"), "flows"), &flows); err != nil {
		u.fail(w, r, err, Base+"/")
		return
	}
	slices.SortFunc(flows, func(a, b model.VersionedFlow) int {
		return strings.Compare(strings.ToLower(model.Deref(a.Name)), strings.ToLower(model.Deref(b.Name)))
	})
	u.render(w, r, http.StatusOK, "bucket", page{Title: model.Deref(b.Name), Nav: "buckets", Data: struct {
		Bucket model.Bucket
		Flows  []model.VersionedFlow
	}{b, flows}})
}

// confirmation is a page that asks before an action.
type confirmation struct {
	Question, Action, Button, Back string
	Hidden                         map[string]string
	// Reason and Token ask for maintenance's reason and the admin token.
	Reason, Token bool
}

func (u *UI) confirmDeleteBucket(w http.ResponseWriter, r *http.Request) {
	b, err := u.bucketOf(r)
	if err != nil {
		u.fail(w, r, err, Base+"/")
		return
	}
	ver := "0"
	if b.Revision != nil && b.Revision.Version != nil {
		ver = strconv.FormatInt(*b.Revision.Version, 10)
	}
	u.render(w, r, http.StatusOK, "confirm", page{Title: "Delete bucket", Nav: "buckets", Data: confirmation{
		Question: "Delete the bucket “" + model.Deref(b.Name) + "” and every flow and version in it? This cannot be undone.",
		Action:   uiPath("buckets", r.PathValue("b"), "delete"), Button: "Delete bucket", Back: Base + "/",
		Hidden: map[string]string{"version": ver}}})
}

func (u *UI) deleteBucket(w http.ResponseWriter, r *http.Request) {
	p := apiPath("buckets", r.PathValue("b"))
	if v := r.PostFormValue("version"); v != "" {
		p += "?version=" + v
	}
	a := u.call(r, http.MethodDelete, p, nil, nil)
	if err := a.err(); err != nil {
		u.fail(w, r, err, Base+"/")
		return
	}
	done(w, r, Base+"/", "Bucket deleted")
}

func (u *UI) createFlow(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	body, _ := json.Marshal(map[string]any{"name": name, "description": r.PostFormValue("description")})
	back := uiPath("buckets", r.PathValue("b"))
	a := u.call(r, http.MethodPost, apiPath("buckets", r.PathValue("b"), "flows"), body, nil)
	if err := a.err(); err != nil {
		u.fail(w, r, err, back)
		return
	}
	done(w, r, back, "Flow “"+name+"” created")
}

// flowOf reads the bucket's flow named by the path.
func (u *UI) flowOf(r *http.Request) (model.VersionedFlow, error) {
	var f model.VersionedFlow
	err := u.getJSON(r, apiPath("buckets", r.PathValue("b"), "flows", r.PathValue("f")), &f)
	return f, err
}

func (u *UI) flow(w http.ResponseWriter, r *http.Request) {
	f, err := u.flowOf(r)
	if err != nil {
		u.fail(w, r, err, uiPath("buckets", r.PathValue("b")))
		return
	}
	var vs []model.SnapshotMetadata
	if err := u.getJSON(r, apiPath("buckets", r.PathValue("b"), "flows", r.PathValue("f"), "versions"), &vs); err != nil {
		u.fail(w, r, err, uiPath("buckets", r.PathValue("b")))
		return
	}
	slices.SortFunc(vs, func(a, b model.SnapshotMetadata) int { return int(b.Version) - int(a.Version) })
	u.render(w, r, http.StatusOK, "flow", page{Title: model.Deref(f.Name), Nav: "buckets", Data: struct {
		Flow     model.VersionedFlow
		Versions []model.SnapshotMetadata
		B, F     string
	}{f, vs, r.PathValue("b"), r.PathValue("f")}})
}

// maxImport bounds an imported file; the guard's body limits apply too.
const maxImport = 32 << 20

func (u *UI) importVersion(w http.ResponseWriter, r *http.Request) {
	back := uiPath("buckets", r.PathValue("b"), "flows", r.PathValue("f"))
	file, _, err := r.FormFile("file")
	if err != nil {
		u.fail(w, r, &apiError{Status: http.StatusBadRequest, Msg: "Choose a flow file (JSON) to import: " + err.Error()}, back)
		return
	}
	defer file.Close()
	body, err := io.ReadAll(io.LimitReader(file, maxImport+1))
	if err == nil && len(body) > maxImport {
		err = errors.New("the file is larger than 32 MiB")
	}
	if err != nil {
		u.fail(w, r, &apiError{Status: http.StatusBadRequest, Msg: "Reading the file: " + err.Error()}, back)
		return
	}
	hdr := http.Header{}
	if c := strings.TrimSpace(r.FormValue("comments")); c != "" {
		hdr.Set("Comments", c)
	}
	a := u.call(r, http.MethodPost, apiPath("buckets", r.PathValue("b"), "flows", r.PathValue("f"), "versions", "import"), body, hdr)
	if err := a.err(); err != nil {
		u.fail(w, r, err, back)
		return
	}
	var s model.Snapshot
	_ = json.Unmarshal(a.body, &s)
	what := "Version imported"
	if s.SnapshotMetadata != nil {
		what = "Imported as version " + strconv.Itoa(int(s.SnapshotMetadata.Version))
	}
	done(w, r, back, what)
}

// snapshotOf reads one version of the flow named by the path.
func (u *UI) snapshotOf(r *http.Request, v string) (model.Snapshot, error) {
	var s model.Snapshot
	err := u.getJSON(r, apiPath("buckets", r.PathValue("b"), "flows", r.PathValue("f"), "versions", v), &s)
	return s, err
}

// versionPage is the data of one version's page.
type versionPage struct {
	B, F     string
	Flow     model.VersionedFlow
	Meta     model.SnapshotMetadata
	Tree     *Tree
	Params   []ParamContext
	Versions int64
}

// versionData reads and builds what the version page shows.
func (u *UI) versionData(r *http.Request) (versionPage, error) {
	s, err := u.snapshotOf(r, r.PathValue("v"))
	if err != nil {
		return versionPage{}, err
	}
	g, err := decodeGroup(s.FlowContents)
	if err != nil {
		return versionPage{}, err
	}
	params, err := decodeParams(s.ParameterContexts)
	if err != nil {
		return versionPage{}, err
	}
	vp := versionPage{B: r.PathValue("b"), F: r.PathValue("f"), Tree: buildTree(g), Params: params}
	if s.Flow != nil {
		vp.Flow = *s.Flow
		vp.Versions = s.Flow.VersionCount
	}
	if s.SnapshotMetadata != nil {
		vp.Meta = *s.SnapshotMetadata
	}
	return vp, nil
}

func (u *UI) version(w http.ResponseWriter, r *http.Request) {
	vp, err := u.versionData(r)
	if err != nil {
		u.fail(w, r, err, uiPath("buckets", r.PathValue("b"), "flows", r.PathValue("f")))
		return
	}
	u.render(w, r, http.StatusOK, "version", page{Title: model.Deref(vp.Flow.Name) + " v" + strconv.Itoa(int(vp.Meta.Version)), Nav: "buckets", Data: vp})
}

// export hands on the API's export: the same JSON and file name.
func (u *UI) export(w http.ResponseWriter, r *http.Request) {
	a := u.call(r, http.MethodGet, apiPath("buckets", r.PathValue("b"), "flows", r.PathValue("f"), "versions", r.PathValue("v"), "export"), nil, nil)
	if err := a.err(); err != nil {
		u.fail(w, r, err, uiPath("buckets", r.PathValue("b"), "flows", r.PathValue("f")))
		return
	}
	for _, k := range []string{"Content-Type", "Content-Disposition", "Filename"} {
		if v := a.header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.body)
}

// change is a difference group as the diff page lists it.
type change struct {
	flowdiff.Group
	Mark Mark
	// Anchor is the list entry's id, for links from the picture.
	Anchor string
}

// diffPage is the data of the diff page.
type diffPage struct {
	B, F    string
	Flow    model.VersionedFlow
	A, Bv   int32
	Graph   Graph
	Changes []change
	// Counts of marked boxes, for the summary line.
	Added, Removed, Changed int
}

// diffData reads the two versions and the /diff endpoint's answer, and
// lays out the picture. The marks come only from the endpoint's answer,
// so the page shows the same differences as the API.
func (u *UI) diffData(r *http.Request) (diffPage, error) {
	q := r.URL.Query()
	va, errA := strconv.ParseInt(q.Get("a"), 10, 32)
	vb, errB := strconv.ParseInt(q.Get("b"), 10, 32)
	if errA != nil || errB != nil || va < 1 || vb < 1 {
		return diffPage{}, &apiError{Status: http.StatusBadRequest, Msg: "Pick two versions to compare (a and b are version numbers, 1 or more)."}
	}
	if va > vb {
		va, vb = vb, va
	}
	b, f := r.PathValue("b"), r.PathValue("f")
	var d model.FlowDifference
	if err := u.getJSON(r, apiPath("buckets", b, "flows", f, "diff", strconv.FormatInt(va, 10), strconv.FormatInt(vb, 10)), &d); err != nil {
		return diffPage{}, err
	}
	sa, err := u.snapshotOf(r, strconv.FormatInt(va, 10))
	if err != nil {
		return diffPage{}, err
	}
	sb, err := u.snapshotOf(r, strconv.FormatInt(vb, 10))
	if err != nil {
		return diffPage{}, err
	}
	groups := make([]flowdiff.Group, 0, len(d.ComponentDifferenceGroups))
	for _, raw := range d.ComponentDifferenceGroups {
		var g flowdiff.Group
		if err := json.Unmarshal(raw, &g); err != nil {
			return diffPage{}, err
		}
		groups = append(groups, g)
	}
	gr, err := Layout(sa.FlowContents, sb.FlowContents, groups, q.Get("group"))
	if errors.Is(err, ErrNoGroup) {
		return diffPage{}, &apiError{Status: http.StatusNotFound, Msg: err.Error()}
	}
	if err != nil {
		return diffPage{}, err
	}
	dp := diffPage{B: b, F: f, A: int32(va), Bv: int32(vb), Graph: gr}
	if sb.Flow != nil {
		dp.Flow = *sb.Flow
	}
	for _, g := range groups {
		c := change{Group: g, Mark: MarkOf(g)}
		if g.ComponentID != nil {
			c.Anchor = *g.ComponentID
		}
		switch c.Mark {
		case Added:
			dp.Added++
		case Removed:
			dp.Removed++
		default:
			dp.Changed++
		}
		dp.Changes = append(dp.Changes, c)
	}
	return dp, nil
}

func (u *UI) diff(w http.ResponseWriter, r *http.Request) {
	dp, err := u.diffData(r)
	if err != nil {
		u.fail(w, r, err, uiPath("buckets", r.PathValue("b"), "flows", r.PathValue("f")))
		return
	}
	u.render(w, r, http.StatusOK, "diff", page{Title: "Changes " + strconv.Itoa(int(dp.A)) + " → " + strconv.Itoa(int(dp.Bv)), Nav: "buckets", Data: dp})
}
