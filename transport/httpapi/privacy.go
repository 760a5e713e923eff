package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// ipKeyDomain separates the client-address hash from any other use of the
// pixel key it is derived from.
const ipKeyDomain = "engaged ip key v1\x00"

// clientIP returns what a project with setting mode keeps of the request's
// client address (actors.IPCapture.Apply), and, when that is less than the
// address, a keyed hash of the full address for the dedupe rule
// (actors.RenderEvent.IPKey). The hash is computed here, at the edge,
// because the full address never reaches the log. Its key derives from the
// pixel key, which every instance shares, so instances agree; it is
// truncated to 128 bits, far past collisions among one share's clients.
func (s *Server) clientIP(c *fiber.Ctx, mode actors.IPCapture) (ip *string, key string) {
	full := s.sourceIP(c)
	if mode == actors.IPFull || mode == "" {
		return &full, ""
	}
	if len(s.sh.PixelKey) > 0 {
		h := hmac.New(sha256.New, s.sh.PixelKey)
		h.Write([]byte(ipKeyDomain))
		h.Write([]byte(full))
		key = base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
	}
	return mode.Apply(full), key
}
