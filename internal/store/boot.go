package store

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/durable"
)

// A log-backed store does not fsync its commits (see Options.LogBacked).
// After a process crash the kernel still has every write, so the file is
// consistent; after a crash of the machine it may not be (bbolt relies on
// fsync to order data pages before the meta page). The same holds when the
// file system under it failed and was mounted again (an ext4 error makes it
// drop what it had not written) while the machine kept running. The boot
// mark tells these apart: it records the kernel's boot id and the mount's
// unique id when the store was opened, and whether it was closed cleanly
// (synced).

type bootMark struct {
	BootID string `json:"bootId"`
	// Mount is the unique id of the mount the store is on ("" where the
	// kernel does not tell it).
	Mount string `json:"mount,omitempty"`
	Clean bool   `json:"clean"`
}

func bootMarkPath(path string) string { return path + ".boot" }

// bootID is the kernel's id for this boot ("" where it cannot be read,
// which makes every unclean stop count as a crash of the machine).
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// checkBoot moves aside a store file that a previous boot left unsynced and
// records that this boot has the file open. It returns the path the file
// was moved to, or "".
func checkBoot(path string) (string, error) {
	var aside string
	b, err := os.ReadFile(bootMarkPath(path))
	switch {
	case err == nil:
		var m bootMark
		if json.Unmarshal(b, &m) != nil {
			m = bootMark{}
		}
		cur, mnt := bootID(), mountID(path)
		remounted := m.Mount != "" && mnt != "" && m.Mount != mnt
		if !m.Clean && (cur == "" || m.BootID != cur || remounted) {
			if _, err := os.Stat(path); err == nil {
				aside = fmt.Sprintf("%s.unsynced-%d", path, time.Now().UnixNano())
				if err := os.Rename(path, aside); err != nil {
					return "", err
				}
			}
		}
	case os.IsNotExist(err):
		// A new store, or one written before boot marks (synced commits).
	default:
		return "", err
	}
	return aside, writeBootMark(path, false)
}

func writeBootMark(path string, clean bool) error {
	m := bootMark{BootID: bootID(), Mount: mountID(path), Clean: clean}
	b, _ := json.Marshal(m)
	return durable.ReplaceFile(bootMarkPath(path), b, 0o644)
}
