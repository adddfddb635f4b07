package tokens

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/command"
)

func testKeys() []Key {
	return []Key{{ID: "k2", Secret: bytes.Repeat([]byte{2}, 32), Created: 2}, {ID: "k1", Secret: bytes.Repeat([]byte{1}, 32), Created: 1}}
}

func TestIssueVerify(t *testing.T) {
	keys := testKeys()
	now := time.Unix(1_700_000_000, 0)
	never := func(string) bool { return false }
	tok, err := Issue(keys, "alice", "t1", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(tok, keys, never, now.Add(time.Minute))
	if err != nil || c.Subject != "alice" || c.ID != "t1" {
		t.Fatalf("%+v %v", c, err)
	}
	// Signed by a key that rotated out, expired, revoked, tampered, or
	// with another algorithm: refused.
	for name, check := range map[string]func() error{
		"rotated out": func() error { _, err := Verify(tok, keys[1:], never, now); return err },
		"expired":     func() error { _, err := Verify(tok, keys, never, now.Add(2*time.Hour)); return err },
		"revoked": func() error {
			_, err := Verify(tok, keys, func(id string) bool { return id == "t1" }, now)
			return err
		},
		"tampered": func() error {
			p := strings.Split(tok, ".")
			_, err := Verify(p[0]+"."+p[1]+"x."+p[2], keys, never, now)
			return err
		},
		"alg none": func() error {
			p := strings.Split(tok, ".")
			_, err := Verify("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."+p[1]+".", keys, never, now)
			return err
		},
	} {
		if err := check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Issue(nil, "a", "t", now, time.Hour); err == nil {
		t.Error("issued without a key")
	}
}

func TestApplyKeysAndRevocations(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	apply := func(c command.Command) error {
		return db.Update(func(tx *bolt.Tx) error {
			for _, tb := range Tables {
				if _, err := tx.CreateBucketIfNotExists(tb); err != nil {
					return err
				}
			}
			_, err := Apply(tx, c)
			return err
		})
	}
	for i := 1; i <= 5; i++ {
		if err := apply(&command.AddSigningKey{ID: string(rune('a' + i)), Secret: bytes.Repeat([]byte{byte(i)}, 32), At: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := apply(&command.AddSigningKey{ID: "short", Secret: []byte("x"), At: 9}); err == nil {
		t.Fatal("a short secret was taken")
	}
	_ = apply(&command.RevokeToken{TokenID: "t1", Expires: 100, At: 10})
	_ = apply(&command.RevokeToken{TokenID: "t2", Expires: 300, At: 150}) // forgets t1 (expired by 150)
	_ = db.View(func(tx *bolt.Tx) error {
		keys, err := Keys(tx)
		if err != nil || len(keys) != MaxKeys || keys[0].ID != "f" || keys[MaxKeys-1].ID != "d" {
			t.Fatalf("keys %+v %v", keys, err)
		}
		if Revoked(tx, "t1") || !Revoked(tx, "t2") {
			t.Fatal("revocations")
		}
		return nil
	})
}

func FuzzVerify(f *testing.F) {
	keys := testKeys()
	tok, _ := Issue(keys, "alice", "t1", time.Unix(1_700_000_000, 0), time.Hour)
	f.Add(tok)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := Verify(raw, keys, func(string) bool { return false }, time.Unix(1_700_000_100, 0))
		if err == nil && (c.Subject == "" || raw != tok && c.ID == "") {
			t.Fatalf("accepted %q as %+v", raw, c)
		}
	})
}
