package command

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// fuzzSeeds are one encoding of every command type plus the byte shapes
// Decode must classify: short input, unknown format and type, bad header
// lengths, trailing bytes, JSON that does not fit the type.
func fuzzSeeds() [][]byte {
	str := func(s string) *string { return &s }
	cid := "c1"
	cmds := []Command{
		&CreateBucket{ID: "b1", Name: "Bucket 1", Description: str("d"), Created: 1000, AllowPublicRead: true, Rev: &Claim{Version: 0, ClientID: &cid}, Actor: "anonymous"},
		&CreateBucket{ID: "", Name: "poison"}, // the poison pill: an empty id
		&UpdateBucket{ID: "b1", Name: str("renamed"), AllowBundleRedeploy: new(bool), Rev: &Claim{Version: 3}, Actor: "a"},
		&DeleteBucket{ID: "b1", Rev: &Claim{Version: 1, ClientID: &cid}, Actor: "a"},
		&CreateFlow{BucketID: "b1", ID: "f1", Name: "Flow", Created: 1, Modified: 2, Actor: "a"},
		&UpdateFlow{BucketID: "b1", ID: "f1", Name: str("Flow 2"), Description: str(""), Modified: 3, Actor: "a"},
		&DeleteFlow{BucketID: "b1", ID: "f1", Actor: "a"},
		&CreateVersion{BucketID: "b1", FlowID: "f1", Version: 1, Timestamp: 5, Author: "a", Comments: str("c"), Modified: 5, Content: []byte{0, 0, 7, '{', '"', 'a', '"', ':', '1', '}', 0, 0, 0}},
		&CreateVersion{BucketID: "b1", FlowID: "f1", Version: -1},
		&SetMaintenance{On: true, Reason: "upgrade", By: "admin", At: 9},
		&SetNode{ID: "n1", APIURL: "http://x", RaftAddr: "127.0.0.1:1", Zone: "z", At: 1, Level: 1},
		&RemoveNode{ID: "n1"},
		&CreateBucket{ID: strings.Repeat("x", 300), Name: "\xff\x00\u2028"},
		&StageBundleChunk{Upload: "u1", SHA256: strings.Repeat("ab", 32), Size: 3, Off: 0, At: 7, Data: []byte("PK\x03")},
		&CreateBundleVersion{BucketID: "b1", BundleID: "x1", VersionID: "v1", BundleType: BundleNAR,
			Coordinate: BundleCoordinate{"g", "a", "1.0"}, Upload: "u1", SHA256: strings.Repeat("ab", 32), Size: 3,
			SystemAPIVersion: "2.7.2", Build: BundleBuild{Tool: "21", Built: 1}, Dependencies: []BundleCoordinate{{"g", "d", "1"}},
			Extensions: []byte(`[{"name":"P","type":"PROCESSOR","tags":["t"]}]`), AdditionalDetails: map[string]string{"P": "# P"},
			Timestamp: 8, Author: "a"},
		&DeleteBundleVersion{BundleID: "x1", Version: "1.0", Actor: "a"},
		&DeleteBundle{BundleID: "x1", Actor: "a"},
	}
	var out [][]byte
	for _, c := range cmds {
		b, err := Encode(c)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	raw := func(t Type, hdr string, blob ...byte) []byte {
		b := []byte{FormatVersion, byte(t)}
		b = binary.AppendUvarint(b, uint64(len(hdr)))
		return append(append(b, hdr...), blob...)
	}
	out = append(out,
		nil,
		[]byte{FormatVersion},
		[]byte{FormatVersion, byte(TypeCreateBucket)},
		[]byte{FormatVersion + 1, byte(TypeCreateBucket), 2, '{', '}'},
		[]byte{0, byte(TypeCreateBucket), 2, '{', '}'},
		[]byte{FormatVersion, 0, 2, '{', '}'},
		[]byte{FormatVersion, byte(maxType) + 1, 2, '{', '}'},
		[]byte{FormatVersion, byte(TypeCreateBucket), 200},
		[]byte{FormatVersion, byte(TypeCreateBucket), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
		[]byte{FormatVersion, byte(TypeCreateBucket), 3, '{', '}', '}'},
		raw(TypeDeleteBucket, `{}`, 'x'),
		raw(TypeCreateBucket, `null`),
		raw(TypeCreateBucket, `[]`),
		raw(TypeCreateBucket, `{"id":1}`),
		raw(TypeCreateBucket, `{"id":"a","ID":"b","Id":"c"}`),
		raw(TypeCreateVersion, `{"version":4294967296}`),
		raw(TypeCreateVersion, `{"version":1.5}`),
		raw(TypeUpdateBucket, `{"rev":null,"name":null}`),
		raw(TypeUpdateBucket, `{"rev":{"version":-1,"clientId":null}}`),
		raw(TypeSetNode, `{"id":"n","level":-7}`),
		raw(TypeCreateBucket, "{\"id\":\"\xff\xfe\",\"name\":\"\\ud800\"}"),
		raw(TypeCreateBucket, `{"id":"a"} `),
		raw(TypeCreateBucket, ` {"id":"a"}`),
		raw(TypeCreateBundleVersion, `{"extensions":{"not":"an array"}}`),
		raw(TypeStageBundleChunk, `{"off":-1,"size":-5}`),
		[]byte{FormatVersion, 38, 2, '{', '}'}, // level 8, another build's
	)
	return out
}

// FuzzDecode: Decode never panics, fails only with ErrMalformed or
// ErrUnknown, and whatever it accepts re-encodes to bytes that decode to
// the same command (compared by re-encoding both decodes).
func FuzzDecode(f *testing.F) {
	for _, b := range fuzzSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		c, err := Decode(b)
		if !bytes.Equal(in, b) {
			t.Fatalf("Decode modified its input")
		}
		if err != nil {
			if c != nil {
				t.Fatalf("Decode returned %T with error %v", c, err)
			}
			malformed, unknown := errors.Is(err, ErrMalformed), errors.Is(err, ErrUnknown)
			if malformed == unknown {
				t.Fatalf("error is neither or both of ErrMalformed and ErrUnknown: %v", err)
			}
			// Unknown means "a newer build wrote this": only a format
			// version or type this build does not know, never bytes of a
			// known type that do not parse.
			if want := len(b) >= 3 && (b[0] != FormatVersion || newOf(Type(b[1])) == nil); unknown != want {
				t.Fatalf("ErrUnknown=%v for %x: %v", unknown, b, err)
			}
			return
		}
		if c == nil {
			t.Fatal("Decode returned nil command without error")
		}
		if b[0] != FormatVersion || Type(b[1]) != c.Type() {
			t.Fatalf("decoded %s from format %d type %d", c.Type(), b[0], b[1])
		}
		if LevelOf(c.Type()) > Level {
			t.Fatalf("decoded %s above this build's level", c.Type())
		}
		enc1, err := Encode(c)
		if err != nil {
			t.Fatalf("re-encode %s: %v", c.Type(), err)
		}
		c2, err := Decode(enc1)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v\n%q", c.Type(), err, enc1)
		}
		if c2.Type() != c.Type() {
			t.Fatalf("type changed from %s to %s", c.Type(), c2.Type())
		}
		enc2, err := Encode(c2)
		if err != nil {
			t.Fatalf("re-encode %s: %v", c2.Type(), err)
		}
		if !bytes.Equal(enc1, enc2) {
			t.Fatalf("re-encoding is not stable:\n%q\n%q", enc1, enc2)
		}
		if cv, ok := c.(*CreateVersion); ok {
			// The blob is everything after the header, byte for byte.
			if cv2 := c2.(*CreateVersion); !bytes.Equal(cv.Content, cv2.Content) {
				t.Fatalf("content changed: %x -> %x", cv.Content, cv2.Content)
			}
		}
	})
}
