package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// OpenAPI is the OpenAPI 3.1 document of every public route, embedded so the
// binary serves the contract it was built with. The end-to-end tests
// validate every request and response they make against it, and every
// example in it against its schema, so a route or field that drifts from it
// fails the suite.
//
//go:embed openapi.json
var OpenAPI []byte

// OpenAPIFor is OpenAPI with its servers list naming publicURL (the
// service's ENGAGED_PUBLIC_URL), so that generated clients and "try it"
// pages call the server that served the document. The rest of the document
// is unchanged byte for byte. An empty publicURL leaves the document as it
// is.
func OpenAPIFor(publicURL string) ([]byte, error) {
	if publicURL == "" {
		return OpenAPI, nil
	}
	key := []byte(`"servers":`)
	i := bytes.Index(OpenAPI, key)
	if i < 0 {
		return nil, fmt.Errorf("openapi.json has no top-level servers member")
	}
	start := i + len(key)
	dec := json.NewDecoder(bytes.NewReader(OpenAPI[start:]))
	var old []map[string]any
	if err := dec.Decode(&old); err != nil {
		return nil, fmt.Errorf("openapi.json servers: %w", err)
	}
	end := start + int(dec.InputOffset())
	servers := []map[string]string{{"url": publicURL, "description": "this service (ENGAGED_PUBLIC_URL)"}}
	v, err := json.Marshal(servers)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(OpenAPI)+len(v))
	out = append(out, OpenAPI[:start]...)
	out = append(out, ' ')
	out = append(out, v...)
	return append(out, OpenAPI[end:]...), nil
}

// getOpenAPI serves GET /openapi.json (public, no key).
func (s *Server) getOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(s.openapi)
}
