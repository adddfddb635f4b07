// Package boltjson reads and writes JSON records in bbolt buckets, for the
// packages whose tables live in the store's file (store, s2s/queue,
// bundles): written once, so a corrupt record reads the same everywhere.
package boltjson

import (
	"encoding/json"
	"fmt"
)

// Get decodes the record at k into v; false when there is none. A record
// that does not decode is an error naming its key.
func Get(b interface{ Get([]byte) []byte }, k []byte, v any) (bool, error) {
	raw := b.Get(k)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("corrupt record %q: %w", k, err)
	}
	return true, nil
}

// Put writes v as JSON at k.
func Put(b interface{ Put(k, v []byte) error }, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, raw)
}
