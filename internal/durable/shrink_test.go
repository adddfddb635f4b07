package durable

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestShrinkAndRemove: Shrink leaves the file empty and open, in steps
// (the size is not a multiple of a step); Remove deletes it (also a
// read-only file) and reports a missing one as ErrNotExist.
func TestShrinkAndRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, make([]byte, 2*shrinkStep+12345), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := Shrink(f); err != nil {
		t.Fatal(err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != 0 {
		t.Fatalf("after Shrink: %v, %v; want an empty file", fi.Size(), err)
	}
	if _, err := f.Write([]byte("still open")); err != nil {
		t.Fatalf("the file is not usable after Shrink: %v", err)
	}
	f.Close()
	if err := Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Remove: %v", err)
	}
	ro := filepath.Join(t.TempDir(), "read-only")
	if err := os.WriteFile(ro, []byte("x"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := Remove(ro); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ro); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read-only file after Remove: %v", err)
	}
	if err := Remove(ro); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Remove of a missing file: %v, want ErrNotExist", err)
	}
}
