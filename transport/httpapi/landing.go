package httpapi

import (
	"github.com/gofiber/fiber/v2"
)

// landingPage is GET /: what a person who opens the service's address sees
// (a JSON 404 told a first visitor nothing). Static, no script, so it
// needs no CSP exception and shows nothing of any project.
const landingPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>engaged</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
code { background: #f3f3f3; padding: 0 .25em; }
li { margin: .4em 0; }
</style>
</head>
<body>
<h1>engaged</h1>
<p>This service ingests engagement events and serves live engagement figures.</p>
<ul>
<li><a href="/dashboard">Dashboard</a>: a render's or a content item's figures, live (it asks for a secret key).</li>
<li><a href="/openapi.json">/openapi.json</a>: the OpenAPI 3.1 document of every route, with examples.</li>
<li><a href="/sdk/engaged.js">/sdk/engaged.js</a>: the web SDK, an ES module.</li>
<li><a href="https://github.com/engagedhq/engaged#readme">Documentation</a>: the README and <code>docs/</code> of <code>github.com/engagedhq/engaged</code>.</li>
</ul>
<p>Health: <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>.</p>
</body>
</html>
`

// landingCSP allows the page's own inline style and nothing else.
const landingCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// landing serves GET / (public, no key).
func (s *Server) landing(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderContentSecurityPolicy, landingCSP)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.SendString(landingPage)
}
