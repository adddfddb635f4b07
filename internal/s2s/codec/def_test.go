package codec

// Writers built straight from the format definitions in
// shared/reference/s2s-protocol.md §5, sharing no code with the encoders:
// the golden files are made with these, and the encoders must agree.

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"testing"
)

// kv is an attribute in the order it is written.
type kv struct{ k, v string }

// tpacket is a packet as the tests describe it.
type tpacket struct {
	attrs   []kv
	content []byte
}

func (p tpacket) attrMap() map[string]string {
	m := make(map[string]string, len(p.attrs))
	for _, a := range p.attrs {
		m[a.k] = a.v
	}
	return m
}

// defPacket: int32 attrCount, (int32 keyLen, key, int32 valueLen, value)*,
// int64 contentLength, content.
func defPacket(p tpacket) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.attrs)))
	for _, a := range p.attrs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(a.k)))
		b = append(b, a.k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(a.v)))
		b = append(b, a.v...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(len(p.content)))
	return append(b, p.content...)
}

// defCompress frames data as CompressionOutputStream does: chunks of at
// most chunk input bytes, [0x01 unless first] "SYNC" u32 ulen u32 clen
// zlib(level), then 0x00.
func defCompress(t testing.TB, data []byte, chunk, level int) []byte {
	var out []byte
	for i := 0; len(data) > 0; i++ {
		n := min(chunk, len(data))
		var z bytes.Buffer
		zw, err := zlib.NewWriterLevel(&z, level)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(data[:n])
		zw.Close()
		if i > 0 {
			out = append(out, 1)
		}
		out = append(out, "SYNC"...)
		out = binary.BigEndian.AppendUint32(out, uint32(n))
		out = binary.BigEndian.AppendUint32(out, uint32(z.Len()))
		out = append(out, z.Bytes()...)
		data = data[n:]
	}
	return append(out, 0)
}

// defFieldLen: u16 below 65535, else 0xFFFF u32.
func defFieldLen(b []byte, n int) []byte {
	if n < 65535 {
		return append(b, byte(n>>8), byte(n))
	}
	return append(b, 0xFF, 0xFF, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// defV3: "NiFiFF3" fieldLen(count) (fieldLen key fieldLen value)* int64 len content.
func defV3(p tpacket) []byte {
	b := []byte("NiFiFF3")
	b = defFieldLen(b, len(p.attrs))
	for _, a := range p.attrs {
		b = defFieldLen(b, len(a.k))
		b = append(b, a.k...)
		b = defFieldLen(b, len(a.v))
		b = append(b, a.v...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(len(p.content)))
	return append(b, p.content...)
}

// pattern returns n deterministic bytes that do not compress to nothing.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x % 61) // a small alphabet: compressible, but not trivially
	}
	return b
}

// gotPacket is a decoded packet with its content read.
type gotPacket struct {
	attrs   map[string]string
	content []byte
}

// packetSource is what both decoders offer.
type packetSource interface {
	Next() (*Packet, error)
}

// readAll decodes every packet of src, reading each content fully.
func readAll(src packetSource) ([]gotPacket, error) {
	var out []gotPacket
	for {
		p, err := src.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		c, err := io.ReadAll(p.Content)
		if err != nil {
			return out, err
		}
		if int64(len(c)) != p.Size {
			return out, io.ErrShortBuffer
		}
		out = append(out, gotPacket{p.Attributes, c})
	}
}

func samePackets(t testing.TB, got []gotPacket, want []tpacket) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("decoded %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		wm := want[i].attrMap()
		if len(got[i].attrs) != len(wm) {
			t.Fatalf("packet %d: %d attributes, want %d", i, len(got[i].attrs), len(wm))
		}
		for k, v := range wm {
			if gv, ok := got[i].attrs[k]; !ok || gv != v {
				t.Fatalf("packet %d: attribute %q = %q (present %v), want %q", i, k, trunc(gv), ok, trunc(v))
			}
		}
		if !bytes.Equal(got[i].content, want[i].content) {
			t.Fatalf("packet %d: content differs (%d bytes, want %d)", i, len(got[i].content), len(want[i].content))
		}
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
