package blobs

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"
	"time"
)

// TestKeeper: one pass fetches the files the state wants and this node
// lacks, removes the files nothing wants once they are older than
// SweepAfter, and keeps the rest; a file the state stops wanting before
// it is fetched is not fetched, and one it stops wanting while it is
// fetched is removed again.
func TestKeeper(t *testing.T) {
	st, peer := openStore(t), openStore(t)
	put := func(s *Store, name string) (string, int64) {
		b := bytes.Repeat([]byte(name), 100)
		sha := shaOf(b)
		if err := s.Put(sha, int64(len(b)), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		return sha, int64(len(b))
	}
	kept, keptN := put(st, "wanted and here")
	old, _ := put(st, "wanted by nothing, old")
	young, _ := put(st, "wanted by nothing, young")
	fetch, fetchN := put(peer, "wanted, on the peer")
	gone, goneN := put(peer, "wanted at first only")
	late, lateN := put(peer, "unwanted while fetched")
	hourAgo := time.Now().Add(-time.Hour)
	for _, sha := range []string{kept, old} {
		if err := os.Chtimes(st.path(sha), hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}
	// The state as three successive reads see it.
	reads := []map[string]int64{
		{kept: keptN, fetch: fetchN, gone: goneN, late: lateN},
		{kept: keptN, fetch: fetchN, late: lateN},
		{kept: keptN, fetch: fetchN},
	}
	var fetched []string
	k := Keeper{
		Store: st,
		Fetch: func(_ context.Context, sha string, size int64) error {
			fetched = append(fetched, sha)
			f, err := peer.Open(sha)
			if err != nil {
				return err
			}
			defer f.Close()
			return st.Put(sha, size, f)
		},
		Wanted: func() (map[string]int64, error) {
			w := reads[0]
			if len(reads) > 1 {
				reads = reads[1:]
			}
			return w, nil
		},
		SweepAfter: 30 * time.Minute,
	}
	if err := k.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	slices.Sort(fetched)
	wantFetched := []string{fetch, late}
	slices.Sort(wantFetched)
	if !slices.Equal(fetched, wantFetched) {
		t.Fatalf("fetched %v, want the wanted files this node lacked: %v", fetched, wantFetched)
	}
	list, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, f := range list {
		have = append(have, f.SHA256)
	}
	slices.Sort(have)
	want := []string{kept, young, fetch}
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Fatalf("the store holds %v, want %v (wanted, young, fetched)", have, want)
	}
}
