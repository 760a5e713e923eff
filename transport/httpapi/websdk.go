package httpapi

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// webSDKSource is the web SDK, an ES module with no build step, embedded so
// the service serves the SDK that matches its own API.
//
//go:embed websdk/engaged.js
var webSDKSource []byte

// webSDKETag names this build's SDK: a browser keeps it for a day, then
// revalidates with If-None-Match and gets a 304 until the service changes it.
var webSDKETag = func() string {
	sum := sha256.Sum256(webSDKSource)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}()

// webSDK serves GET /sdk/engaged.js. Pages on any origin import it, and a
// cross-origin module script is fetched with CORS, so it allows every origin.
func (s *Server) webSDK(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400, stale-while-revalidate=604800")
	c.Set(fiber.HeaderETag, webSDKETag)
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set("Cross-Origin-Resource-Policy", "cross-origin")
	for _, tag := range strings.Split(c.Get(fiber.HeaderIfNoneMatch), ",") {
		if t := strings.TrimPrefix(strings.TrimSpace(tag), "W/"); t == webSDKETag || t == "*" {
			return c.SendStatus(fiber.StatusNotModified)
		}
	}
	return c.Send(webSDKSource)
}
