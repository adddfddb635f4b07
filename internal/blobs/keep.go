package blobs

import (
	"context"
	"errors"
	"time"
)

// Keeper makes a node's store match the content its replicated state
// refers to, whoever refers to it (bundle versions, queued site-to-site
// chunks): a file the node lacks (it was down or not yet a member when
// the file was sent, or it was given a snapshot) is fetched from a node
// that has it; a file nothing refers to and untouched for SweepAfter
// (longer than an upload takes from its file to its commit) is removed.
// Apply never touches files: besides Discard of what the state let go of,
// this is the only place they go.
type Keeper struct {
	Store *Store
	// Fetch gets a file from another node (Replicator.Fetch).
	Fetch func(ctx context.Context, sha string, size int64) error
	// Wanted lists the files the applied state refers to, with their
	// sizes (store.FileContents).
	Wanted     func() (map[string]int64, error)
	SweepAfter time.Duration
}

// Run keeps the store every period until ctx ends.
func (k Keeper) Run(ctx context.Context, period time.Duration, log func(msg string, args ...any)) {
	t := time.NewTicker(period)
	defer t.Stop()
	var logged time.Time
	for {
		// A file no node can send yet is retried every period but
		// reported once a minute.
		if err := k.Once(ctx); err != nil && ctx.Err() == nil && time.Since(logged) > time.Minute {
			log("content files not in step with the state yet", "err", err)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once compares the store with the state once.
func (k Keeper) Once(ctx context.Context) error {
	// Files first, references second: a file kept and committed between
	// the two is referred to in the second read, so it is not swept.
	files, err := k.Store.List()
	if err != nil {
		return err
	}
	want, err := k.Wanted()
	if err != nil {
		return err
	}
	var errs []error
	before := time.Now().Add(-k.SweepAfter)
	for _, f := range files {
		if _, ok := want[f.SHA256]; !ok && f.ModTime.Before(before) {
			errs = append(errs, k.Store.RemoveIfUntouched(f.SHA256, before))
		}
	}
	missing := map[string]int64{}
	for sha, size := range want {
		if !k.Store.Has(sha, size) {
			missing[sha] = size
		}
	}
	if len(missing) == 0 {
		return errors.Join(errs...)
	}
	// A site-to-site chunk's file goes the moment its chunk does, which
	// at relay rates is often between the read above and this check: what
	// is missing is looked up again before it is fetched, and a file whose
	// reference went while it was fetched is removed again.
	if want, err = k.Wanted(); err != nil {
		return errors.Join(append(errs, err)...)
	}
	var fetched []string
	for sha, size := range missing {
		if _, ok := want[sha]; !ok {
			continue
		}
		if err := k.Fetch(ctx, sha, size); err != nil {
			errs = append(errs, err)
			continue
		}
		fetched = append(fetched, sha)
	}
	if len(fetched) > 0 {
		if want, err = k.Wanted(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		for _, sha := range fetched {
			if _, ok := want[sha]; !ok {
				errs = append(errs, k.Store.Discard(sha))
			}
		}
	}
	return errors.Join(errs...)
}
