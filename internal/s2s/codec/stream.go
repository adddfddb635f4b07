package codec

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// Packet is one decoded flowfile: its attributes and its content.
//
// Content yields exactly Size bytes and then io.EOF; it reads from the
// stream being decoded, so it is valid only until the decoder's next call
// to Next, which skips whatever of it was not read. A content reader
// returns an error, not io.EOF, when the stream ends early or (with
// compression) when the packet's compressed stream does not end with it.
type Packet struct {
	Attributes map[string]string
	Size       int64
	Content    io.Reader
}

// stream is what the site-to-site and v3 decoders share: the source with
// its look-ahead (to tell EOF at a packet boundary), the running offset and
// CRC over the decoded bytes, the content reader of the current packet and
// the first error, which sticks.
type stream struct {
	format string
	lim    Limits
	src    *bufio.Reader
	in     io.Reader          // where packet bytes come from: src, or cr
	cr     *CompressionReader // non-nil when packets are compressed
	crc    uint32
	off    int64
	gen    uint64
	cur    *content
	count  int
	err    error // sticky; io.EOF after a clean end
	tmp    [8]byte
	buf    []byte // scratch for keys and values, at most the largest limit
}

func newStream(r io.Reader, format string, lim Limits, compressed bool) *stream {
	s := &stream{format: format, lim: lim.withDefaults()}
	if br, ok := r.(*bufio.Reader); ok {
		s.src = br
	} else {
		s.src = bufio.NewReaderSize(r, 32<<10)
	}
	s.in = s.src
	if compressed {
		s.cr = NewCompressionReader(s.src)
		s.in = s.cr
	}
	return s
}

// begin moves past the current packet and reports whether another starts:
// io.EOF when the stream ends exactly at the boundary.
func (s *stream) begin() error {
	if s.err != nil {
		return s.err
	}
	if s.cur != nil {
		if _, err := io.Copy(io.Discard, s.cur); err != nil {
			return s.fail(err)
		}
	}
	s.gen++
	s.cur = nil
	if _, err := s.src.Peek(1); err != nil {
		if err == io.EOF {
			s.err = io.EOF
			return io.EOF
		}
		return s.fail(err)
	}
	if s.cr != nil {
		s.cr.Reset(s.src)
	}
	s.count++
	return nil
}

// read reads from the packet's bytes, keeping the offset and CRC.
func (s *stream) read(p []byte) (int, error) {
	n, err := s.in.Read(p)
	if n > 0 {
		s.crc = crc32.Update(s.crc, crc32.IEEETable, p[:n])
		s.off += int64(n)
	}
	return n, err
}

func (s *stream) readFull(p []byte, what string) error {
	got := 0
	for got < len(p) {
		n, err := s.read(p[got:])
		got += n
		if got == len(p) {
			return nil
		}
		if err == io.EOF || (err == nil && n == 0) {
			return s.fail(s.formatErr("the stream ends inside the "+what, io.ErrUnexpectedEOF))
		}
		if err != nil {
			return s.fail(err)
		}
	}
	return nil
}

func (s *stream) readInt32(what string) (int32, error) {
	if err := s.readFull(s.tmp[:4], what); err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(s.tmp[:4])), nil
}

func (s *stream) readUint16(what string) (uint16, error) {
	if err := s.readFull(s.tmp[:2], what); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(s.tmp[:2]), nil
}

func (s *stream) readUint32(what string) (uint32, error) {
	if err := s.readFull(s.tmp[:4], what); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(s.tmp[:4]), nil
}

func (s *stream) readInt64(what string) (int64, error) {
	if err := s.readFull(s.tmp[:8], what); err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(s.tmp[:8])), nil
}

// readString reads the n bytes of a key or value (field) after checking n
// against limit; total is the packet's running attribute byte count,
// checked against its own limit before anything is read.
func (s *stream) readString(n int64, limit int, field string, total *int64) (string, error) {
	if n < 0 {
		return "", s.fail(s.formatErr(fmt.Sprintf("negative %s length %d", field, n), nil))
	}
	if n > int64(limit) {
		return "", s.fail(&LimitError{Format: s.format, Offset: s.off, What: field + " length", Value: n, Limit: int64(limit)})
	}
	*total += n
	if *total > int64(s.lim.MaxAttributeBytes) {
		return "", s.fail(&LimitError{Format: s.format, Offset: s.off, What: "attribute bytes of the packet", Value: *total, Limit: int64(s.lim.MaxAttributeBytes)})
	}
	if n == 0 {
		return "", nil
	}
	if int64(cap(s.buf)) < n {
		s.buf = make([]byte, n)
	}
	b := s.buf[:n]
	if err := s.readFull(b, field); err != nil {
		return "", err
	}
	return string(b), nil
}

// checkAttrCount checks a claimed attribute count before any of it is read.
func (s *stream) checkAttrCount(n int64) error {
	if n < 0 {
		return s.fail(s.formatErr(fmt.Sprintf("negative attribute count %d", n), nil))
	}
	if n > int64(s.lim.MaxAttributes) {
		return s.fail(&LimitError{Format: s.format, Offset: s.off, What: "attribute count", Value: n, Limit: int64(s.lim.MaxAttributes)})
	}
	return nil
}

// startContent checks the content length and makes the packet's reader.
func (s *stream) startContent(n int64) (*content, error) {
	if n < 0 {
		return nil, s.fail(s.formatErr(fmt.Sprintf("negative content length %d", n), nil))
	}
	if n > s.lim.MaxContentBytes {
		return nil, s.fail(&LimitError{Format: s.format, Offset: s.off, What: "content length", Value: n, Limit: s.lim.MaxContentBytes})
	}
	s.cur = &content{s: s, gen: s.gen, left: n}
	return s.cur, nil
}

// endPacket checks, once the packet's bytes are read, that its compressed
// stream (if any) ended with it.
func (s *stream) endPacket() error {
	if s.cr == nil {
		return nil
	}
	if err := s.cr.finish(); err != nil {
		return s.fail(err)
	}
	return nil
}

func (s *stream) formatErr(msg string, cause error) *FormatError {
	return &FormatError{Format: s.format, Offset: s.off, Msg: msg, Err: cause}
}

// fail records the first error; later calls keep returning it.
func (s *stream) fail(err error) error {
	if s.err == nil || s.err == io.EOF {
		s.err = err
	}
	return s.err
}

// Err returns the first error met other than a clean end of the stream.
func (s *stream) errNotEOF() error {
	if s.err == io.EOF {
		return nil
	}
	return s.err
}

// content reads one packet's content from its stream.
type content struct {
	s     *stream
	gen   uint64
	left  int64
	ended bool
}

func (c *content) Read(p []byte) (int, error) {
	s := c.s
	if c.gen != s.gen {
		return 0, errStaleContent
	}
	if s.err != nil {
		return 0, s.err
	}
	if c.left == 0 {
		if !c.ended {
			c.ended = true
			if err := s.endPacket(); err != nil {
				return 0, err
			}
		}
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := s.read(p)
	c.left -= int64(n)
	switch {
	case err == io.EOF && c.left > 0:
		return n, s.fail(s.formatErr(fmt.Sprintf("the stream ends %d bytes before the end of the content", c.left), io.ErrUnexpectedEOF))
	case err != nil && err != io.EOF:
		return n, s.fail(err)
	}
	return n, nil
}

// attrCap is the initial capacity of an attribute map: enough for common
// flowfiles, never the claimed count (which may be a lie).
func attrCap(n int64) int {
	return int(min(n, 16))
}
