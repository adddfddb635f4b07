package queue

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// decodeLeaseHead reads what json.Unmarshal reads from every record the
// store writes (json.Marshal of leaseRec), whatever the strings hold, and
// from the same fields in another order; it refuses what is not JSON.
func TestDecodeLeaseHead(t *testing.T) {
	names := []string{"", "q", `"quoted"`, `back\slash`, "line\nbreak", "ünïcödé ☃", "\u2028\u2029", "<&>", string([]byte{0xff, 0xfe})}
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(raw []byte) {
		t.Helper()
		var want leaseHead
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		got, err := decodeLeaseHead(raw)
		if err != nil || got != want {
			t.Fatalf("%s: got %+v %v, want %+v", raw, got, err, want)
		}
	}
	for i := range 500 {
		l := leaseRec{Port: names[rng.IntN(len(names))], Queue: names[rng.IntN(len(names))], Expires: rng.Int64() - math.MaxInt64/2}
		for range rng.IntN(2000) {
			l.Seqs = append(l.Seqs, rng.Uint64())
		}
		if i%7 == 0 {
			l.Seqs = nil
		}
		raw, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		check(raw)
	}
	check([]byte(`{"seqs":[1,2,3],"expires":42,"port":"p","queue":"q"}`))
	check([]byte(` { "expires" : -7 , "queue" : "x" } `))
	check([]byte(`{"port":"p"}`))
	for _, bad := range []string{``, `[]`, `{"queue":`, `{"queue":1,"expires":2}`, `{"expires":"soon","queue":"q"}`, `nope`} {
		if _, err := decodeLeaseHead([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
