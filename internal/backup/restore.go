package backup

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/weir-nifi/weir/internal/durable"
	"github.com/weir-nifi/weir/internal/store"
)

// RestoredFile is written into a restored data directory: the manifest of
// the backup it came from, for the operator's records.
const RestoredFile = "restored-from.json"

// Restore verifies a backup read from r and makes it the state of a new
// node in dataDir, which must not hold a node yet. Nothing is left in
// dataDir unless every check passed: the length and checksums of the file,
// the bbolt page structure, and the state hash recomputed from the restored
// database against the manifest's. progress, if not nil, is told the bytes
// read.
func Restore(r io.Reader, dataDir string, progress func(n int64)) (Info, error) {
	var info Info
	if err := checkEmpty(dataDir); err != nil {
		return info, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return info, err
	}
	final := filepath.Join(dataDir, "state.db")
	tmp := final + ".restoring"
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()

	info, err := restoreFile(r, tmp, progress)
	if err != nil {
		return info, err
	}
	m := info.Manifest

	if err := store.CheckFile(tmp); err != nil {
		return info, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := store.PrepareRestored(tmp); err != nil {
		return info, err
	}
	hash, counts, err := inspect(tmp)
	if err != nil {
		return info, err
	}
	if hash != m.StateHash {
		return info, fmt.Errorf("%w: the restored state hash %s differs from the backup's %s", ErrInvalid, hash, m.StateHash)
	}
	if counts != m.Counts {
		return info, fmt.Errorf("%w: the restored counts %+v differ from the backup's %+v", ErrInvalid, counts, m.Counts)
	}
	if err := os.Rename(tmp, final); err != nil {
		return info, err
	}
	ok = true
	if err := durable.SyncDir(dataDir); err != nil {
		return info, err
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(filepath.Join(dataDir, RestoredFile), append(b, '\n'), 0o644); err != nil {
		return info, err
	}
	return info, nil
}

// restoreFile writes the database held by the backup in r to path,
// synced, verifying the backup as it goes.
func restoreFile(r io.Reader, path string, progress func(n int64)) (Info, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	c := Checker{Data: f}
	info, err := c.Copy(nil, r, progress)
	if err != nil {
		return info, err
	}
	if err := f.Sync(); err != nil {
		return info, err
	}
	return info, f.Close()
}

// checkEmpty refuses a data directory that already belongs to a node.
func checkEmpty(dataDir string) error {
	for _, p := range []string{"state.db", filepath.Join("raft", "wal"), "node-id"} {
		if _, err := os.Stat(filepath.Join(dataDir, p)); err == nil {
			return fmt.Errorf("data directory %s already holds a Weir node (%s exists): restore builds a new node, so give it an empty or new directory", dataDir, p)
		}
	}
	return nil
}

// inspect opens a store file and returns its state hash and counts.
func inspect(path string) (string, store.Counts, error) {
	st, err := store.Open(path, store.Options{})
	if err != nil {
		return "", store.Counts{}, err
	}
	defer st.Close()
	// Recomputed from the entries, not the hash the file keeps: the
	// restored state must add up to what the backup's trailer says.
	hash, _, err := st.RecomputedStateHash()
	if err != nil {
		return "", store.Counts{}, err
	}
	var c store.Counts
	err = st.Read(func(tx *store.Tx) error { c = tx.Counts(); return nil })
	return hash, c, err
}
