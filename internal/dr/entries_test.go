package dr

import (
	"bytes"
	"reflect"
	"testing"
)

func TestEntriesRoundTrip(t *testing.T) {
	idx := []uint64{3, 7, 8}
	data := [][]byte{[]byte("a"), {}, bytes.Repeat([]byte("z"), 70000)}
	var buf bytes.Buffer
	if err := writeEntries(&buf, idx, data); err != nil {
		t.Fatal(err)
	}
	gi, gd, err := readEntries(&buf)
	if err != nil || !reflect.DeepEqual(gi, idx) || len(gd) != 3 || !bytes.Equal(gd[2], data[2]) || len(gd[1]) != 0 {
		t.Fatalf("read back %v %d entries, %v", gi, len(gd), err)
	}
	for _, bad := range [][]byte{
		{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5, 'a'},                                // truncated entry
		{0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff},                         // an entry claiming 4 GiB
		{0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, // indexes going back
		{0, 0, 0}, // a torn header
	} {
		if _, _, err := readEntries(bytes.NewReader(bad)); err == nil {
			t.Errorf("% x read without error", bad)
		}
	}
}

// FuzzReadEntries: whatever a primary (or anything posing as one) sends,
// the reader returns an error or entries with rising indexes that write
// back to the same bytes; it never panics or allocates past its bound.
func FuzzReadEntries(f *testing.F) {
	var buf bytes.Buffer
	_ = writeEntries(&buf, []uint64{1, 2}, [][]byte{[]byte("x"), []byte("yz")})
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, data, err := readEntries(bytes.NewReader(b))
		if err != nil {
			return
		}
		for i := 1; i < len(idx); i++ {
			if idx[i] <= idx[i-1] {
				t.Fatalf("indexes %v do not rise", idx)
			}
		}
		var out bytes.Buffer
		if err := writeEntries(&out, idx, data); err != nil || !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("%d entries write back to other bytes", len(idx))
		}
	})
}
