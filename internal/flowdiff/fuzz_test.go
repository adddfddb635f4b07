package flowdiff

import (
	"encoding/json"
	"testing"
)

var fuzzSeeds = []string{
	`{}`,
	`null`,
	`[]`,
	`{"identifier":"r","processors":[{"identifier":"p","name":"n","position":{"x":1,"y":2}}]}`,
	`{"identifier":"r","processors":[{"identifier":"p","properties":{"a":"enc{x}","b":"#{p}"},` +
		`"propertyDescriptors":{"a":{"sensitive":true}},"autoTerminatedRelationships":["s","f"],"style":{"k":"v"}}]}`,
	`{"processGroups":[{"identifier":"g","versionedFlowCoordinates":{"bucketId":"b","flowId":"f","version":1},` +
		`"processGroups":[{"identifier":"h","scheduledState":"DISABLED"}]}]}`,
	`{"connections":[{"identifier":"c","source":{"id":"a"},"destination":null,"bends":[{"x":1},null],"prioritizers":["p"]}]}`,
	`{"remoteProcessGroups":[{"identifier":"r","inputPorts":[{"identifier":"i","name":"n","batchSize":{"count":"3"}}]}]}`,
	`{"labels":[{"identifier":"l","width":1e400,"height":-0.0,"zIndex":"7"}]}`,
	`{"inputPorts":[{"identifier":"p","allowRemoteAccess":"true","concurrentlySchedulableTaskCount":1.5}]}`,
	`{"name":"\u00e9\ud83d\ude00\ud800x\\\"","comments":"\/"}`,
	`{"processors":[{"identifier":"p"},{"identifier":"p"},null]}`,
	`{"maxConcurrentTasks":99999999999}`,
	`{"a":[[[[[[[[[[]]]]]]]]]]}`,
	`{"identifier":"r"} x`,
	"{\"name\":\"\xff\"}",
}

// FuzzCompare checks that no input makes Compare panic, and that any
// document Compare accepts has no differences with itself.
func FuzzCompare(f *testing.F) {
	for _, a := range fuzzSeeds {
		for _, b := range fuzzSeeds[:4] {
			f.Add([]byte(a), []byte(b))
		}
	}
	for _, d := range corpus(f) {
		if len(d.contents) < 16<<10 {
			f.Add([]byte(d.contents), []byte(`{}`))
		}
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		_, _ = Compare(a, b)
		_, _ = Compare(b, a)
		if got, err := Compare(a, a); err == nil && len(got) != 0 {
			t.Errorf("document differs from itself: %q", summarize(got))
		}
	})
}

// FuzzDecoder checks the hand-written JSON reader against encoding/json:
// both must accept exactly the same documents, and decode strings to the
// same values.
func FuzzDecoder(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`"\u0000\t\ud83d"`))
	f.Add([]byte(`-0.5e+7`))
	f.Add([]byte(`01`))
	f.Fuzz(func(t *testing.T, in []byte) {
		d := &decoder{data: string(in)}
		err := d.skip()
		if err == nil && !d.atEnd() {
			err = d.fail("trailing data")
		}
		if valid := json.Valid(in); valid != (err == nil) {
			t.Fatalf("json.Valid=%v, decoder error=%v for %q", valid, err, in)
		}
		var want string
		if d := (&decoder{data: string(in)}); d.peek() == '"' && json.Unmarshal(in, &want) == nil {
			got, err := d.stringValue()
			if err != nil || got != want {
				t.Fatalf("string %q: got %q (%v), want %q", in, got, err, want)
			}
		}
	})
}
