package bundles

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// Reads for the API, each inside the caller's read transaction.

func readBundles(b *bolt.Bucket) ([]Bundle, error) {
	var out []Bundle
	err := b.ForEach(func(k, v []byte) error {
		var x Bundle
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("bundles: decode bundle %s: %w", k, err)
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

func readVersions(b *bolt.Bucket, bundleID string) ([]Version, error) {
	var out []Version
	p := prefixed(bundleID)
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		var x Version
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, fmt.Errorf("bundles: decode version %s: %w", k, err)
		}
		out = append(out, x)
	}
	return out, nil
}

// All returns every bundle, in no particular order.
func All(tx *bolt.Tx) ([]Bundle, error) { return readBundles(tx.Bucket(tBundles)) }

// Get returns a bundle by id.
func Get(tx *bolt.Tx, id string) (Bundle, bool, error) { return wtx{tx: tx}.bundle(id) }

// ByCoordinate finds the bundle of a bucket with a group and artifact.
func ByCoordinate(tx *bolt.Tx, bucketID, group, artifact string) (Bundle, bool, error) {
	id := tx.Bucket(tBundleKeys).Get(bundleKey(bucketID, group, artifact))
	if id == nil {
		return Bundle{}, false, nil
	}
	return Get(tx, string(id))
}

// Versions returns the versions of a bundle, ordered by version string
// bytes (callers sort as NiFi does).
func Versions(tx *bolt.Tx, bundleID string) ([]Version, error) {
	return readVersions(tx.Bucket(tVersions), bundleID)
}

// GetVersion returns one version of a bundle.
func GetVersion(tx *bolt.Tx, bundleID, version string) (Version, bool, error) {
	var v Version
	ok, err := get(tx.Bucket(tVersions), versionKey(bundleID, version), &v)
	return v, ok, err
}

// AdditionalDetails returns an extension's additionalDetails.md.
func AdditionalDetails(tx *bolt.Tx, bundleID, version, name string) (string, bool) {
	v := tx.Bucket(tDocs).Get(docKey(bundleID, version, name))
	return string(v), v != nil
}

// HasContent reports whether complete content with a SHA-256 is stored
// (an upload of it sends no content).
func HasContent(tx *bolt.Tx, sha string) (bool, error) {
	var c Content
	return get(tx.Bucket(tContent), []byte(sha), &c)
}

// ContentOf is the stored content with a SHA-256.
func ContentOf(tx *bolt.Tx, sha string) (Content, bool, error) {
	var c Content
	ok, err := get(tx.Bucket(tContent), []byte(sha), &c)
	return c, ok, err
}

// FileContents lists the content kept in files (SHA-256 → size): what
// every node's file store should hold.
func FileContents(tx *bolt.Tx) (map[string]int64, error) {
	out := map[string]int64{}
	b := tx.Bucket(tContent)
	if b == nil {
		return out, nil // a store from before bundles
	}
	err := b.ForEach(func(k, v []byte) error {
		var c Content
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		if c.File {
			out[string(k)] = c.Size
		}
		return nil
	})
	return out, err
}

// ContentChunk returns the stored bytes of the content with a SHA-256
// that start at off (chunks are contiguous from 0), copied so the caller
// may use them after the transaction; nil at the end. A reader streams
// content one chunk per read transaction, never holding one while it
// writes to a client.
func ContentChunk(tx *bolt.Tx, sha string, off int64) ([]byte, error) {
	var c Content
	ok, err := get(tx.Bucket(tContent), []byte(sha), &c)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("bundles: no content %s", sha)
	}
	if c.File {
		return nil, fmt.Errorf("bundles: content %s is in a file", sha)
	}
	if off >= c.Size {
		return nil, nil
	}
	cb := tx.Bucket(tChunks).Bucket(chunkKey(c.Chunks, off))
	if cb == nil {
		return nil, fmt.Errorf("bundles: content %s has no chunk at %d", sha, off)
	}
	return bytes.Clone(cb.Get(chunkValue)), nil
}

// Viewer runs fn in a read transaction of the store.
type Viewer func(fn func(*bolt.Tx) error) error

// CopyContent writes the content with a SHA-256 to w, one chunk per read
// transaction.
func CopyContent(view Viewer, sha string, size int64, w io.Writer) error {
	for off := int64(0); off < size; {
		var chunk []byte
		if err := view(func(tx *bolt.Tx) (err error) {
			chunk, err = ContentChunk(tx, sha, off)
			return err
		}); err != nil {
			return err
		}
		if len(chunk) == 0 {
			return fmt.Errorf("bundles: content %s ends at %d of %d bytes", sha, off, size)
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		off += int64(len(chunk))
	}
	return nil
}
