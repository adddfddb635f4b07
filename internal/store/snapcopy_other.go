//go:build !linux

package store

import (
	"errors"
	"os"
)

// copyRange copies n bytes at offset off of src to the same offset of dst
// without moving either file's offset.
func copyRange(dst, src *os.File, off, n int64) (int64, error) {
	return copyRangeUser(dst, src, off, n)
}

// mapImage is not used here: the stream reads the copy into a buffer.
func mapImage(*os.File, int64) ([]byte, func(), error) {
	return nil, nil, errors.ErrUnsupported
}

// preallocate does nothing here.
func preallocate(*os.File, int64) error { return nil }
