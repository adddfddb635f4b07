package systest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/harness"
)

// TestOpsScheduledBackups runs a node with --backup-dir, a short
// --backup-interval and --backup-keep 2: each change is backed up, an
// unchanged registry is not backed up again, only the newest two files are
// kept, and health reports the newest backup.
func TestOpsScheduledBackups(t *testing.T) {
	long(t)
	dir := filepath.Join(t.TempDir(), "backups")
	n := harness.StartNode(t, harness.Options{ID: "sched", Args: []string{
		"--backup-dir", dir, "--backup-interval", "200ms", "--backup-keep", "2"}})
	if err := n.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	var last backup.Manifest
	for i := 0; i < 4; i++ {
		if st, _, body := req(t, n, "POST", "/nifi-registry-api/buckets", fmt.Sprintf(`{"name":"b%d"}`, i)); st != 200 {
			t.Fatalf("write %d: %d %s", i, st, body)
		}
		l, err := n.Local()
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, fmt.Sprintf("a backup holding write %d", i), func() error {
			files, err := backup.List(dir)
			if err != nil || len(files) == 0 {
				return errorf("%v %v", files, err)
			}
			m, err := backup.ReadManifestFile(files[len(files)-1])
			if err != nil {
				return err
			}
			if m.Index < l.AppliedIndex || m.Counts.Buckets != i+1 {
				return errorf("newest backup at index %d with %d buckets", m.Index, m.Counts.Buckets)
			}
			last = m
			return nil
		})
	}
	// Retention runs right after a new file is renamed into place, so a
	// listing may briefly see one more.
	var files []string
	eventually(t, 60*time.Second, "retention keeps the newest two", func() error {
		var err error
		files, err = backup.List(dir)
		if err != nil || len(files) != 2 {
			return errorf("kept %d backups, want 2: %v %v", len(files), files, err)
		}
		return nil
	})
	// Nothing changes: several intervals later the newest file is the same.
	newest := files[len(files)-1]
	eventually(t, 60*time.Second, "unchanged state is skipped", func() error {
		_, _, body := req(t, n, "GET", "/nifi-registry-api/actuator/health/backup", "")
		if !strings.Contains(body, `"skippedUnchanged":`) || strings.Contains(body, `"skippedUnchanged":0`) {
			return errorf("%s", body)
		}
		if !strings.Contains(body, fmt.Sprintf(`"index":%d`, last.Index)) {
			return errorf("health does not name the newest backup: %s", body)
		}
		return nil
	})
	if files, _ := backup.List(dir); files[len(files)-1] != newest {
		t.Fatalf("a backup of unchanged state was written: %v", files)
	}
}
