package store

import (
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// mountID is the unique id of the mount that holds path's directory (Linux
// 6.8 and later give every mount a new one, never reused), or "".
func mountID(path string) string {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, filepath.Dir(path), 0, unix.STATX_MNT_ID_UNIQUE, &st); err != nil {
		return ""
	}
	if st.Mask&unix.STATX_MNT_ID_UNIQUE == 0 {
		return ""
	}
	return strconv.FormatUint(st.Mnt_id, 10)
}
