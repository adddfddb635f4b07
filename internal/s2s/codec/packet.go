package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"strconv"
)

// Decoder reads the data packets of one site-to-site body (StandardFlowFileCodec
// version 1): packets back to back with no marker between them, each in its
// own compression stream when compressed is true. The body ends at EOF
// exactly where the next packet would start; EOF anywhere else is an error.
type Decoder struct {
	s *stream
}

// NewDecoder returns a decoder of the packets read from r. Limits with zero
// fields take the defaults.
func NewDecoder(r io.Reader, compressed bool, lim Limits) *Decoder {
	return &Decoder{s: newStream(r, FormatPacket, lim, compressed)}
}

// Next returns the next packet, skipping what is left of the previous
// one's content; io.EOF when the body ended cleanly after the last packet.
// After any other error the decoder is unusable and returns it again.
func (d *Decoder) Next() (*Packet, error) {
	s := d.s
	if err := s.begin(); err != nil {
		return nil, err
	}
	n, err := s.readInt32("attribute count")
	if err != nil {
		return nil, err
	}
	if err := s.checkAttrCount(int64(n)); err != nil {
		return nil, err
	}
	attrs := make(map[string]string, attrCap(int64(n)))
	var total int64
	for range n {
		kl, err := s.readInt32("key length")
		if err != nil {
			return nil, err
		}
		k, err := s.readString(int64(kl), s.lim.MaxKeyBytes, "key", &total)
		if err != nil {
			return nil, err
		}
		vl, err := s.readInt32("value length")
		if err != nil {
			return nil, err
		}
		v, err := s.readString(int64(vl), s.lim.MaxValueBytes, "value", &total)
		if err != nil {
			return nil, err
		}
		attrs[k] = v // a repeated key keeps its last value, as NiFi's HashMap does
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

// Checksum returns the running CRC-32 (IEEE) of the uncompressed packet
// bytes decoded so far: after the last packet, the transaction's checksum.
func (d *Decoder) Checksum() uint32 { return d.s.crc }

// Count returns the number of packets started so far.
func (d *Decoder) Count() int { return d.s.count }

// Bytes returns the number of uncompressed packet bytes decoded so far.
func (d *Decoder) Bytes() int64 { return d.s.off }

// Err returns the first error the decoder met, other than the clean end of
// the body; errors met while reading a packet's content count too.
func (d *Decoder) Err() error { return d.s.errNotEOF() }

// Done reports whether the decoder reached the clean end of the body.
func (d *Decoder) Done() bool { return d.s.err == io.EOF }

// FormatChecksum renders a transaction checksum the way NiFi compares it:
// Java's String.valueOf(CRC32.getValue()), an unsigned decimal with no
// sign, padding or newline.
func FormatChecksum(sum uint32) string {
	return strconv.FormatUint(uint64(sum), 10)
}

// ErrShortContent is returned by the encoders when the content reader ends
// before the declared size. The stream written so far is then unusable.
var ErrShortContent = errors.New("codec: content ended before its declared size")

// Encoder writes site-to-site data packets (StandardFlowFileCodec
// version 1) to w, each in its own compression stream when compressed is
// true, keeping the running checksum of the uncompressed bytes. Attributes
// are written in key order, so equal packets encode to equal bytes (NiFi
// writes them in HashMap order; receivers must not care).
type Encoder struct {
	w     io.Writer
	cw    *CompressionWriter
	crc   uint32
	count int
	hdr   []byte
	buf   []byte
	err   error
}

// NewEncoder returns an encoder writing to w. Writes are passed straight
// on; wrap w in a bufio.Writer when it is costly to write to.
func NewEncoder(w io.Writer, compressed bool) *Encoder {
	e := &Encoder{w: w, buf: make([]byte, 32<<10)}
	if compressed {
		e.cw = NewCompressionWriter(w)
	}
	return e
}

// Encode writes one packet: attrs, then size bytes read from content. An
// error leaves the stream unusable (a packet may be half written).
func (e *Encoder) Encode(attrs map[string]string, size int64, content io.Reader) error {
	if e.err != nil {
		return e.err
	}
	if size < 0 {
		return fmt.Errorf("codec: negative content size %d", size)
	}
	if len(attrs) > MaxNiFiAttributes {
		return fmt.Errorf("codec: %d attributes; NiFi accepts at most %d", len(attrs), MaxNiFiAttributes)
	}
	keys := sortedKeys(attrs)
	h := binary.BigEndian.AppendUint32(e.hdr[:0], uint32(len(attrs)))
	for _, k := range keys {
		v := attrs[k]
		if len(k) > math.MaxInt32 || len(v) > math.MaxInt32 {
			return errors.New("codec: an attribute is longer than 2^31-1 bytes")
		}
		h = binary.BigEndian.AppendUint32(h, uint32(len(k)))
		h = append(h, k...)
		h = binary.BigEndian.AppendUint32(h, uint32(len(v)))
		h = append(h, v...)
	}
	h = binary.BigEndian.AppendUint64(h, uint64(size))
	if cap(h) <= 64<<10 {
		e.hdr = h // keep ordinary header buffers, not huge ones
	}

	var out io.Writer = e.w
	if e.cw != nil {
		e.cw.Reset(e.w)
		out = e.cw
	}
	cw := crcWriter{w: out, crc: &e.crc}
	if _, err := cw.Write(h); err != nil {
		e.err = err
		return err
	}
	n, err := io.CopyBuffer(cw, io.LimitReader(content, size), e.buf)
	if err != nil {
		e.err = err
		return err
	}
	if n < size {
		e.err = fmt.Errorf("%w: %d of %d bytes", ErrShortContent, n, size)
		return e.err
	}
	if e.cw != nil {
		if err := e.cw.Close(); err != nil {
			e.err = err
			return err
		}
	}
	e.count++
	return nil
}

// Checksum returns the running CRC-32 (IEEE) of the uncompressed packet
// bytes written so far.
func (e *Encoder) Checksum() uint32 { return e.crc }

// Count returns the number of packets written.
func (e *Encoder) Count() int { return e.count }

// crcWriter passes writes on and adds what was written to a CRC.
type crcWriter struct {
	w   io.Writer
	crc *uint32
}

func (c crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.crc = crc32.Update(*c.crc, crc32.IEEETable, p[:n])
	return n, err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
