// Package jackson decodes request bodies as NiFi Registry's Jackson mapper
// does (ObjectMapperProvider: Jackson's defaults but
// FAIL_ON_UNKNOWN_PROPERTIES off), where encoding/json would refuse or
// differ. Jackson coerces scalars (ALLOW_COERCION_OF_SCALARS, on by
// default): a number in a string for a number member ("5"), a number or
// boolean for a string member (its text), "true"/"True"/"TRUE" and
// "false"/… for a boolean, an integer for a boolean (0 is false), a
// fraction for an integer (truncated: ACCEPT_FLOAT_AS_INT), and "" for a
// number or boolean (null for a boxed one, zero otherwise). It matches
// member names exactly (ACCEPT_CASE_INSENSITIVE_PROPERTIES is off):
// "Name" is an unknown member, ignored, where encoding/json would take it
// for "name". What Jackson refuses is left for encoding/json to refuse:
// a single value where an array is expected (ACCEPT_SINGLE_VALUE_AS_ARRAY
// is off), a string that is not a number, an object for a scalar. A
// member tagged `jackson:"enum=A|B"` holds a Java enum: another string is
// refused, as Jackson refuses it (READ_UNKNOWN_ENUM_VALUES_AS_NULL is off),
// with the first line of Jackson's message.
package jackson

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Unmarshal decodes data into v (a pointer) with Jackson's coercions.
// Errors are encoding/json's, for what neither decoder accepts.
func Unmarshal(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var tree any
	if err := d.Decode(&tree); err != nil || d.More() {
		return json.Unmarshal(data, v) // encoding/json's syntax error
	}
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return json.Unmarshal(data, v)
	}
	tree = coerce(tree, t.Elem())
	if err := checkEnums(tree, t.Elem()); err != nil {
		return err
	}
	b, err := json.Marshal(tree)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

// coerce returns v converted toward type t as Jackson would read it
// (JSON null for a boxed value Jackson reads as null).
func coerce(v any, t reflect.Type) any {
	boxed := false
	for t.Kind() == reflect.Pointer {
		t, boxed = t.Elem(), true
	}
	if t == rawMessage {
		return v
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		fields := members(t, nil)
		for k, e := range m {
			ft, ok := fields[k]
			if !ok {
				delete(m, k) // unknown, or a name in another case
				continue
			}
			m[k] = coerce(e, ft)
		}
		return m
	case reflect.Map:
		if m, ok := v.(map[string]any); ok {
			for k, e := range m {
				m[k] = coerce(e, t.Elem())
			}
		}
		return v
	case reflect.Slice, reflect.Array:
		if a, ok := v.([]any); ok {
			for i, e := range a {
				a[i] = coerce(e, t.Elem())
			}
		}
		return v
	case reflect.String:
		switch x := v.(type) {
		case json.Number:
			return x.String()
		case bool:
			return strconv.FormatBool(x)
		}
	case reflect.Bool:
		return toBool(v, boxed)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return toInt(v, boxed)
	case reflect.Float32, reflect.Float64:
		if s, ok := v.(string); ok {
			s = strings.TrimSpace(s)
			if s == "" {
				return emptyScalar(boxed, json.Number("0"))
			}
			if _, err := strconv.ParseFloat(s, 64); err == nil {
				return json.Number(s)
			}
		}
	}
	return v
}

// emptyScalar is what "" reads as: null for a boxed value, else zero.
func emptyScalar(boxed bool, zero any) any {
	if boxed {
		return nil
	}
	return zero
}

func toBool(v any, boxed bool) any {
	switch x := v.(type) {
	case string:
		switch strings.TrimSpace(x) {
		case "true", "True", "TRUE":
			return true
		case "false", "False", "FALSE":
			return false
		case "":
			return emptyScalar(boxed, false)
		}
	case json.Number:
		if _, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return x.String() != "0"
		}
	}
	return v
}

func toInt(v any, boxed bool) any {
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return emptyScalar(boxed, json.Number("0"))
		}
		// Jackson parses integer text only: "5.0" stays a refusal.
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return json.Number(strings.TrimPrefix(s, "+"))
		}
		if _, err := strconv.ParseUint(s, 10, 64); err == nil {
			return json.Number(strings.TrimPrefix(s, "+"))
		}
	case json.Number:
		if _, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return v
		}
		// A fraction or exponent is truncated toward zero.
		if f, err := strconv.ParseFloat(x.String(), 64); err == nil && !math.IsInf(f, 0) && math.Abs(f) < 1<<63 {
			return json.Number(strconv.FormatInt(int64(f), 10))
		}
	}
	return v
}

// members maps the JSON names of t's members, embedded structs'
// included, to their types.
func members(t reflect.Type, into map[string]reflect.Type) map[string]reflect.Type {
	if into == nil {
		into = map[string]reflect.Type{}
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			members(f.Type, into)
			continue
		}
		if name == "" {
			name = f.Name
		}
		into[name] = f.Type
	}
	return into
}

// EnumError is a string that is none of a Java enum's constants.
type EnumError struct {
	Class, Value string
	Values       []string
}

func (e *EnumError) Error() string {
	return "Cannot deserialize value of type `" + e.Class + "` from String " + strconv.Quote(e.Value) +
		": not one of the values accepted for Enum class: [" + strings.Join(e.Values, ", ") + "]"
}

// checkEnums refuses strings that are none of their member's enum
// constants (tag `jackson:"enum=<java class>:A|B"`).
func checkEnums(v any, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok || t == rawMessage {
			return nil
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			e, ok := m[name]
			if !ok || name == "" {
				continue
			}
			if spec, ok := strings.CutPrefix(f.Tag.Get("jackson"), "enum="); ok {
				class, consts, _ := strings.Cut(spec, ":")
				values := strings.Split(consts, "|")
				// "" is let through as no value: Weir's own client sends
				// it for a flow without a type, and whether Jackson's
				// empty-String coercion accepts it for an enum depends on
				// its version.
				if s, ok := e.(string); ok && s != "" && !slices.Contains(values, s) {
					return &EnumError{Class: class, Value: s, Values: values}
				}
				continue
			}
			if err := checkEnums(e, f.Type); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if a, ok := v.([]any); ok {
			for _, e := range a {
				if err := checkEnums(e, t.Elem()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
