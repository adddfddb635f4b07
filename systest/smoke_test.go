package systest

import (
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
)

// TestSingleNodeSmoke starts the real binary with defaults plus ports and
// does one write and one read.
func TestSingleNodeSmoke(t *testing.T) {
	n := harness.StartNode(t, harness.Options{ID: "solo"})
	if err := n.WaitReady(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	c := client.New(n.API)
	ctx := harness.Context(t)
	b, err := c.CreateBucket(ctx, model.Bucket{Name: model.Str("smoke")}, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Bucket(ctx, *b.Identifier)
	if err != nil || *got.Name != "smoke" {
		t.Fatalf("get: %+v %v", got, err)
	}
}
