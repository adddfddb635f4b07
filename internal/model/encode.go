package model

import (
	"bytes"
	"encoding/json"
)

// Marshal encodes v as Jackson would: no HTML escaping of <, > and &.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil // Encode appends a newline
}

// SnapshotSize is room enough for AppendSnapshot's answer in most cases:
// its opaque parts and an allowance for the metadata objects, so the
// answer is allocated once instead of grown (and copied) as it is built.
func SnapshotSize(s *Snapshot) int {
	return len(s.ExternalControllerServices) + len(s.FlowContents) + len(s.ParameterContexts) + len(s.ParameterProviders) + 4096
}

// AppendSnapshot appends the JSON of s to dst. The opaque parts are written
// verbatim (they were validated and compacted when stored), which for a
// multi-megabyte flow avoids re-scanning it as encoding/json would.
func AppendSnapshot(dst []byte, s *Snapshot) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	field := func(name string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
	}
	obj := func(name string, v any) error {
		b, err := Marshal(v)
		if err != nil {
			return err
		}
		field(name)
		dst = append(dst, b...)
		return nil
	}
	raw := func(name string, b json.RawMessage) {
		if len(b) == 0 {
			return
		}
		field(name)
		dst = append(dst, b...)
	}
	if s.Bucket != nil {
		if err := obj("bucket", s.Bucket); err != nil {
			return nil, err
		}
	}
	raw("externalControllerServices", s.ExternalControllerServices)
	if s.Flow != nil {
		if err := obj("flow", s.Flow); err != nil {
			return nil, err
		}
	}
	raw("flowContents", s.FlowContents)
	if s.FlowEncodingVersion != nil {
		if err := obj("flowEncodingVersion", *s.FlowEncodingVersion); err != nil {
			return nil, err
		}
	}
	raw("parameterContexts", s.ParameterContexts)
	raw("parameterProviders", s.ParameterProviders)
	if s.SnapshotMetadata != nil {
		if err := obj("snapshotMetadata", s.SnapshotMetadata); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}
