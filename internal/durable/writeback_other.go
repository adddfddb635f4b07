//go:build !linux

package durable

import "os"

// StartWriteback does nothing where sync_file_range does not exist: the
// final fsync does all the writing.
func StartWriteback(*os.File, int64, int64) {}

// AwaitWriteback does nothing where sync_file_range does not exist.
func AwaitWriteback(*os.File, int64, int64) error { return nil }
