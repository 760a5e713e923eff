package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// The browser path. Web pages on other origins may send SDK events (POST
// /v1/events and /v1/events/batch) and nothing else:
//
//   - A preflight (OPTIONS) on the SDK routes is answered 204 before any
//     authentication, for any origin: it carries no key, so it cannot know
//     the project whose origins would decide.
//   - The project decides on the request itself. CORS only stops a page
//     from reading a response, not a request from being sent (sendBeacon
//     and text/plain posts are sent without a preflight), so a request
//     whose Origin the key's project does not allow is refused, 403
//     forbidden, and nothing is recorded. Every SDK response to a browser
//     echoes its Origin in Access-Control-Allow-Origin, errors too, so the
//     SDK can read a 4xx and drop what will never be accepted rather than
//     retry it blind.
//   - Secret-key routes stay closed: no CORS headers, and a preflight there
//     is 403 forbidden (not 401: a preflight never carries a key, so the
//     answer does not depend on one), which the browser reports as a
//     failed preflight.
//   - The key may also come as a publishable "apiKey" in the body, and the
//     body may be sent as text/plain (the body is JSON whatever its
//     Content-Type), so navigator.sendBeacon works with no preflight.

// corsMaxAge is how long a browser may cache a preflight, in seconds
// (Chromium caps it at two hours).
const corsMaxAge = "7200"

// sdkPreflight answers OPTIONS on the SDK event routes.
func (s *Server) sdkPreflight(c *fiber.Ctx) error {
	c.Set(fiber.HeaderVary, "Origin, Access-Control-Request-Headers")
	if origin := c.Get(fiber.HeaderOrigin); origin != "" {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Set(fiber.HeaderAccessControlAllowMethods, "POST")
		c.Set(fiber.HeaderAccessControlAllowHeaders, "Authorization, Content-Type")
		c.Set(fiber.HeaderAccessControlMaxAge, corsMaxAge)
	}
	c.Set(fiber.HeaderAllow, "POST, OPTIONS")
	return c.SendStatus(fiber.StatusNoContent)
}

// closedPreflight answers OPTIONS on every other /v1 route: no CORS
// headers, so the browser never sends the request. Other methods pass.
func (s *Server) closedPreflight(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodOptions {
		return c.Next()
	}
	return actors.Errorf(actors.EForbidden, "cross-origin requests are allowed only on POST /v1/events and /v1/events/batch; "+
		"secret-key routes are for servers")
}

// sdkCORS lets a browser page read the response of an SDK events request,
// whatever it is; whether the page's origin may send events at all is
// sdkRequest's decision.
func (s *Server) sdkCORS(c *fiber.Ctx) error {
	c.Set(fiber.HeaderVary, "Origin")
	if origin := c.Get(fiber.HeaderOrigin); origin != "" {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Set(fiber.HeaderAccessControlExposeHeaders, "Retry-After, X-Request-Id")
	}
	return c.Next()
}

// sdkRequest authenticates an SDK events request and returns its principal
// and its body (read with jsonBody). The key is the Authorization header's,
// as on every /v1 route, else a publishable key in the body's "apiKey"
// (wire.APIKey, which refuses a secret key there). A
// request from a browser page (an Origin header) must come from an origin
// the key's project allows.
func (s *Server) sdkRequest(c *fiber.Ctx) (actors.Principal, []byte, error) {
	var p actors.Principal
	var err error
	header := c.Get(fiber.HeaderAuthorization) != ""
	if header {
		// Checked before the body is read, as on the other routes.
		if p, err = s.headerKey(c); err != nil {
			return p, nil, err
		}
	}
	b, err := jsonBody(c, s.opts.MaxBodyBytes)
	if err != nil {
		return p, nil, err
	}
	if !header {
		// Read only without a header: looking for the member costs a
		// scan of the body, 2 % of a 100-event batch's decoding
		// (BenchmarkAPIKey), which header-keyed senders need not pay.
		bodyKey, err := wire.APIKey(b)
		if err != nil {
			return p, nil, err
		}
		if bodyKey == "" {
			return p, nil, errUnauthorized()
		}
		if p, err = s.lookupKey(bodyKey); err != nil {
			return p, nil, err
		}
		if p.Kind != actors.PublishableKey {
			return p, nil, wire.FieldError("apiKey", "Only a publishable key (pk_…) may be sent in the body")
		}
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && !p.AllowsOrigin(origin) {
		return p, nil, actors.Errorf(actors.EForbidden, "origin %q may not send events for this project (see its allowed origins)", origin)
	}
	c.Locals(localPrincipal, p)
	return p, b, nil
}
