package httpapi

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// body returns the request body, decompressed if Content-Encoding asks, and
// never more than limit bytes: a small gzip body must not expand past the
// limit (413). The returned slice is a copy the caller owns, because Fiber
// reuses its buffers after the handler returns.
func body(c *fiber.Ctx, limit int) ([]byte, error) {
	b, borrowed, err := readBody(c, limit)
	if borrowed {
		b = bytes.Clone(b)
	}
	return b, err
}

// bodyView is body for a handler that is done with the bytes before it
// returns (it decodes them at once into values that point nowhere into
// them): an uncompressed body is then Fiber's own buffer, not a copy. The
// seen route's 500-id bodies were a third of what its requests allocated.
func bodyView(c *fiber.Ctx, limit int) ([]byte, error) {
	b, _, err := readBody(c, limit)
	return b, err
}

// readBody is body's work; borrowed says the bytes are Fiber's buffer.
func readBody(c *fiber.Ctx, limit int) (b []byte, borrowed bool, err error) {
	raw := c.Request().Body()
	enc := strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding)))
	var r io.Reader
	switch enc {
	case "", "identity":
		if len(raw) > limit {
			return nil, false, actors.Errorf(actors.ETooLarge, "request body exceeds %d bytes", limit)
		}
		return raw, true, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, false, actors.Errorf(actors.EInvalidJSON, "body is not valid gzip")
		}
		r = zr
	case "deflate":
		r = deflateReader(raw)
	default:
		return nil, false, actors.Errorf(actors.EUnsupported, "Content-Encoding %q is not supported (use gzip or deflate)", enc)
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil && enc == "deflate" && looksZlib(raw) {
		// Two bytes of raw deflate can pass for a zlib header by chance
		// (about 1 in 500): read it raw before refusing it.
		out, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), int64(limit)+1))
	}
	if err != nil {
		return nil, false, actors.Errorf(actors.EInvalidJSON, "body could not be decompressed")
	}
	if len(out) > limit {
		return nil, false, actors.Errorf(actors.ETooLarge, "decompressed request body exceeds %d bytes", limit)
	}
	return out, false, nil
}

// deflateReader reads a "deflate" body in either form clients send: the
// zlib-wrapped stream RFC 9110 specifies (what CompressionStream('deflate')
// and most HTTP libraries send) or raw deflate (what some old clients send,
// and what this service accepted first). The zlib header is recognised by
// its check bits.
func deflateReader(raw []byte) io.Reader {
	if looksZlib(raw) {
		if zr, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
			return zr
		}
	}
	return flate.NewReader(bytes.NewReader(raw))
}

// looksZlib reports whether raw starts with a zlib header (RFC 1950):
// method 8 (deflate), a window of at most 32 KiB, no preset dictionary, and
// the two bytes a multiple of 31.
func looksZlib(raw []byte) bool {
	if len(raw) < 2 {
		return false
	}
	cmf, flg := raw[0], raw[1]
	return cmf&0x0f == 8 && cmf>>4 <= 7 && flg&0x20 == 0 && (uint16(cmf)<<8|uint16(flg))%31 == 0
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
