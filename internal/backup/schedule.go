package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/durable"
	"github.com/weir-nifi/weir/internal/store"
)

// Run takes scheduled backups into cfg.Dir every cfg.Interval until ctx
// ends. Only the leader takes them (every node may have the same
// directory configured; the cluster writes one backup per interval), and a
// run whose state equals the newest backup's (same index, or same state
// hash) is skipped. After each backup, all but the newest cfg.Keep backups
// in the directory are deleted.
//
// With a directory but no interval, only requested backups are written;
// Run still removes what a crash left and reads the newest backup there.
func (s *Service) Run(ctx context.Context) {
	if s.cfg.Dir == "" {
		return
	}
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		s.log.Error("backup directory unusable; scheduled backups are off", "dir", s.cfg.Dir, "err", err)
		s.failed(KindScheduled, err)
		return
	}
	removePartials(s.cfg.Dir, s.node.ID())
	if m, path, size, err := newest(s.cfg.Dir); err == nil && m != nil {
		s.mu.Lock()
		s.status.Last, s.status.LastPath, s.status.LastSize, s.status.LastKind = m, path, size, KindScheduled
		s.mu.Unlock()
	}
	if s.cfg.Interval <= 0 {
		return
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
	t, err := s.take(KindScheduled, false)
	return t.Path, err
}

// TakeNow takes a backup into cfg.Dir whether or not anything changed,
// then applies retention, and says what it wrote.
func (s *Service) TakeNow() (Taken, error) {
	if s.cfg.Dir == "" {
		return Taken{}, ErrNoDir
	}
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		return Taken{}, err
	}
	return s.take(KindRequested, true)
}

// take writes one backup into cfg.Dir; unless force, it skips when the
// state equals the newest backup's (same index, or same state hash: only
// cluster bookkeeping such as elections and member records happened, and
// no extension bundle changed, whose tables the hash leaves out).
func (s *Service) take(kind string, force bool) (Taken, error) {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	start := time.Now()
	gen, hasGen := s.bundleGeneration()
	if last := s.Status().Last; !force && last != nil {
		if hash, idx, err := s.st.StateHash(); err == nil && (idx == last.Index || hash == last.StateHash && s.sameBundles(gen, hasGen)) {
			s.skipped()
			return Taken{}, nil
		}
	}
	release := s.hold()
	path, m, size, err := writeInPlace(s.st, s.cfg.Dir, s.node.ID(), s.cfg.Now(), s.writes, s.cfg.Content)
	release()
	if err != nil {
		s.failed(kind, err)
		return Taken{}, err
	}
	took := time.Since(start)
	if hasGen {
		// Read before the copy: a bundle change that lands in between is
		// in this backup and makes the next run take another (redundant,
		// never missing).
		s.mu.Lock()
		s.lastGen, s.lastGenKnown = gen, true
		s.mu.Unlock()
	}
	s.succeeded(kind, m, path, size, took)
	s.log.Info("backup written", "kind", kind, "path", path, "index", m.Index, "bytes", size,
		"took", took.Round(time.Millisecond))
	if force {
		// Someone waits for a requested backup: answer once it is
		// durable, and delete old ones (tens of ms per large file) after.
		go func() {
			s.runMu.Lock()
			defer s.runMu.Unlock()
			s.prune()
		}()
	} else {
		s.prune()
	}
	return Taken{Path: path, SizeBytes: size, TookMs: took.Milliseconds(), Manifest: m}, nil
}

// prune applies retention to cfg.Dir.
func (s *Service) prune() {
	if err := prune(s.cfg.Dir, s.cfg.Keep); err != nil {
		s.log.Warn("backup retention failed", "dir", s.cfg.Dir, "err", err)
	}
}

func (s *Service) skipped() {
	s.mu.Lock()
	s.status.Skipped++
	s.mu.Unlock()
}

// imageAt is where a backup written on this node puts the database image:
// page aligned, after the header (padded to fit) and the frame header.
const imageAt = 4096

// partialPattern names the backups a node is writing (a crash can leave
// one behind): with the node's ID, since nodes may share a directory.
func partialPattern(nodeID string) string { return ".weir-backup-" + nodeID + "-*.partial" }

// writeInPlace writes a backup of st into dir: the kernel copies the store
// straight into the backup file (store.CopySnapshotInto, copy_file_range),
// the header and trailer are written around it, and the file is synced and
// renamed to its final name. It costs one copy of the store and one read
// of it for the checksum; the read transaction lasts only as long as the
// copy (in the page cache). The disk writes follow, paced by writeBack so
// that they yield to this node's commits.
func writeInPlace(st Store, dir, nodeID string, now time.Time, writes Writes, content Content) (string, Manifest, int64, error) {
	f, err := os.CreateTemp(dir, partialPattern(nodeID))
	if err != nil {
		return "", Manifest{}, 0, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = durable.Shrink(f) // see durable.Shrink
			f.Close()
			os.Remove(f.Name())
		}
	}()
	c, err := st.CopySnapshotInto(f, imageAt)
	if err != nil {
		return "", Manifest{}, 0, err
	}
	defer c.Release()
	p, err := prepare(c, nodeID, now, imageAt, content)
	if err != nil {
		return "", Manifest{}, 0, err
	}
	defer p.Close()
	if _, err := f.WriteAt(p.header, 0); err != nil {
		return "", Manifest{}, 0, err
	}
	written := make(chan error, 1)
	go func() { written <- writeBack(f, c, imageAt, writes) }()
	fr, err := c.FinishFrame(func() { pause(writes, time.Sleep) })
	if werr := <-written; err == nil {
		err = werr
	}
	if err != nil {
		return "", Manifest{}, 0, err
	}
	// The content section follows the frame, the trailer the section.
	at := imageAt + p.Manifest.StoreBytes + store.FrameSumLen
	n, err := p.writeSection(io.NewOffsetWriter(f, at))
	if err != nil {
		return "", Manifest{}, 0, err
	}
	tr, err := trailer(p.header, fr.Header[:], fr.Sum[:], p.entriesSum(), p.Summarize())
	if err != nil {
		return "", Manifest{}, 0, err
	}
	if _, err := f.WriteAt(tr, at+n); err != nil {
		return "", Manifest{}, 0, err
	}
	if err := f.Sync(); err != nil {
		return "", Manifest{}, 0, err
	}
	if err := f.Close(); err != nil {
		return "", Manifest{}, 0, err
	}
	path := filepath.Join(dir, FileName(p.Manifest))
	if err := os.Rename(f.Name(), path); err != nil {
		return "", Manifest{}, 0, err
	}
	ok = true
	return path, p.Manifest, p.Size(), durable.SyncParent(path)
}

// removePartials deletes the backups a crash of this node left half
// written.
func removePartials(dir, nodeID string) {
	names, _ := filepath.Glob(filepath.Join(dir, partialPattern(nodeID)))
	for _, n := range names {
		_ = durable.Remove(n)
	}
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
		// Freed in steps: a backup is as large as the store, and freeing
		// it at once stalls the Raft log's fsyncs (durable.Shrink).
		if err := durable.Remove(files[0]); err != nil {
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

// bundleGenerations is a store that counts its extension bundle changes
// (store.Store does; the bundle tables are outside the state hash).
type bundleGenerations interface {
	BundleGeneration() uint64
}

func (s *Service) bundleGeneration() (uint64, bool) {
	if g, ok := s.st.(bundleGenerations); ok {
		return g.BundleGeneration(), true
	}
	return 0, false
}

// sameBundles reports whether the bundles are as at this service's last
// backup. Unknown (a restarted service) counts as changed: one backup
// too many rather than one missing.
func (s *Service) sameBundles(gen uint64, hasGen bool) bool {
	if !hasGen {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastGenKnown && s.lastGen == gen
}
