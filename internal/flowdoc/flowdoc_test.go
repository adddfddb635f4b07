package flowdoc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestRoundTrip(t *testing.T) {
	big := `{"identifier":"x","name":"` + strings.Repeat("abc", 2000) + `"}`
	for _, tc := range []struct {
		name string
		doc  Doc
	}{
		{"empty", Doc{}},
		{"small", Doc{FlowContents: json.RawMessage(`{"a":1}`), FlowEncodingVersion: json.RawMessage(`"1.0"`)}},
		{"large", Doc{FlowContents: json.RawMessage(big), ParameterContexts: json.RawMessage(`{"p":{"name":"p"}}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Encode(tc.doc)
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.doc[i]) {
					t.Fatalf("part %s: got %q want %q", Names[i], got[i], tc.doc[i])
				}
			}
		})
	}
}

func TestLargeIsCompressed(t *testing.T) {
	big := json.RawMessage(`{"v":"` + strings.Repeat("flow ", 10000) + `"}`)
	b := Encode(Doc{FlowContents: big})
	if b[0] != codecS2 {
		t.Fatalf("codec %d, want S2", b[0])
	}
	if len(b) > len(big)/10 {
		t.Fatalf("compressed %d bytes from %d", len(b), len(big))
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := Encode(Doc{FlowContents: json.RawMessage(`{"a":` + strings.Repeat("1", 3000) + `}`)})
	for _, b := range [][]byte{nil, {9}, {codecPlain, 200}, good[:len(good)-3], append([]byte{codecPlain}, 0, 0, 0, 0, 0, 7)} {
		if _, err := Decode(b); err == nil {
			t.Fatalf("Decode(%x) succeeded", b)
		}
	}
}

func TestNormalize(t *testing.T) {
	got, err := Normalize(FlowContents, json.RawMessage(" {\"a\": [1, 2]} "))
	if err != nil || string(got) != `{"a": [1, 2]}` {
		t.Fatalf("got %q, %v", got, err)
	}
	if got, err := Normalize(ParameterContexts, json.RawMessage("null")); got != nil || err != nil {
		t.Fatalf("null: %q %v", got, err)
	}
	for _, tc := range []struct {
		p   Part
		raw string
	}{{FlowContents, `"x"`}, {FlowContents, `[1]`}, {FlowEncodingVersion, `1`}, {ParameterProviders, `true`}} {
		if _, err := Normalize(tc.p, json.RawMessage(tc.raw)); err == nil {
			t.Fatalf("Normalize(%s, %s) accepted", Names[tc.p], tc.raw)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(Doc{FlowContents: json.RawMessage(`{"a":1}`)}))
	f.Add(Encode(Doc{FlowContents: json.RawMessage(`{"a":"` + strings.Repeat("z", 4000) + `"}`)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes equal.
		d2, err := Decode(Encode(d))
		if err != nil {
			t.Fatal(err)
		}
		for i := range d {
			if !bytes.Equal(d[i], d2[i]) {
				t.Fatal("re-encode changed the document")
			}
		}
	})
}

// Blobs written with the zstd codec by early builds stay readable.
func TestDecodeZstdCodec(t *testing.T) {
	want := Doc{FlowContents: json.RawMessage(`{"a":"` + strings.Repeat("zstd ", 500) + `"}`)}
	plain := Encode(want)
	if plain[0] != codecS2 {
		t.Fatalf("codec %d", plain[0])
	}
	raw, err := Decode(plain)
	if err != nil {
		t.Fatal(err)
	}
	var seg []byte
	for _, p := range raw {
		seg = binary.AppendUvarint(seg, uint64(len(p)))
		seg = append(seg, p...)
	}
	e, _ := zstd.NewWriter(nil)
	blob := e.EncodeAll(seg, []byte{codecZstd})
	got, err := Decode(blob)
	if err != nil || !bytes.Equal(got[FlowContents], want[FlowContents]) {
		t.Fatalf("zstd blob: %v", err)
	}
}

// TestDecodeIntoReusesScratch: a scratch buffer large enough is used for
// the decompressed document (the parts alias it), a small one is replaced,
// and either way the parts are Decode's.
func TestDecodeIntoReusesScratch(t *testing.T) {
	big := json.RawMessage(`{"v":"` + strings.Repeat("flow ", 10000) + `"}`)
	enc := Encode(Doc{FlowContents: big, ParameterContexts: json.RawMessage(`{"p":1}`)})
	want, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	scratch := make([]byte, 0, 1<<20)
	got, buf, err := DecodeInto(scratch, enc)
	if err != nil {
		t.Fatal(err)
	}
	if &buf[:1][0] != &scratch[:1][0] {
		t.Fatal("a large enough scratch buffer was not used")
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("part %s differs", Names[i])
		}
	}
	small := make([]byte, 0, 16)
	got, buf, err = DecodeInto(small, enc)
	if err != nil || cap(buf) < len(big) || !bytes.Equal(got[FlowContents], big) {
		t.Fatalf("small scratch: cap %d, %v", cap(buf), err)
	}
	if n := testing.AllocsPerRun(20, func() { _, _, _ = DecodeInto(scratch, enc) }); n > 0 {
		t.Fatalf("%v allocations per decode into a large enough buffer", n)
	}
}
