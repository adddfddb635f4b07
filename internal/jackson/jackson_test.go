package jackson

import (
	"encoding/json"
	"testing"

	"github.com/weir-nifi/weir/internal/model"
)

// TestUnmarshal: what Jackson (NiFi Registry's mapper) reads from each
// body, as the model types hold it; "error" where Jackson refuses too.
func TestUnmarshal(t *testing.T) {
	cases := []struct {
		name, body string
		want       string // the decoded value re-encoded, or "error"
	}{
		{"plain", `{"name":"b","createdTimestamp":5}`, `{"createdTimestamp":5,"name":"b"}`},
		{"number in a string for a long", `{"name":"b","createdTimestamp":"5"}`, `{"createdTimestamp":5,"name":"b"}`},
		{"number in a string, padded", `{"createdTimestamp":" -7 "}`, `{"createdTimestamp":-7}`},
		{"plus sign", `{"createdTimestamp":"+7"}`, `{"createdTimestamp":7}`},
		{"fraction in a string for a long", `{"createdTimestamp":"5.0"}`, "error"},
		{"not a number", `{"createdTimestamp":"abc"}`, "error"},
		{"fraction for a long is truncated", `{"createdTimestamp":5.9}`, `{"createdTimestamp":5}`},
		{"exponent for a long", `{"createdTimestamp":1e3}`, `{"createdTimestamp":1000}`},
		{"empty string for a long is zero", `{"createdTimestamp":""}`, `{"createdTimestamp":0}`},
		{"empty string for a boxed long is null", `{"name":"b","revision":{"version":""}}`, `{"createdTimestamp":0,"name":"b","revision":{}}`},
		{"boxed long in a string", `{"revision":{"version":"3"}}`, `{"createdTimestamp":0,"revision":{"version":3}}`},
		{"number for a string", `{"name":5}`, `{"createdTimestamp":0,"name":"5"}`},
		{"number text kept for a string", `{"name":5.50}`, `{"createdTimestamp":0,"name":"5.50"}`},
		{"boolean for a string", `{"description":true}`, `{"createdTimestamp":0,"description":"true"}`},
		{"object for a string", `{"name":{}}`, "error"},
		{"boolean in a string", `{"allowPublicRead":"true"}`, `{"allowPublicRead":true,"createdTimestamp":0}`},
		{"boolean in a string, capitalised", `{"allowPublicRead":"False"}`, `{"allowPublicRead":false,"createdTimestamp":0}`},
		{"boolean in a string, other case", `{"allowPublicRead":"tRUE"}`, "error"},
		{"integer for a boolean", `{"allowPublicRead":1,"allowBundleRedeploy":0}`, `{"allowBundleRedeploy":false,"allowPublicRead":true,"createdTimestamp":0}`},
		{"empty string for a boxed boolean", `{"allowPublicRead":""}`, `{"createdTimestamp":0}`},
		{"member names are matched exactly", `{"Name":"x","NAME":"y","name":"b"}`, `{"createdTimestamp":0,"name":"b"}`},
		{"unknown members are ignored", `{"name":"b","colour":"red"}`, `{"createdTimestamp":0,"name":"b"}`},
		{"last duplicate wins", `{"name":"a","name":"b"}`, `{"createdTimestamp":0,"name":"b"}`},
		{"syntax error", `{"name":`, "error"},
		{"trailing data", `{"name":"b"} x`, "error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b model.Bucket
			err := Unmarshal([]byte(c.body), &b)
			if c.want == "error" {
				if err == nil {
					got, _ := json.Marshal(b)
					t.Fatalf("accepted as %s; Jackson refuses it", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(b); !sameJSON(t, got, c.want) {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

// TestUnmarshalLists: arrays of members (a group's users) are coerced
// element by element; a single value where an array is expected is
// refused, as Jackson refuses it (ACCEPT_SINGLE_VALUE_AS_ARRAY is off).
func TestUnmarshalLists(t *testing.T) {
	cases := []struct {
		name, body string
		want       string
	}{
		{"array", `{"identity":"g","users":[{"identifier":"u1"}]}`, `{"accessPolicies":null,"identity":"g","users":[{"identifier":"u1"}]}`},
		{"elements coerced", `{"identity":"g","users":[{"identifier":7}]}`, `{"accessPolicies":null,"identity":"g","users":[{"identifier":"7"}]}`},
		{"single value for an array", `{"identity":"g","users":{"identifier":"u1"}}`, "error"},
		{"scalar for an array", `{"identity":"g","users":"u1"}`, "error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var g model.UserGroup
			err := Unmarshal([]byte(c.body), &g)
			if c.want == "error" {
				if err == nil {
					t.Fatalf("accepted %s; Jackson refuses it", c.body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(g); !sameJSON(t, got, c.want) {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

// TestUnmarshalSnapshotMetadata: the int version and long timestamp of a
// commit's metadata.
func TestUnmarshalSnapshotMetadata(t *testing.T) {
	var md model.SnapshotMetadata
	if err := Unmarshal([]byte(`{"version":"-1","timestamp":"12","comments":3}`), &md); err != nil {
		t.Fatal(err)
	}
	if md.Version != -1 || md.Timestamp != 12 || md.Comments == nil || *md.Comments != "3" {
		t.Fatalf("got %+v", md)
	}
	if err := Unmarshal([]byte(`{"version":"4294967296"}`), &md); err == nil {
		t.Fatal("an int out of range was accepted; Jackson refuses it")
	}
}

func sameJSON(t *testing.T, a []byte, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// TestUnmarshalEnum: a flow's type is a Java enum (BucketItemType):
// its constants pass, anything else is refused with Jackson's message.
func TestUnmarshalEnum(t *testing.T) {
	for body, want := range map[string]string{
		`{"name":"f","type":"Flow"}`:   "",
		`{"name":"f","type":"Bundle"}`: "",
		`{"name":"f"}`:                 "",
		`{"name":"f","type":""}`:       "",
		`{"name":"f","type":"flow"}`:   "Cannot deserialize value of type `org.apache.nifi.registry.bucket.BucketItemType` from String \"flow\": not one of the values accepted for Enum class: [Flow, Bundle]",
		`{"name":"f","type":"Thing"}`:  "Cannot deserialize value of type `org.apache.nifi.registry.bucket.BucketItemType` from String \"Thing\": not one of the values accepted for Enum class: [Flow, Bundle]",
	} {
		var f model.VersionedFlow
		err := Unmarshal([]byte(body), &f)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", body, err)
		case want != "" && (err == nil || err.Error() != want):
			t.Errorf("%s: got %v, want %s", body, err, want)
		}
	}
}
