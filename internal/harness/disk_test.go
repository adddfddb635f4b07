package harness

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDisk checks the disk faults themselves: Fill leaves what it is asked
// to (none at all with 0), ReadOnly makes writes fail with EROFS, PowerCut
// loses what was not fsynced and keeps what was, Repair makes the disk
// writable again, and SimulateReboot changes the boot mark.
func TestDisk(t *testing.T) {
	d := NewDisk(t, 64<<20)
	if fi, err := os.Stat(d.DataDir()); err != nil || !fi.IsDir() {
		t.Fatalf("data dir: %v %v", fi, err)
	}
	free0 := d.Free()

	d.Fill(4 << 20)
	if f := d.Free(); f < 4<<20-64<<10 || f > 4<<20+64<<10 {
		t.Errorf("Fill(4 MiB) left %d bytes free", f)
	}
	d.Fill(0)
	if f := d.Free(); f != 0 {
		t.Errorf("Fill(0) left %d bytes free", f)
	}
	err := os.WriteFile(filepath.Join(d.DataDir(), "x"), make([]byte, 64<<10), 0o644)
	if !errors.Is(err, unix.ENOSPC) {
		t.Errorf("write on a full disk: %v, want ENOSPC", err)
	}
	d.Unfill()
	if f := d.Free(); f < free0-1<<20 {
		t.Errorf("after Unfill %d bytes free, had %d", f, free0)
	}

	// Power cut: the fsynced file survives, the other one is lost.
	synced := filepath.Join(d.DataDir(), "synced")
	f, err := os.Create(synced)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dir, _ := os.Open(d.DataDir())
	_ = dir.Sync()
	dir.Close()
	unsynced := filepath.Join(d.DataDir(), "unsynced")
	if err := os.WriteFile(unsynced, []byte("lost"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.PowerCut()
	if err := os.WriteFile(filepath.Join(d.DataDir(), "z"), []byte("z"), 0o644); !errors.Is(err, unix.EIO) {
		t.Errorf("write after the power cut: %v, want EIO", err)
	}
	d.Repair()
	if b, err := os.ReadFile(synced); err != nil || string(b) != "kept" {
		t.Errorf("fsynced file after the power cut: %q %v", b, err)
	}
	if _, err := os.Stat(unsynced); !os.IsNotExist(err) {
		// The kernel may have written it back before the cut (unlikely
		// within milliseconds); that would make the fault weaker, not wrong.
		t.Logf("unsynced file survived the power cut: %v", err)
	}

	// Read-only.
	d.ReadOnly()
	if err := os.WriteFile(filepath.Join(d.DataDir(), "y"), []byte("y"), 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write after ReadOnly: %v, want EROFS", err)
	}
	if b, err := os.ReadFile(synced); err != nil || string(b) != "kept" {
		t.Errorf("read after ReadOnly: %q %v", b, err)
	}
	d.Repair()
	if err := os.WriteFile(filepath.Join(d.DataDir(), "y"), []byte("y"), 0o644); err != nil {
		t.Errorf("write after Repair: %v", err)
	}

	// Reboot mark.
	mark := filepath.Join(d.DataDir(), "state.db.boot")
	if err := os.WriteFile(mark, []byte(`{"bootId":"b1","clean":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	SimulateReboot(t, d.DataDir())
	var m struct {
		BootID string `json:"bootId"`
		Clean  bool   `json:"clean"`
	}
	b, _ := os.ReadFile(mark)
	if err := json.Unmarshal(b, &m); err != nil || m.BootID == "b1" || m.BootID == "" || m.Clean {
		t.Errorf("boot mark after SimulateReboot: %s %v", b, err)
	}
}
