package model

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind classifies an error the way NiFi Registry's exception mappers do, so
// the API layer can pick the status code without knowing who failed.
type Kind int

const (
	// KindInternal is an unexpected failure (500).
	KindInternal Kind = iota
	// KindInvalid is bad input: IllegalArgumentException, bean validation,
	// bad query parameters and wrong revisions (400).
	KindInvalid
	// KindNotFound is ResourceNotFoundException (404).
	KindNotFound
	// KindConflict is IllegalStateException: duplicate names, version
	// conflicts, a flow in another bucket (409).
	KindConflict
	// KindTooLarge is a request body over the configured limit (413).
	KindTooLarge
	// KindUnavailable is a temporary refusal: maintenance mode, no leader,
	// shutting down (503 with Retry-After).
	KindUnavailable
	// KindUnauthorized is an anonymous caller denied access (401).
	KindUnauthorized
	// KindForbidden is a known caller denied access (403).
	KindForbidden
	// KindInsufficientStorage is a write refused because the node's disk
	// is (nearly) full (507 with Retry-After).
	KindInsufficientStorage
	// KindUnsupportedMediaType is a write whose body is not of a type the
	// endpoint takes (415).
	KindUnsupportedMediaType
)

// Error is an error with a NiFi-style message meant for the client.
type Error struct {
	Kind Kind
	Msg  string
	// RetryAfter is sent as Retry-After on KindUnavailable.
	RetryAfter time.Duration
	// NotApplied says the request certainly changed nothing, so its
	// client may safely send it again. The API sends it as the header
	// X-Weir-Not-Applied.
	NotApplied bool
	// NotLeader says why: this node does not lead, or is handing
	// leadership on, so the next leader may take the request (header
	// X-Weir-Not-Leader) and a node that forwarded it sends it there.
	// Other NotApplied refusals (a DR standby's or fenced cluster's) are
	// final.
	NotLeader bool
	// Reason is a machine-readable cause for callers inside Weir that must
	// tell refusals of one kind apart (e.g. a full site-to-site queue from
	// a stopped port); clients never see it.
	Reason string
}

// HeaderNotApplied marks an answer to a write that certainly changed
// nothing (Error.NotApplied).
const HeaderNotApplied = "X-Weir-Not-Applied"

// HeaderNotLeader marks a NotApplied answer given because the node does
// not lead (Error.NotLeader).
const HeaderNotLeader = "X-Weir-Not-Leader"

func (e *Error) Error() string { return e.Msg }

// Status is the HTTP status NiFi Registry uses for this kind.
func (e *Error) Status() int { return e.Kind.Status() }

// Status maps a kind to its HTTP status code.
func (k Kind) Status() int {
	switch k {
	case KindInvalid:
		return http.StatusBadRequest
	case KindNotFound:
		return http.StatusNotFound
	case KindConflict:
		return http.StatusConflict
	case KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case KindUnavailable:
		return http.StatusServiceUnavailable
	case KindUnauthorized:
		return http.StatusUnauthorized
	case KindForbidden:
		return http.StatusForbidden
	case KindInsufficientStorage:
		return http.StatusInsufficientStorage
	case KindUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	default:
		return http.StatusInternalServerError
	}
}

// Errorf builds an *Error of the given kind.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Invalid builds a 400 error.
func Invalid(msg string) *Error { return &Error{Kind: KindInvalid, Msg: msg} }

// NotFound builds a 404 error.
func NotFound(msg string) *Error { return &Error{Kind: KindNotFound, Msg: msg} }

// Conflict builds a 409 error.
func Conflict(msg string) *Error { return &Error{Kind: KindConflict, Msg: msg} }

// Unavailable builds a 503 error that asks the client to retry later.
func Unavailable(msg string, retryAfter time.Duration) *Error {
	return &Error{Kind: KindUnavailable, Msg: msg, RetryAfter: retryAfter}
}

// KindOf returns the kind of err, KindInternal when it carries none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// Messages NiFi Registry sends and clients match on.
const (
	MsgBucketNotFound       = "The specified bucket ID does not exist in this registry."
	MsgFlowNotFoundInBucket = "The specified flow ID does not exist in this bucket."
	MsgFlowNotFound         = "The specified flow ID does not exist."
	MsgSnapshotNotFound     = "The specified versioned flow snapshot does not exist for this flow."
	MsgNoSnapshots          = "The specified flow ID has no versions"
	MsgFlowNotInBucket      = "The requested flow is not located in the given bucket"
	MsgBucketNameExists     = "A bucket with the same name already exists"
	MsgFlowNameExists       = "A versioned flow with the same name already exists in the selected bucket"
	MsgUnexpected           = "An unexpected error has occurred. Please check the logs for additional details."
)
