package durable

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A Writer appends what it is given, by Write and by ReadFrom (the kernel
// path from a file), across several writeback steps, and AwaitWriteback on
// its ranges succeeds.
func TestWriterAppendsAcrossWritebackSteps(t *testing.T) {
	dir := t.TempDir()
	src := bytes.Repeat([]byte("0123456789abcdef"), (3*WritebackEvery)/16+7)
	srcPath := filepath.Join(dir, "src")
	if err := os.WriteFile(srcPath, src, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &Writer{F: f}
	head := []byte("head:")
	if _, err := w.Write(head); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if n, err := w.ReadFrom(io.LimitReader(in, int64(len(src)))); err != nil || n != int64(len(src)) {
		t.Fatalf("ReadFrom: %d %v", n, err)
	}
	if err := AwaitWriteback(f, 0, int64(len(head)+len(src))); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(head, src...)) {
		t.Fatalf("file holds %d bytes that differ from the %d written", len(got), len(head)+len(src))
	}
}
