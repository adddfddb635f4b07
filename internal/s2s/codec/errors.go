package codec

import (
	"errors"
	"fmt"
)

// Format names used in errors.
const (
	FormatPacket      = "site-to-site packet"
	FormatCompression = "site-to-site compression"
	FormatFlowFileV3  = "flowfile-v3"
)

// FormatError reports input that does not follow the format: a wrong
// magic or marker, a negative length, an invalid zlib chunk, or a stream
// that ends inside a packet.
type FormatError struct {
	Format string // one of the Format constants
	Offset int64  // offset in the decoded stream where the problem was seen
	Msg    string
	Err    error // the cause, when there is one (io.ErrUnexpectedEOF, a zlib error)
}

func (e *FormatError) Error() string {
	s := fmt.Sprintf("%s: %s (at byte %d)", e.Format, e.Msg, e.Offset)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }

// LimitError reports a count or length that the format allows but the
// decoder's Limits do not. It is raised on the claim, before anything is
// allocated or read for it.
type LimitError struct {
	Format string
	Offset int64
	What   string // "attribute count", "key length", ...
	Value  int64  // what the input claimed
	Limit  int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %s %d exceeds the limit of %d (at byte %d)", e.Format, e.What, e.Value, e.Limit, e.Offset)
}

// IsInputError reports whether err (or an error it wraps) was caused by
// the bytes being decoded rather than by the reader underneath.
func IsInputError(err error) bool {
	var fe *FormatError
	var le *LimitError
	return errors.As(err, &fe) || errors.As(err, &le)
}

// errStaleContent is returned by a packet's content reader used after the
// decoder moved on to the next packet.
var errStaleContent = errors.New("codec: packet content read after the decoder moved to the next packet")
