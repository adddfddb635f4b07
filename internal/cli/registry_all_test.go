package cli

import (
	"encoding/json"
	"testing"
)

// TestRelocate: nested versioned groups (at any depth) are pointed at the
// registry imported into, unless already there; contents without any are
// returned as they came.
func TestRelocate(t *testing.T) {
	const url = "https://reg:18443"
	cases := []struct{ in, want string }{
		{`{"identifier":"root","processGroups":[]}`, `{"identifier":"root","processGroups":[]}`},
		{`{"identifier":"root","n":1.50,"processGroups":[{"identifier":"g","versionedFlowCoordinates":{"bucketId":"b","flowId":"f","version":"3","storageLocation":"http://old/nifi-registry-api/buckets/b/flows/f/versions/3"}}]}`,
			`{"identifier":"root","n":1.50,"processGroups":[{"identifier":"g","versionedFlowCoordinates":{"bucketId":"b","flowId":"f","version":"3","storageLocation":"https://reg:18443/nifi-registry-api/buckets/b/flows/f/versions/3"}}]}`},
		{`{"processGroups":[{"processGroups":[{"versionedFlowCoordinates":{"bucketId":"b","flowId":"f","version":2,"storageLocation":"x"}}]}]}`,
			`{"processGroups":[{"processGroups":[{"versionedFlowCoordinates":{"bucketId":"b","flowId":"f","version":2,"storageLocation":"https://reg:18443/nifi-registry-api/buckets/b/flows/f/versions/2"}}]}]}`},
		{`{"versionedFlowCoordinates":{"bucketId":"b","flowId":"f","version":"1","storageLocation":"https://reg:18443/nifi-registry-api/buckets/b/flows/f/versions/1"}}`,
			`{"versionedFlowCoordinates":{"bucketId":"b","flowId":"f","version":"1","storageLocation":"https://reg:18443/nifi-registry-api/buckets/b/flows/f/versions/1"}}`},
	}
	for _, c := range cases {
		got, err := relocate(json.RawMessage(c.in), url)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if json.Unmarshal(got, &g) != nil || json.Unmarshal([]byte(c.want), &w) != nil {
			t.Fatalf("not JSON: %s", got)
		}
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("relocate(%s)\n got %s\nwant %s", c.in, got, c.want)
		}
		if c.in == c.want && string(got) != c.in {
			t.Errorf("unchanged contents were rewritten: %s", got)
		}
	}
	if got, _ := relocate(json.RawMessage(`{"n":1.50,"processGroups":[{"versionedFlowCoordinates":{"storageLocation":"x"}}]}`), url); !json.Valid(got) || string(got[:9]) != `{"n":1.50` {
		t.Errorf("numbers must keep their text: %s", got)
	}
}
