// Package durable owns the few file-system steps that make a write survive
// a crash of the machine: write-and-fsync a file, replace a file
// atomically, and fsync a directory so a rename or create in it lasts.
// Every package that persists a small file (boot marks, cluster keys,
// snapshot metadata, restore markers) goes through here, so the order of
// fsyncs is written, and reviewed, once.
package durable

import (
	"os"
	"path/filepath"
)

// WriteFile writes data to path and fsyncs it before returning. It does not
// sync the directory: callers that create path and need the entry to last
// call SyncParent afterwards (or use ReplaceFile).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReplaceFile makes path hold data, atomically: a crash leaves either the
// old contents or the new, never a mix or an empty file. It writes path.tmp,
// fsyncs it, renames it over path and fsyncs the directory. The directory
// is created if needed.
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := WriteFile(tmp, data, perm); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncParent(path)
}

// SyncParent fsyncs the directory holding path, so that a create, rename or
// remove of path survives a crash.
func SyncParent(path string) error { return SyncDir(filepath.Dir(path)) }

// SyncDir fsyncs the directory dir.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
