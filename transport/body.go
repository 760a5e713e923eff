package transport

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"engaged/actors"
)

// body returns the request body, decompressed if Content-Encoding asks, and
// never more than limit bytes: a small gzip body must not expand past the
// limit (413). The returned slice is a copy the caller owns, because Fiber
// reuses its buffers after the handler returns.
func body(c *fiber.Ctx, limit int) ([]byte, error) {
	raw := c.Request().Body()
	enc := strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding)))
	var r io.Reader
	switch enc {
	case "", "identity":
		if len(raw) > limit {
			return nil, actors.Errorf(actors.ETooLarge, "request body exceeds %d bytes", limit)
		}
		return bytes.Clone(raw), nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, actors.Errorf(actors.EInvalidJSON, "body is not valid gzip")
		}
		r = zr
	case "deflate":
		r = flate.NewReader(bytes.NewReader(raw))
	default:
		return nil, actors.Errorf(actors.EUnsupported, "Content-Encoding %q is not supported (use gzip or deflate)", enc)
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, actors.Errorf(actors.EInvalidJSON, "body could not be decompressed")
	}
	if len(out) > limit {
		return nil, actors.Errorf(actors.ETooLarge, "decompressed request body exceeds %d bytes", limit)
	}
	return out, nil
}

// jsonBody reads the request body (body) and checks that it is JSON.
func jsonBody(c *fiber.Ctx, limit int) ([]byte, error) {
	b, err := body(c, limit)
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, actors.Errorf(actors.EInvalidJSON, "request body is not valid JSON")
	}
	return b, nil
}

// objectBody reads the request body (body) and parses it as a JSON object
// (decodeObject): the start of every handler that takes a JSON object.
func objectBody(c *fiber.Ctx, limit int) (map[string]json.RawMessage, error) {
	b, err := body(c, limit)
	if err != nil {
		return nil, err
	}
	return decodeObject(b)
}

// decodeObject parses b as a JSON object into its raw members. A body that is
// not JSON at all is invalid_json; JSON that is not an object is
// invalid_request.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	if !json.Valid(b) {
		return nil, actors.Errorf(actors.EInvalidJSON, "request body is not valid JSON")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		is := &actors.Issues{FormErrors: []string{"Expected object, received " + actors.JSONKind(b)}, FieldErrors: map[string][]string{}}
		return nil, &actors.Error{Code: actors.EInvalid, Message: "request body must be a JSON object", Issues: is}
	}
	return obj, nil
}

// metadataField validates an optional metadata member: absent or null is
// nil, an object is returned compacted, anything else is a field error.
func metadataField(v json.RawMessage, present bool, limit int, is *actors.Issues) json.RawMessage {
	if !present || actors.JSONKind(v) == "null" {
		return nil
	}
	if actors.JSONKind(v) != "object" {
		is.Add("metadata", "Expected object, received "+actors.JSONKind(v))
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		is.Add("metadata", "Invalid object")
		return nil
	}
	if buf.Len() > limit {
		is.Add("metadata", "Metadata exceeds the limit of "+itoa(limit)+" bytes when encoded")
		return nil
	}
	return buf.Bytes()
}

func invalid(is *actors.Issues) error {
	return &actors.Error{Code: actors.EInvalid, Message: "request body does not match the schema", Issues: is}
}

var errNotString = errors.New("not a string")

// stringField decodes a JSON string member.
func stringField(v json.RawMessage) (string, error) {
	if actors.JSONKind(v) != "string" {
		return "", errNotString
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}
