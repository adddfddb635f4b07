package registry

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/weir-nifi/weir/internal/blobs"
	"github.com/weir-nifi/weir/internal/bundles/nar/nartest"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
	"github.com/weir-nifi/weir/internal/store/storetest"
)

// applier proposes by applying to a store at once, as a one-node log
// would, and reports a command level (a cluster mid-upgrade reports one
// below 12).
type applier struct {
	st    *store.Store
	idx   uint64
	level int
	types []command.Type
}

func (a *applier) Ready(context.Context) error { return nil }
func (a *applier) CommandLevel() int           { return a.level }
func (a *applier) Propose(_ context.Context, c command.Command) (any, error) {
	data, err := command.Encode(c)
	if err != nil {
		return nil, err
	}
	a.idx++
	a.types = append(a.types, c.Type())
	res, err := a.st.Apply([]store.Entry{{Index: a.idx, Data: data}})
	if err != nil {
		return nil, err
	}
	return res[0].Value, res[0].Err
}

// contents is a file store whose replication is counted (a one-node
// cluster: the majority is this node).
type contents struct {
	st         *blobs.Store
	replicated atomic.Int32
	peer       *blobs.Store // what Fetch copies from
}

func (c *contents) Store() *blobs.Store { return c.st }
func (c *contents) Replicate(context.Context, string, int64) error {
	c.replicated.Add(1)
	return nil
}
func (c *contents) Fetch(_ context.Context, sha string, size int64) error {
	if c.st.Has(sha, size) {
		return nil
	}
	f, err := c.peer.Open(sha)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.st.Put(sha, size, f)
}
func (c *contents) Open(ctx context.Context, sha string, size int64) (*os.File, error) {
	if err := c.Fetch(ctx, sha, size); err != nil {
		return nil, err
	}
	return c.st.Open(sha)
}

func upload(t *testing.T, s *Service, bucket string, nar []byte) *model.BundleVersion {
	t.Helper()
	sp, err := s.SpoolBundle(bytes.NewReader(nar))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	v, err := s.CreateBundleVersion(context.Background(), Caller{Identity: "alice"}, bucket, command.BundleNAR, sp, "")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func readContent(t *testing.T, s *Service, v *model.BundleVersion) []byte {
	t.Helper()
	c, err := s.GetBundleContent(v.Bundle.Identifier, v.VersionMetadata.Version, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.OpenBundleContent(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func narOf(version string, payload int) []byte {
	return nartest.Build(nartest.Spec{Group: "org.example", Artifact: "files", Version: version, SystemAPI: "2.7.2",
		Payload: bytes.Repeat([]byte(version), payload)})
}

// TestBundleContentPaths: at command level 12 an upload's content becomes
// a file (replicated once, shared by a second version with the same
// bytes), fetched by a node that lacks it and swept once nothing refers to
// it; below level 12 (a cluster mid-upgrade) it goes through the log in
// chunks, and both kinds read back byte for byte.
func TestBundleContentPaths(t *testing.T) {
	st, apply := storetest.Open(t)
	apply(&command.CreateBucket{ID: "b1", Name: "one", Created: 1, Actor: "alice"})
	apply(&command.CreateBucket{ID: "b2", Name: "two", Created: 1, Actor: "alice"})
	files, _ := blobs.Open(filepath.Join(t.TempDir(), "content"))
	peer, _ := blobs.Open(filepath.Join(t.TempDir(), "peer"))
	ct := &contents{st: files, peer: peer}
	p := &applier{st: st, idx: 2, level: command.Level}
	s := New(p, st, Options{Contents: ct})

	v1 := narOf("1.0", 3<<20)
	got := upload(t, s, "b1", v1)
	if p.types[len(p.types)-1] != command.TypeCreateBundleFileVersion || ct.replicated.Load() != 1 {
		t.Fatalf("level 12: proposed %v, replicated %d times", p.types, ct.replicated.Load())
	}
	if !bytes.Equal(readContent(t, s, got), v1) {
		t.Fatal("file content reads back different")
	}
	// The same bytes in another bucket: shared, not sent again.
	got2 := upload(t, s, "b2", v1)
	if ct.replicated.Load() != 1 {
		t.Fatalf("content already stored was replicated again")
	}

	// A node that lacks the file fetches it on the first read.
	sha := got.VersionMetadata.SHA256
	f, _ := files.Open(sha)
	peer.Put(sha, int64(len(v1)), f)
	f.Close()
	files.Remove(sha)
	if !bytes.Equal(readContent(t, s, got2), v1) {
		t.Fatal("fetched content reads back different")
	}

	// Below level 12: chunks through the log.
	p.level = command.LevelOf(command.TypeCreateBundleFileVersion) - 1
	v2 := narOf("2.0", 2<<20)
	got3 := upload(t, s, "b1", v2)
	n := 0
	for _, typ := range p.types {
		if typ == command.TypeStageBundleChunk {
			n++
		}
	}
	if n < 2 || p.types[len(p.types)-1] != command.TypeCreateBundleVersion {
		t.Fatalf("level 11: proposed %v", p.types)
	}
	if !bytes.Equal(readContent(t, s, got3), v2) {
		t.Fatal("chunked content reads back different")
	}
	if files.Has(got3.VersionMetadata.SHA256, int64(len(v2))) {
		t.Fatal("chunked content also left a file")
	}

	// Deleting both versions that refer to the file: the sweep removes it
	// (grace 0), and keeps nothing else.
	for _, v := range []*model.BundleVersion{got, got2} {
		if _, err := s.DeleteBundleVersion(context.Background(), Caller{Identity: "alice"}, v.Bundle.Identifier, v.VersionMetadata.Version, nil); err != nil {
			t.Fatal(err)
		}
	}
	keeper := blobs.Keeper{Store: files, Fetch: ct.Fetch, Wanted: st.ContentFiles}
	if err := keeper.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	if list, _ := files.List(); len(list) != 0 {
		t.Fatalf("files left after the sweep: %+v", list)
	}
}
