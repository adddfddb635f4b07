package codec

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the format definitions")

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The vectors of s2s-protocol.md §5.1 and §5.4.
const (
	vectorPacket      = "00000001 00000001 61 00000001 62 0000000000000002 6869"
	vectorEmptyPacket = "00000000 0000000000000000"
	vectorV3          = "4e6946694646 33 0001 0001 61 0001 62 0000000000000002 6869"
	vectorCRC         = 625414464
	vectorRunningCRC  = 2429464993
)

func TestVectorPacket(t *testing.T) {
	want := unhex(t, vectorPacket)
	var buf bytes.Buffer
	enc := NewEncoder(&buf, false)
	if err := enc.Encode(map[string]string{"a": "b"}, 2, strings.NewReader("hi")); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("encoded % x\nwant    % x", buf.Bytes(), want)
	}
	if enc.Checksum() != vectorCRC || FormatChecksum(enc.Checksum()) != "625414464" {
		t.Fatalf("checksum %d, want %d", enc.Checksum(), vectorCRC)
	}
	if err := enc.Encode(nil, 0, strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	want = append(want, unhex(t, vectorEmptyPacket)...)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("encoded % x\nwant    % x", buf.Bytes(), want)
	}
	if got := FormatChecksum(enc.Checksum()); got != "2429464993" {
		t.Fatalf("running checksum %s, want %d", got, uint32(vectorRunningCRC))
	}

	for _, compressed := range []bool{false, true} {
		in := want
		if compressed {
			in = append(defCompress(t, unhex(t, vectorPacket), ChunkSize, 1), defCompress(t, unhex(t, vectorEmptyPacket), ChunkSize, 1)...)
		}
		dec := NewDecoder(bytes.NewReader(in), compressed, Limits{})
		p, err := dec.Next()
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Attributes) != 1 || p.Attributes["a"] != "b" || p.Size != 2 {
			t.Fatalf("decoded %v size %d", p.Attributes, p.Size)
		}
		// Not reading the content: Next must skip it, and count it.
		p, err = dec.Next()
		if err != nil || len(p.Attributes) != 0 || p.Size != 0 {
			t.Fatalf("second packet: %v %v", p, err)
		}
		if _, err := dec.Next(); err.Error() != "EOF" {
			t.Fatalf("end: %v", err)
		}
		if dec.Checksum() != vectorRunningCRC || dec.Count() != 2 || !dec.Done() || dec.Err() != nil {
			t.Fatalf("compressed=%v: checksum %d count %d done %v err %v", compressed, dec.Checksum(), dec.Count(), dec.Done(), dec.Err())
		}
	}
}

func TestVectorV3(t *testing.T) {
	want := unhex(t, vectorV3)
	var buf bytes.Buffer
	if err := NewV3Encoder(&buf).Encode(map[string]string{"a": "b"}, 2, strings.NewReader("hi")); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("encoded % x\nwant    % x", buf.Bytes(), want)
	}
	got, err := readAll(NewV3Decoder(bytes.NewReader(want), Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	samePackets(t, got, []tpacket{{[]kv{{"a", "b"}}, []byte("hi")}})
}

// Golden packet sets. Attributes are listed in key order, the order the
// encoders write.
func goldenPackets() []tpacket {
	return []tpacket{
		{nil, nil}, // no attributes, no content
		{[]kv{{"clé", "välue ☃"}, {"filename", "résumé.txt"}, {"名前", "値 🚀\u0000\uFFFD"}}, []byte("héllo wörld")},
		{[]kv{{"big", string(pattern(66000, 1))}}, []byte("x")},                                    // a value over 64 KiB
		{[]kv{{"path", "/"}, {"uuid", "00000000-0000-4000-8000-000000000001"}}, pattern(70000, 2)}, // content over 64 KiB: 2 chunks
		{[]kv{{"", ""}}, nil}, // empty key and value
	}
}

func goldenV3Records() []tpacket {
	return []tpacket{
		{[]kv{{"a", "b"}}, []byte("hi")},
		{[]kv{{"clé", "välue ☃"}, {"名前", "値 🚀"}}, nil},
		{[]kv{{"k65535", string(pattern(65535, 4))}}, []byte{0}}, // the 6-byte field length form
		{[]kv{{"filename", "data.bin"}}, pattern(20000, 5)},
		{[]kv{{"", ""}}, nil},
	}
}

// golden compares (or with -update, writes) testdata/name against want.
func golden(t *testing.T, name string, want []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the format definition (%d bytes, want %d)", name, len(got), len(want))
	}
	return got
}

func TestGoldenPacketFiles(t *testing.T) {
	cases := []struct {
		name    string
		packets []tpacket
	}{
		{"packet-vector.bin", []tpacket{{[]kv{{"a", "b"}}, []byte("hi")}}},
		{"packets-vector-then-empty.bin", []tpacket{{[]kv{{"a", "b"}}, []byte("hi")}, {nil, nil}}},
		{"packets-mixed.bin", goldenPackets()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var def []byte
			for _, p := range c.packets {
				def = append(def, defPacket(p)...)
			}
			file := golden(t, c.name, def)

			// encode → the file's bytes
			var buf bytes.Buffer
			enc := NewEncoder(&buf, false)
			for _, p := range c.packets {
				if err := enc.Encode(p.attrMap(), int64(len(p.content)), bytes.NewReader(p.content)); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(buf.Bytes(), file) {
				t.Fatal("encoder output differs from the golden file")
			}
			if enc.Checksum() != crc32.ChecksumIEEE(file) {
				t.Fatalf("encoder checksum %d, want %d", enc.Checksum(), crc32.ChecksumIEEE(file))
			}

			// decode the file → the packets, with the file's CRC
			dec := NewDecoder(bytes.NewReader(file), false, Limits{})
			got, err := readAll(dec)
			if err != nil {
				t.Fatal(err)
			}
			samePackets(t, got, c.packets)
			if dec.Checksum() != crc32.ChecksumIEEE(file) {
				t.Fatalf("decoder checksum %d, want %d", dec.Checksum(), crc32.ChecksumIEEE(file))
			}
		})
	}
	if *update {
		return
	}
	// The §5.1 running CRCs, read from the files.
	for name, want := range map[string]uint32{"packet-vector.bin": vectorCRC, "packets-vector-then-empty.bin": vectorRunningCRC} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		if crc32.ChecksumIEEE(b) != want {
			t.Fatalf("%s: CRC %d, want %d", name, crc32.ChecksumIEEE(b), want)
		}
	}
}

// The compressed golden file uses stored (level 0) zlib blocks, as another
// encoder might: it checks that the reader takes any valid zlib, and that
// the encoder's framing (chunk boundaries, lengths, markers) matches the
// definition. The compressed bytes themselves depend on the deflate
// implementation (Java's and Go's differ; NiFi accepts both, §5.3), so the
// encoder is held to the framing and the inflated bytes, not to them.
func TestGoldenCompressedFile(t *testing.T) {
	packets := goldenPackets()
	var def, plain []byte
	for _, p := range packets {
		raw := defPacket(p)
		plain = append(plain, raw...)
		def = append(def, defCompress(t, raw, ChunkSize, zlib0)...)
	}
	file := golden(t, "packets-mixed-compressed-stored.bin", def)

	dec := NewDecoder(bytes.NewReader(file), true, Limits{})
	got, err := readAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	samePackets(t, got, packets)
	if dec.Checksum() != crc32.ChecksumIEEE(plain) {
		t.Fatal("checksum is not over the uncompressed bytes")
	}

	var buf bytes.Buffer
	enc := NewEncoder(&buf, true)
	for _, p := range packets {
		if err := enc.Encode(p.attrMap(), int64(len(p.content)), bytes.NewReader(p.content)); err != nil {
			t.Fatal(err)
		}
	}
	if enc.Checksum() != dec.Checksum() {
		t.Fatal("encoder and decoder checksums differ")
	}
	gotFrames, wantFrames := frames(t, buf.Bytes()), frames(t, file)
	if len(gotFrames) != len(wantFrames) {
		t.Fatalf("%d chunks, want %d", len(gotFrames), len(wantFrames))
	}
	for i := range wantFrames {
		g, w := gotFrames[i], wantFrames[i]
		if g.marker != w.marker || g.end != w.end || g.ulen != w.ulen || !bytes.Equal(g.data, w.data) {
			t.Fatalf("chunk %d: marker %d ulen %d, want marker %d ulen %d (data equal %v)", i, g.marker, g.ulen, w.marker, w.ulen, bytes.Equal(g.data, w.data))
		}
		if !g.end && g.zhdr != [2]byte{0x78, 0x01} {
			t.Fatalf("chunk %d: zlib header % x, want 78 01 (level 1, as Java's Deflater(1))", i, g.zhdr)
		}
	}
}

const zlib0 = 0 // zlib.NoCompression

// frame is one compression chunk as found in a stream; marker is the byte
// in front of it (-1 for a stream's first chunk) and end marks the 0x00.
type frame struct {
	marker int
	ulen   uint32
	zhdr   [2]byte
	data   []byte
	end    bool
}

// frames splits a sequence of compressed packet streams into chunks and end
// markers, inflating each chunk with the standard library.
func frames(t *testing.T, b []byte) []frame {
	t.Helper()
	var out []frame
	first := true
	for len(b) > 0 {
		marker := -1
		if !first {
			marker = int(b[0])
			b = b[1:]
			if marker == 0 {
				out = append(out, frame{marker: 0, end: true})
				first = true
				continue
			}
		}
		if string(b[:4]) != "SYNC" {
			t.Fatalf("no SYNC at a chunk start: % x", b[:min(8, len(b))])
		}
		ulen := binary.BigEndian.Uint32(b[4:8])
		clen := binary.BigEndian.Uint32(b[8:12])
		if ulen > ChunkSize {
			t.Fatalf("chunk of %d input bytes", ulen)
		}
		z := b[12 : 12+clen : 12+clen]
		one := append(append(append([]byte{}, b[:12]...), z...), 0) // the chunk alone, as a stream
		cr := NewCompressionReader(bytes.NewReader(one))
		data := make([]byte, ulen)
		if _, err := cr.Read(data); err != nil {
			t.Fatal(err)
		}
		out = append(out, frame{marker: marker, ulen: ulen, zhdr: [2]byte{z[0], z[1]}, data: data})
		b = b[12+clen:]
		first = false
	}
	return out
}

func TestGoldenV3Files(t *testing.T) {
	cases := []struct {
		name    string
		records []tpacket
	}{
		{"flowfilev3-vector.bin", []tpacket{{[]kv{{"a", "b"}}, []byte("hi")}}},
		{"flowfilev3-mixed.bin", goldenV3Records()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var def []byte
			for _, p := range c.records {
				def = append(def, defV3(p)...)
			}
			file := golden(t, c.name, def)
			var buf bytes.Buffer
			enc := NewV3Encoder(&buf)
			for _, p := range c.records {
				if err := enc.Encode(p.attrMap(), int64(len(p.content)), bytes.NewReader(p.content)); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(buf.Bytes(), file) {
				t.Fatal("encoder output differs from the golden file")
			}
			got, err := readAll(NewV3Decoder(bytes.NewReader(file), Limits{}))
			if err != nil {
				t.Fatal(err)
			}
			samePackets(t, got, c.records)
		})
	}
}
