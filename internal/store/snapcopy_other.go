//go:build !linux

package store

import "os"

// copyRange copies n bytes at srcOff of src to dstOff of dst without
// moving either file's offset.
func copyRange(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, error) {
	return copyRangeUser(dst, dstOff, src, srcOff, n)
}

// preallocate does nothing here.
func preallocate(*os.File, int64, int64) error { return nil }
