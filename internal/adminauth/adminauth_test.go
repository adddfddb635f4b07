package adminauth

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/model"
)

var key = []byte("0123456789abcdef0123")

func signed(t *testing.T, host, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://"+host+"/nifi-registry-api/actuator/maintenance?x=1", bytes.NewReader([]byte(body)))
	Sign(key, r, []byte(body))
	return r
}

func kind(err error) model.Kind {
	if err == nil {
		return -1
	}
	return model.KindOf(err)
}

func TestSignedRequestsAreAcceptedOnce(t *testing.T) {
	v := NewVerifier(key, func(h string) bool { return h == "node1:18080" })
	r := signed(t, "node1:18080", `{"enabled":true}`)
	if err := v.Verify(r, []byte(`{"enabled":true}`)); err != nil {
		t.Fatal(err)
	}
	// The same request again is a replay.
	if k := kind(v.Verify(r, []byte(`{"enabled":true}`))); k != model.KindForbidden {
		t.Fatalf("replay: got kind %v", k)
	}
}

func TestSignaturesBindBodyHostTargetAndTime(t *testing.T) {
	v := NewVerifier(key, func(h string) bool { return h == "node1:18080" || h == "node2:18080" })
	cases := map[string]func() (*http.Request, []byte){
		"other body": func() (*http.Request, []byte) {
			return signed(t, "node1:18080", `{"enabled":true}`), []byte(`{"enabled":false}`)
		},
		"other node": func() (*http.Request, []byte) {
			r := signed(t, "node1:18080", `{}`)
			r.Host = "node2:18080" // replayed to another node of the cluster
			return r, []byte(`{}`)
		},
		"not this node": func() (*http.Request, []byte) { return signed(t, "elsewhere:1", `{}`), []byte(`{}`) },
		"other query": func() (*http.Request, []byte) {
			r := signed(t, "node1:18080", `{}`)
			r.URL.RawQuery = "x=2"
			return r, []byte(`{}`)
		},
		"other key": func() (*http.Request, []byte) {
			r := httptest.NewRequest(http.MethodPost, "http://node1:18080/p", nil)
			Sign([]byte("another-key-0123456789"), r, nil)
			return r, nil
		},
	}
	for name, mk := range cases {
		r, body := mk()
		if k := kind(v.Verify(r, body)); k != model.KindForbidden {
			t.Errorf("%s: got kind %v, want forbidden", name, k)
		}
	}
	v.now = func() time.Time { return time.Now().Add(Window + time.Minute) }
	if k := kind(v.Verify(signed(t, "node1:18080", ``), nil)); k != model.KindUnauthorized {
		t.Errorf("expired: got kind %v", k)
	}
}

func TestTokensAndMissingProof(t *testing.T) {
	v := NewVerifier(key, nil)
	r := httptest.NewRequest(http.MethodGet, "/nifi-registry-api/actuator/backup", nil)
	if k := kind(v.Verify(r, nil)); k != model.KindUnauthorized {
		t.Fatalf("no proof: got %v", k)
	}
	r.Header.Set("Authorization", "Bearer "+Token(key))
	if err := v.Verify(r, nil); err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+Token([]byte("another-key-0123456789")))
	if k := kind(v.Verify(r, nil)); k != model.KindForbidden {
		t.Fatalf("wrong token: got %v", k)
	}
}

func TestMiddlewareProtectsOnlySelectedRequests(t *testing.T) {
	v := NewVerifier(key, nil)
	var got string
	h := v.Middleware(func(r *http.Request) bool { return r.Method == http.MethodPost }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := new(bytes.Buffer)
		b.ReadFrom(r.Body)
		got = b.String()
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != 200 {
		t.Fatalf("unprotected: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/x", bytes.NewReader([]byte("b"))))
	if rec.Code != 401 || rec.Header().Get("Content-Type") != "text/plain" {
		t.Fatalf("unsigned: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	r := httptest.NewRequest(http.MethodPost, "http://example.com/x", bytes.NewReader([]byte("body")))
	Sign(key, r, []byte("body"))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 200 || got != "body" {
		t.Fatalf("signed: %d, body %q handed on", rec.Code, got)
	}
}
