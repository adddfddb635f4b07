package codec

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ChunkSize is the most input one compression chunk holds: NiFi's
// CompressionOutputStream buffer (64 KiB), which every NiFi peer uses for
// site-to-site.
const ChunkSize = 64 << 10

// maxCompressedChunk bounds a chunk's compressed length. Deflate never
// expands 64 KiB by more than a few dozen bytes (stored blocks cost 5 bytes
// per 64 KiB plus the 6 bytes of zlib framing); twice the input leaves room
// for any encoder while keeping the reader's buffer fixed.
const maxCompressedChunk = 2 * ChunkSize

var syncBytes = [4]byte{'S', 'Y', 'N', 'C'}

// Markers written after a chunk (NiFi writes the "more" marker lazily, in
// front of the next chunk, and the end marker at close).
const (
	markerEnd  = 0
	markerMore = 1
)

// CompressionWriter writes NiFi's compression framing for one stream (in
// site-to-site, one packet): it buffers up to ChunkSize bytes of input,
// compresses them as an independent zlib stream at level 1 (Java's
// Deflater level 1, which NiFi uses), and writes each chunk with its
// header. Close writes the last chunk and the end marker; it does not close
// the underlying writer. Reset starts a new stream, keeping the buffers.
type CompressionWriter struct {
	w      io.Writer
	buf    []byte
	n      int
	zbuf   bytes.Buffer
	zw     *zlib.Writer
	chunks int
	err    error
	closed bool
}

// NewCompressionWriter returns a writer framing what it is given onto w.
func NewCompressionWriter(w io.Writer) *CompressionWriter {
	zw, err := zlib.NewWriterLevel(nil, zlib.BestSpeed)
	if err != nil {
		panic(err) // BestSpeed is a valid level
	}
	return &CompressionWriter{w: w, buf: make([]byte, ChunkSize), zw: zw}
}

// Reset discards the stream's state and starts a new stream onto w.
func (c *CompressionWriter) Reset(w io.Writer) {
	c.w, c.n, c.chunks, c.err, c.closed = w, 0, 0, nil, false
}

// Write buffers p, writing a chunk each time the buffer fills.
func (c *CompressionWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.closed {
		return 0, errors.New("codec: write to a closed compression stream")
	}
	written := 0
	for len(p) > 0 {
		k := copy(c.buf[c.n:], p)
		c.n += k
		p = p[k:]
		written += k
		if c.n == len(c.buf) {
			if err := c.writeChunk(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// Flush writes what is buffered as a (short) chunk, as Java's flush does.
// It does not flush the underlying writer.
func (c *CompressionWriter) Flush() error {
	if c.err != nil {
		return c.err
	}
	return c.writeChunk()
}

// Close writes the buffered input as the last chunk and then the end
// marker. A stream closed without any input is the single byte 0x00, as
// NiFi writes it.
func (c *CompressionWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	if c.closed {
		return nil
	}
	if err := c.writeChunk(); err != nil {
		return err
	}
	c.closed = true
	_, err := c.w.Write([]byte{markerEnd})
	c.err = err
	return err
}

func (c *CompressionWriter) writeChunk() error {
	if c.n == 0 {
		return nil
	}
	c.zbuf.Reset()
	c.zw.Reset(&c.zbuf)
	if _, err := c.zw.Write(c.buf[:c.n]); err != nil {
		c.err = err
		return err
	}
	if err := c.zw.Close(); err != nil {
		c.err = err
		return err
	}
	var hdr [13]byte
	h := hdr[:0]
	if c.chunks > 0 {
		h = append(h, markerMore)
	}
	h = append(h, syncBytes[:]...)
	h = binary.BigEndian.AppendUint32(h, uint32(c.n))
	h = binary.BigEndian.AppendUint32(h, uint32(c.zbuf.Len()))
	if _, err := c.w.Write(h); err != nil {
		c.err = err
		return err
	}
	if _, err := c.w.Write(c.zbuf.Bytes()); err != nil {
		c.err = err
		return err
	}
	c.chunks++
	c.n = 0
	return nil
}

// CompressionReader reads one stream of NiFi's compression framing and
// returns the inflated bytes. Its buffers hold one chunk of input and one
// of output and never grow past that, whatever the stream claims: a header
// claiming more than ChunkSize uncompressed or 128 KiB compressed bytes is
// an error, as is a chunk that inflates to more or fewer bytes than its
// header says, has a bad zlib checksum, or carries bytes after its zlib
// stream.
//
// Like NiFi's CompressionInputStream it treats EOF where a marker is
// expected as the end of the stream. Unlike it, it also takes a stream that
// ends before its first chunk (or is only the end marker) as empty, so that
// what CompressionWriter writes for no input reads back as nothing.
type CompressionReader struct {
	r          io.Reader
	comp       []byte
	out        []byte
	pos, end   int
	br         bytes.Reader
	zr         io.ReadCloser
	chunks     int
	needMarker bool
	done       bool
	err        error
	off        int64 // bytes consumed from r
	hdr        [12]byte
}

// NewCompressionReader returns a reader of the stream at the start of r.
// Its buffers are allocated as chunks need them, up to the bounds.
func NewCompressionReader(r io.Reader) *CompressionReader {
	return &CompressionReader{r: r}
}

// Reset starts reading a new stream from r, keeping the buffers.
func (c *CompressionReader) Reset(r io.Reader) {
	c.r, c.pos, c.end, c.chunks, c.needMarker, c.done, c.err, c.off = r, 0, 0, 0, false, false, nil, 0
}

// Read returns inflated bytes; io.EOF at the end of the stream.
func (c *CompressionReader) Read(p []byte) (int, error) {
	for c.pos == c.end {
		if c.err != nil {
			return 0, c.err
		}
		if c.done {
			return 0, io.EOF
		}
		if err := c.nextChunk(); err != nil {
			c.err = err
			if err == io.EOF {
				c.err, c.done = nil, true
			}
		}
	}
	n := copy(p, c.out[c.pos:c.end])
	c.pos += n
	return n, nil
}

// finish checks that the stream ended exactly where its reader stopped:
// no inflated bytes are left over and no further chunk follows. The packet
// decoder calls it at the end of each packet's bytes.
func (c *CompressionReader) finish() error {
	if c.err != nil {
		return c.err
	}
	if c.pos != c.end {
		return c.fail(fmt.Sprintf("the compressed stream holds %d bytes beyond the end of the packet", c.end-c.pos), nil)
	}
	if c.done {
		return nil
	}
	if !c.needMarker {
		// No chunk was read: the packet had no bytes, which cannot happen
		// for a packet (it has at least 12), so this is a caller's error.
		return c.fail("the packet ended before the compressed stream started", nil)
	}
	more, err := c.readMarker()
	if err != nil {
		c.err = err
		return err
	}
	if more {
		c.err = c.fail("a compressed chunk follows the end of the packet", nil)
		return c.err
	}
	c.done = true
	return nil
}

// nextChunk reads the marker in front of a chunk (when one is due), the
// chunk, and inflates it. It returns io.EOF at the end of the stream.
func (c *CompressionReader) nextChunk() error {
	if c.needMarker {
		more, err := c.readMarker()
		if err != nil {
			return err
		}
		if !more {
			return io.EOF
		}
	}
	n, err := io.ReadFull(c.r, c.hdr[:])
	c.off += int64(n)
	if c.chunks == 0 && (err == io.EOF || (n == 1 && c.hdr[0] == markerEnd && err == io.ErrUnexpectedEOF)) {
		return io.EOF // an empty stream: nothing, or only the end marker
	}
	if err != nil {
		return c.eofError("chunk header", err)
	}
	if [4]byte(c.hdr[:4]) != syncBytes {
		return c.fail(fmt.Sprintf("expected SYNC, found % x", c.hdr[:4]), nil)
	}
	ulen := binary.BigEndian.Uint32(c.hdr[4:8])
	clen := binary.BigEndian.Uint32(c.hdr[8:12])
	if ulen == 0 {
		return c.fail("a chunk claims 0 uncompressed bytes", nil)
	}
	if ulen > ChunkSize {
		return &LimitError{Format: FormatCompression, Offset: c.off, What: "chunk uncompressed length", Value: int64(ulen), Limit: ChunkSize}
	}
	if clen == 0 {
		return c.fail("a chunk claims 0 compressed bytes", nil)
	}
	if clen > maxCompressedChunk {
		return &LimitError{Format: FormatCompression, Offset: c.off, What: "chunk compressed length", Value: int64(clen), Limit: maxCompressedChunk}
	}
	if cap(c.out) < int(ulen) {
		c.out = make([]byte, min(ChunkSize, max(int(ulen), 2*cap(c.out))))
	}
	c.out = c.out[:cap(c.out)]
	// The compressed buffer grows with what arrives, so a header claiming
	// 128 KiB followed by EOF costs what was sent, not what was claimed.
	c.comp = c.comp[:0]
	for len(c.comp) < int(clen) {
		want := int(clen)
		if cap(c.comp) < want {
			want = min(want, max(2*len(c.comp), 4096))
			grown := make([]byte, len(c.comp), want)
			copy(grown, c.comp)
			c.comp = grown
		}
		k, err := io.ReadFull(c.r, c.comp[len(c.comp):want])
		c.off += int64(k)
		c.comp = c.comp[:len(c.comp)+k]
		if err != nil {
			return c.eofError("compressed chunk", err)
		}
	}
	if err := c.inflate(int(clen), int(ulen)); err != nil {
		return err
	}
	c.chunks++
	c.needMarker = true
	c.pos, c.end = 0, int(ulen)
	return nil
}

func (c *CompressionReader) inflate(clen, ulen int) error {
	c.br.Reset(c.comp[:clen])
	var err error
	if c.zr == nil {
		c.zr, err = zlib.NewReader(&c.br)
	} else {
		err = c.zr.(zlib.Resetter).Reset(&c.br, nil)
	}
	if err != nil {
		return c.fail("invalid zlib header", err)
	}
	n, err := io.ReadFull(c.zr, c.out[:ulen])
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return c.fail(fmt.Sprintf("a chunk inflates to %d bytes but claims %d", n, ulen), nil)
	}
	if err != nil {
		return c.fail("invalid zlib data", err)
	}
	// The zlib stream must end here: this read verifies its checksum.
	var one [1]byte
	if k, err := c.zr.Read(one[:]); k != 0 || err != io.EOF {
		if k != 0 || err == nil {
			return c.fail(fmt.Sprintf("a chunk inflates to more than the %d bytes it claims", ulen), nil)
		}
		return c.fail("invalid zlib data", err)
	}
	if c.br.Len() != 0 {
		return c.fail(fmt.Sprintf("%d bytes follow the zlib stream inside a chunk", c.br.Len()), nil)
	}
	return nil
}

// readMarker reads the byte after a chunk: 1 means another chunk follows;
// 0 or EOF mean the stream ended (NiFi accepts both).
func (c *CompressionReader) readMarker() (more bool, err error) {
	var b [1]byte
	n, err := io.ReadFull(c.r, b[:])
	c.off += int64(n)
	c.needMarker = false
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	switch b[0] {
	case markerEnd:
		return false, nil
	case markerMore:
		return true, nil
	}
	return false, c.fail(fmt.Sprintf("expected a chunk marker (0 or 1), found %d", b[0]), nil)
}

func (c *CompressionReader) eofError(what string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return c.fail("the stream ends inside a "+what, io.ErrUnexpectedEOF)
	}
	return err
}

func (c *CompressionReader) fail(msg string, cause error) error {
	return &FormatError{Format: FormatCompression, Offset: c.off, Msg: msg, Err: cause}
}
