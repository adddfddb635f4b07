package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/weir-nifi/weir/internal/jackson"
	"github.com/weir-nifi/weir/internal/model"
)

// decodeSnapshot decodes a VersionedFlowSnapshot request body in one
// validating pass: the flow document parts (often megabytes) are kept as
// raw JSON without encoding/json's second scan, which made request decoding
// the largest CPU cost of a commit. It returns (nil, nil) for an empty body.
//
// Like Jackson (NiFi's decoder), it accepts duplicate member names (the
// last wins) and ignores unknown members. Invalid UTF-8 is refused (the
// caller checks the whole body first).
func decodeSnapshot(body []byte) (*model.Snapshot, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	// A bytes.Buffer is parsed in place: the values read alias body, which
	// this request owns, so they are kept without a copy.
	d := jsontext.NewDecoder(bytes.NewBuffer(body), jsontext.AllowDuplicateNames(true))
	tok, err := d.ReadToken()
	if err != nil {
		return nil, syntaxError(err)
	}
	if tok.Kind() != '{' {
		return nil, model.Invalid("Unable to process request body: expected a JSON object")
	}
	var s model.Snapshot
	for d.PeekKind() != '}' {
		tok, err := d.ReadToken()
		if err != nil {
			return nil, syntaxError(err)
		}
		name := tok.String() // the token is void after the next read
		v, err := d.ReadValue()
		if err != nil {
			return nil, syntaxError(err)
		}
		switch name {
		case "snapshotMetadata":
			s.SnapshotMetadata = nil
			if v.Kind() != 'n' {
				var md model.SnapshotMetadata
				if err := jackson.Unmarshal(v, &md); err != nil {
					return nil, model.Invalid(describeJSONError(prefixField(err, "snapshotMetadata")))
				}
				s.SnapshotMetadata = &md
			}
		case "flowEncodingVersion":
			s.FlowEncodingVersion = nil
			if v.Kind() != 'n' {
				var fev string
				if err := jackson.Unmarshal(v, &fev); err != nil { // a number is its text
					return nil, model.Invalid("Unable to process request body: field 'flowEncodingVersion' must be a JSON string")
				}
				s.FlowEncodingVersion = &fev
			}
		case "flowContents":
			s.FlowContents = json.RawMessage(v)
		case "externalControllerServices":
			s.ExternalControllerServices = json.RawMessage(v)
		case "parameterContexts":
			s.ParameterContexts = json.RawMessage(v)
		case "parameterProviders":
			s.ParameterProviders = json.RawMessage(v)
		}
	}
	if _, err := d.ReadToken(); err != nil {
		return nil, syntaxError(err)
	}
	// Like encoding/json, nothing but whitespace may follow the object.
	if _, err := d.ReadToken(); err != io.EOF {
		return nil, model.Invalid("Unable to parse request body as JSON: invalid character after top-level value")
	}
	return &s, nil
}

// syntaxError turns a jsontext error into NiFi's 400.
func syntaxError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return model.Invalid("Unable to parse request body as JSON: unexpected end of JSON input")
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "jsontext: ")
	return model.Invalid("Unable to parse request body as JSON: " + msg)
}

// prefixField names the member a nested decode error happened in.
func prefixField(err error, field string) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		te.Field = field + "." + te.Field
	}
	return err
}
