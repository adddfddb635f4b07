package bundles_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/bundles"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
)

// buckets is the registry's bucket table as Apply sees it.
type buckets map[string]bundles.Bucket

func (b buckets) Bucket(id string) (bundles.Bucket, bool, error) {
	x, ok := b[id]
	return x, ok, nil
}

type fixture struct {
	t  *testing.T
	db *bolt.DB
	bk buckets
}

func newFixture(t *testing.T) *fixture {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "x.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Update(func(tx *bolt.Tx) error {
		for _, n := range bundles.Tables {
			if _, err := tx.CreateBucket(n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, db: db, bk: buckets{"b1": {}, "b2": {}, "redeploy": {AllowBundleRedeploy: true}}}
}

// apply applies c in its own transaction; a refusal rolls back (as the
// store's batch does not, Apply must write nothing before refusing: the
// test checks that by digesting the tables around refusals).
func (f *fixture) apply(c command.Command) (any, error) {
	var res any
	var refusal error
	err := f.db.Update(func(tx *bolt.Tx) error {
		var err error
		res, err = bundles.Apply(tx, c, f.bk)
		var me *model.Error
		if errors.As(err, &me) {
			refusal = err
			return nil // committed: a refusal must have written nothing
		}
		return err
	})
	if err != nil {
		f.t.Fatalf("%s: database error %v", c.Type(), err)
	}
	return res, refusal
}

func (f *fixture) digest() string {
	h := sha256.New()
	var walk func(b *bolt.Bucket)
	walk = func(b *bolt.Bucket) {
		b.ForEach(func(k, v []byte) error {
			h.Write(k)
			h.Write(v)
			if v == nil {
				walk(b.Bucket(k))
			}
			return nil
		})
	}
	f.db.View(func(tx *bolt.Tx) error {
		for _, n := range bundles.Tables {
			walk(tx.Bucket(n))
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

func shaOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// stage proposes content in chunks of n bytes under an upload.
func (f *fixture) stage(upload string, content []byte, n int, at int64) {
	for off := 0; off < len(content); off += n {
		end := min(off+n, len(content))
		if _, err := f.apply(&command.StageBundleChunk{Upload: upload, SHA256: shaOf(content), Size: int64(len(content)),
			Off: int64(off), At: at, Data: content[off:end]}); err != nil {
			f.t.Fatalf("stage %s at %d: %v", upload, off, err)
		}
	}
}

func version(bucket, bundleID, vid, ver, upload string, content []byte) *command.CreateBundleVersion {
	return &command.CreateBundleVersion{BucketID: bucket, BundleID: bundleID, VersionID: vid, BundleType: command.BundleNAR,
		Coordinate: command.BundleCoordinate{Group: "org.example", Artifact: "example-nar", Version: ver},
		Upload:     upload, SHA256: shaOf(content), Size: int64(len(content)), SystemAPIVersion: "2.7.2",
		Extensions:        []byte(`[{"name":"org.example.P","type":"PROCESSOR","tags":["a","b"]}]`),
		AdditionalDetails: map[string]string{"org.example.P": "# P"}, Timestamp: 100, Author: "alice"}
}

func (f *fixture) content(sha string, size int64) []byte {
	var out bytes.Buffer
	view := func(fn func(*bolt.Tx) error) error { return f.db.View(fn) }
	if err := bundles.CopyContent(view, sha, size, &out); err != nil {
		f.t.Fatal(err)
	}
	return out.Bytes()
}

func TestUploadCommitDownloadDelete(t *testing.T) {
	f := newFixture(t)
	content := bytes.Repeat([]byte("0123456789"), 100)
	f.stage("u1", content, 300, 1)
	// A retried chunk is accepted without effect.
	before := f.digest()
	if _, err := f.apply(&command.StageBundleChunk{Upload: "u1", SHA256: shaOf(content), Size: 1000, Off: 300, At: 1, Data: content[300:600]}); err != nil {
		t.Fatal(err)
	}
	if f.digest() != before {
		t.Fatal("a retried chunk changed the state")
	}
	res, err := f.apply(version("b1", "x1", "v1", "1.0", "u1", content))
	if err != nil {
		t.Fatal(err)
	}
	cr := res.(*bundles.Created)
	if cr.Bundle.VersionCount != 1 || cr.Version.Size != 1000 || len(cr.Version.Extensions) != 1 || cr.Version.Docs[0] != "org.example.P" {
		t.Fatalf("created %+v", cr)
	}
	if got := f.content(shaOf(content), 1000); !bytes.Equal(got, content) {
		t.Fatal("content differs")
	}
	// The same bytes as another version and in another bucket: no content
	// sent (no upload), stored once.
	if _, err := f.apply(version("b1", "ignored", "v2", "1.1", "", content)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.apply(version("b2", "x2", "v3", "1.0", "", content)); err != nil {
		t.Fatal(err)
	}
	f.db.View(func(tx *bolt.Tx) error {
		vs, _ := bundles.Versions(tx, "x1")
		if len(vs) != 2 {
			t.Errorf("bundle x1 has %d versions", len(vs))
		}
		if b, ok, _ := bundles.ByCoordinate(tx, "b2", "org.example", "example-nar"); !ok || b.ID != "x2" {
			t.Errorf("bucket b2's bundle: %+v %v", b, ok)
		}
		if md, ok := bundles.AdditionalDetails(tx, "x1", "1.0", "org.example.P"); !ok || md != "# P" {
			t.Errorf("docs %q %v", md, ok)
		}
		return nil
	})
	// Deleting versions keeps the content while one refers to it.
	if _, err := f.apply(&command.DeleteBundleVersion{BundleID: "x1", Version: "1.0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.apply(&command.DeleteBundle{BundleID: "x1"}); err != nil {
		t.Fatal(err)
	}
	if got := f.content(shaOf(content), 1000); !bytes.Equal(got, content) {
		t.Fatal("content of a remaining version is gone")
	}
	if err := f.db.Update(func(tx *bolt.Tx) error { return bundles.DeleteBucket(tx, "b2") }); err != nil {
		t.Fatal(err)
	}
	f.db.View(func(tx *bolt.Tx) error {
		if ok, _ := bundles.HasContent(tx, shaOf(content)); ok {
			t.Error("content outlived its last version")
		}
		if n := tx.Bucket([]byte("x.chunks")).Stats().KeyN; n != 0 {
			t.Errorf("%d chunk entries left", n)
		}
		return nil
	})
}

func TestApplyRefuses(t *testing.T) {
	content := []byte("PK\x03\x04 a bundle")
	other := []byte("PK\x03\x04 another bundle")
	for _, tc := range []struct {
		name  string
		setup func(f *fixture)
		c     command.Command
		kind  model.Kind
		msg   string
	}{
		{"chunk out of order", func(f *fixture) { f.stage("u1", content[:4], 4, 1) },
			&command.StageBundleChunk{Upload: "u1", SHA256: shaOf(content[:4]), Size: 4, Off: 2, At: 1, Data: []byte("xxx")},
			model.KindInvalid, "A bundle chunk must lie within the bundle"},
		{"gap", func(f *fixture) {
			f.apply(&command.StageBundleChunk{Upload: "u1", SHA256: shaOf(content), Size: int64(len(content)), Off: 0, Data: content[:2]})
		}, &command.StageBundleChunk{Upload: "u1", SHA256: shaOf(content), Size: int64(len(content)), Off: 5, Data: content[5:7]},
			model.KindConflict, "The bundle upload u1 has 2 bytes staged, not 5"},
		{"not staged", nil, &command.StageBundleChunk{Upload: "u9", SHA256: shaOf(content), Size: 10, Off: 4, Data: []byte("x")},
			model.KindConflict, "The bundle upload u9 is not staged (it was committed, or dropped after waiting too long); upload the bundle again"},
		{"upper-case sha", nil, &command.StageBundleChunk{Upload: "u1", SHA256: "AB" + shaOf(content)[2:], Size: 10, Data: []byte("x")},
			model.KindInvalid, "A SHA-256 must be 64 lower-case hex digits"},
		{"blank upload", nil, &command.StageBundleChunk{Upload: " ", SHA256: shaOf(content), Size: 10, Data: []byte("x")},
			model.KindInvalid, "Upload identifier cannot be null or blank"},
		{"empty chunk", nil, &command.StageBundleChunk{Upload: "u1", SHA256: shaOf(content), Size: 10},
			model.KindInvalid, "A bundle chunk must hold between 1 and 4194304 bytes"},
		{"unknown bucket", func(f *fixture) { f.stage("u1", content, 5, 1) }, version("nope", "x1", "v1", "1", "u1", content),
			model.KindNotFound, model.MsgBucketNotFound},
		{"incomplete", func(f *fixture) {
			f.apply(&command.StageBundleChunk{Upload: "u1", SHA256: shaOf(content), Size: int64(len(content)), Data: content[:6]})
		}, version("b1", "x1", "v1", "1", "u1", content), model.KindConflict, "The bundle's content is incomplete: 6 of 13 bytes staged"},
		{"checksum", func(f *fixture) {
			// Staged bytes that do not hash to the claimed SHA-256.
			f.apply(&command.StageBundleChunk{Upload: "u1", SHA256: shaOf(content), Size: int64(len(content)), Data: other[:len(content)]})
		}, version("b1", "x1", "v1", "1", "u1", content), model.KindConflict, bundles.MsgSHA256Mismatch},
		{"nothing staged", nil, version("b1", "x1", "v1", "1", "", content),
			model.KindConflict, "The bundle's content is not staged (it was dropped after waiting too long); upload the bundle again"},
		{"version exists", func(f *fixture) {
			f.stage("u1", content, 8, 1)
			f.apply(version("b1", "x1", "v1", "1", "u1", content))
		}, version("b1", "x1", "v2", "1", "", content), model.KindConflict, bundles.MsgVersionExists},
		{"same GAV other checksum", func(f *fixture) {
			f.stage("u1", content, 8, 1)
			f.apply(version("b1", "x1", "v1", "1", "u1", content))
			f.stage("u2", other, 8, 1)
		}, version("b2", "x2", "v2", "1", "u2", other), model.KindConflict, bundles.MsgDifferentChecksum},
		{"other bundle type", func(f *fixture) {
			f.stage("u1", content, 8, 1)
			f.apply(version("b1", "x1", "v1", "1", "u1", content))
		}, func() command.Command {
			c := version("b1", "x1", "v2", "2", "", content)
			c.BundleType = command.BundleMiNiFiCpp
			return c
		}(), model.KindConflict, bundles.MsgDifferentBundleType},
		{"bad extensions", func(f *fixture) { f.stage("u1", content, 8, 1) }, func() command.Command {
			c := version("b1", "x1", "v1", "1", "u1", content)
			c.Extensions = []byte(`[{"name":"P","type":"GADGET"}]`)
			return c
		}(), model.KindInvalid, "Invalid extension due to one or more constraint violations"},
		{"docs of no extension", func(f *fixture) { f.stage("u1", content, 8, 1) }, func() command.Command {
			c := version("b1", "x1", "v1", "1", "u1", content)
			c.AdditionalDetails = map[string]string{"Q": "# Q"}
			return c
		}(), model.KindInvalid, "Additional details name an extension the bundle does not have: Q"},
		{"blank group", func(f *fixture) { f.stage("u1", content, 8, 1) }, func() command.Command {
			c := version("b1", "x1", "v1", "1", "u1", content)
			c.Coordinate.Group = ""
			return c
		}(), model.KindInvalid, "Group id cannot be null or blank"},
		{"committed upload id", func(f *fixture) {
			f.stage("u1", content, 8, 1)
			f.apply(version("b1", "x1", "v1", "1", "u1", content))
		}, &command.StageBundleChunk{Upload: "u1", SHA256: shaOf(other), Size: int64(len(other)), Data: other[:4]},
			model.KindConflict, "The bundle upload u1 was committed already"},
		{"unknown bundle", nil, &command.DeleteBundle{BundleID: "x9"}, model.KindNotFound, bundles.MsgBundleNotFound},
		{"unknown version", func(f *fixture) {
			f.stage("u1", content, 8, 1)
			f.apply(version("b1", "x1", "v1", "1", "u1", content))
		}, &command.DeleteBundleVersion{BundleID: "x1", Version: "2"}, model.KindNotFound, bundles.MsgBundleVersionNotIn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			before := f.digest()
			_, err := f.apply(tc.c)
			var me *model.Error
			if !errors.As(err, &me) || me.Kind != tc.kind || me.Msg != tc.msg {
				t.Fatalf("got %v, want %v %q", err, tc.kind, tc.msg)
			}
			if f.digest() != before {
				t.Fatal("a refused command changed the state")
			}
		})
	}
}

// TestRedeployAndSnapshot: a bucket that allows redeploy, and any
// SNAPSHOT version, replace an existing version; the old content goes.
func TestRedeployAndSnapshot(t *testing.T) {
	f := newFixture(t)
	a, b := []byte("PK first build"), []byte("PK second build")
	f.stage("u1", a, 4, 1)
	if _, err := f.apply(version("redeploy", "x1", "v1", "1.0", "u1", a)); err != nil {
		t.Fatal(err)
	}
	f.stage("u2", b, 4, 1)
	// Same GAV with other bytes is refused even with redeploy (NiFi checks
	// every bucket's copy first) unless the version is a SNAPSHOT.
	if _, err := f.apply(version("redeploy", "x1", "v2", "1.0", "u2", b)); err == nil || err.Error() != bundles.MsgDifferentChecksum {
		t.Fatalf("got %v", err)
	}
	f.stage("u3", a, 4, 1)
	if _, err := f.apply(version("redeploy", "x1", "v3", "1.0", "u3", a)); err != nil {
		t.Fatalf("redeploy of the same bytes: %v", err)
	}
	// The replaced version shared its content with the new one: kept.
	if got := f.content(shaOf(a), int64(len(a))); !bytes.Equal(got, a) {
		t.Fatal("redeploying the same bytes lost the content")
	}
	if _, err := f.apply(version("b1", "y1", "v4", "2.0-SNAPSHOT", "u2", b)); err != nil {
		t.Fatal(err)
	}
	f.stage("u4", a, 4, 1)
	res, err := f.apply(version("b1", "y1", "v5", "2.0-SNAPSHOT", "u4", a))
	if err != nil {
		t.Fatalf("snapshot overwrite: %v", err)
	}
	if cr := res.(*bundles.Created); cr.Bundle.VersionCount != 1 || cr.Version.SHA256 != shaOf(a) {
		t.Fatalf("after overwrite %+v", cr)
	}
	f.db.View(func(tx *bolt.Tx) error {
		if ok, _ := bundles.HasContent(tx, shaOf(b)); ok {
			t.Error("the overwritten version's content is still stored")
		}
		return nil
	})
}

// TestStaleStagingDropped: a staging area left BundleStageTimeout behind
// a later chunk's time is dropped (a dead uploader's partial content).
func TestStaleStagingDropped(t *testing.T) {
	f := newFixture(t)
	content := []byte("PK abandoned upload")
	f.apply(&command.StageBundleChunk{Upload: "dead", SHA256: shaOf(content), Size: int64(len(content)), At: 1000, Data: content[:5]})
	f.stage("live", []byte("PK live"), 3, 1000+command.BundleStageTimeout+1)
	f.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("x.stage")).Get([]byte("dead")) != nil {
			t.Error("the stale staging area is still there")
		}
		if tx.Bucket([]byte("x.stage")).Get([]byte("live")) == nil {
			t.Error("the live staging area is gone")
		}
		return nil
	})
	if _, err := f.apply(version("b1", "x1", "v1", "1", "dead", content)); err == nil {
		t.Fatal("a version of dropped content was accepted")
	}
}
