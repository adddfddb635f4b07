// Package statuswriter records the status code a handler answers with,
// for the middleware that reports on it afterwards (metrics, audit).
package statuswriter

import (
	"context"
	"io"
	"net/http"
)

// Writer passes everything through to the ResponseWriter it wraps and
// remembers the status. It keeps the optional interfaces the server's
// writer has that handlers use: Flush (site-to-site streams), ReadFrom
// (backup downloads reach sendfile through it) and Unwrap (so
// http.ResponseController reaches the connection's deadlines).
type Writer struct {
	http.ResponseWriter
	status int
}

// Wrap returns a Writer around w.
func Wrap(w http.ResponseWriter) *Writer { return &Writer{ResponseWriter: w} }

// Status is the status sent, 200 when the handler wrote a body without
// one or wrote nothing (net/http then sends 200).
func (s *Writer) Status() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

func (s *Writer) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *Writer) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// ReadFrom lets handlers that stream files reach the connection's
// ReadFrom, which sends them with sendfile.
func (s *Writer) ReadFrom(r io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{s.ResponseWriter}, r)
}

func (s *Writer) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Writer) Unwrap() http.ResponseWriter { return s.ResponseWriter }

var (
	_ http.Flusher  = (*Writer)(nil)
	_ io.ReaderFrom = (*Writer)(nil)
)

// ServeWithContext serves r with ctx through next, the way a middleware
// that adds to the context must: net/http's muxes record the route they
// matched on the request they dispatch (Pattern), which is the copy made
// by WithContext, and the metrics middleware outside reads the route from
// the request it holds once the handler returns; so the route is handed
// back to r.
func ServeWithContext(next http.Handler, w http.ResponseWriter, r *http.Request, ctx context.Context) {
	r2 := r.WithContext(ctx)
	next.ServeHTTP(w, r2)
	r.Pattern = r2.Pattern
}
