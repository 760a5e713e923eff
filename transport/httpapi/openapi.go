package httpapi

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// OpenAPI is the OpenAPI 3.1 document of every public route, embedded so the
// binary serves the contract it was built with. The end-to-end tests
// validate every request and response they make against it, so a route or
// field that drifts from it fails the suite.
//
//go:embed openapi.json
var OpenAPI []byte

// getOpenAPI serves GET /openapi.json (public, no key).
func (s *Server) getOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(OpenAPI)
}
