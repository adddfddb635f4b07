package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/model"
)

// NiFi Registry's GitFlowPersistenceProvider keeps, per bucket, a
// directory (the sanitized bucket name) with a bucket.yml:
//
//	layoutVer: 1
//	bucketId: c601a7b4-…
//	flows:
//	  1681a7e6-…: {ver: 2, file: FHIR_Bundle_Enrichment.snapshot, comments: '',
//	    author: anonymous, created: 1607044301835, flowName: FHIR Bundle Enrichment, flowDesc: …}
//
// and one file per flow holding its latest version. Older versions live in
// the git history: every commit's bucket.yml names the version its files
// hold, as NiFi's GitFlowMetaData reads them back.
type bucketYML struct {
	LayoutVer int                `yaml:"layoutVer"`
	BucketID  string             `yaml:"bucketId"`
	Flows     map[string]flowYML `yaml:"flows"`
}

type flowYML struct {
	Ver      int     `yaml:"ver"`
	File     string  `yaml:"file"`
	FlowName string  `yaml:"flowName"`
	FlowDesc *string `yaml:"flowDesc"`
	Author   string  `yaml:"author"`
	Comments *string `yaml:"comments"`
	Created  int64   `yaml:"created"`
}

// maxLayout is the bucket.yml layout version NiFi (and so this reader) knows.
const maxLayout = 1

func parseBucketYML(b []byte) (bucketYML, error) {
	var y bucketYML
	if err := yaml.Unmarshal(b, &y); err != nil {
		return y, err
	}
	if y.BucketID == "" {
		return y, errors.New("no bucketId")
	}
	if y.LayoutVer > maxLayout {
		return y, fmt.Errorf("layoutVer %d is newer than this reader knows (%d)", y.LayoutVer, maxLayout)
	}
	return y, nil
}

// gitVersion is one version of a flow found in the directory.
type gitVersion struct {
	meta     flowYML
	path     string // slash path relative to the repository root
	commit   string // "" for the working tree
	when     int64  // commit time (ms), for versions without "created"
	byAuthor string // commit author, for versions without "author"
}

type gitFlow struct {
	id       string
	versions map[int]gitVersion
}

type gitBucket struct {
	id, dir string
	flows   map[string]*gitFlow
}

// GitOptions tune ImportGit.
type GitOptions struct {
	// WorkingTreeOnly ignores the git history: only the versions whose
	// files are on disk are imported.
	WorkingTreeOnly bool
	// Renumber imports the versions found as 1..n when their numbers are
	// not contiguous from 1 (e.g. a working tree without history), instead
	// of refusing those flows.
	Renumber bool
}

// ImportGit loads a NiFi Registry git flow storage directory into dst.
func ImportGit(ctx context.Context, dir string, dst *client.Client, p Progress, o GitOptions) (Result, error) {
	if p == nil {
		p = nopProgress{}
	}
	var res Result
	src := &gitSource{dir: dir}
	var buckets []*gitBucket
	var err error
	if !o.WorkingTreeOnly && src.isRepo(ctx) {
		p.Note("reading versions from the git history of " + dir)
		buckets, err = src.fromHistory(ctx)
	} else {
		p.Note("reading the versions on disk in " + dir + " (no git history)")
		buckets, err = src.fromTree()
	}
	if err != nil {
		return res, err
	}
	var total int64
	for _, b := range buckets {
		for _, f := range b.flows {
			total += int64(len(f.versions))
		}
	}
	p.SetTotal(total)
	p.Note(fmt.Sprintf("found %d buckets, %d versions", len(buckets), total))
	t, err := newTarget(ctx, dst, &res, p)
	if err != nil {
		return res, err
	}
	for _, b := range buckets {
		name := path.Base(b.dir)
		if err := t.ensureBucket(ctx, model.Bucket{Identifier: &b.id, Name: &name}); err != nil {
			t.fail("%v", err)
			continue
		}
		have, err := dst.Flows(ctx, b.id)
		if err != nil {
			t.fail("list the flows of destination bucket %s: %v", b.id, err)
			continue
		}
		existing := map[string]model.VersionedFlow{}
		for _, f := range have {
			existing[model.Deref(f.Identifier)] = f
		}
		ids := make([]string, 0, len(b.flows))
		for id := range b.flows {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if err := importFlow(ctx, t, src, b.id, b.flows[id], existing, o); err != nil {
				t.fail("%v", err)
			}
		}
	}
	return res, ctx.Err()
}

func importFlow(ctx context.Context, t *target, src *gitSource, bucketID string, f *gitFlow, existing map[string]model.VersionedFlow, o GitOptions) error {
	if len(f.versions) == 0 {
		return nil
	}
	nums := make([]int, 0, len(f.versions))
	for n := range f.versions {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	contiguous := true
	for i, n := range nums {
		if n != i+1 {
			contiguous = false
		}
	}
	if !contiguous && !o.Renumber {
		return fmt.Errorf("flow %s: versions %v found, but Weir keeps versions contiguous from 1 (import the git history, or pass --renumber)", f.id, nums)
	}
	first, last := f.versions[nums[0]], f.versions[nums[len(nums)-1]]
	name := last.meta.FlowName
	if name == "" {
		name = strings.TrimSuffix(path.Base(last.path), ".snapshot")
	}
	flow := model.VersionedFlow{Identifier: &f.id, Name: &name, Description: last.meta.FlowDesc,
		CreatedTimestamp: first.timestamp(), ModifiedTimestamp: last.timestamp()}
	d, err := t.ensureFlow(ctx, bucketID, flow, existing)
	if err != nil {
		return err
	}
	vs := make([]version, 0, len(nums))
	for i, n := range nums {
		gv := f.versions[n]
		author := gv.meta.Author
		if author == "" {
			author = gv.byAuthor
		}
		md := model.SnapshotMetadata{Version: int32(i + 1), Timestamp: gv.timestamp(), Author: &author, Comments: gv.meta.Comments}
		vs = append(vs, version{meta: md, body: func(ctx context.Context) ([]byte, error) {
			raw, err := src.read(ctx, gv.commit, gv.path)
			if err != nil {
				return nil, err
			}
			return unwrapSnapshot(raw)
		}})
	}
	return t.copyVersions(ctx, bucketID, f.id, d, vs)
}

func (v gitVersion) timestamp() int64 {
	if v.meta.Created > 0 {
		return v.meta.Created
	}
	if v.when > 0 {
		return v.when
	}
	return time.Now().UnixMilli()
}

// unwrapSnapshot turns a stored snapshot file into the body of a version
// commit. Data model 3 (NiFi Registry 0.6+) wraps the whole snapshot:
// {"header":{"dataModelVersion":"3"},"content":{"flowSnapshot":{…}}};
// model 2 wraps only the process group: {"header":…,"content":{…group…}}.
func unwrapSnapshot(raw []byte) ([]byte, error) {
	var w struct {
		Header struct {
			DataModelVersion json.RawMessage `json:"dataModelVersion"`
		} `json:"header"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("snapshot file is not JSON: %w", err)
	}
	ver := strings.Trim(string(w.Header.DataModelVersion), `"`)
	switch ver {
	case "3":
		var c struct {
			FlowSnapshot json.RawMessage `json:"flowSnapshot"`
		}
		if err := json.Unmarshal(w.Content, &c); err != nil || len(c.FlowSnapshot) == 0 {
			return nil, errors.New("data model 3 snapshot file without content.flowSnapshot")
		}
		return c.FlowSnapshot, nil
	case "2":
		if len(w.Content) == 0 {
			return nil, errors.New("data model 2 snapshot file without content")
		}
		return json.Marshal(map[string]json.RawMessage{"flowContents": w.Content})
	case "":
		return nil, errors.New("not a NiFi Registry snapshot file (no header.dataModelVersion)")
	}
	return nil, fmt.Errorf("snapshot data model version %s is not supported (2 and 3 are)", ver)
}

// gitSource reads the directory, through git for history.
type gitSource struct{ dir string }

func (s *gitSource) git(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", s.dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (s *gitSource) isRepo(ctx context.Context) bool {
	if _, err := exec.LookPath("git"); err != nil {
		return false
	}
	out, err := s.git(ctx, "rev-parse", "--is-inside-work-tree")
	if err != nil || strings.TrimSpace(string(out)) != "true" {
		return false
	}
	_, err = s.git(ctx, "rev-parse", "--verify", "HEAD")
	return err == nil
}

func (s *gitSource) read(ctx context.Context, commit, p string) ([]byte, error) {
	if commit == "" {
		return os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(p)))
	}
	return s.git(ctx, "show", commit+":"+p)
}

// bucketFiles lists the bucket.yml paths of a commit.
func (s *gitSource) bucketFiles(ctx context.Context, commit string) ([]string, error) {
	out, err := s.git(ctx, "ls-tree", "-r", "--name-only", "--full-tree", commit)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, l := range strings.Split(string(out), "\n") {
		if path.Base(l) == "bucket.yml" && strings.Contains(l, "/") {
			files = append(files, l)
		}
	}
	sort.Strings(files)
	return files, nil
}

// fromHistory reads every commit of HEAD's history, newest first, as NiFi
// does: buckets and flows are those of HEAD (older ones were deleted), and
// for each version the newest commit that names it wins. Paths are taken
// relative to the repository root, so dir must be its top level or a
// directory whose bucket dirs are at the top of the repository.
func (s *gitSource) fromHistory(ctx context.Context) ([]*gitBucket, error) {
	out, err := s.git(ctx, "log", "--format=%H %ct %an", "HEAD")
	if err != nil {
		return nil, err
	}
	type commit struct {
		id, author string
		when       int64
	}
	var commits []commit
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(l, " ", 3)
		if len(parts) < 2 {
			continue
		}
		sec, _ := strconv.ParseInt(parts[1], 10, 64)
		c := commit{id: parts[0], when: sec * 1000}
		if len(parts) == 3 {
			c.author = parts[2]
		}
		commits = append(commits, c)
	}
	buckets := map[string]*gitBucket{}
	for i, c := range commits {
		files, err := s.bucketFiles(ctx, c.id)
		if err != nil {
			return nil, err
		}
		for _, bf := range files {
			raw, err := s.read(ctx, c.id, bf)
			if err != nil {
				return nil, err
			}
			y, err := parseBucketYML(raw)
			if err != nil {
				if i == 0 {
					return nil, fmt.Errorf("%s: %w", bf, err)
				}
				continue
			}
			b := buckets[y.BucketID]
			if b == nil {
				if i > 0 {
					continue // deleted since
				}
				b = &gitBucket{id: y.BucketID, dir: path.Dir(bf), flows: map[string]*gitFlow{}}
				buckets[y.BucketID] = b
			}
			for fid, fm := range y.Flows {
				f := b.flows[fid]
				if f == nil {
					if i > 0 {
						continue
					}
					f = &gitFlow{id: fid, versions: map[int]gitVersion{}}
					b.flows[fid] = f
				}
				if _, seen := f.versions[fm.Ver]; seen || fm.Ver <= 0 || fm.File == "" {
					continue
				}
				f.versions[fm.Ver] = gitVersion{meta: fm, path: path.Join(path.Dir(bf), fm.File), commit: c.id, when: c.when, byAuthor: c.author}
			}
		}
	}
	return sortBuckets(buckets), nil
}

// fromTree reads the bucket.yml files on disk: one version per flow.
func (s *gitSource) fromTree() ([]*gitBucket, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	buckets := map[string]*gitBucket{}
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(s.dir, e.Name(), "bucket.yml"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		y, err := parseBucketYML(raw)
		if err != nil {
			return nil, fmt.Errorf("%s/bucket.yml: %w", e.Name(), err)
		}
		b := &gitBucket{id: y.BucketID, dir: e.Name(), flows: map[string]*gitFlow{}}
		for fid, fm := range y.Flows {
			if fm.Ver <= 0 || fm.File == "" {
				continue
			}
			b.flows[fid] = &gitFlow{id: fid, versions: map[int]gitVersion{fm.Ver: {meta: fm, path: e.Name() + "/" + fm.File}}}
		}
		buckets[y.BucketID] = b
	}
	return sortBuckets(buckets), nil
}

func sortBuckets(m map[string]*gitBucket) []*gitBucket {
	out := make([]*gitBucket, 0, len(m))
	for _, b := range m {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dir < out[j].dir })
	return out
}
