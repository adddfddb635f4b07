package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"runtime"
	"strings"
	"testing"
)

func encodeAll(t testing.TB, packets []tpacket, compressed bool) ([]byte, uint32) {
	t.Helper()
	var buf bytes.Buffer
	enc := NewEncoder(&buf, compressed)
	for _, p := range packets {
		if err := enc.Encode(p.attrMap(), int64(len(p.content)), bytes.NewReader(p.content)); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes(), enc.Checksum()
}

func TestRoundTrip(t *testing.T) {
	sets := map[string][]tpacket{
		"empty content":        {{[]kv{{"a", "b"}}, nil}},
		"no attributes":        {{nil, []byte("content")}},
		"nothing at all":       {{nil, nil}},
		"unicode":              {{[]kv{{"ключ", "значение"}, {"鍵", "値🚀"}, {"e\u0301", "\u00e9"}}, []byte("ünïcödé")}},
		"value over 64 KiB":    {{[]kv{{"v", string(pattern(65*1024+3, 7))}}, []byte("x")}},
		"key over 64 KiB":      {{[]kv{{string(pattern(70000, 8)), "v"}}, nil}},
		"content over 64 KiB":  {{[]kv{{"a", "b"}}, pattern(300000, 9)}},
		"packet of one chunk":  {{nil, pattern(ChunkSize-12, 10)}}, // exactly 64 KiB of packet bytes
		"packet of one + 1":    {{nil, pattern(ChunkSize-11, 11)}},
		"incompressible":       {{nil, bytes.Repeat([]byte{0xff, 0x00, 0x13, 0x77}, 40000)}},
		"many":                 manyPackets(200),
		"golden mix":           goldenPackets(),
		"binary attribute":     {{[]kv{{"\xff\xfe", "\x00\x80"}}, nil}}, // bytes are kept as sent
		"ten thousand attrs":   {{manyAttrs(10000), []byte("c")}},
		"nifi's maximum attrs": {{manyAttrs(MaxNiFiAttributes), nil}},
	}
	for name, packets := range sets {
		for _, compressed := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "", true: "/compressed"}[compressed], func(t *testing.T) {
				b, sum := encodeAll(t, packets, compressed)
				var plain []byte
				for _, p := range packets {
					plain = append(plain, defPacket(sortedPacket(p))...)
				}
				if sum != crc32.ChecksumIEEE(plain) {
					t.Fatal("encoder checksum is not the CRC of the uncompressed packets")
				}
				if !compressed && !bytes.Equal(b, plain) {
					t.Fatal("encoding differs from the definition")
				}
				dec := NewDecoder(bytes.NewReader(b), compressed, Limits{})
				got, err := readAll(dec)
				if err != nil {
					t.Fatal(err)
				}
				samePackets(t, got, packets)
				if dec.Checksum() != sum || dec.Count() != len(packets) || dec.Bytes() != int64(len(plain)) {
					t.Fatalf("decoder checksum %d count %d bytes %d; want %d %d %d", dec.Checksum(), dec.Count(), dec.Bytes(), sum, len(packets), len(plain))
				}
			})
		}
	}
}

func sortedPacket(p tpacket) tpacket {
	m := p.attrMap()
	var attrs []kv
	for _, k := range sortedKeys(m) {
		attrs = append(attrs, kv{k, m[k]})
	}
	return tpacket{attrs, p.content}
}

func manyPackets(n int) []tpacket {
	out := make([]tpacket, n)
	for i := range out {
		out[i] = tpacket{[]kv{{"i", strings.Repeat("x", i)}}, pattern(i*37, i)}
	}
	return out
}

func manyAttrs(n int) []kv {
	out := make([]kv, n)
	for i := range out {
		out[i] = kv{string(binary.BigEndian.AppendUint32(nil, uint32(i))), "v"}
	}
	return out
}

// Every truncation of a body is an input error, except at a packet
// boundary, which is a clean end.
func TestDecoderTruncation(t *testing.T) {
	packets := []tpacket{{[]kv{{"a", "b"}}, []byte("hi")}, {[]kv{{"k", "v"}}, pattern(70000, 1)}}
	for _, compressed := range []bool{false, true} {
		var body []byte
		var boundaries []int
		for _, p := range packets {
			raw := defPacket(p)
			if compressed {
				raw = defCompress(t, raw, ChunkSize, 1)
			}
			body = append(body, raw...)
			boundaries = append(boundaries, len(body))
		}
		step := 1
		if len(body) > 5000 {
			step = 97 // every offset near the ends, a sample of the middle
		}
		for cut := 0; cut < len(body); cut++ {
			if cut > 200 && cut < len(body)-200 && cut%step != 0 {
				continue
			}
			got, err := readAll(NewDecoder(bytes.NewReader(body[:cut]), compressed, Limits{}))
			// With compression, EOF in place of a stream's end marker ends
			// the stream (as in NiFi), so one byte short of a boundary is
			// a boundary too.
			atBoundary := func(b int) bool { return cut == b || compressed && cut == b-1 }
			switch {
			case cut == 0:
				if err != nil || len(got) != 0 {
					t.Fatalf("compressed=%v cut=0: %d packets, %v", compressed, len(got), err)
				}
			case atBoundary(boundaries[0]):
				if err != nil || len(got) != 1 {
					t.Fatalf("compressed=%v cut at boundary: %d packets, %v", compressed, len(got), err)
				}
			case atBoundary(boundaries[1]):
				if err != nil || len(got) != 2 {
					t.Fatalf("compressed=%v cut at the end: %d packets, %v", compressed, len(got), err)
				}
			default:
				if err == nil || !IsInputError(err) {
					t.Fatalf("compressed=%v cut=%d: err %v, want an input error", compressed, cut, err)
				}
			}
		}
	}
}

// A claim is refused before anything is allocated for it.
func TestDecoderLimits(t *testing.T) {
	i32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	i64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	small := Limits{MaxAttributes: 3, MaxKeyBytes: 4, MaxValueBytes: 8, MaxAttributeBytes: 12, MaxContentBytes: 100}
	cases := []struct {
		name  string
		body  []byte
		lim   Limits
		limit bool // a LimitError, else a FormatError
	}{
		{"count 2^31-1", i32(0x7fffffff), Limits{}, true},
		{"count 25001", i32(25001), Limits{}, true},
		{"count negative", i32(0x80000000), Limits{}, false},
		{"count -1", i32(0xffffffff), Limits{}, false},
		{"key 2^31-1", cat(i32(1), i32(0x7fffffff)), Limits{}, true},
		{"key negative", cat(i32(1), i32(0x80000000)), Limits{}, false},
		{"value 2^31-1", cat(i32(1), i32(1), []byte("k"), i32(0x7fffffff)), Limits{}, true},
		{"value -5", cat(i32(1), i32(1), []byte("k"), i32(0xfffffffb)), Limits{}, false},
		{"content negative", cat(i32(0), i64(1<<63)), Limits{}, false},
		{"count over small", i32(4), small, true},
		{"key over small", cat(i32(1), i32(5)), small, true},
		{"value over small", cat(i32(1), i32(1), []byte("k"), i32(9)), small, true},
		{"total over small", cat(i32(2), i32(4), []byte("kkkk"), i32(8), []byte("vvvvvvvv"), i32(1)), small, true},
		{"content over small", cat(i32(0), i64(101)), small, true},
		{"content 2^63-1 truncated", cat(i32(0), i64(1<<63-1), []byte("abc")), Limits{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := readAll(NewDecoder(bytes.NewReader(c.body), false, c.lim))
			runtime.ReadMemStats(&after)
			var le *LimitError
			var fe *FormatError
			if c.limit && !errors.As(err, &le) || !c.limit && !errors.As(err, &fe) {
				t.Fatalf("err = %T %v", err, err)
			}
			if !IsInputError(err) {
				t.Fatal("not an input error")
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
				t.Fatalf("decoding allocated %d bytes", grew)
			}
		})
	}
}

func TestDecoderContent(t *testing.T) {
	b, sum := encodeAll(t, []tpacket{{nil, []byte("0123456789")}, {nil, []byte("abc")}}, false)
	dec := NewDecoder(bytes.NewReader(b), false, Limits{})
	p1, err := dec.Next()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if n, err := p1.Content.Read(buf); n != 4 || err != nil {
		t.Fatal(n, err)
	}
	p2, err := dec.Next() // skips the unread 6 bytes
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p1.Content.Read(buf); !errors.Is(err, errStaleContent) {
		t.Fatalf("stale content read: %v", err)
	}
	if c, err := io.ReadAll(p2.Content); err != nil || string(c) != "abc" {
		t.Fatalf("%q %v", c, err)
	}
	if _, err := dec.Next(); err != io.EOF {
		t.Fatal(err)
	}
	if dec.Checksum() != sum {
		t.Fatal("skipped content is not in the checksum")
	}
	// The error sticks.
	bad := NewDecoder(bytes.NewReader([]byte{0, 0}), false, Limits{})
	_, err1 := bad.Next()
	_, err2 := bad.Next()
	if err1 == nil || err1 != err2 || bad.Err() != err1 || bad.Done() {
		t.Fatal(err1, err2)
	}
}

// A packet's compressed stream must end with the packet.
func TestCompressedPacketBoundary(t *testing.T) {
	raw := defPacket(tpacket{[]kv{{"a", "b"}}, []byte("hi")})
	cases := map[string][]byte{
		// the packet and 3 more bytes in one chunk
		"bytes beyond the packet": defCompress(t, append(append([]byte{}, raw...), 1, 2, 3), ChunkSize, 1),
		// the packet, then a second chunk in the same stream
		"chunk beyond the packet": func() []byte {
			s := defCompress(t, raw, ChunkSize, 1)
			extra := defCompress(t, []byte("more"), ChunkSize, 1)
			return append(append(s[:len(s)-1], 1), extra...)
		}(),
	}
	for name, body := range cases {
		_, err := readAll(NewDecoder(bytes.NewReader(body), true, Limits{}))
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// EOF instead of the end marker is the end, as in NiFi.
	s := defCompress(t, raw, ChunkSize, 1)
	got, err := readAll(NewDecoder(bytes.NewReader(s[:len(s)-1]), true, Limits{}))
	if err != nil || len(got) != 1 {
		t.Fatal(len(got), err)
	}
}

func TestCompressionWriterFraming(t *testing.T) {
	data := pattern(3*ChunkSize+3392, 3)
	var buf bytes.Buffer
	cw := NewCompressionWriter(&buf)
	for i := 0; i < len(data); i += 1000 {
		if _, err := cw.Write(data[i:min(i+1000, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	fr := frames(t, buf.Bytes())
	wantLens := []uint32{ChunkSize, ChunkSize, ChunkSize, 3392}
	if len(fr) != len(wantLens)+1 || !fr[len(fr)-1].end {
		t.Fatalf("%d frames", len(fr))
	}
	var joined []byte
	for i, l := range wantLens {
		want := 1
		if i == 0 {
			want = -1
		}
		if fr[i].ulen != l || fr[i].marker != want {
			t.Fatalf("chunk %d: ulen %d marker %d", i, fr[i].ulen, fr[i].marker)
		}
		joined = append(joined, fr[i].data...)
	}
	if !bytes.Equal(joined, data) {
		t.Fatal("chunks do not hold the data")
	}

	// Flush writes a short chunk, as Java's flush does.
	buf.Reset()
	cw.Reset(&buf)
	cw.Write([]byte("abc"))
	cw.Flush()
	cw.Write([]byte("def"))
	cw.Close()
	fr = frames(t, buf.Bytes())
	if len(fr) != 3 || string(fr[0].data) != "abc" || string(fr[1].data) != "def" || fr[1].marker != 1 {
		t.Fatalf("%+v", fr)
	}
	got, err := io.ReadAll(NewCompressionReader(bytes.NewReader(buf.Bytes())))
	if err != nil || string(got) != "abcdef" {
		t.Fatal(string(got), err)
	}

	// No input: NiFi writes the end marker alone; it reads back as nothing.
	buf.Reset()
	cw.Reset(&buf)
	cw.Close()
	if !bytes.Equal(buf.Bytes(), []byte{0}) {
		t.Fatalf("% x", buf.Bytes())
	}
	for _, in := range [][]byte{{0}, {}} {
		got, err := io.ReadAll(NewCompressionReader(bytes.NewReader(in)))
		if err != nil || len(got) != 0 {
			t.Fatal(got, err)
		}
	}
}

func TestCompressionReaderErrors(t *testing.T) {
	good := defCompress(t, []byte("hello, world"), ChunkSize, 1)
	hdr := func(ulen, clen uint32) []byte {
		b := append([]byte("SYNC"), binary.BigEndian.AppendUint32(nil, ulen)...)
		return binary.BigEndian.AppendUint32(b, clen)
	}
	z := good[12 : len(good)-1] // the zlib bytes of "hello, world"
	withZ := func(ulen uint32, zz []byte) []byte {
		return append(append(hdr(ulen, uint32(len(zz))), zz...), 0)
	}
	badAdler := append([]byte{}, z...)
	badAdler[len(badAdler)-1] ^= 1
	cases := []struct {
		name  string
		in    []byte
		limit bool
	}{
		{"not SYNC", append([]byte("SYNK"), good[4:]...), false},
		{"zero ulen", withZ(0, z), false},
		{"ulen over 64 KiB", hdr(ChunkSize+1, 10), true},
		{"ulen 2^32-1", hdr(0xffffffff, 10), true},
		{"clen over bound", hdr(10, maxCompressedChunk+1), true},
		{"zero clen", hdr(10, 0), false},
		{"truncated header", good[:7], false},
		{"truncated data", good[:20], false},
		{"marker 2", append(append([]byte{}, good[:len(good)-1]...), 2), false},
		{"inflates to fewer", withZ(13, z), false},
		{"inflates to more", withZ(11, z), false},
		{"bad adler", withZ(12, badAdler), false},
		{"bytes after zlib", withZ(12, append(append([]byte{}, z...), 9)), false},
		{"not zlib", withZ(12, []byte("garbage-garbage")), false},
		{"marker 1 then EOF", append(append([]byte{}, good[:len(good)-1]...), 1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := io.ReadAll(NewCompressionReader(bytes.NewReader(c.in)))
			var le *LimitError
			var fe *FormatError
			if c.limit && !errors.As(err, &le) || !c.limit && !errors.As(err, &fe) {
				t.Fatalf("err = %T %v", err, err)
			}
		})
	}
	// EOF in place of the end marker is accepted.
	got, err := io.ReadAll(NewCompressionReader(bytes.NewReader(good[:len(good)-1])))
	if err != nil || string(got) != "hello, world" {
		t.Fatal(string(got), err)
	}
}

func TestEncoderErrors(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf, false)
	if err := enc.Encode(nil, 5, strings.NewReader("abc")); !errors.Is(err, ErrShortContent) {
		t.Fatal(err)
	}
	if err := enc.Encode(nil, 0, nil); err == nil {
		t.Fatal("an encoder stays unusable after an error")
	}
	m := map[string]string{}
	for _, a := range manyAttrs(MaxNiFiAttributes + 1) {
		m[a.k] = a.v
	}
	if err := NewEncoder(&buf, false).Encode(m, 0, nil); err == nil {
		t.Fatal("more attributes than NiFi takes were encoded")
	}
	if err := NewEncoder(&buf, false).Encode(nil, -1, nil); err == nil {
		t.Fatal("negative size encoded")
	}
	// Content longer than the size: only size bytes are taken.
	buf.Reset()
	if err := NewEncoder(&buf, false).Encode(nil, 2, strings.NewReader("hi!")); err != nil || !bytes.Equal(buf.Bytes(), defPacket(tpacket{nil, []byte("hi")})) {
		t.Fatal(err)
	}
}

func TestV3(t *testing.T) {
	var buf bytes.Buffer
	if err := NewV3Encoder(&buf).Encode(nil, 0, nil); err == nil {
		t.Fatal("a record without attributes was written")
	}
	// Field lengths: 65534 takes two bytes, 65535 six.
	for n, want := range map[int]int{65534: 2, 65535: 6, 0: 2, 70000: 6} {
		if got := len(appendFieldLen(nil, n)); got != want {
			t.Fatalf("fieldLen(%d) takes %d bytes", n, got)
		}
	}
	rec := defV3(tpacket{[]kv{{"a", "b"}}, []byte("hi")})
	escaped := append([]byte("NiFiFF3\xff\xff\x00\x00\x00\x01\x00\x01a\xff\xff\x00\x00\x00\x01b"), make([]byte, 8)...) // non-canonical lengths: accepted
	cases := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"vector", rec, true},
		{"escaped lengths", escaped, true},
		{"two records", append(append([]byte{}, rec...), rec...), true},
		{"empty", nil, true},
		{"zero attributes", append([]byte("NiFiFF3\x00\x00"), make([]byte, 8)...), false},
		{"wrong magic", append([]byte("NiFiFF2"), rec[7:]...), false},
		{"partial magic", []byte("NiF"), false},
		{"length 2^31", []byte("NiFiFF3\xff\xff\x80\x00\x00\x00"), false},
		{"count over limit", []byte("NiFiFF3\xff\xff\x00\x00\x61\xa9"), false},
		{"truncated content", rec[:len(rec)-1], false},
		{"trailing partial record", append(append([]byte{}, rec...), 'N'), false},
	}
	for _, c := range cases {
		_, err := readAll(NewV3Decoder(bytes.NewReader(c.in), Limits{}))
		if c.ok != (err == nil) || err != nil && !IsInputError(err) {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
}
