package contract

import (
	"testing"
)

// TestContractCoercion: values Jackson coerces (NiFi Registry's mapper,
// ObjectMapperProvider: scalar coercion on by default) are accepted and
// stored as NiFi stores them, end to end.
func TestContractCoercion(t *testing.T) {
	s := startServer(t, nil)
	b := obj(t, s.expect(s.do("POST", "/buckets", []byte(`{"name":42,"allowPublicRead":"true","Description":"ignored"}`), nil), 200).body)
	if b["name"] != "42" || b["allowPublicRead"] != true || b["description"] != nil {
		t.Fatalf("bucket: %v", b)
	}
	bp := "/buckets/" + str(b, "identifier")
	f := obj(t, s.expect(s.do("POST", bp+"/flows", []byte(`{"name":"f","description":7}`), nil), 200).body)
	if f["description"] != "7" {
		t.Fatalf("flow: %v", f)
	}
	fp := bp + "/flows/" + str(f, "identifier")
	v := obj(t, s.expect(s.do("POST", fp+"/versions", []byte(`{"flowContents":{"identifier":"r","name":"r"},"flowEncodingVersion":1.0,"snapshotMetadata":{"version":"1","comments":5}}`), nil), 200).body)
	md := sub(v, "snapshotMetadata")
	if num(md, "version") != 1 || md["comments"] != "5" || v["flowEncodingVersion"] != "1.0" {
		t.Fatalf("version: %v", v)
	}
	v = obj(t, s.expect(s.do("POST", fp+"/versions", []byte(`{"flowContents":{"identifier":"r"},"snapshotMetadata":{"version":2.7}}`), nil), 200).body)
	if num(sub(v, "snapshotMetadata"), "version") != 2 {
		t.Fatalf("a fraction is truncated: %v", v["snapshotMetadata"])
	}
}
