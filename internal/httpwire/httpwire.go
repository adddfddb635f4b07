// Package httpwire writes and reads HTTP messages the way every Weir
// endpoint does, NiFi's way: errors as text/plain with the status of their
// kind (model.Error) and Weir's Retry-After and not-applied headers, JSON
// answers with their length, request bodies read once with NiFi's 413.
//
// It sits below the packages that serve HTTP (api, cluster, ops, dr, …),
// so that the cluster layer can answer and forward requests without
// importing the registry's API.
package httpwire

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/weir-nifi/weir/internal/model"
)

// WriteError writes err in NiFi's text/plain error format: a *model.Error
// with its status, message and headers, anything else as NiFi's
// unexpected-error message (500). A refusal to retry (503, 507) always
// says when, in whole seconds rounded up: RetryAfter if set, else 1 s,
// so every endpoint of every package answers alike.
func WriteError(w http.ResponseWriter, err error) {
	var me *model.Error
	if !errors.As(err, &me) {
		WriteText(w, http.StatusInternalServerError, model.MsgUnexpected)
		return
	}
	if me.Kind == model.KindUnavailable || me.Kind == model.KindInsufficientStorage {
		after := me.RetryAfter
		if after <= 0 {
			after = time.Second
		}
		w.Header().Set("Retry-After", strconv.Itoa(int((after+time.Second-1)/time.Second)))
	}
	if me.NotApplied {
		w.Header().Set(model.HeaderNotApplied, "1")
	}
	if me.NotLeader {
		w.Header().Set(model.HeaderNotLeader, "1")
	}
	WriteText(w, me.Status(), me.Msg)
}

// WriteText writes msg as a text/plain answer with status.
func WriteText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := model.Marshal(v)
	if err != nil {
		return err
	}
	WriteBody(w, status, b)
	return nil
}

// WriteBody writes b, already JSON, with status.
func WriteBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// ReadBody reads a request body of at most maxBody bytes, with NiFi's
// errors (413 above the limit). A body already read by a layer in front
// (SetBody) is handed over without a copy.
func ReadBody(w http.ResponseWriter, r *http.Request, maxBody int64) ([]byte, error) {
	if b, ok := r.Body.(*readBody); ok {
		if int64(len(b.b)) > maxBody {
			return nil, tooLarge(maxBody)
		}
		return b.b, nil
	}
	buf, err := readAll(http.MaxBytesReader(w, r.Body, maxBody), allocHint(r))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(maxBody)
		}
		var me *model.Error
		if errors.As(err, &me) {
			return nil, me
		}
		return nil, model.Invalid("Unable to read request body: " + err.Error())
	}
	return buf, nil
}

func tooLarge(maxBody int64) *model.Error {
	return &model.Error{Kind: model.KindTooLarge, Msg: "Request body exceeds the limit of " + strconv.FormatInt(maxBody, 10) + " bytes"}
}

// SetBody makes b the body of r, already read: ReadBody hands it over
// without a copy, and other readers read it as usual.
func SetBody(r *http.Request, b []byte) { r.Body = &readBody{Reader: bytes.NewReader(b), b: b} }

type readBody struct {
	*bytes.Reader
	b []byte
}

func (*readBody) Close() error { return nil }

// allocHint is how much to allocate ahead for a request body: its declared
// length when the body budget (package guard) has reserved that much,
// otherwise at most 64 KB — a declared length is not memory the client has
// sent, and hundreds of half-sent bodies must not each claim 32 MB.
func allocHint(r *http.Request) int64 {
	hint := min(r.ContentLength, 64<<10)
	if rb, ok := r.Body.(interface{ Reserved() int64 }); ok {
		hint = max(hint, min(r.ContentLength, rb.Reserved()))
	}
	return hint
}

func readAll(r io.Reader, hint int64) ([]byte, error) {
	var buf bytes.Buffer
	if hint > 0 && hint < 64<<20 {
		buf.Grow(int(hint) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}
