package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/weir-nifi/weir/internal/blobs"
	"github.com/weir-nifi/weir/internal/durable"
	"github.com/weir-nifi/weir/internal/store"
)

// Files a restore leaves in a data directory. A restored directory is
// either complete (and says so) or refused with what to do:
//
//   - RestoringFile is written, durably, before anything else and removed
//     last: while it exists the directory is an interrupted restore, and
//     weir server refuses it (weir restore starts over in it);
//   - SeedPendingFile is written with the restored store and removed once
//     the node's first start has made the restored state the new cluster's
//     first Raft snapshot (SeedCluster): until then the node serves
//     nothing, and a start interrupted before that point is redone from the
//     restored store (see PrepareStart);
//   - RestoredFile keeps the manifest of the backup, for the operator.
const (
	RestoredFile    = "restored-from.json"
	RestoringFile   = "restore-incomplete"
	SeedPendingFile = "seed-pending"
)

// Restore verifies a backup read from r and makes it the state of a new
// node in dataDir, which must not hold a node yet (an interrupted restore
// is cleared and done again). Nothing usable is left in dataDir unless
// every check passed: the length and checksums of the file, the bbolt page
// structure, and the state hash recomputed from the restored database
// against the manifest's. progress, if not nil, is told the bytes read.
func Restore(r io.Reader, dataDir string, progress func(n int64)) (Info, error) {
	var info Info
	if err := clearInterrupted(dataDir); err != nil {
		return info, err
	}
	if err := checkEmpty(dataDir); err != nil {
		return info, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return info, err
	}
	marker := filepath.Join(dataDir, RestoringFile)
	note := fmt.Sprintf("weir restore started %s and has not finished: this directory is incomplete.\nRun weir restore into it again (it starts over), or use another directory.\n", time.Now().UTC().Format(time.RFC3339))
	// Created in place, not by rename: the directory must never hold a
	// file of this restore without the marker (its existence, not its
	// text, is what counts).
	if err := durable.WriteFile(marker, []byte(note), 0o644); err != nil {
		return info, err
	}
	if err := durable.SyncDir(dataDir); err != nil {
		return info, err
	}
	final := filepath.Join(dataDir, "state.db")
	tmp := final + ".restoring"
	ok := false
	defer func() {
		if !ok {
			// A refused restore leaves the directory as it found it; only
			// a restore that is killed leaves the marker behind.
			for _, f := range []string{tmp, final, filepath.Join(dataDir, RestoredFile), filepath.Join(dataDir, SeedPendingFile)} {
				os.Remove(f)
			}
			os.RemoveAll(filepath.Join(dataDir, blobs.DataDirName))
			if durable.SyncDir(dataDir) == nil {
				os.Remove(marker)
			}
		}
	}()

	info, err := restoreFile(r, tmp, filepath.Join(dataDir, blobs.DataDirName), progress)
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
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := durable.ReplaceFile(filepath.Join(dataDir, RestoredFile), append(b, '\n'), 0o644); err != nil {
		return info, err
	}
	if err := durable.ReplaceFile(filepath.Join(dataDir, SeedPendingFile), []byte("the restored state becomes the new cluster's first snapshot at the first start\n"), 0o644); err != nil {
		return info, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return info, err
	}
	if err := durable.SyncDir(dataDir); err != nil {
		return info, err
	}
	// Last: the directory is complete.
	if err := os.Remove(marker); err != nil {
		return info, err
	}
	if err := durable.SyncDir(dataDir); err != nil {
		return info, err
	}
	ok = true
	return info, nil
}

// clearInterrupted removes what an interrupted restore left in dataDir, so
// the restore can start over.
func clearInterrupted(dataDir string) error {
	if _, err := os.Stat(filepath.Join(dataDir, RestoringFile)); err != nil {
		return nil
	}
	for _, f := range []string{"state.db", "state.db.restoring", RestoredFile, SeedPendingFile} {
		if err := os.Remove(filepath.Join(dataDir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.RemoveAll(filepath.Join(dataDir, blobs.DataDirName))
}

// PrepareStart checks a data directory before a node starts on it, and
// tells whether the node must seed its new cluster from a restored store
// first (SeedCluster, then SeedDone). It refuses an interrupted restore,
// and a restored directory given a cluster to join. When a previous first
// start was interrupted before the seed snapshot existed, it clears that
// start's Raft state: nothing was served from it, and the seed is redone.
func PrepareStart(dataDir string, joining bool) (seed bool, err error) {
	if _, err := os.Stat(filepath.Join(dataDir, RestoringFile)); err == nil {
		return false, fmt.Errorf("data directory %s holds an interrupted restore (weir restore stopped before it finished): run weir restore into it again, or start from an empty directory", dataDir)
	}
	if _, err := os.Stat(filepath.Join(dataDir, SeedPendingFile)); err != nil {
		return false, nil
	}
	if joining {
		return false, fmt.Errorf("data directory %s was restored from a backup and starts a new cluster: start it without --join or --bootstrap, then let the other nodes join it", dataDir)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "raft")); err == nil {
		// A first start stopped before its seed snapshot was in place.
		// The store was opened synced for it (see daemon), so it holds the
		// restored registry plus that start's few cluster entries: forget
		// those (applied index, members) with its Raft state.
		for _, p := range []string{"raft", "state.db.staged", "state.db.boot"} {
			if err := os.RemoveAll(filepath.Join(dataDir, p)); err != nil {
				return false, err
			}
		}
		if err := store.PrepareRestored(filepath.Join(dataDir, "state.db")); err != nil {
			return false, err
		}
	}
	return true, durable.SyncDir(dataDir)
}

// SeedDone records that the restored state is the new cluster's first
// snapshot: later starts are ordinary ones.
func SeedDone(dataDir string) error {
	if err := os.Remove(filepath.Join(dataDir, SeedPendingFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return durable.SyncDir(dataDir)
}

// restoreFile writes the database held by the backup in r to path,
// synced, and its content files into the directory content, verifying
// the backup as it goes.
func restoreFile(r io.Reader, path, content string, progress func(n int64)) (Info, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	files, err := blobs.Open(content)
	if err != nil {
		return Info{}, err
	}
	sink := &fileSink{st: files}
	defer sink.close()
	c := Checker{Data: f, Content: sink}
	info, err := c.Copy(nil, r, progress)
	if err != nil {
		return info, err
	}
	if err := f.Sync(); err != nil {
		return info, err
	}
	return info, f.Close()
}

// fileSink writes a backup's content files into a node's file store,
// each kept (fsynced, renamed) once the Checker matched its SHA-256.
type fileSink struct {
	st *blobs.Store
	sp *blobs.Spool
}

func (s *fileSink) Begin(sha string, size int64) (io.Writer, error) {
	s.close()
	sp, err := s.st.Create()
	s.sp = sp
	return sp, err
}

func (s *fileSink) End(sha string) error {
	sp := s.sp
	s.sp = nil
	defer sp.Close()
	if err := sp.Finish(); err != nil {
		return err
	}
	if sp.SHA256 != sha {
		return fmt.Errorf("%w: content file %s was written as %s", ErrInvalid, sha, sp.SHA256)
	}
	return sp.Keep()
}

func (s *fileSink) close() {
	if s.sp != nil {
		s.sp.Close()
		s.sp = nil
	}
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
