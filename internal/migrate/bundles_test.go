package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/weir-nifi/weir/internal/bundles/nar/nartest"
	"github.com/weir-nifi/weir/internal/model"
)

// TestMigrateBundles: bundle versions are copied with their content
// (streamed, checked by SHA-256 on the destination), once: a second run
// finds them there.
func TestMigrateBundles(t *testing.T) {
	_, src := startNode(t)
	_, dst := startNode(t)
	ctx := context.Background()
	b, err := src.CreateBucket(ctx, model.Bucket{Name: model.Str("nars")}, false)
	if err != nil {
		t.Fatal(err)
	}
	bucket := *b.Identifier
	contents := map[string][]byte{}
	for _, v := range []string{"1.0", "1.1-SNAPSHOT"} {
		nar := nartest.Build(nartest.Spec{Group: "org.example", Artifact: "moved-nar", Version: v, SystemAPI: "2.7.2",
			Extensions: []nartest.Extension{{Name: "org.example.Moved", Type: "PROCESSOR"}}, Payload: bytes.Repeat([]byte(v), 300<<10)})
		sum := sha256.Sum256(nar)
		if _, err := src.UploadBundle(ctx, bucket, "nifi-nar", bytes.NewReader(nar), hex.EncodeToString(sum[:])); err != nil {
			t.Fatalf("upload %s: %v", v, err)
		}
		contents[v] = nar
	}

	res, err := Migrate(ctx, src, dst, nil)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("migrate: %v %v", err, res.Errors)
	}
	if res.BundleVersionsCopied != 2 || res.BundleVersionsExisting != 0 {
		t.Fatalf("first run: %+v", res)
	}
	bs, err := dst.BucketBundles(ctx, bucket)
	if err != nil || len(bs) != 1 || bs[0].VersionCount != 2 {
		t.Fatalf("destination bundles: %+v %v", bs, err)
	}
	for v, want := range contents {
		rc, err := dst.BundleContent(ctx, bs[0].Identifier, v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("content of %s differs after migration (%d bytes, want %d): %v", v, len(got), len(want), err)
		}
	}

	res, err = Migrate(ctx, src, dst, nil)
	if err != nil || len(res.Errors) > 0 || res.BundleVersionsCopied != 0 || res.BundleVersionsExisting != 2 || res.Changed() {
		t.Fatalf("second run: %+v %v", res, err)
	}
}
