package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/weir-nifi/weir/internal/store"
)

// File format constants (see the package documentation).
const (
	Magic         = "WEIRBKUP"
	FormatVersion = 1
	trailerMagic  = "WEIRBEND"
	trailerLen    = 8 + sha256.Size
	fixedHdrLen   = 8 + 4 + 4
	maxManifest   = 1 << 20
	// The store's snapshot frame: a 32-byte header whose last 8 bytes are
	// the database length, the database, and its SHA-256.
	snapMagic  = "WEIRSNAP"
	snapHdrLen = 32
	// Ext is the extension of backup files.
	Ext = ".weirbak"
)

// ErrInvalid is returned for a file that is not a complete, unaltered Weir
// backup.
var ErrInvalid = errors.New("invalid backup")

// Manifest describes a backup. It is written before the data, so a reader
// knows what a file holds from its first bytes.
type Manifest struct {
	Format int `json:"format"`
	// Index is the Raft index of the last write the backup holds.
	Index     uint64    `json:"index"`
	CreatedAt time.Time `json:"createdAt"`
	NodeID    string    `json:"nodeId,omitempty"`
	// StoreFormat is the store's on-disk format version.
	StoreFormat int          `json:"storeFormat"`
	Counts      store.Counts `json:"counts"`
	// StateHash is the store's state hash at Index (see store.StateHash).
	StateHash string `json:"stateHash"`
	// StoreBytes is the size of the database file; StreamBytes the size
	// of the snapshot stream around it.
	StoreBytes  int64 `json:"storeBytes"`
	StreamBytes int64 `json:"streamBytes"`
}

// Info is what reading a whole backup learns: its manifest and checksums.
type Info struct {
	Manifest
	// ContentSHA256 is the SHA-256 of the database bytes.
	ContentSHA256 string `json:"contentSha256"`
	// SHA256 is the trailer's checksum (manifest, snapshot header and
	// content checksum).
	SHA256 string `json:"sha256"`
	// FileBytes is the size of the whole backup.
	FileBytes int64 `json:"fileBytes"`
}

// Snapshot is the point-in-time view a backup is written from
// (*store.Snapshot).
type Snapshot interface {
	Index() uint64
	Counts() store.Counts
	Hash() string
	Size() int64
	StreamSize() int64
	WriteTo(w io.Writer) (int64, error)
}

// Prepared is a backup ready to stream: its manifest and exact size.
type Prepared struct {
	Manifest Manifest
	sn       Snapshot
	header   []byte
}

// Prepare computes the manifest of a snapshot (a pass over the state for
// the counts and the state hash).
func Prepare(sn Snapshot, nodeID string, now time.Time) (*Prepared, error) {
	m := Manifest{
		Format: FormatVersion, Index: sn.Index(), CreatedAt: now.UTC(), NodeID: nodeID,
		StoreFormat: store.FormatVersion, Counts: sn.Counts(), StateHash: sn.Hash(),
		StoreBytes: sn.Size(), StreamBytes: sn.StreamSize(),
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, 0, fixedHdrLen+len(mb))
	hdr = append(hdr, Magic...)
	hdr = binary.BigEndian.AppendUint32(hdr, FormatVersion)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(mb)))
	hdr = append(hdr, mb...)
	return &Prepared{Manifest: m, sn: sn, header: hdr}, nil
}

// Size is the number of bytes WriteTo writes.
func (p *Prepared) Size() int64 {
	return int64(len(p.header)) + p.Manifest.StreamBytes + trailerLen
}

// WriteTo writes the whole backup.
func (p *Prepared) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(p.header)
	total := int64(n)
	if err != nil {
		return total, err
	}
	ew := &edgeWriter{w: w}
	m, err := p.sn.WriteTo(ew)
	total += m
	if err != nil {
		return total, err
	}
	if m != p.Manifest.StreamBytes || ew.n < snapHdrLen+sha256.Size {
		return total, fmt.Errorf("snapshot stream was %d bytes, expected %d", m, p.Manifest.StreamBytes)
	}
	tr := make([]byte, 0, trailerLen)
	tr = append(tr, trailerMagic...)
	tr = append(tr, trailerSum(p.header, ew.head[:], ew.tail[:])...)
	n, err = w.Write(tr)
	return total + int64(n), err
}

func trailerSum(header, snapHead, snapSum []byte) []byte {
	h := sha256.New()
	h.Write(header)
	h.Write(snapHead)
	h.Write(snapSum)
	return h.Sum(nil)
}

// edgeWriter passes bytes through and keeps the first snapHdrLen and the
// last sha256.Size of them.
type edgeWriter struct {
	w    io.Writer
	n    int64
	head [snapHdrLen]byte
	tail [sha256.Size]byte
}

func (e *edgeWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	e.note(p[:n])
	return n, err
}

func (e *edgeWriter) note(p []byte) {
	if e.n < snapHdrLen {
		copy(e.head[e.n:], p)
	}
	e.n += int64(len(p))
	if len(p) >= len(e.tail) {
		copy(e.tail[:], p[len(p)-len(e.tail):])
		return
	}
	copy(e.tail[:], e.tail[len(p):])
	copy(e.tail[len(e.tail)-len(p):], p)
}

// edgeReader is edgeWriter for a reader.
type edgeReader struct {
	r io.Reader
	edgeWriter
}

func (e *edgeReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.note(p[:n])
	return n, err
}

// ReadHeader reads the magic, version and manifest at the start of a
// backup and returns the manifest and the raw header bytes.
func ReadHeader(r io.Reader) (Manifest, []byte, error) {
	var m Manifest
	fixed := make([]byte, fixedHdrLen)
	if _, err := io.ReadFull(r, fixed); err != nil {
		return m, nil, fmt.Errorf("%w: file too short for a backup header (%v)", ErrInvalid, err)
	}
	if string(fixed[:8]) != Magic {
		return m, nil, fmt.Errorf("%w: not a Weir backup file (no %s magic)", ErrInvalid, Magic)
	}
	if v := binary.BigEndian.Uint32(fixed[8:]); v != FormatVersion {
		return m, nil, fmt.Errorf("%w: backup format %d, this build reads %d", ErrInvalid, v, FormatVersion)
	}
	ml := binary.BigEndian.Uint32(fixed[12:])
	if ml == 0 || ml > maxManifest {
		return m, nil, fmt.Errorf("%w: bad manifest length %d", ErrInvalid, ml)
	}
	hdr := make([]byte, fixedHdrLen+int(ml))
	copy(hdr, fixed)
	if _, err := io.ReadFull(r, hdr[fixedHdrLen:]); err != nil {
		return m, nil, fmt.Errorf("%w: truncated manifest (%v)", ErrInvalid, err)
	}
	if err := json.Unmarshal(hdr[fixedHdrLen:], &m); err != nil {
		return m, nil, fmt.Errorf("%w: manifest is not valid JSON: %v", ErrInvalid, err)
	}
	if m.StoreFormat != store.FormatVersion {
		return m, nil, fmt.Errorf("%w: store format %d, this build reads %d", ErrInvalid, m.StoreFormat, store.FormatVersion)
	}
	return m, hdr, nil
}

// readTrailer reads and checks the trailer and that nothing follows it.
func readTrailer(r io.Reader, header []byte, snap *edgeWriter) (string, error) {
	tr := make([]byte, trailerLen)
	if _, err := io.ReadFull(r, tr); err != nil {
		return "", fmt.Errorf("%w: truncated: the checksum trailer is missing (%v)", ErrInvalid, err)
	}
	if string(tr[:8]) != trailerMagic {
		return "", fmt.Errorf("%w: damaged checksum trailer", ErrInvalid)
	}
	want := trailerSum(header, snap.head[:], snap.tail[:])
	if !bytes.Equal(tr[8:], want) {
		return "", fmt.Errorf("%w: checksum mismatch: the manifest or snapshot header was altered", ErrInvalid)
	}
	var one [1]byte
	if n, _ := io.ReadFull(r, one[:]); n > 0 {
		return "", fmt.Errorf("%w: unexpected data after the checksum trailer", ErrInvalid)
	}
	return hex.EncodeToString(tr[8:]), nil
}

// Verify reads a whole backup and checks every checksum without writing
// the database anywhere. progress, if not nil, is told the bytes read.
func Verify(r io.Reader, progress func(n int64)) (Info, error) {
	var info Info
	cr := &countingReader{r: r, fn: progress}
	br := bufio.NewReaderSize(cr, 1<<20)
	m, hdr, err := ReadHeader(br)
	if err != nil {
		return info, err
	}
	info.Manifest = m
	er := &edgeReader{r: br}
	sh := make([]byte, snapHdrLen)
	if _, err := io.ReadFull(er, sh); err != nil {
		return info, fmt.Errorf("%w: truncated snapshot header (%v)", ErrInvalid, err)
	}
	if string(sh[:8]) != snapMagic {
		return info, fmt.Errorf("%w: damaged snapshot header", ErrInvalid)
	}
	if idx := binary.BigEndian.Uint64(sh[16:]); idx != m.Index {
		return info, fmt.Errorf("%w: snapshot index %d differs from the manifest's %d", ErrInvalid, idx, m.Index)
	}
	size := int64(binary.BigEndian.Uint64(sh[24:]))
	if size != m.StoreBytes || size <= 0 {
		return info, fmt.Errorf("%w: snapshot length %d differs from the manifest's %d", ErrInvalid, size, m.StoreBytes)
	}
	sum := sha256.New()
	n, err := io.Copy(sum, io.LimitReader(er, size))
	if err != nil {
		return info, err
	}
	if n != size {
		return info, fmt.Errorf("%w: truncated: %d of %d database bytes", ErrInvalid, n, size)
	}
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(er, got); err != nil {
		return info, fmt.Errorf("%w: truncated: the content checksum is missing (%v)", ErrInvalid, err)
	}
	if !bytes.Equal(got, sum.Sum(nil)) {
		return info, fmt.Errorf("%w: content checksum mismatch: the database bytes were altered", ErrInvalid)
	}
	info.ContentSHA256 = hex.EncodeToString(got)
	if info.SHA256, err = readTrailer(br, hdr, &er.edgeWriter); err != nil {
		return info, err
	}
	info.FileBytes = cr.n - int64(br.Buffered())
	return info, nil
}

type countingReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.fn != nil && n > 0 {
		c.fn(int64(n))
	}
	return n, err
}
