package httpwire

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/model"
)

// Errors go out as NiFi's text/plain with the status of their kind, and
// Weir's headers say when to retry and whether the write certainly was not
// applied; any other error is NiFi's unexpected-error 500.
func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, &model.Error{Kind: model.KindUnavailable, Msg: "not now", RetryAfter: 1500 * time.Millisecond, NotApplied: true, NotLeader: true})
	if w.Code != http.StatusServiceUnavailable || w.Body.String() != "not now" {
		t.Fatalf("got %d %q", w.Code, w.Body.String())
	}
	h := w.Header()
	if h.Get("Content-Type") != "text/plain" || h.Get("Retry-After") != "2" || h.Get(model.HeaderNotApplied) != "1" || h.Get(model.HeaderNotLeader) != "1" {
		t.Fatalf("headers %v", h)
	}
	w = httptest.NewRecorder()
	WriteError(w, &model.Error{Kind: model.KindInsufficientStorage, Msg: "full"})
	if w.Code != http.StatusInsufficientStorage || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("a refusal without a time says 1 s: got %d %v", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	WriteError(w, model.Invalid("bad"))
	if w.Code != http.StatusBadRequest || w.Header().Get("Retry-After") != "" || w.Header().Get(model.HeaderNotApplied) != "" {
		t.Fatalf("got %d %v", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	WriteError(w, errors.New("disk on fire"))
	if w.Code != http.StatusInternalServerError || w.Body.String() != model.MsgUnexpected {
		t.Fatalf("got %d %q", w.Code, w.Body.String())
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	if err := WriteJSON(w, http.StatusCreated, map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusCreated || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Content-Length") != "7" || w.Body.String() != `{"a":1}` {
		t.Fatalf("got %d %v %q", w.Code, w.Header(), w.Body.String())
	}
}

// A body over the limit is NiFi's 413; a body a layer in front already
// read (SetBody) is handed over as it is, and its size still checked.
func TestReadBody(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader("0123456789"))
	if _, err := ReadBody(httptest.NewRecorder(), r, 5); model.KindOf(err) != model.KindTooLarge {
		t.Fatalf("over the limit: %v", err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader("0123456789"))
	b, err := ReadBody(httptest.NewRecorder(), r, 10)
	if err != nil || string(b) != "0123456789" {
		t.Fatalf("got %q %v", b, err)
	}
	r = httptest.NewRequest("POST", "/", nil)
	SetBody(r, b)
	again, err := ReadBody(httptest.NewRecorder(), r, 10)
	if err != nil || &again[0] != &b[0] {
		t.Fatalf("a body already read was copied or lost: %v", err)
	}
	if _, err := ReadBody(httptest.NewRecorder(), r, 5); model.KindOf(err) != model.KindTooLarge {
		t.Fatalf("a body already read escaped the limit: %v", err)
	}
}
