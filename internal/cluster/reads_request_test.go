package cluster

import (
	"context"
	"errors"
	"testing"
)

func TestRequestBarrierOncePerRequest(t *testing.T) {
	calls := 0
	fail := false
	barrier := func(context.Context) error {
		calls++
		if fail {
			return errors.New("no leader")
		}
		return nil
	}
	// Outside a request every call waits.
	for range 3 {
		if err := onceInRequest(context.Background(), barrier); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 3 {
		t.Fatalf("%d barriers outside a request, want 3", calls)
	}
	// A failed barrier is not remembered; a successful one is, for that
	// request only.
	calls, fail = 0, true
	req := WithRequestBarrier(context.Background())
	if err := onceInRequest(req, barrier); err == nil {
		t.Fatal("a failed barrier reported success")
	}
	fail = false
	for range 3 {
		if err := onceInRequest(req, barrier); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 {
		t.Fatalf("%d barriers in one request (one failed), want 2", calls)
	}
	if err := onceInRequest(WithRequestBarrier(context.Background()), barrier); err != nil || calls != 3 {
		t.Fatalf("another request: %v, %d barriers", err, calls)
	}
}
