package httpapi

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
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
