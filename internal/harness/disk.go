package harness

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ---- disks: real ext4 file systems on loop devices, for disk faults

// A Disk is a small ext4 file system in an image file on a loop device,
// mounted with errors=remount-ro on a directory of its own, so a test can
// put a node's data directory on it and make the disk full, read-only or
// lose power under the running node. It needs root, losetup, mkfs.ext4 and
// e2fsck (RequireDisks).
//
// The file system is made without blocks reserved for root (-m 0): weir
// runs as root in the tests, and Fill(0) must leave it no space at all.
// Nodes' logs stay off the disk (see NewNodeOnDisk, NewClusterOnDisks), so
// filling it or cutting its power does not lose them.
type Disk struct {
	t    testing.TB
	base string // temp dir holding the image and the mount point
	img  string
	dev  string // /dev/loopN
	dir  string // mount point

	mu      sync.Mutex
	mounted bool
	fills   []string
	seq     int
}

// mountOpts are the ext4 options of every Disk: an error in the file
// system (trigger_fs_error, a failing device) makes it read-only.
const mountOpts = "errors=remount-ro"

// ext4Shutdown is EXT4_IOC_SHUTDOWN (_IOR('X', 125, __u32)) and
// ext4ShutdownNoLogFlush its flag EXT4_GOING_FLAGS_NOLOGFLUSH: the file
// system stops at once, without writing back dirty data or committing
// the journal, as when the power goes.
const (
	ext4Shutdown           = 0x8004587d
	ext4ShutdownNoLogFlush = 2
)

// diskUnavailable skips the test when this machine cannot make disks, but
// fails it in CI (CI=true), where a silent skip would hide the tests.
func diskUnavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "loop-device disks unavailable: " + fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: disk fault tests must run)")
	}
	t.Skip(msg)
}

// RequireDisks skips (or in CI fails) the test unless it runs as root with
// losetup, mkfs.ext4 and e2fsck at hand and loop devices to use. NewDisk
// calls it; a mount that fails skips the same way.
func RequireDisks(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		diskUnavailable(t, "not root (uid %d)", os.Geteuid())
	}
	for _, tool := range []string{"losetup", "mkfs.ext4", "e2fsck"} {
		if _, err := exec.LookPath(tool); err != nil {
			diskUnavailable(t, "%s not found: %v", tool, err)
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		diskUnavailable(t, "no /dev/loop-control: %v", err)
	}
}

// NewDisk makes an ext4 file system of size bytes (at least 32 MiB), on a
// loop device, mounted on a new directory. The image is sparse. Cleanup
// unmounts it (lazily if it is still busy or was aborted) and detaches the
// loop device; it stops no process: call NewDisk before creating the nodes
// that use it, so that their cleanup (which kills them) runs first.
func NewDisk(t testing.TB, size int64) *Disk {
	t.Helper()
	RequireDisks(t)
	if size < 32<<20 {
		size = 32 << 20
	}
	base, err := os.MkdirTemp("", "weir-disk-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Disk{t: t, base: base, img: filepath.Join(base, "disk.img"), dir: filepath.Join(base, "mnt")}
	t.Cleanup(d.cleanup)
	if err := os.Mkdir(d.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(d.img)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	// 4 KiB blocks (mkfs picks 1 KiB for small file systems), no blocks
	// reserved for root, inode tables and journal written now rather than
	// by a background thread while the test runs.
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-b", "4096", "-m", "0",
		"-E", "lazy_itable_init=0,lazy_journal_init=0", d.img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 %s: %v\n%s", d.img, err, out)
	}
	out, err := exec.Command("losetup", "--find", "--show", d.img).CombinedOutput()
	if err != nil {
		diskUnavailable(t, "losetup --find --show %s: %v: %s", d.img, err, strings.TrimSpace(string(out)))
	}
	d.dev = strings.TrimSpace(string(out))
	if err := d.mount(); err != nil {
		diskUnavailable(t, "mount %s on %s: %v", d.dev, d.dir, err)
	}
	if _, err := os.Stat(d.sysfs()); err != nil {
		diskUnavailable(t, "no ext4 sysfs directory for %s: %v", d.dev, err)
	}
	if err := os.Mkdir(d.DataDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("disk %s: %d MiB ext4 on %s mounted at %s", filepath.Base(d.dev), size>>20, d.dev, d.dir)
	return d
}

// Dir is the mount point.
func (d *Disk) Dir() string { return d.dir }

// DataDir is the directory on the disk meant for a node's --data-dir
// (Dir/data; the filler files of Fill live beside it).
func (d *Disk) DataDir() string { return filepath.Join(d.dir, "data") }

// Device is the loop device, e.g. /dev/loop3.
func (d *Disk) Device() string { return d.dev }

func (d *Disk) sysfs() string { return filepath.Join("/sys/fs/ext4", filepath.Base(d.dev)) }

func (d *Disk) mount() error {
	if err := unix.Mount(d.dev, d.dir, "ext4", 0, mountOpts); err != nil {
		return err
	}
	d.mu.Lock()
	d.mounted = true
	d.mu.Unlock()
	return nil
}

// umount unmounts the disk, retrying for a while if it is busy; with lazy
// it detaches it anyway at last (MNT_DETACH).
func (d *Disk) umount(lazy bool) error {
	d.mu.Lock()
	mounted := d.mounted
	d.mu.Unlock()
	if !mounted {
		return nil
	}
	var err error
	for i := 0; i < 25; i++ {
		if err = unix.Unmount(d.dir, 0); err == nil || !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil && lazy {
		d.t.Logf("disk %s: umount: %v; detaching lazily", d.dev, err)
		err = unix.Unmount(d.dir, unix.MNT_DETACH)
	}
	if err == nil {
		d.mu.Lock()
		d.mounted = false
		d.fills = nil
		d.mu.Unlock()
	}
	return err
}

func (d *Disk) cleanup() {
	if d.dev != "" {
		if err := d.umount(true); err != nil {
			// Leave the directory alone: removing it would delete the
			// files of the still mounted file system.
			d.t.Logf("disk %s: cannot unmount %s: %v (left mounted)", d.dev, d.dir, err)
			return
		}
		if out, err := exec.Command("losetup", "-d", d.dev).CombinedOutput(); err != nil {
			d.t.Logf("disk %s: losetup -d: %v: %s", d.dev, err, strings.TrimSpace(string(out)))
		}
	}
	if err := os.RemoveAll(d.base); err != nil {
		d.t.Logf("disk: remove %s: %v", d.base, err)
	}
}

// Free is the space available on the disk (statfs f_bavail × f_bsize, as
// the node sees it).
func (d *Disk) Free() int64 {
	d.t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(d.dir, &st); err != nil {
		d.t.Fatalf("statfs %s: %v", d.dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// Fill takes space with a filler file until about leaveFree bytes are
// free (within a block or two while nodes write; 0 leaves none at all:
// allocation fails with ENOSPC). It only takes space: with less free than
// leaveFree already it does nothing. Unfill gives it back.
func (d *Disk) Fill(leaveFree int64) {
	d.t.Helper()
	d.mu.Lock()
	d.seq++
	path := filepath.Join(d.dir, fmt.Sprintf(".weir-test-fill-%d", d.seq))
	d.fills = append(d.fills, path)
	d.mu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		d.t.Fatalf("fill %s: %v", d.dev, err)
	}
	defer f.Close()
	const block = 4096
	var off, limit int64 // limit: the largest step that still fits (0: any)
fill:
	for i := 0; i < 1000; i++ {
		missing := d.Free() - leaveFree
		if missing < block {
			break
		}
		n := missing / block * block
		if limit > 0 && n > limit {
			n = limit
		}
		err := unix.Fallocate(int(f.Fd()), 0, off, n)
		switch {
		case err == nil:
			off += n
		case errors.Is(err, unix.ENOSPC):
			// The extent tree needs blocks too: take less at a time.
			if n <= block {
				break fill
			}
			limit = max(n/2/block*block, block)
		default:
			d.t.Fatalf("fill %s: fallocate %d bytes at %d: %v", d.dev, n, off, err)
		}
	}
	// (off undercounts: a fallocate that fails with ENOSPC may have
	// allocated part of its range.)
	var st unix.Stat_t
	_ = unix.Fstat(int(f.Fd()), &st)
	d.t.Logf("disk %s: filled %d MiB, %d bytes free (asked for %d)", filepath.Base(d.dev), st.Blocks*512>>20, d.Free(), leaveFree)
}

// Unfill removes every filler file and commits the file system's journal,
// so the space is free again.
func (d *Disk) Unfill() {
	d.t.Helper()
	d.mu.Lock()
	fills := d.fills
	d.fills = nil
	d.mu.Unlock()
	for _, p := range fills {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			d.t.Fatalf("unfill %s: %v", d.dev, err)
		}
	}
	d.syncfs()
	d.t.Logf("disk %s: unfilled, %d MiB free", filepath.Base(d.dev), d.Free()>>20)
}

func (d *Disk) syncfs() {
	f, err := os.Open(d.dir)
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		d.t.Fatalf("syncfs %s: %v", d.dir, err)
	}
}

// ReadOnly makes ext4 meet an error (sysfs trigger_fs_error): it aborts its
// journal and, mounted errors=remount-ro, turns read-only; every write then
// fails with EROFS, and writes the file system had not yet written back
// are lost. It cannot be made writable again while mounted: stop the
// nodes using it and call Repair.
func (d *Disk) ReadOnly() {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.sysfs(), "trigger_fs_error"), []byte("1"), 0); err != nil {
		d.t.Fatalf("trigger_fs_error on %s: %v", d.dev, err)
	}
	d.waitWriteFails(unix.EROFS)
	d.t.Logf("disk %s: file system error triggered, now read-only", filepath.Base(d.dev))
}

// WriteBack makes the kernel write n bytes of a file on the disk at off
// to the device now and waits for it (sync_file_range), as background
// writeback may at any moment, in file-offset order, without writing the
// rest of the file's dirty pages. It is no fsync: the file system's
// journal is not committed. Followed by ReadOnly or PowerCut, it leaves
// the file as a crash in the middle of writeback would.
func (d *Disk) WriteBack(path string, off, n int64) {
	d.t.Helper()
	f, err := os.Open(path)
	if err != nil {
		d.t.Fatalf("write back %s: %v", path, err)
	}
	defer f.Close()
	err = unix.SyncFileRange(int(f.Fd()), off, n,
		unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	if err != nil {
		d.t.Fatalf("write back %s [%d, %d): %v", path, off, off+n, err)
	}
}

// PowerCut shuts the file system down as a power cut would
// (EXT4_IOC_SHUTDOWN with EXT4_GOING_FLAGS_NOLOGFLUSH): from now on every
// access fails with EIO, and whatever was not yet on stable storage (not
// fsynced) is gone once the disk is mounted again. The processes using it
// keep running: kill them (the machine is off), then Repair, then
// SimulateReboot each node's data directory before starting it again.
func (d *Disk) PowerCut() { PowerCutAll(d.t, d) }

// PowerCutAll cuts the power of several disks at once (PowerCut).
func PowerCutAll(t testing.TB, disks ...*Disk) {
	t.Helper()
	errs := make([]error, len(disks))
	var wg sync.WaitGroup
	for i, d := range disks {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = d.shutdown() }()
	}
	wg.Wait()
	for i, d := range disks {
		if errs[i] != nil {
			t.Fatalf("power cut %s: %v", d.dev, errs[i])
		}
	}
	for _, d := range disks {
		d.waitWriteFails(unix.EIO)
		t.Logf("disk %s: power cut (file system shut down without flushing)", filepath.Base(d.dev))
	}
}

func (d *Disk) shutdown() error {
	f, err := os.Open(d.dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.IoctlSetPointerInt(int(f.Fd()), ext4Shutdown, ext4ShutdownNoLogFlush); err != nil {
		return fmt.Errorf("EXT4_IOC_SHUTDOWN: %w", err)
	}
	return nil
}

// waitWriteFails waits until creating a file on the disk fails with want.
func (d *Disk) waitWriteFails(want error) {
	d.t.Helper()
	p := filepath.Join(d.dir, ".weir-test-probe")
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := os.WriteFile(p, []byte("x"), 0o600)
		if errors.Is(err, want) {
			return
		}
		if err == nil {
			_ = os.Remove(p)
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("disk %s: writes do not fail with %v (last: %v)", d.dev, want, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Repair brings a disk back after ReadOnly or PowerCut: it unmounts it
// (every process using it must have been stopped), runs e2fsck -fy (which
// replays the journal and fixes what the abort left) and mounts it again
// on the same directory. Filler files are forgotten (Fill after Repair
// starts afresh; the old ones, if they survived, are removed).
func (d *Disk) Repair() {
	d.t.Helper()
	if err := d.umount(false); err != nil {
		d.t.Fatalf("repair %s: umount %s: %v (is a node still running on it?)", d.dev, d.dir, err)
	}
	out, err := exec.Command("e2fsck", "-fy", d.dev).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() < 4:
		// 1: errors corrected; 2: corrected, reboot advised (not mounted).
	default:
		d.t.Fatalf("repair %s: e2fsck -fy: %v\n%s", d.dev, err, out)
	}
	d.t.Logf("disk %s: e2fsck -fy: %v\n%s", filepath.Base(d.dev), err, strings.TrimSpace(string(out)))
	if err := d.mount(); err != nil {
		d.t.Fatalf("repair %s: mount again: %v", d.dev, err)
	}
	matches, _ := filepath.Glob(filepath.Join(d.dir, ".weir-test-*"))
	for _, p := range matches {
		_ = os.Remove(p)
	}
	d.syncfs()
}

// SimulateReboot makes a data directory look as it does after the machine
// restarted: the store's boot mark (<dataDir>/state.db.boot, see
// internal/store/boot.go) gets another boot id and clean=false (the nodes
// were killed), because the kernel, the real boot id, is still the same.
// It fails the test if the directory has no boot mark: the store writes
// one durably when it opens, so a power cut cannot have lost it.
func SimulateReboot(t testing.TB, dataDir string) {
	t.Helper()
	p := filepath.Join(dataDir, "state.db.boot")
	old, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("simulate a reboot of %s: %v", dataDir, err)
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	b, _ := json.Marshal(struct {
		BootID string `json:"bootId"`
		Clean  bool   `json:"clean"`
	}{BootID: "simulated-reboot-" + hex.EncodeToString(id[:]), Clean: false})
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err == nil {
		_, err = f.Write(b)
		if serr := f.Sync(); err == nil {
			err = serr
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err == nil {
		var dir *os.File
		if dir, err = os.Open(dataDir); err == nil {
			err = dir.Sync()
			dir.Close()
		}
	}
	if err != nil {
		t.Fatalf("simulate a reboot of %s: %v", dataDir, err)
	}
	t.Logf("simulated a reboot for %s: boot mark %s -> %s", dataDir, strings.TrimSpace(string(old)), b)
}

// ---- nodes and clusters on disks

// NewNodeOnDisk is NewNode with the node's data directory on d (o.DataDir
// must be empty); its log stays in a temp directory off the disk. Create
// d before the node (see NewDisk).
func NewNodeOnDisk(t testing.TB, o Options, d *Disk) *Node {
	t.Helper()
	if o.DataDir != "" {
		t.Fatal("NewNodeOnDisk: DataDir is set by the disk")
	}
	n := NewNode(t, o)
	n.Opts.DataDir = d.DataDir()
	return n
}

// DiskCluster is a Cluster whose nodes each keep their data directory on
// their own Disk.
type DiskCluster struct {
	*Cluster
	Disks []*Disk // Disks[i] holds Nodes[i]'s data
}

// NewClusterOnDisks is NewCluster with every node's data directory on a
// Disk of its own of size bytes (the logs stay off the disks). The disks
// are made first, so the cluster's cleanup (which kills the nodes) runs
// before theirs (which unmounts them).
func NewClusterOnDisks(t testing.TB, o ClusterOptions, size int64) *DiskCluster {
	t.Helper()
	n := o.N
	if n == 0 {
		n = 3
	}
	disks := make([]*Disk, n)
	for i := range disks {
		disks[i] = NewDisk(t, size)
	}
	c := NewCluster(t, o)
	for i, node := range c.Nodes {
		node.Opts.DataDir = disks[i].DataDir()
	}
	return &DiskCluster{Cluster: c, Disks: disks}
}

// StartClusterOnDisks is StartCluster on disks (NewClusterOnDisks).
func StartClusterOnDisks(t testing.TB, o ClusterOptions, size int64) *DiskCluster {
	t.Helper()
	dc := NewClusterOnDisks(t, o, size)
	if o.Join {
		dc.Nodes[0].Start()
	} else {
		for _, n := range dc.Nodes {
			n.Start()
		}
	}
	if _, err := dc.WaitLeader(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return dc
}

// DiskOf is the disk holding a node's data.
func (dc *DiskCluster) DiskOf(n *Node) *Disk { return dc.Disks[dc.index(n)] }
