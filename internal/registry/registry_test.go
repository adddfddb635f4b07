package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/daemon"
	"github.com/weir-nifi/weir/internal/model"
)

func startServer(t *testing.T, cfg daemon.Config) *client.Client {
	t.Helper()
	cfg.Listen, cfg.RaftListen, cfg.DataDir, cfg.ClusterKey = "127.0.0.1:0", "127.0.0.1:0", t.TempDir(), "registry-test-key-0123456"
	s, err := daemon.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return client.New("http://" + s.Addr())
}

// serverWithFlow starts a node holding one bucket with one flow.
func serverWithFlow(t *testing.T) (c *client.Client, bucketID, flowID string) {
	t.Helper()
	c = startServer(t, daemon.Config{})
	ctx := context.Background()
	b, err := c.CreateBucket(ctx, model.Bucket{Name: model.Str("b")}, false)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.CreateFlow(ctx, *b.Identifier, model.VersionedFlow{Name: model.Str("f")})
	if err != nil {
		t.Fatal(err)
	}
	return c, *b.Identifier, *f.Identifier
}

// Concurrent commits with version -1 to one flow get consecutive numbers:
// none is refused with a 409, none is lost, none is duplicated.
func TestConcurrentNextVersionsAreConsecutive(t *testing.T) {
	c, bid, fid := serverWithFlow(t)
	ctx := context.Background()
	const writers, each = 8, 10
	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				doc := fmt.Sprintf(`{"snapshotMetadata":{"version":-1,"comments":"w%d-%d"},"flowContents":{"identifier":"pg","name":"w%d-%d"}}`, w, i, w, i)
				resp, err := c.CommitVersion(ctx, bid, fid, []byte(doc), false)
				if err != nil {
					t.Error(err)
					return
				}
				var s model.Snapshot
				if err := json.Unmarshal(resp, &s); err != nil {
					t.Error(err)
					return
				}
				if int64(s.SnapshotMetadata.Version) != s.Flow.VersionCount {
					t.Errorf("version %d but versionCount %d", s.SnapshotMetadata.Version, s.Flow.VersionCount)
				}
				mu.Lock()
				got = append(got, int(s.SnapshotMetadata.Version))
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	sort.Ints(got)
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("versions %v are not 1..%d", got, writers*each)
		}
	}
	vs, err := c.Versions(ctx, bid, fid)
	if err != nil || len(vs) != writers*each || vs[0].Version != writers*each {
		t.Fatalf("listing: %d versions, first %v, err %v", len(vs), vs[0].Version, err)
	}
}

// With revisions on, NiFi's optimistic locking applies end to end.
func TestRevisionsEndToEnd(t *testing.T) {
	c := startServer(t, daemon.Config{Revisions: true})
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, model.Bucket{Name: model.Str("no-rev")}, false)
	if client.StatusOf(err) != 400 {
		t.Fatalf("create without revision: %v", err)
	}
	zero := int64(0)
	b, err := c.CreateBucket(ctx, model.Bucket{Name: model.Str("b"), Revision: &model.RevisionInfo{Version: &zero, ClientID: model.Str("cli-1")}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if *b.Revision.Version != 1 || model.Deref(b.Revision.ClientID) != "cli-1" || model.Deref(b.Revision.LastModifier) != "anonymous" {
		t.Fatalf("created revision %+v", b.Revision)
	}
	id := *b.Identifier
	// A stale version from another client is a 400 with NiFi's message.
	body := fmt.Sprintf(`{"description":"x","revision":{"version":0,"clientId":"other"}}`)
	_, _, err = c.Do(ctx, "PUT", "/buckets/"+id, []byte(body), nil)
	if client.StatusOf(err) != 400 {
		t.Fatalf("stale update: %v", err)
	}
	if _, _, err = c.Do(ctx, "PUT", "/buckets/"+id, []byte(`{"description":"x","revision":{"version":1}}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err = c.Do(ctx, "DELETE", "/buckets/"+id+"?version=1", nil, nil); client.StatusOf(err) != 400 {
		t.Fatalf("stale delete: %v", err)
	}
	if _, _, err = c.Do(ctx, "DELETE", "/buckets/"+id+"?version=2", nil, nil); err != nil {
		t.Fatal(err)
	}
}

// Cached version answers never outlive a change to the flow or bucket they
// embed, on either path.
func TestRenderCacheFollowsChanges(t *testing.T) {
	c, bid, fid := serverWithFlow(t)
	ctx := context.Background()
	commit := func(name string) {
		t.Helper()
		doc := `{"snapshotMetadata":{"version":-1},"flowContents":{"identifier":"pg","name":"` + name + `"}}`
		if _, err := c.CommitVersion(ctx, bid, fid, []byte(doc), false); err != nil {
			t.Fatal(err)
		}
	}
	get := func(path string) model.Snapshot {
		t.Helper()
		body, _, err := c.Do(ctx, "GET", path, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var s model.Snapshot
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	latest := "/buckets/" + bid + "/flows/" + fid + "/versions/latest"
	byFlow := "/flows/" + fid + "/versions/1"
	commit("one")
	for i := 0; i < 2; i++ { // second round is served from the cache
		if s := get(latest); s.SnapshotMetadata.Version != 1 || *s.Flow.Name != "f" {
			t.Fatalf("latest: %+v", s.SnapshotMetadata)
		}
		get(byFlow)
	}
	if _, _, err := c.Do(ctx, "PUT", "/buckets/"+bid+"/flows/"+fid, []byte(`{"name":"renamed"}`), nil); err != nil {
		t.Fatal(err)
	}
	if s := get(latest); *s.Flow.Name != "renamed" {
		t.Fatalf("flow rename not seen: %s", *s.Flow.Name)
	}
	commit("two")
	if s := get(latest); s.SnapshotMetadata.Version != 2 || s.Flow.VersionCount != 2 || !strings.Contains(string(s.FlowContents), "two") {
		t.Fatalf("new version not seen: %+v", s.SnapshotMetadata)
	}
	if s := get(byFlow); s.Flow.VersionCount != 2 {
		t.Fatalf("by-flow answer kept the old versionCount %d", s.Flow.VersionCount)
	}
	if _, _, err := c.Do(ctx, "PUT", "/buckets/"+bid, []byte(`{"name":"new bucket name"}`), nil); err != nil {
		t.Fatal(err)
	}
	if s := get(byFlow); *s.Bucket.Name != "new bucket name" || *s.Flow.BucketName != "new bucket name" {
		t.Fatalf("bucket rename not seen: %s", *s.Bucket.Name)
	}
	if err := c.DeleteFlow(ctx, bid, fid); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Do(ctx, "GET", latest, nil, nil); client.StatusOf(err) != 404 {
		t.Fatalf("deleted flow answered from the cache: %v", err)
	}
}

// Random reads of more versions than the render cache holds are served
// from pooled buffers (answers the cache does not keep): many readers at
// once each get exactly the version they asked for, whole.
func TestColdReadsBeyondTheRenderCache(t *testing.T) {
	c, bid, fid := serverWithFlow(t)
	ctx := context.Background()
	const versions, size, reads = 48, 400 << 10, 16 // 19 MB of answers, cache 16 MiB
	pad := strings.Repeat("p", size)
	for v := 1; v <= versions; v++ {
		doc := fmt.Sprintf(`{"snapshotMetadata":{"version":-1},"flowContents":{"identifier":"pg","name":"v%d","comments":"%s"}}`, v, pad)
		if _, err := c.CommitVersion(ctx, bid, fid, []byte(doc), false); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for r := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range reads {
				v := (r*reads+i*7)%versions + 1
				path := fmt.Sprintf("/buckets/%s/flows/%s/versions/%d", bid, fid, v)
				if i%2 == 1 {
					path = fmt.Sprintf("/flows/%s/versions/%d", fid, v)
				}
				body, _, err := c.Do(ctx, "GET", path, nil, nil)
				if err != nil {
					t.Error(err)
					return
				}
				var s model.Snapshot
				if err := json.Unmarshal(body, &s); err != nil {
					t.Errorf("%s: %v", path, err)
					return
				}
				var fc struct{ Name, Comments string }
				if err := json.Unmarshal(s.FlowContents, &fc); err != nil || s.SnapshotMetadata.Version != int32(v) || fc.Name != fmt.Sprint("v", v) || fc.Comments != pad {
					t.Errorf("%s: version %d, name %q, %d bytes of comments (%v)", path, s.SnapshotMetadata.Version, fc.Name, len(fc.Comments), err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
