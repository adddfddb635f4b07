// Package model owns Weir's wire types: the JSON documents of the NiFi
// Registry 2.x REST API (buckets, flows, snapshot metadata, snapshots,
// links, permissions, revisions) and the error kinds the API maps to HTTP
// status codes.
//
// The encoding rules copy NiFi Registry's Jackson configuration, because
// clients compare what they get with what the Java server sends:
//   - fields are declared in alphabetical JSON-name order (Jackson's
//     SORT_PROPERTIES_ALPHABETICALLY); TestFieldOrder enforces it;
//   - boxed Java fields (String, Boolean, Long objects) are pointers with
//     omitempty, so a null is omitted (NON_NULL);
//   - Java primitives (long, int, boolean) are plain fields and always sent;
//   - unknown input fields are ignored (never DisallowUnknownFields).
//
// Flow contents (flowContents, parameterContexts, ...) are opaque: they are
// kept as json.RawMessage so that fields Weir does not know survive.
package model
