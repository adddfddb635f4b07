package server_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/s2s/codec"
	"github.com/weir-nifi/weir/internal/s2s/server"
	"github.com/weir-nifi/weir/internal/s2s/server/memqueue"
)

// FuzzPushBody: whatever the body, a push is answered 202 (with the CRC
// of what was staged) or 400, never 5xx; after a 400 nothing is staged;
// the transaction can always be canceled and nothing stays held.
func FuzzPushBody(f *testing.F) {
	one, _ := body(f, oneFile(), false)
	oneZ, _ := body(f, oneFile(), true)
	uni, _ := body(f, unicodeFiles()[:3], false)
	for _, s := range [][]byte{nil, one, oneZ, uni, one[:7], oneZ[:20], {0x7f, 0xff, 0xff, 0xff}, []byte("SYNC\x00\x01\x00\x00\x00\x00\x00\x05")} {
		f.Add(s, false)
		f.Add(s, true)
	}
	store := memqueue.New()
	store.AddPort(server.Port{ID: inPort, Name: "in", Type: server.InputPort, State: server.Running})
	srv, err := server.New(server.Options{
		Ports: store, Peers: store, Queues: store, TTL: time.Hour,
		Limits: codec.Limits{MaxAttributes: 64, MaxKeyBytes: 1024, MaxValueBytes: 4096, MaxAttributeBytes: 8192, MaxContentBytes: 1 << 20},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	do := func(method, target string, body []byte, compressed bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, bytes.NewReader(body))
		req.Header.Set(server.HeaderProtocolVersion, "1")
		if compressed {
			req.Header.Set(server.HeaderCompression, "true")
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		return w
	}
	f.Fuzz(func(t *testing.T, data []byte, compressed bool) {
		w := do("POST", "/nifi-api/data-transfer/input-ports/"+inPort+"/transactions", nil, compressed)
		if w.Code != 201 {
			t.Fatal(w.Code)
		}
		loc := w.Header().Get("Location")
		path := loc[strings.Index(loc, "/nifi-api"):]
		w = do("POST", path+"/flow-files", data, compressed)
		switch w.Code {
		case 202:
			dec := codec.NewDecoder(bytes.NewReader(data), compressed, codec.Limits{})
			for {
				if _, err := dec.Next(); err != nil {
					break
				}
			}
			if w.Body.String() != codec.FormatChecksum(dec.Checksum()) {
				t.Fatalf("202 %q, want the CRC %d", w.Body, dec.Checksum())
			}
		case 400:
			if st, _ := store.Outstanding(); st != 0 {
				t.Fatal("staged after a 400")
			}
			if ct := w.Header().Get("Content-Type"); ct == "application/json" {
				var r server.TransactionResultEntity
				if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || r.ResponseCode != server.CodeAbort {
					t.Fatalf("400 body %s", w.Body)
				}
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if w := do("DELETE", path+"?responseCode=15", nil, compressed); w.Code != 200 {
			t.Fatal(w.Code)
		}
		if st, ls := store.Outstanding(); st != 0 || ls != 0 || srv.Transactions() != 0 {
			t.Fatal("something is still held")
		}
	})
}
