package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/s2s/server"
)

// A pull sends until a batch limit the client set is reached (checked
// after each flowfile, so the size limit is passed by the last one), or
// for the default 5 s without limits, or until the queue is empty (§4.2).
func TestPullBatchLimits(t *testing.T) {
	cases := []struct {
		name    string
		headers map[string]string
		step    time.Duration // the clock's advance per reading
		want    int
	}{
		{"count", map[string]string{server.HeaderBatchCount: "3"}, 0, 3},
		{"size", map[string]string{server.HeaderBatchSize: "2500"}, 0, 3}, // 1000-byte flowfiles: stops at ≥ 2500
		{"duration", map[string]string{server.HeaderBatchDuration: "3000"}, time.Second, 3},
		{"count and size: the first reached", map[string]string{server.HeaderBatchCount: "5", server.HeaderBatchSize: "1500"}, 0, 2},
		{"default 5 s", nil, time.Second, 5},
		{"no limit reached: the queue runs dry", map[string]string{server.HeaderBatchCount: "100"}, 0, 10},
		{"negative values count as unset", map[string]string{server.HeaderBatchCount: "-1"}, time.Second, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			var files []ff
			for i := range 10 {
				f := ff{[]kv{{"i", fmt.Sprint(i)}}, gen(1000, i)}
				files = append(files, f)
				e.store.Put(outPort, f.attrMap(), f.content)
			}
			cl := newRawClient(t, e, false, false)
			for k, v := range c.headers {
				cl.set(k, v)
			}
			_, _, loc := cl.create("output-ports", outPort)
			e.clock.mu.Lock()
			e.clock.step = c.step
			e.clock.mu.Unlock()
			_, b := cl.pull(loc)
			e.clock.mu.Lock()
			e.clock.step = 0
			e.clock.mu.Unlock()
			got, crc := decodePull(t, b, false)
			sameFF(t, got, files[:c.want])
			resp, rb := cl.end(loc, "responseCode=12&checksum="+crc)
			if r := expectResult(t, resp, rb, 200, 12); *r.FlowFileSent != c.want {
				t.Fatalf("flowFileSent %d", *r.FlowFileSent)
			}
			sameFiles(t, e.store.Committed(outPort), files[c.want:])
			e.settled()
		})
	}
}
