package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/durable"
)

// Run takes scheduled backups into cfg.Dir every cfg.Interval until ctx
// ends. Only the leader takes them (every node may have the same
// directory configured; the cluster writes one backup per interval), and a
// run whose state equals the newest backup's (same index, or same state
// hash) is skipped. After each backup, all but the newest cfg.Keep backups
// in the directory are deleted.
func (s *Service) Run(ctx context.Context) {
	if s.cfg.Dir == "" || s.cfg.Interval <= 0 {
		return
	}
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		s.log.Error("backup directory unusable; scheduled backups are off", "dir", s.cfg.Dir, "err", err)
		s.failed("scheduled", err)
		return
	}
	if m, path, size, err := newest(s.cfg.Dir); err == nil && m != nil {
		s.mu.Lock()
		s.status.Last, s.status.LastPath, s.status.LastSize, s.status.LastKind = m, path, size, "scheduled"
		s.mu.Unlock()
	}
	s.log.Info("scheduled backups on", "dir", s.cfg.Dir, "interval", s.cfg.Interval, "keep", s.cfg.Keep)
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.node.IsLeader() {
			continue
		}
		if _, err := s.RunOnce(); err != nil {
			s.log.Error("scheduled backup failed", "dir", s.cfg.Dir, "err", err)
		}
	}
}

// RunOnce takes one backup into cfg.Dir unless nothing changed since the
// newest one, then applies retention. It returns the new file's path, or
// "" when it skipped.
func (s *Service) RunOnce() (string, error) {
	start := time.Now()
	last := s.Status().Last
	if last != nil && last.Index == s.st.AppliedIndex() {
		s.skipped()
		return "", nil
	}
	sn, err := s.pointInTime("scheduled")
	if err != nil {
		s.failed("scheduled", err)
		return "", err
	}
	defer sn.Release()
	if last != nil && last.Index == sn.Index() {
		s.skipped()
		return "", nil
	}
	p, err := Prepare(sn, s.node.ID(), s.cfg.Now())
	if err != nil {
		s.failed("scheduled", err)
		return "", err
	}
	if last != nil && last.StateHash == p.Summarize().StateHash {
		// Only cluster bookkeeping (elections, member records) happened.
		s.skipped()
		return "", nil
	}
	path := filepath.Join(s.cfg.Dir, FileName(p.Manifest))
	size, err := writeFile(path, p, s.writes)
	if err != nil {
		s.failed("scheduled", err)
		return "", err
	}
	s.succeeded("scheduled", p.Manifest, path, size, time.Since(start))
	s.log.Info("scheduled backup written", "path", path, "index", p.Manifest.Index, "bytes", size,
		"took", time.Since(start).Round(time.Millisecond))
	if err := prune(s.cfg.Dir, s.cfg.Keep); err != nil {
		s.log.Warn("backup retention failed", "dir", s.cfg.Dir, "err", err)
	}
	return path, nil
}

func (s *Service) skipped() {
	s.mu.Lock()
	s.status.Skipped++
	s.mu.Unlock()
}

// writeFile writes a backup to path atomically: a temporary file, synced,
// renamed into place.
func writeFile(path string, p *Prepared, writes Writes) (int64, error) {
	tmp := path + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	// The database image reaches the file by copy_file_range from the
	// snapshot copy (durable.Writer is an io.ReaderFrom; see
	// store.SnapshotCopy.WriteTo), never through this process.
	out := &durable.Writer{F: f}
	n, err := p.WriteTo(newYieldWriter(out, writes))
	if err == nil {
		err = out.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return n, durable.SyncParent(path)
}

// List returns the backup files in dir (by this package's naming), oldest
// first.
func List(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, "weir-backup-") && strings.HasSuffix(n, Ext) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out)
	return out, nil
}

// prune deletes all but the newest keep backups in dir.
func prune(dir string, keep int) error {
	files, err := List(dir)
	if err != nil {
		return err
	}
	var errs []string
	for len(files) > keep {
		if err := os.Remove(files[0]); err != nil {
			errs = append(errs, err.Error())
		}
		files = files[1:]
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// newest reads the manifest of the newest backup in dir (nil if none).
func newest(dir string) (*Manifest, string, int64, error) {
	files, err := List(dir)
	if err != nil || len(files) == 0 {
		return nil, "", 0, err
	}
	path := files[len(files)-1]
	m, err := ReadManifestFile(path)
	if err != nil {
		return nil, "", 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", 0, err
	}
	return &m, path, st.Size(), nil
}

// ReadManifestFile reads the full manifest of a backup file (its head and
// trailer, without verifying the data between them).
func ReadManifestFile(path string) (Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return Manifest{}, err
	}
	defer f.Close()
	return ReadManifest(f)
}
