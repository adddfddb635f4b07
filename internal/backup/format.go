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
	"hash"
	"io"
	"os"
	"slices"
	"time"

	"github.com/weir-nifi/weir/internal/store"
)

// File format constants (see the package documentation).
const (
	Magic         = "WEIRBKUP"
	FormatVersion = 3
	// oldestFormat is the oldest format this build reads: format 2 is
	// format 3 without the content section.
	oldestFormat = 2
	trailerMagic = "WEIRBEND"
	fixedHdrLen  = 8 + 4 + 4
	maxManifest  = 1 << 20
	// tailJSONLen is the fixed size of the trailer's JSON (space padded),
	// so the whole file's size is known before the state is summarised.
	tailJSONLen = 472
	trailerLen  = 8 + tailJSONLen + sha256.Size
	// Ext is the extension of backup files.
	Ext = ".weirbak"
)

// ErrInvalid is returned for a file that is not a complete, unaltered Weir
// backup.
var ErrInvalid = errors.New("invalid backup")

// Manifest describes a backup. The head fields are written before the
// data, so a reader knows what a file holds from its first bytes; Counts
// and StateHash are in the trailer (format 2 computed them while the data
// streamed; the store now keeps them, but the format stays).
type Manifest struct {
	Format int `json:"format"`
	// Index is the Raft index of the last write the backup holds.
	Index     uint64    `json:"index"`
	CreatedAt time.Time `json:"createdAt"`
	NodeID    string    `json:"nodeId,omitempty"`
	// StoreFormat is the store's on-disk format version.
	StoreFormat int `json:"storeFormat"`
	// StoreBytes is the size of the database file; StreamBytes the size
	// of the snapshot frame around it.
	StoreBytes  int64 `json:"storeBytes"`
	StreamBytes int64 `json:"streamBytes"`
	// ContentFiles and ContentBytes are the content section's (format 3):
	// bundle content kept in files beside the log.
	ContentFiles int   `json:"contentFiles,omitempty"`
	ContentBytes int64 `json:"contentBytes,omitempty"`
	// From the trailer: the store's state hash and counts at Index.
	Counts    store.Counts `json:"counts"`
	StateHash string       `json:"stateHash"`
}

// head is the part of the manifest written before the data.
type head struct {
	Format      int       `json:"format"`
	Index       uint64    `json:"index"`
	CreatedAt   time.Time `json:"createdAt"`
	NodeID      string    `json:"nodeId,omitempty"`
	StoreFormat int       `json:"storeFormat"`
	StoreBytes  int64     `json:"storeBytes"`
	StreamBytes int64     `json:"streamBytes"`
	// ContentFiles and ContentBytes size the content section.
	ContentFiles int   `json:"contentFiles,omitempty"`
	ContentBytes int64 `json:"contentBytes,omitempty"`
}

// Info is what reading a whole backup learns: its manifest and checksums.
type Info struct {
	Manifest
	// ContentChecksum is the snapshot frame's XXH64 (hex).
	ContentChecksum string `json:"contentXxh64"`
	// SHA256 is the trailer's checksum over the manifest, the frame's
	// header and checksum, and the trailer's JSON.
	SHA256 string `json:"sha256"`
	// FileBytes is the size of the whole backup.
	FileBytes int64 `json:"fileBytes"`
}

// Snapshot is the point-in-time view a backup is written from
// (*store.Snapshot).
type Snapshot interface {
	Index() uint64
	Summary() store.Summary
	Size() int64
	StreamSize() int64
	WriteTo(w io.Writer) (int64, error)
	FileContents() (map[string]int64, error)
}

// Content opens the file of bundle content with a SHA-256 and size,
// fetching it from another node first if this one lacks it.
type Content func(sha string, size int64) (*os.File, error)

// contentFile is one file of the content section, opened when the backup
// is prepared: a file deleted meanwhile (its last version deleted) still
// reads whole.
type contentFile struct {
	sha  [sha256.Size]byte
	size int64
	f    *os.File
}

// entryLen is the size of a content entry's head: the SHA-256, then the
// size (big-endian).
const entryLen = sha256.Size + 8

// Prepared is a backup ready to stream: its manifest and exact size.
// Close releases the content files it opened.
type Prepared struct {
	Manifest Manifest
	sn       Snapshot
	header   []byte
	files    []contentFile
}

// Prepare builds the head of a backup and opens the content files the
// snapshot refers to (with content nil, the backup carries none: a DR
// standby fetches them on its own).
func Prepare(sn Snapshot, nodeID string, now time.Time, content Content) (*Prepared, error) {
	return prepare(sn, nodeID, now, 0, content)
}

// prepare is Prepare; with imageAt > 0 the head manifest is padded with
// spaces (JSON ignores them) so that the database image starts at offset
// imageAt of the file, where a backup written in place copied it.
func prepare(sn Snapshot, nodeID string, now time.Time, imageAt int64, content Content) (*Prepared, error) {
	p := &Prepared{sn: sn}
	if content != nil {
		want, err := sn.FileContents()
		if err != nil {
			return nil, err
		}
		shas := make([]string, 0, len(want))
		for sha := range want {
			shas = append(shas, sha)
		}
		slices.Sort(shas)
		for _, sha := range shas {
			raw, err := hex.DecodeString(sha)
			if err != nil || len(raw) != sha256.Size {
				p.Close()
				return nil, fmt.Errorf("backup: the state names content %q, not a SHA-256", sha)
			}
			f, err := content(sha, want[sha])
			if err != nil {
				p.Close()
				return nil, fmt.Errorf("backup: bundle content %s: %w", sha, err)
			}
			cf := contentFile{size: want[sha], f: f}
			copy(cf.sha[:], raw)
			p.files = append(p.files, cf)
		}
	}
	h := head{Format: FormatVersion, Index: sn.Index(), CreatedAt: now.UTC(), NodeID: nodeID,
		StoreFormat: store.FormatVersion, StoreBytes: sn.Size(), StreamBytes: sn.StreamSize(), ContentFiles: len(p.files)}
	for _, f := range p.files {
		h.ContentBytes += f.size
	}
	mb, err := json.Marshal(h)
	if err != nil {
		p.Close()
		return nil, err
	}
	if imageAt > 0 {
		pad := int(imageAt) - fixedHdrLen - store.FrameHeaderLen - len(mb)
		if pad < 0 {
			p.Close()
			return nil, fmt.Errorf("backup manifest of %d bytes does not fit before offset %d", len(mb), imageAt)
		}
		mb = append(mb, bytes.Repeat([]byte{' '}, pad)...)
	}
	hdr := make([]byte, 0, fixedHdrLen+len(mb))
	hdr = append(hdr, Magic...)
	hdr = binary.BigEndian.AppendUint32(hdr, FormatVersion)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(mb)))
	hdr = append(hdr, mb...)
	// The store keeps its state hash and counts (store/statehash.go):
	// reading them here costs nothing. They travel in the trailer.
	s := sn.Summary()
	p.Manifest = Manifest{Format: h.Format, Index: h.Index, CreatedAt: h.CreatedAt, NodeID: h.NodeID,
		StoreFormat: h.StoreFormat, StoreBytes: h.StoreBytes, StreamBytes: h.StreamBytes,
		ContentFiles: h.ContentFiles, ContentBytes: h.ContentBytes,
		Counts: s.Counts, StateHash: s.StateHash}
	p.header = hdr
	return p, nil
}

// Close closes the content files the backup opened.
func (p *Prepared) Close() {
	for _, f := range p.files {
		f.f.Close()
	}
	p.files = nil
}

// sectionLen is the size of the content section.
func (m Manifest) sectionLen() int64 { return int64(m.ContentFiles)*entryLen + m.ContentBytes }

// entriesSum is the SHA-256 of the content section's entry heads, which
// the trailer's checksum covers (each file's bytes are checked against
// its own SHA-256).
func (p *Prepared) entriesSum() []byte {
	h := sha256.New()
	for _, f := range p.files {
		h.Write(entryHead(f.sha[:], f.size))
	}
	return h.Sum(nil)
}

func entryHead(sha []byte, size int64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, entryLen), sha...), uint64(size))
}

// writeSection writes the content section: each file's entry head and
// bytes, which must be exactly its size.
func (p *Prepared) writeSection(w io.Writer) (int64, error) {
	var total int64
	for _, f := range p.files {
		n, err := w.Write(entryHead(f.sha[:], f.size))
		total += int64(n)
		if err != nil {
			return total, err
		}
		m, err := io.Copy(w, io.NewSectionReader(f.f, 0, f.size))
		total += m
		if err != nil {
			return total, err
		}
		if m != f.size {
			return total, fmt.Errorf("backup: content %x is %d bytes, not %d", f.sha, m, f.size)
		}
	}
	return total, nil
}

// Summarize is the state hash and counts of the backup (the scheduler uses
// them to skip unchanged states).
func (p *Prepared) Summarize() store.Summary {
	return store.Summary{StateHash: p.Manifest.StateHash, Counts: p.Manifest.Counts}
}

// Size is the number of bytes WriteTo writes.
func (p *Prepared) Size() int64 {
	return int64(len(p.header)) + p.Manifest.StreamBytes + p.Manifest.sectionLen() + trailerLen
}

// WriteTo writes the whole backup: header, the store's snapshot frame and
// the trailer.
func (p *Prepared) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(p.header)
	total := int64(n)
	if err == nil {
		ew := &edgeWriter{w: w}
		var m int64
		if _, ok := w.(io.ReaderFrom); ok {
			m, err = p.sn.WriteTo(edgeReaderFrom{ew})
		} else {
			m, err = p.sn.WriteTo(ew)
		}
		total += m
		if err == nil && m != p.Manifest.StreamBytes {
			err = fmt.Errorf("snapshot stream was %d bytes, expected %d", m, p.Manifest.StreamBytes)
		}
		if err == nil {
			m, err = p.writeSection(w)
			total += m
		}
		if err == nil {
			var tr []byte
			if tr, err = trailer(p.header, ew.head[:], ew.tail[:], p.entriesSum(), p.Summarize()); err == nil {
				n, err = w.Write(tr)
				total += int64(n)
			}
		}
	}
	return total, err
}

// tailJSON is the trailer's payload, padded to tailJSONLen.
func tailJSON(s store.Summary) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if len(b) > tailJSONLen {
		return nil, fmt.Errorf("backup trailer JSON is %d bytes, more than %d", len(b), tailJSONLen)
	}
	return append(b, bytes.Repeat([]byte{' '}, tailJSONLen-len(b))...), nil
}

func trailer(header, frameHead, frameSum, entries []byte, s store.Summary) ([]byte, error) {
	tj, err := tailJSON(s)
	if err != nil {
		return nil, err
	}
	tr := make([]byte, 0, trailerLen)
	tr = append(tr, trailerMagic...)
	tr = append(tr, tj...)
	return append(tr, trailerSum(header, frameHead, frameSum, entries, tj)...), nil
}

// trailerSum covers the header, the frame's header and checksum, the
// content section's entry heads (format 3; entries is nil for format 2)
// and the trailer's JSON.
func trailerSum(header, frameHead, frameSum, entries, tj []byte) []byte {
	h := sha256.New()
	h.Write(header)
	h.Write(frameHead)
	h.Write(frameSum)
	h.Write(entries)
	h.Write(tj)
	return h.Sum(nil)
}

// edgeWriter passes bytes through and keeps the first FrameHeaderLen and
// the last FrameSumLen of them: the frame's header and checksum. Both are
// always written with Write (only the database image in between may come
// through edgeReaderFrom).
type edgeWriter struct {
	w    io.Writer
	n    int64
	head [store.FrameHeaderLen]byte
	tail [store.FrameSumLen]byte
}

func (e *edgeWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	e.note(p[:n])
	return n, err
}

// edgeReaderFrom is an edgeWriter over an io.ReaderFrom, passing file
// ranges on so the kernel can move them.
type edgeReaderFrom struct{ *edgeWriter }

func (e edgeReaderFrom) ReadFrom(r io.Reader) (int64, error) {
	n, err := e.w.(io.ReaderFrom).ReadFrom(r)
	e.n += n
	return n, err
}

func (e *edgeWriter) note(p []byte) {
	if e.n < store.FrameHeaderLen {
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

// ReadHeader reads the magic, version and head manifest at the start of a
// backup and returns the manifest (without the trailer's fields) and the
// raw header bytes.
func ReadHeader(r io.Reader) (Manifest, []byte, error) {
	fixed := make([]byte, fixedHdrLen)
	if _, err := io.ReadFull(r, fixed); err != nil {
		return Manifest{}, nil, fmt.Errorf("%w: file too short for a backup header (%v)", ErrInvalid, err)
	}
	ml, err := parseFixed(fixed)
	if err != nil {
		return Manifest{}, nil, err
	}
	hdr := make([]byte, fixedHdrLen+ml)
	copy(hdr, fixed)
	if _, err := io.ReadFull(r, hdr[fixedHdrLen:]); err != nil {
		return Manifest{}, nil, fmt.Errorf("%w: truncated manifest (%v)", ErrInvalid, err)
	}
	m, err := parseHead(hdr)
	return m, hdr, err
}

// parseFixed checks the fixed part of the header and returns the length of
// the head manifest that follows it.
func parseFixed(fixed []byte) (int, error) {
	if string(fixed[:8]) != Magic {
		return 0, fmt.Errorf("%w: not a Weir backup file (no %s magic)", ErrInvalid, Magic)
	}
	if v := binary.BigEndian.Uint32(fixed[8:]); v < oldestFormat || v > FormatVersion {
		return 0, fmt.Errorf("%w: backup format %d, this build reads %d to %d", ErrInvalid, v, oldestFormat, FormatVersion)
	}
	ml := binary.BigEndian.Uint32(fixed[12:])
	if ml == 0 || ml > maxManifest {
		return 0, fmt.Errorf("%w: bad manifest length %d", ErrInvalid, ml)
	}
	return int(ml), nil
}

// parseHead parses the head manifest of a complete header.
func parseHead(hdr []byte) (Manifest, error) {
	var h head
	if err := json.Unmarshal(hdr[fixedHdrLen:], &h); err != nil {
		return Manifest{}, fmt.Errorf("%w: manifest is not valid JSON: %v", ErrInvalid, err)
	}
	if h.StoreFormat != store.FormatVersion {
		return Manifest{}, fmt.Errorf("%w: store format %d, this build reads %d", ErrInvalid, h.StoreFormat, store.FormatVersion)
	}
	if h.StoreBytes <= 0 || h.StreamBytes != store.FrameHeaderLen+h.StoreBytes+store.FrameSumLen {
		return Manifest{}, fmt.Errorf("%w: the manifest's sizes disagree (store %d bytes, stream %d bytes)", ErrInvalid, h.StoreBytes, h.StreamBytes)
	}
	if v := int(binary.BigEndian.Uint32(hdr[8:])); h.Format != v {
		return Manifest{}, fmt.Errorf("%w: the manifest says format %d, the header %d", ErrInvalid, h.Format, v)
	}
	if h.ContentFiles < 0 || h.ContentBytes < 0 || h.ContentFiles == 0 && h.ContentBytes != 0 || h.Format < 3 && h.ContentFiles != 0 {
		return Manifest{}, fmt.Errorf("%w: bad content section (%d files, %d bytes)", ErrInvalid, h.ContentFiles, h.ContentBytes)
	}
	return Manifest{Format: h.Format, Index: h.Index, CreatedAt: h.CreatedAt, NodeID: h.NodeID,
		StoreFormat: h.StoreFormat, StoreBytes: h.StoreBytes, StreamBytes: h.StreamBytes,
		ContentFiles: h.ContentFiles, ContentBytes: h.ContentBytes}, nil
}

// checkFrame ties a verified snapshot frame to the manifest.
func checkFrame(f store.Frame, m Manifest) error {
	if f.Index != m.Index || f.Size != m.StoreBytes {
		return fmt.Errorf("%w: snapshot (index %d, %d bytes) differs from the manifest (index %d, %d bytes)", ErrInvalid, f.Index, f.Size, m.Index, m.StoreBytes)
	}
	return nil
}

// frameError maps the store's frame errors to ErrInvalid.
func frameError(err error) error {
	if errors.Is(err, store.ErrBadSnapshot) || errors.Is(err, store.ErrFormat) {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return err
}

// readTrailer reads and checks the trailer, fills the manifest's trailer
// fields and checks that nothing follows.
func readTrailer(r io.Reader, header []byte, f store.Frame, entries []byte, m *Manifest) (string, error) {
	tr := make([]byte, trailerLen)
	if _, err := io.ReadFull(r, tr); err != nil {
		return "", fmt.Errorf("%w: truncated: the checksum trailer is missing (%v)", ErrInvalid, err)
	}
	if string(tr[:8]) != trailerMagic {
		return "", fmt.Errorf("%w: damaged checksum trailer", ErrInvalid)
	}
	tj := tr[8 : 8+tailJSONLen]
	want := trailerSum(header, f.Header[:], f.Sum[:], entries, tj)
	if !bytes.Equal(tr[8+tailJSONLen:], want) {
		return "", fmt.Errorf("%w: checksum mismatch: the manifest, snapshot header or trailer was altered", ErrInvalid)
	}
	var s store.Summary
	if err := json.Unmarshal(bytes.TrimRight(tj, " "), &s); err != nil {
		return "", fmt.Errorf("%w: trailer is not valid JSON: %v", ErrInvalid, err)
	}
	m.Counts, m.StateHash = s.Counts, s.StateHash
	var one [1]byte
	if n, _ := io.ReadFull(r, one[:]); n > 0 {
		return "", fmt.Errorf("%w: unexpected data after the checksum trailer", ErrInvalid)
	}
	return hex.EncodeToString(tr[8+tailJSONLen:]), nil
}

// Verify reads a whole backup and checks every checksum without writing
// the database anywhere. progress, if not nil, is told the bytes read.
func Verify(r io.Reader, progress func(n int64)) (Info, error) {
	var c Checker
	return c.Copy(nil, r, progress)
}

// A Checker verifies a backup file written through it, in one pass: a
// download is saved and verified at once (io.MultiWriter of the file and
// the Checker), a restore writes the database out while it is verified
// (Data). Write fails as soon as the file is known bad; Finish says
// whether all of it was a complete, unaltered backup.
type Checker struct {
	// Data, if set, receives the database bytes of the snapshot frame as
	// they pass (unverified until Finish succeeds).
	Data io.Writer
	// Content, if set, receives the content section's files as they
	// pass; each is verified against its SHA-256 before the next begins.
	Content ContentSink

	hdr    []byte // the header, once complete
	need   int    // header bytes expected (fixedHdrLen until the length is known)
	m      Manifest
	frame  store.FrameChecker
	framed int64 // frame bytes seen
	sect   section
	tr     []byte
	n      int64
	err    error
	headed bool // hdr is complete and m parsed from it
}

// Write feeds the next bytes of the file.
func (c *Checker) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n := len(p)
	for len(p) > 0 && c.err == nil {
		switch {
		case !c.headed:
			p = c.takeHeader(p)
		case c.framed < c.m.StreamBytes:
			k := min(int64(len(p)), c.m.StreamBytes-c.framed)
			c.takeFrame(p[:k])
			p = p[k:]
		case c.sect.files < c.m.ContentFiles || c.sect.open:
			p, c.err = c.sect.take(p, c.m, c.Content)
		default:
			if len(c.tr)+len(p) > trailerLen {
				c.err = fmt.Errorf("%w: unexpected data after the checksum trailer", ErrInvalid)
				break
			}
			c.tr = append(c.tr, p...)
			p = nil
		}
	}
	if c.err != nil {
		return 0, c.err
	}
	c.n += int64(n)
	return n, nil
}

// takeHeader collects the header and parses it once complete.
func (c *Checker) takeHeader(p []byte) []byte {
	if c.need == 0 {
		c.need = fixedHdrLen
	}
	k := min(len(p), c.need-len(c.hdr))
	c.hdr = append(c.hdr, p[:k]...)
	p = p[k:]
	if len(c.hdr) < c.need {
		return p
	}
	if c.need == fixedHdrLen {
		ml, err := parseFixed(c.hdr)
		c.need += ml
		c.err = err
		return p
	}
	c.m, c.err = parseHead(c.hdr)
	c.headed = c.err == nil
	return p
}

// takeFrame feeds the frame checker and hands the database bytes to Data.
func (c *Checker) takeFrame(p []byte) {
	start := c.framed
	c.framed += int64(len(p))
	if _, err := c.frame.Write(p); err != nil {
		c.err = frameError(err)
		return
	}
	if c.Data == nil {
		return
	}
	// The database is frame bytes [FrameHeaderLen, FrameHeaderLen+StoreBytes).
	lo := max(store.FrameHeaderLen-start, 0)
	hi := min(store.FrameHeaderLen+c.m.StoreBytes-start, int64(len(p)))
	if lo < hi {
		if _, err := c.Data.Write(p[lo:hi]); err != nil {
			c.err = err
		}
	}
}

// Finish checks that a whole backup was written and that every checksum
// matches, and returns what it holds.
func (c *Checker) Finish() (Info, error) {
	var info Info
	if c.err != nil {
		return info, c.err
	}
	switch {
	case !c.headed && len(c.hdr) < fixedHdrLen:
		return info, fmt.Errorf("%w: file too short for a backup header (%d bytes)", ErrInvalid, len(c.hdr))
	case !c.headed:
		return info, fmt.Errorf("%w: truncated manifest (%d of %d bytes)", ErrInvalid, len(c.hdr), c.need)
	}
	f, err := c.frame.Finish()
	if err != nil {
		return info, frameError(err)
	}
	if err := checkFrame(f, c.m); err != nil {
		return info, err
	}
	if c.sect.files < c.m.ContentFiles || c.sect.open || c.sect.bytes != c.m.ContentBytes {
		return info, fmt.Errorf("%w: truncated: %d of %d content files", ErrInvalid, c.sect.files, c.m.ContentFiles)
	}
	var entries []byte
	if c.m.Format >= 3 {
		if c.sect.heads == nil {
			c.sect.heads = sha256.New() // no content files
		}
		entries = c.sect.heads.Sum(nil)
	}
	m := c.m
	if info.SHA256, err = readTrailer(bytes.NewReader(c.tr), c.hdr, f, entries, &m); err != nil {
		return info, err
	}
	info.Manifest = m
	info.ContentChecksum = hex.EncodeToString(f.Sum[:])
	info.FileBytes = c.n
	return info, nil
}

// ContentSink receives the files of a backup's content section.
type ContentSink interface {
	// Begin starts the file of sha (hex), size bytes long.
	Begin(sha string, size int64) (io.Writer, error)
	// End says its bytes matched its SHA-256.
	End(sha string) error
}

// section follows the content section through a Checker: entry heads,
// then each file's bytes, hashed.
type section struct {
	heads hash.Hash // over the entry heads
	head  []byte    // the entry head being read
	open  bool      // a file's bytes are being read
	sha   string
	left  int64
	h     hash.Hash
	w     io.Writer
	files int   // files complete
	bytes int64 // their bytes
}

func (s *section) take(p []byte, m Manifest, sink ContentSink) ([]byte, error) {
	if s.heads == nil {
		s.heads = sha256.New()
	}
	if !s.open {
		k := min(len(p), entryLen-len(s.head))
		s.head = append(s.head, p[:k]...)
		p = p[k:]
		if len(s.head) < entryLen {
			return p, nil
		}
		s.heads.Write(s.head)
		s.sha = hex.EncodeToString(s.head[:sha256.Size])
		s.left = int64(binary.BigEndian.Uint64(s.head[sha256.Size:]))
		s.head = s.head[:0]
		if s.left < 0 || s.bytes+s.left > m.ContentBytes {
			return nil, fmt.Errorf("%w: content file %s is larger than the manifest's content section", ErrInvalid, s.sha)
		}
		s.open, s.h, s.w = true, sha256.New(), nil
		if sink != nil {
			w, err := sink.Begin(s.sha, s.left)
			if err != nil {
				return nil, err
			}
			s.w = w
		}
	}
	k := min(int64(len(p)), s.left)
	s.h.Write(p[:k])
	if s.w != nil {
		if _, err := s.w.Write(p[:k]); err != nil {
			return nil, err
		}
	}
	s.left -= k
	s.bytes += k
	p = p[k:]
	if s.left > 0 {
		return p, nil
	}
	s.open = false
	if got := hex.EncodeToString(s.h.Sum(nil)); got != s.sha {
		return nil, fmt.Errorf("%w: content file %s holds bytes whose SHA-256 is %s", ErrInvalid, s.sha, got)
	}
	s.files++
	if sink != nil {
		if err := sink.End(s.sha); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Copy writes all of r to w (unless nil) and through the Checker, in one
// pass with one buffer, and finishes the Checker. progress, if not nil, is
// told the bytes read.
func (c *Checker) Copy(w io.Writer, r io.Reader, progress func(n int64)) (Info, error) {
	dst := io.Writer(c)
	if w != nil {
		dst = io.MultiWriter(w, c)
	}
	// countingReader also hides r's WriteTo, so the 1 MB buffer is used.
	if _, err := io.CopyBuffer(dst, &countingReader{r: r, fn: progress}, make([]byte, 1<<20)); err != nil {
		return Info{}, err
	}
	return c.Finish()
}

// ReadManifest reads a backup file's full manifest (head and trailer)
// without reading the data in between.
func ReadManifest(f *os.File) (Manifest, error) {
	m, _, err := ReadHeader(bufio.NewReader(io.NewSectionReader(f, 0, 1<<20)))
	if err != nil {
		return m, err
	}
	st, err := f.Stat()
	if err != nil {
		return m, err
	}
	tr := make([]byte, trailerLen)
	if _, err := f.ReadAt(tr, st.Size()-trailerLen); err != nil {
		return m, fmt.Errorf("%w: no trailer: %v", ErrInvalid, err)
	}
	if string(tr[:8]) != trailerMagic {
		return m, fmt.Errorf("%w: damaged checksum trailer", ErrInvalid)
	}
	var s store.Summary
	if err := json.Unmarshal(bytes.TrimRight(tr[8:8+tailJSONLen], " "), &s); err != nil {
		return m, fmt.Errorf("%w: trailer is not valid JSON: %v", ErrInvalid, err)
	}
	m.Counts, m.StateHash = s.Counts, s.StateHash
	return m, nil
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
