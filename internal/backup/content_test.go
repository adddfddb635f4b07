package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
	"time"

	"github.com/weir-nifi/weir/internal/blobs"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/store"
)

// withFileContent returns a seeded store whose state refers to two
// bundle contents kept in files, and a Content that opens them from a
// file store.
func withFileContent(t testing.TB, bodies ...[]byte) (*store.Store, map[string][]byte, Content) {
	t.Helper()
	st, apply := seeded(t, 2)
	if len(bodies) == 0 {
		bodies = [][]byte{bytes.Repeat([]byte("first bundle "), 100_000), []byte("PK\x03\x04 second")}
	}
	files, err := blobs.Open(filepath.Join(t.TempDir(), blobs.DataDirName))
	if err != nil {
		t.Fatal(err)
	}
	contents := map[string][]byte{}
	for i, c := range bodies {
		sum := sha256.Sum256(c)
		sha := hex.EncodeToString(sum[:])
		contents[sha] = c
		if err := files.Put(sha, int64(len(c)), bytes.NewReader(c)); err != nil {
			t.Fatal(err)
		}
		v := string(rune('1' + i))
		apply(&command.CreateBundleFileVersion{CreateBundleVersion: command.CreateBundleVersion{BucketID: "b1", BundleID: "x" + v, VersionID: "v" + v,
			BundleType: command.BundleNAR, Coordinate: command.BundleCoordinate{Group: "g", Artifact: "a" + v, Version: "1"},
			SHA256: sha, Size: int64(len(c)), Timestamp: 5, Author: "alice"}})
	}
	open := func(sha string, size int64) (*os.File, error) { return files.Open(sha) }
	return st, contents, open
}

// backupWithContent writes a backup of st (with content's files) into
// memory, checking that its size is the one announced.
func backupWithContent(t testing.TB, st *store.Store, content Content) ([]byte, Manifest) {
	t.Helper()
	sn, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	p, err := Prepare(sn, "node-a", time.Unix(1700000000, 0), content)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var buf bytes.Buffer
	if n, err := p.WriteTo(&buf); err != nil || n != p.Size() || int64(buf.Len()) != p.Size() {
		t.Fatalf("wrote %d bytes (buffer %d) of %d announced: %v", n, buf.Len(), p.Size(), err)
	}
	return buf.Bytes(), p.Manifest
}

func checkRestoredContent(t *testing.T, dir string, contents map[string][]byte) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(dir, blobs.DataDirName))
	if len(ents) != len(contents) {
		t.Fatalf("restored %d content files, want %d", len(ents), len(contents))
	}
	for sha, want := range contents {
		got, err := os.ReadFile(filepath.Join(dir, blobs.DataDirName, sha))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("restored content %s: %d bytes, %v", sha, len(got), err)
		}
	}
}

// TestContentSection: a backup carries the bundle content its state keeps
// in files, restore puts the files back, and any change to them or to
// their list is caught.
func TestContentSection(t *testing.T) {
	st, contents, open := withFileContent(t)
	b, m := backupWithContent(t, st, open)
	var total int64
	for _, c := range contents {
		total += int64(len(c))
	}
	if m.Format != 3 || m.ContentFiles != 2 || m.ContentBytes != total {
		t.Fatalf("manifest %+v", m)
	}
	if _, err := Verify(bytes.NewReader(b), nil); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "new")
	// A byte at a time: entry heads and files are split at every point.
	if _, err := Restore(iotest.OneByteReader(bytes.NewReader(b)), dir, nil); err != nil {
		t.Fatal(err)
	}
	checkRestoredContent(t, dir, contents)

	// Damage: a content byte, an entry's size, a file cut off.
	sectionAt := int64(len(b)) - trailerLen - m.sectionLen()
	for name, damage := range map[string]func([]byte) []byte{
		"content byte": func(c []byte) []byte { c[sectionAt+entryLen+10] ^= 1; return c },
		"entry size": func(c []byte) []byte {
			at := sectionAt + sha256.Size
			binary.BigEndian.PutUint64(c[at:], binary.BigEndian.Uint64(c[at:])-1)
			return c
		},
		"entry sha": func(c []byte) []byte { c[sectionAt] ^= 1; return c },
		"cut":       func(c []byte) []byte { return append(c[:sectionAt+entryLen+5], c[len(c)-trailerLen:]...) },
	} {
		bad := damage(bytes.Clone(b))
		if _, err := Verify(bytes.NewReader(bad), nil); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: verify says %v, want ErrInvalid", name, err)
		}
		dir := filepath.Join(t.TempDir(), "bad")
		if _, err := Restore(bytes.NewReader(bad), dir, nil); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: restore says %v, want ErrInvalid", name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, blobs.DataDirName)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: a refused restore left content files (%v)", name, err)
		}
	}

	// Without a Content (a DR standby's seed), the database alone.
	lean, m := backupWithContent(t, st, nil)
	if m.ContentFiles != 0 || len(lean) >= len(b)-int(total) {
		t.Fatalf("backup without content: %d files, %d bytes (with: %d)", m.ContentFiles, len(lean), len(b))
	}
	if _, err := Verify(bytes.NewReader(lean), nil); err != nil {
		t.Fatal(err)
	}
}

// TestScheduledBackupCarriesContent: a backup written in place into the
// backup directory has the content section too.
func TestScheduledBackupCarriesContent(t *testing.T) {
	st, contents, open := withFileContent(t)
	s := New(st, &fakeNode{leader: true}, Config{Dir: t.TempDir(), Interval: time.Hour, Keep: 5, Now: time.Now, Content: open})
	path, err := s.RunOnce()
	if err != nil || path == "" {
		t.Fatalf("run: %q %v", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := Verify(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.ContentFiles != len(contents) {
		t.Fatalf("scheduled backup: %d content files, want %d", info.ContentFiles, len(contents))
	}
	f.Seek(0, 0)
	dir := filepath.Join(t.TempDir(), "new")
	if _, err := Restore(f, dir, nil); err != nil {
		t.Fatal(err)
	}
	checkRestoredContent(t, dir, contents)
}

// TestFormat2StillReads: a backup of the format before the content
// section verifies and restores.
func TestFormat2StillReads(t *testing.T) {
	st, _ := seeded(t, 2)
	b, m := takeBackup(t, st)
	old := bytes.Clone(b)
	binary.BigEndian.PutUint32(old[8:], 2)
	hdrLen := fixedHdrLen + int(binary.BigEndian.Uint32(old[12:]))
	head := bytes.Replace(old[:hdrLen], []byte(`"format":3`), []byte(`"format":2`), 1)
	copy(old, head)
	frameHead := old[hdrLen : hdrLen+store.FrameHeaderLen]
	frameEnd := hdrLen + int(m.StreamBytes)
	frameSum := old[frameEnd-store.FrameSumLen : frameEnd]
	tj := old[len(old)-trailerLen+8 : len(old)-sha256.Size]
	copy(old[len(old)-sha256.Size:], trailerSum(old[:hdrLen], frameHead, frameSum, nil, tj))
	info, err := Verify(bytes.NewReader(old), nil)
	if err != nil || info.Format != 2 {
		t.Fatalf("format 2: %+v %v", info.Manifest, err)
	}
	if _, err := Restore(bytes.NewReader(old), filepath.Join(t.TempDir(), "n"), nil); err != nil {
		t.Fatal(err)
	}
}

// recordSink keeps what a Checker hands a ContentSink, checking the calls
// pair up.
type recordSink struct {
	t     *testing.T
	open  string
	bytes map[string]*bytes.Buffer
	ended []string
}

func (s *recordSink) Begin(sha string, size int64) (io.Writer, error) {
	if s.open != "" {
		s.t.Fatalf("Begin(%s) while %s is open", sha, s.open)
	}
	s.open = sha
	s.bytes[sha] = &bytes.Buffer{}
	return s.bytes[sha], nil
}

func (s *recordSink) End(sha string) error {
	if s.open != sha {
		s.t.Fatalf("End(%s) while %q is open", sha, s.open)
	}
	s.open = ""
	s.ended = append(s.ended, sha)
	return nil
}

// FuzzChecker feeds damaged backups to the Checker (what `weir backup
// verify` and `weir restore` read): it never panics, a refusal is
// ErrInvalid, and a file it hands on as complete holds the bytes of its
// SHA-256. The input is what follows the database frame (the content
// section and the trailer; the frame is checked by its own XXH64, and a
// whole backup is too large an input to fuzz quickly), after the header
// and frame of a real backup with two content files.
func FuzzChecker(f *testing.F) {
	st, _, open := withFileContent(f, []byte("PK first"), []byte("PK second"))
	good, m := backupWithContent(f, st, open)
	hdrLen := fixedHdrLen + int(binary.BigEndian.Uint32(good[12:]))
	prefix := good[:hdrLen+int(m.StreamBytes)]
	tail := good[len(prefix):]
	f.Add(tail, uint16(0))
	f.Add(tail[:len(tail)/2], uint16(30))
	f.Add(tail[entryLen+8:], uint16(1))
	f.Fuzz(func(t *testing.T, tail []byte, split uint16) {
		b := append(bytes.Clone(prefix), tail...)
		sink := &recordSink{t: t, bytes: map[string]*bytes.Buffer{}}
		c := Checker{Content: sink}
		// Written in two pieces, split anywhere in the tail.
		cut := len(prefix) + int(split)%(len(tail)+1)
		_, err := c.Write(b[:cut])
		if err == nil {
			_, err = c.Write(b[cut:])
		}
		info, ferr := c.Finish()
		if err == nil {
			err = ferr
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("refused with %v, not ErrInvalid", err)
		}
		for _, sha := range sink.ended {
			sum := sha256.Sum256(sink.bytes[sha].Bytes())
			if hex.EncodeToString(sum[:]) != sha {
				t.Fatalf("content %s handed on with other bytes", sha)
			}
		}
		if err == nil && len(sink.ended) != info.ContentFiles {
			t.Fatalf("accepted with %d content files of %d", len(sink.ended), info.ContentFiles)
		}
	})
}
