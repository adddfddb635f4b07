package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// v3Magic starts every FlowFile packaging v3 record.
var v3Magic = [7]byte{'N', 'i', 'F', 'i', 'F', 'F', '3'}

// v3Escape as a 2-byte field length means a 4-byte length follows.
const v3Escape = 0xFFFF

// V3Decoder reads FlowFile packaging v3 records (the application/flowfile-v3
// format of MergeContent, UnpackContent and ListenHTTP; not the
// site-to-site codec), one record per flowfile, back to back. The stream
// ends at EOF exactly where the next record's magic would start.
//
// As NiFi's FlowFileUnpackagerV3 does, it refuses a record with no
// attributes. A 4-byte length of 2^31 or more, which Java reads as a
// negative int, is refused too.
type V3Decoder struct {
	s *stream
}

// NewV3Decoder returns a decoder of the records read from r.
func NewV3Decoder(r io.Reader, lim Limits) *V3Decoder {
	return &V3Decoder{s: newStream(r, FormatFlowFileV3, lim, false)}
}

// Next returns the next record, skipping what is left of the previous
// one's content; io.EOF at the clean end of the stream.
func (d *V3Decoder) Next() (*Packet, error) {
	s := d.s
	if err := s.begin(); err != nil {
		return nil, err
	}
	var magic [7]byte
	if err := s.readFull(magic[:], "magic header"); err != nil {
		return nil, err
	}
	if magic != v3Magic {
		return nil, s.fail(s.formatErr(fmt.Sprintf("not in FlowFile-v3 format: header % x", magic[:]), nil))
	}
	n, err := d.fieldLen("attribute count")
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, s.fail(s.formatErr("a flowfile has no attributes (NiFi refuses such records)", nil))
	}
	if err := s.checkAttrCount(n); err != nil {
		return nil, err
	}
	attrs := make(map[string]string, attrCap(n))
	var total int64
	for range n {
		kl, err := d.fieldLen("key length")
		if err != nil {
			return nil, err
		}
		k, err := s.readString(kl, s.lim.MaxKeyBytes, "key", &total)
		if err != nil {
			return nil, err
		}
		vl, err := d.fieldLen("value length")
		if err != nil {
			return nil, err
		}
		v, err := s.readString(vl, s.lim.MaxValueBytes, "value", &total)
		if err != nil {
			return nil, err
		}
		attrs[k] = v
	}
	size, err := s.readInt64("content length")
	if err != nil {
		return nil, err
	}
	c, err := s.startContent(size)
	if err != nil {
		return nil, err
	}
	return &Packet{Attributes: attrs, Size: size, Content: c}, nil
}

// fieldLen reads a v3 field length: u16, or 0xFFFF and a u32.
func (d *V3Decoder) fieldLen(what string) (int64, error) {
	s := d.s
	v, err := s.readUint16(what)
	if err != nil {
		return 0, err
	}
	if v != v3Escape {
		return int64(v), nil
	}
	l, err := s.readUint32(what)
	if err != nil {
		return 0, err
	}
	if l > math.MaxInt32 {
		return 0, s.fail(s.formatErr(fmt.Sprintf("%s %d is negative as a Java int", what, l), nil))
	}
	return int64(l), nil
}

// Count returns the number of records started so far.
func (d *V3Decoder) Count() int { return d.s.count }

// Err returns the first error met other than the clean end of the stream.
func (d *V3Decoder) Err() error { return d.s.errNotEOF() }

// V3Encoder writes FlowFile packaging v3 records to w, attributes in key
// order.
type V3Encoder struct {
	w   io.Writer
	hdr []byte
	buf []byte
	err error
}

// NewV3Encoder returns an encoder writing to w.
func NewV3Encoder(w io.Writer) *V3Encoder {
	return &V3Encoder{w: w, buf: make([]byte, 32<<10)}
}

// Encode writes one record: attrs, then size bytes read from content. It
// refuses a flowfile without attributes, which NiFi could not read back.
func (e *V3Encoder) Encode(attrs map[string]string, size int64, content io.Reader) error {
	if e.err != nil {
		return e.err
	}
	if size < 0 {
		return fmt.Errorf("codec: negative content size %d", size)
	}
	if len(attrs) == 0 {
		return errors.New("codec: a flowfile-v3 record needs at least one attribute")
	}
	if len(attrs) > MaxNiFiAttributes {
		return fmt.Errorf("codec: %d attributes; NiFi accepts at most %d", len(attrs), MaxNiFiAttributes)
	}
	h := append(e.hdr[:0], v3Magic[:]...)
	h = appendFieldLen(h, len(attrs))
	for _, k := range sortedKeys(attrs) {
		v := attrs[k]
		if len(k) > math.MaxInt32 || len(v) > math.MaxInt32 {
			return errors.New("codec: an attribute is longer than 2^31-1 bytes")
		}
		h = appendFieldLen(h, len(k))
		h = append(h, k...)
		h = appendFieldLen(h, len(v))
		h = append(h, v...)
	}
	h = binary.BigEndian.AppendUint64(h, uint64(size))
	if cap(h) <= 64<<10 {
		e.hdr = h
	}
	if _, err := e.w.Write(h); err != nil {
		e.err = err
		return err
	}
	n, err := io.CopyBuffer(e.w, io.LimitReader(content, size), e.buf)
	if err != nil {
		e.err = err
		return err
	}
	if n < size {
		e.err = fmt.Errorf("%w: %d of %d bytes", ErrShortContent, n, size)
		return e.err
	}
	return nil
}

// appendFieldLen appends n as FlowFilePackagerV3 writes it: two bytes below
// 65535, else 0xFFFF and four bytes (so 65535 itself takes six).
func appendFieldLen(b []byte, n int) []byte {
	if n < v3Escape {
		return binary.BigEndian.AppendUint16(b, uint16(n))
	}
	b = binary.BigEndian.AppendUint16(b, v3Escape)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}
