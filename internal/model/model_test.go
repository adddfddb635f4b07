package model

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestFieldOrder enforces Jackson's SORT_PROPERTIES_ALPHABETICALLY: every
// wire struct declares its fields in alphabetical JSON-name order, so
// encoding/json emits them in NiFi's order.
func TestFieldOrder(t *testing.T) {
	for _, v := range []any{Link{}, Permissions{}, RevisionInfo{}, Bucket{}, VersionedFlow{}, SnapshotMetadata{},
		Snapshot{}, Fields{}, RegistryAbout{}, RegistryConfiguration{}, ResourcePermissions{}, CurrentUser{}, FlowDifference{}} {
		typ := reflect.TypeOf(v)
		var names []string
		for i := 0; i < typ.NumField(); i++ {
			tag := typ.Field(i).Tag.Get("json")
			names = append(names, strings.Split(tag, ",")[0])
		}
		if !sort.StringsAreSorted(names) {
			t.Errorf("%s fields not alphabetical: %v", typ.Name(), names)
		}
	}
}

func TestAppendSnapshotMatchesEncodingJSON(t *testing.T) {
	s := &Snapshot{
		Bucket:                     &Bucket{Identifier: Str("b"), Name: Str("<b&>"), CreatedTimestamp: 1},
		ExternalControllerServices: json.RawMessage(`{"x":{"identifier":"x"}}`),
		Flow:                       &VersionedFlow{Identifier: Str("f"), Type: ItemTypeFlow, VersionCount: 2},
		FlowContents:               json.RawMessage(`{"identifier":"pg","big":12345678901234567890}`),
		FlowEncodingVersion:        Str("1.0"),
		ParameterContexts:          json.RawMessage(`{}`),
		SnapshotMetadata:           &SnapshotMetadata{Version: 2, Author: Str("anonymous")},
	}
	got, err := AppendSnapshot(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	want := bytes.TrimSpace(buf.Bytes())
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
