//go:build unix

package disk

import "golang.org/x/sys/unix"

// freeBytes is the space available to unprivileged writers on dir's file
// system (root may use a few percent more on ext4; the reserve does not
// count on them).
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
