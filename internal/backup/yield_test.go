package backup

import (
	"bytes"
	"testing"
	"time"
)

type fakeWrites struct{ n int64 }

func (f *fakeWrites) WritesInFlight() int64 { return f.n }

// The stream pauses only while writes are in flight, at most yieldMax per
// yieldEvery bytes, and passes every byte through unchanged.
func TestYieldWriter(t *testing.T) {
	for _, inflight := range []int64{0, 3} {
		var out bytes.Buffer
		var slept time.Duration
		y := &yieldWriter{w: &out, writes: &fakeWrites{n: inflight}, sleep: func(d time.Duration) { slept += d }}
		data := bytes.Repeat([]byte("0123456789abcdef"), 4*yieldEvery/16)
		for off := 0; off < len(data); off += 32 << 10 {
			if _, err := y.Write(data[off : off+32<<10]); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatal("bytes changed on the way through")
		}
		want := time.Duration(0)
		if inflight > 0 {
			want = 4 * yieldMax // four chunks of yieldEvery, each waiting the most
		}
		if slept != want {
			t.Errorf("%d writes in flight: slept %v, want %v", inflight, slept, want)
		}
	}
	if w := newYieldWriter(&bytes.Buffer{}, nil); w == nil {
		t.Fatal("nil writer")
	} else if _, ok := w.(*yieldWriter); ok {
		t.Error("a node that does not count writes should not be waited on")
	}
}
