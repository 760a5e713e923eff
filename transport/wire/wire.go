// Package wire is request decoding and zod-shaped field errors: the partner,
// system and SDK schemas, checked once at the edge before anything reaches
// the log. It knows nothing of HTTP or NATS: decoders take bytes and return
// values or an *actors.Error carrying actors.Issues.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/engagedhq/engaged/actors"
)

// The field-error toolkit. Every decoder of this package words its messages
// through these helpers, so a client sees one phrasing (zod's) whatever the
// endpoint.

// Kind names the JSON type of a value as zod does ("object", "array",
// "string", "boolean", "null", "number"; "undefined" for no value).
func Kind(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "undefined"
	}
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// Expected is zod's type error: "Expected <want>, received <kind of v>".
func Expected(want string, v []byte) string {
	return "Expected " + want + ", received " + Kind(v)
}

// present returns v unless it is absent or null.
func present(v []byte) ([]byte, bool) {
	if len(v) == 0 || Kind(v) == "null" {
		return nil, false
	}
	return v, true
}

var errNotString = errors.New("not a string")

// String decodes a JSON string value exactly as encoding/json does
// (TestStringMatchesEncodingJSON). The common case, no escapes and valid
// UTF-8, is sliced without a decode: it is on every SDK event's hot path.
func String(v []byte) (string, error) {
	if Kind(v) != "string" {
		return "", errNotString
	}
	if len(v) >= 2 {
		in := v[1 : len(v)-1]
		if bytes.IndexByte(in, '\\') < 0 && bytes.IndexByte(in, '"') < 0 && utf8.Valid(in) {
			return string(in), nil
		}
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}

// stringMember decodes an optional string member into is: absent or null is
// ("", false) with an issue only when required; another type is zod's type
// error.
func stringMember(is *actors.Issues, key string, v []byte, required bool) (string, bool) {
	v, ok := present(v)
	if !ok {
		if required {
			is.Add(key, "Required")
		}
		return "", false
	}
	s, err := String(v)
	if err != nil {
		is.Add(key, Expected("string", v))
		return "", false
	}
	return s, true
}

// UUID lower-cases s and reports whether it is a UUID in its canonical
// 36-character form; the result is a copy, so a Fiber parameter can be
// kept past its handler.
func UUID(s string) (string, bool) {
	s = strings.ToLower(s)
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 || u.String() != s {
		return "", false
	}
	return strings.Clone(s), true
}

// Invalid is the error of a request body with field errors.
func Invalid(is *actors.Issues) error {
	return &actors.Error{Code: actors.EInvalid, Message: "request body does not match the schema", Issues: is}
}

// FieldError is Invalid with one field's message, for checks made after
// decoding (a share that does not exist, say).
func FieldError(field, msg string) error {
	is := &actors.Issues{FormErrors: []string{}}
	is.Add(field, msg)
	return Invalid(is)
}

// escape returns a heap copy of is with both members non-nil, as the API
// shows them ("formErrors": [], "fieldErrors": {}). Parsers keep their
// issues on the stack and pay for this only when they reject.
func escape(is *actors.Issues) *actors.Issues {
	cp := *is
	if cp.FormErrors == nil {
		cp.FormErrors = []string{}
	}
	if cp.FieldErrors == nil {
		cp.FieldErrors = map[string][]string{}
	}
	return &cp
}

// Object parses b as a JSON object into its raw members. A body that is not
// JSON at all is invalid_json; JSON that is not an object is
// invalid_request.
func Object(b []byte) (map[string]json.RawMessage, error) {
	if !json.Valid(b) {
		return nil, actors.Errorf(actors.EInvalidJSON, "request body is not valid JSON")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		is := &actors.Issues{FormErrors: []string{Expected("object", b)}, FieldErrors: map[string][]string{}}
		return nil, &actors.Error{Code: actors.EInvalid, Message: "request body must be a JSON object", Issues: is}
	}
	return obj, nil
}

// Metadata validates an optional metadata member: absent or null is nil,
// an object is returned compacted, anything else is a field error. limit
// bounds the compacted size.
func Metadata(is *actors.Issues, v []byte, limit int) json.RawMessage {
	v, ok := present(v)
	if !ok {
		return nil
	}
	if Kind(v) != "object" {
		is.Add("metadata", Expected("object", v))
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		is.Add("metadata", "Invalid object")
		return nil
	}
	if buf.Len() > limit {
		is.Add("metadata", "Metadata exceeds the limit of "+strconv.Itoa(limit)+" bytes when encoded")
		return nil
	}
	return ValidUTF8(buf.Bytes())
}

// ValidUTF8 is the one rule for invalid UTF-8 in a JSON bag a client sends
// (render event, share and system metadata, SDK data): each byte that is
// not part of valid UTF-8 becomes U+FFFD, exactly as encoding/json decodes
// it into the SDK's string fields, and the event is accepted. json.Valid
// lets such bytes through inside strings, and a bag stored verbatim would
// make every read, SSE line and NATS update that carries it invalid JSON.
// b must be valid JSON, so such bytes can only be inside strings, where
// U+FFFD keeps it valid. The common case, valid input, is returned as is.
func ValidUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

// The length and enum messages, as zod words them.
const nonEmpty = "String must contain at least 1 character(s)"

func maxChars(n int) string {
	return "String must contain at most " + strconv.Itoa(n) + " character(s)"
}

// enumError is zod's enum error; got is quoted as given.
func enumError(values []string, got string) string {
	return "Invalid enum value. Expected '" + strings.Join(values, "' | '") + "', received '" + got + "'"
}
