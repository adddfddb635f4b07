package flowdoc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Part names one opaque member of a snapshot.
type Part int

// The parts, in alphabetical order of their JSON names: the order in which
// they appear in a NiFi response.
const (
	ExternalControllerServices Part = iota
	FlowContents
	FlowEncodingVersion
	ParameterContexts
	ParameterProviders
	numParts
)

// Names are the JSON member names of the parts.
var Names = [numParts]string{
	"externalControllerServices",
	"flowContents",
	"flowEncodingVersion",
	"parameterContexts",
	"parameterProviders",
}

// Doc is a decoded flow document: compact raw JSON per part, nil if absent.
type Doc [numParts]json.RawMessage

const (
	codecPlain byte = 0
	codecZstd  byte = 1

	// CompressThreshold is the encoded size above which documents are
	// compressed. Below it zstd's frame overhead eats the gain.
	CompressThreshold = 1024

	// MaxDecodedSize bounds decompression so a corrupt blob cannot make a
	// node allocate without limit.
	MaxDecodedSize = 256 << 20
)

var (
	encOnce sync.Once
	enc     *zstd.Encoder
	dec     *zstd.Decoder
)

func coders() (*zstd.Encoder, *zstd.Decoder) {
	encOnce.Do(func() {
		var err error
		enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(true))
		if err != nil {
			panic(err) // only on invalid options
		}
		dec, err = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxDecodedSize), zstd.WithDecoderConcurrency(0))
		if err != nil {
			panic(err)
		}
	})
	return enc, dec
}

// ErrCorrupt is returned when stored bytes are not a valid document.
var ErrCorrupt = errors.New("corrupt flow document")

// Encode serialises d, compressing it when large.
func Encode(d Doc) []byte {
	n := 0
	for _, p := range d {
		n += len(p) + binary.MaxVarintLen32
	}
	raw := make([]byte, 1, n+1)
	raw[0] = codecPlain
	for _, p := range d {
		raw = binary.AppendUvarint(raw, uint64(len(p)))
		raw = append(raw, p...)
	}
	if len(raw) <= CompressThreshold {
		return raw
	}
	e, _ := coders()
	out := make([]byte, 1, len(raw)/4+64)
	out[0] = codecZstd
	return e.EncodeAll(raw[1:], out)
}

// Decode parses bytes produced by Encode. Parts alias the returned buffer.
func Decode(b []byte) (Doc, error) {
	var d Doc
	if len(b) == 0 {
		return d, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	body := b[1:]
	switch b[0] {
	case codecPlain:
	case codecZstd:
		_, dz := coders()
		var err error
		body, err = dz.DecodeAll(body, nil)
		if err != nil {
			return d, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	default:
		return d, fmt.Errorf("%w: unknown codec %d", ErrCorrupt, b[0])
	}
	for i := range d {
		l, k := binary.Uvarint(body)
		if k <= 0 || l > uint64(len(body)-k) {
			return d, fmt.Errorf("%w: bad segment %d", ErrCorrupt, i)
		}
		if l > 0 {
			d[i] = json.RawMessage(body[k : k+int(l)])
		}
		body = body[k+int(l):]
	}
	if len(body) != 0 {
		return d, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(body))
	}
	return d, nil
}

// Normalize checks the JSON type of one part of a decoded request and
// returns it trimmed; nil for absent or JSON null. The request decoder has
// already validated the syntax, so this costs no second pass over a large
// document. Maps must be objects, flowContents an object and
// flowEncodingVersion a string, as in NiFi's model.
func Normalize(p Part, raw json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	want := byte('{')
	kind := "an object"
	if p == FlowEncodingVersion {
		want, kind = '"', "a string"
	}
	if t[0] != want {
		return nil, fmt.Errorf("%s must be %s", Names[p], kind)
	}
	return t, nil
}
