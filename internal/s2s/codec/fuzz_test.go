package codec

import (
	"bytes"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Fuzzing limits: small, so the fuzzer reaches them, and so that "never
// allocates beyond the limits" can be checked on the decoder's buffers.
var fuzzLimits = Limits{MaxAttributes: 64, MaxKeyBytes: 1024, MaxValueBytes: 4096, MaxAttributeBytes: 8192, MaxContentBytes: 1 << 20}

func fuzzSeeds(f *testing.F, compressed bool) [][]byte {
	seeds := [][]byte{
		nil,
		unhex(f, vectorPacket),
		append(unhex(f, vectorPacket), unhex(f, vectorEmptyPacket)...),
		{0x7f, 0xff, 0xff, 0xff},
		{0, 0, 0, 1, 0x80, 0, 0, 0},
		defPacket(tpacket{[]kv{{"ключ", "値"}}, pattern(300, 1)}),
		defPacket(tpacket{nil, pattern(70000, 2)}),
	}
	for _, name := range []string{"packets-mixed.bin", "packets-mixed-compressed-stored.bin"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			seeds = append(seeds, b[:min(len(b), 20000)])
		}
	}
	if compressed {
		var out [][]byte
		for _, s := range seeds {
			out = append(out, s, defCompress(f, s, ChunkSize, 1), defCompress(f, s[:min(len(s), 2000)], 64, 1))
		}
		return out
	}
	return seeds
}

// FuzzDecoder: the packet decoder never panics, fails only with input
// errors (a bytes.Reader has no I/O errors), keeps its buffers within the
// limits, and what it accepts encodes and decodes back to the same packets
// and checksum.
func FuzzDecoder(f *testing.F) {
	for _, s := range fuzzSeeds(f, false) {
		f.Add(s, false)
	}
	for _, s := range fuzzSeeds(f, true) {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, body []byte, compressed bool) {
		dec := NewDecoder(bytes.NewReader(body), compressed, fuzzLimits)
		got, err := readAll(dec)
		checkBounds(t, dec.s)
		if err != nil {
			if !IsInputError(err) {
				t.Fatalf("not an input error: %T %v", err, err)
			}
			return
		}
		for _, p := range got {
			if len(p.attrs) > fuzzLimits.MaxAttributes {
				t.Fatal("attribute limit not enforced")
			}
		}
		var want []tpacket
		for _, p := range got {
			want = append(want, tpacket{attrList(p.attrs), p.content})
		}
		b, _ := encodeAll(t, want, compressed)
		again, err := readAll(NewDecoder(bytes.NewReader(b), compressed, fuzzLimits))
		if err != nil {
			t.Fatalf("re-encoded packets do not decode: %v", err)
		}
		samePackets(t, again, want)
		if !compressed && (dec.Bytes() != int64(len(body)) || dec.Checksum() != crc32.ChecksumIEEE(body)) {
			t.Fatal("an accepted body was not consumed whole into the checksum")
		}
	})
}

// FuzzCompressionReader: the framing reader never panics, fails only with
// input errors, never grows its buffers past one chunk, and what it accepts survives
// the writer and the reader again.
func FuzzCompressionReader(f *testing.F) {
	for _, s := range fuzzSeeds(f, true) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cr := NewCompressionReader(bytes.NewReader(in))
		out, err := io.ReadAll(io.LimitReader(cr, 8<<20))
		if cap(cr.out) > ChunkSize || cap(cr.comp) > maxCompressedChunk {
			t.Fatal("buffers grew past their bounds")
		}
		if err != nil {
			if !IsInputError(err) {
				t.Fatalf("not an input error: %T %v", err, err)
			}
			return
		}
		var buf bytes.Buffer
		cw := NewCompressionWriter(&buf)
		cw.Write(out)
		if err := cw.Close(); err != nil {
			t.Fatal(err)
		}
		again, err := io.ReadAll(NewCompressionReader(&buf))
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzV3Decoder: as FuzzDecoder, for FlowFile packaging v3.
func FuzzV3Decoder(f *testing.F) {
	f.Add(unhex(f, vectorV3))
	f.Add([]byte("NiFiFF3\xff\xff\x7f\xff\xff\xff"))
	f.Add([]byte("NiFiFF3\x00\x00"))
	f.Add(defV3(tpacket{[]kv{{"k", string(pattern(70000, 1))}}, nil})[:2000])
	if b, err := os.ReadFile(filepath.Join("testdata", "flowfilev3-mixed.bin")); err == nil {
		f.Add(b[:min(len(b), 20000)])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		dec := NewV3Decoder(bytes.NewReader(in), fuzzLimits)
		got, err := readAll(dec)
		checkBounds(t, dec.s)
		if err != nil {
			if !IsInputError(err) {
				t.Fatalf("not an input error: %T %v", err, err)
			}
			return
		}
		var buf bytes.Buffer
		enc := NewV3Encoder(&buf)
		var want []tpacket
		for _, p := range got {
			if len(p.attrs) == 0 {
				t.Fatal("a record without attributes was accepted")
			}
			want = append(want, tpacket{attrList(p.attrs), p.content})
			if err := enc.Encode(p.attrs, int64(len(p.content)), bytes.NewReader(p.content)); err != nil {
				t.Fatal(err)
			}
		}
		again, err := readAll(NewV3Decoder(&buf, fuzzLimits))
		if err != nil {
			t.Fatalf("re-encoded records do not decode: %v", err)
		}
		samePackets(t, again, want)
	})
}

// checkBounds: the decoder's scratch never outgrew the largest single
// attribute limit, and a compression reader kept its fixed buffers.
func checkBounds(t *testing.T, s *stream) {
	t.Helper()
	if cap(s.buf) > max(s.lim.MaxKeyBytes, s.lim.MaxValueBytes) {
		t.Fatalf("scratch buffer of %d bytes", cap(s.buf))
	}
	if s.cr != nil && (cap(s.cr.out) > ChunkSize || cap(s.cr.comp) > maxCompressedChunk) {
		t.Fatal("compression buffers grew past their bounds")
	}
}

func attrList(m map[string]string) []kv {
	var out []kv
	for _, k := range sortedKeys(m) {
		out = append(out, kv{k, m[k]})
	}
	return out
}
