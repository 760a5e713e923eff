package httpapi

import (
	"embed"
	"path"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// dashboardFiles is the live dashboard page: plain HTML, CSS and JavaScript,
// embedded in the binary, so serving it needs no build step and no files.
//
//go:embed dashboard
var dashboardFiles embed.FS

var dashboardTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
}

// dashboardCSP lets the page load only its own files and talk only to its
// own origin; with no inline script allowed, an event's metadata can never
// run as code even if it reached the page as markup.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// dashboard serves GET /dashboard (optionally ?render=<id> or ?content=<id>).
func (s *Server) dashboard(c *fiber.Ctx) error { return serveDashboardFile(c, "index.html") }

// dashboardAsset serves GET /dashboard/:file.
func (s *Server) dashboardAsset(c *fiber.Ctx) error { return serveDashboardFile(c, c.Params("file")) }

func serveDashboardFile(c *fiber.Ctx, name string) error {
	typ, ok := dashboardTypes[path.Ext(name)]
	if !ok || name != path.Base(name) {
		return actors.Errorf(actors.ENotFound, "no such route")
	}
	b, err := dashboardFiles.ReadFile("dashboard/" + name)
	if err != nil {
		return actors.Errorf(actors.ENotFound, "no such route")
	}
	c.Set(fiber.HeaderContentType, typ)
	c.Set(fiber.HeaderContentSecurityPolicy, dashboardCSP)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(b)
}
