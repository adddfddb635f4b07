package daemon

import (
	"testing"

	"github.com/weir-nifi/weir/internal/store"
)

// The decoded-record cache answers from the bytes as they are now: a
// changed record is decoded again, a removed one is gone.
func TestDecodedFollowsTheBytes(t *testing.T) {
	d := newDecoded[store.BucketRec]()
	b, ok, err := d.get("b1", []byte(`{"identifier":"b1","allowPublicRead":true}`))
	if err != nil || !ok || !b.AllowPublicRead {
		t.Fatalf("first: %+v %v %v", b, ok, err)
	}
	if b, ok, _ := d.get("b1", []byte(`{"identifier":"b1","allowPublicRead":true}`)); !ok || !b.AllowPublicRead {
		t.Fatalf("same bytes: %+v %v", b, ok)
	}
	if b, ok, _ := d.get("b1", []byte(`{"identifier":"b1","allowPublicRead":false}`)); !ok || b.AllowPublicRead {
		t.Fatalf("changed bytes served the old record: %+v %v", b, ok)
	}
	if _, ok, _ := d.get("b1", nil); ok {
		t.Fatal("a removed record was found")
	}
	if _, _, err := d.get("b2", []byte(`{`)); err == nil {
		t.Fatal("a corrupt record decoded")
	}
}
