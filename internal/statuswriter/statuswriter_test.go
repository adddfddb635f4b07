package statuswriter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// readerFromRecorder is a ResponseRecorder whose ReadFrom is seen, as the
// server's connection writer's is (sendfile).
type readerFromRecorder struct {
	*httptest.ResponseRecorder
	readFrom bool
}

func (r *readerFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.readFrom = true
	return io.Copy(r.ResponseRecorder, src)
}

func TestStatus(t *testing.T) {
	w := Wrap(httptest.NewRecorder())
	if w.Status() != http.StatusOK {
		t.Fatalf("nothing written: %d", w.Status())
	}
	w.WriteHeader(http.StatusTeapot)
	w.WriteHeader(http.StatusOK) // net/http ignores a second one; so do we
	if _, err := w.Write([]byte("x")); err != nil || w.Status() != http.StatusTeapot {
		t.Fatalf("status %d, %v", w.Status(), err)
	}

	rec := &readerFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	w = Wrap(rec)
	if n, err := io.Copy(w, struct{ io.Reader }{strings.NewReader("backup bytes")}); err != nil || n != 12 {
		t.Fatalf("copy: %d, %v", n, err)
	}
	if !rec.readFrom || w.Status() != http.StatusOK || rec.Body.String() != "backup bytes" {
		t.Fatalf("ReadFrom not passed through (%v), status %d, body %q", rec.readFrom, w.Status(), rec.Body.String())
	}
	if http.NewResponseController(w).Flush() != nil || !rec.Flushed {
		t.Fatal("Flush not passed through")
	}
}

// The route a mux inside matched reaches the request the middleware was
// given, and the handler sees the added context.
func TestServeWithContextHandsBackTheRoute(t *testing.T) {
	type key struct{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /a/{b}", func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(key{}) != "v" {
			t.Error("the handler did not see the added context")
		}
	})
	r := httptest.NewRequest(http.MethodGet, "/a/x", nil)
	ServeWithContext(mux, httptest.NewRecorder(), r, context.WithValue(r.Context(), key{}, "v"))
	if r.Pattern != "GET /a/{b}" {
		t.Fatalf("route %q, want the inner mux's", r.Pattern)
	}
}
