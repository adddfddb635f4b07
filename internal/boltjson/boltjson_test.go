package boltjson

import (
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestGetPut(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type rec struct{ A int }
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("t"))
		if err != nil {
			return err
		}
		if err := Put(b, []byte("k"), rec{A: 7}); err != nil {
			return err
		}
		var r rec
		if ok, err := Get(b, []byte("k"), &r); !ok || err != nil || r.A != 7 {
			t.Fatalf("get: %v %v %+v", ok, err, r)
		}
		if ok, err := Get(b, []byte("none"), &r); ok || err != nil {
			t.Fatalf("missing: %v %v", ok, err)
		}
		if err := b.Put([]byte("bad"), []byte("{")); err != nil {
			return err
		}
		if _, err := Get(b, []byte("bad"), &r); err == nil || !strings.Contains(err.Error(), `"bad"`) {
			t.Fatalf("corrupt: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
