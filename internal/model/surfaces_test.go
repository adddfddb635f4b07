package model

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestSurfaceFieldOrder is TestFieldOrder for the types of surfaces.go.
func TestSurfaceFieldOrder(t *testing.T) {
	for _, v := range []any{Resource{}, Tenant{}, User{}, UserGroup{}, AccessPolicySummary{}, AccessPolicy{},
		ExtensionRepoBucket{}, ExtensionFilterParams{}, ExtensionMetadataContainer{}, TagCount{}} {
		typ := reflect.TypeOf(v)
		var names []string
		for i := 0; i < typ.NumField(); i++ {
			tag := typ.Field(i).Tag.Get("json")
			name := strings.Split(tag, ",")[0]
			if name == "" {
				t.Errorf("%s.%s has no JSON name", typ.Name(), typ.Field(i).Name)
			}
			names = append(names, name)
		}
		if !sort.StringsAreSorted(names) {
			t.Errorf("%s fields not alphabetical: %v", typ.Name(), names)
		}
	}
}

// TestExtensionContainerEncoding pins what NiFi's Jackson setup (NON_NULL,
// sorted properties) sends for an empty search: the arrays are present
// even when empty, absent filter values are omitted.
func TestExtensionContainerEncoding(t *testing.T) {
	for _, tc := range []struct {
		in   ExtensionMetadataContainer
		want string
	}{
		{ExtensionMetadataContainer{Extensions: []*ExtensionMetadata{}},
			`{"extensions":[],"numResults":0}`},
		{ExtensionMetadataContainer{Extensions: []*ExtensionMetadata{}, FilterParams: &ExtensionFilterParams{Tags: []string{}}},
			`{"extensions":[],"filterParams":{"tags":[]},"numResults":0}`},
		{ExtensionMetadataContainer{Extensions: []*ExtensionMetadata{}, FilterParams: &ExtensionFilterParams{
			BundleType: Str("nifi-nar"), ExtensionType: Str("PROCESSOR"), Tags: []string{"a<b"}}},
			`{"extensions":[],"filterParams":{"bundleType":"nifi-nar","extensionType":"PROCESSOR","tags":["a<b"]},"numResults":0}`},
	} {
		got, err := Marshal(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

// TestTenantDecoding checks that request bodies of the tenant and policy
// endpoints decode, ignoring unknown fields as Jackson is configured to.
func TestTenantDecoding(t *testing.T) {
	var u User
	if err := json.Unmarshal([]byte(`{"identifier":"u1","identity":"alice","extra":1,"userGroups":[{"identifier":"g"}],"revision":{"version":0}}`), &u); err != nil {
		t.Fatal(err)
	}
	if Deref(u.Identifier) != "u1" || Deref(u.Identity) != "alice" || len(u.UserGroups) != 1 || *u.Revision.Version != 0 {
		t.Fatalf("decoded %+v", u)
	}
	var p AccessPolicy
	if err := json.Unmarshal([]byte(`{"identifier":"p","action":"read","resource":"/buckets","users":[{"identity":"alice"}]}`), &p); err != nil {
		t.Fatal(err)
	}
	if Deref(p.Action) != "read" || Deref(p.Resource) != "/buckets" || Deref(p.Users[0].Identity) != "alice" {
		t.Fatalf("decoded %+v", p)
	}
}
