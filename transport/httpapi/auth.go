package httpapi

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// authenticate resolves "Authorization: Bearer <key>" to a principal. Every
// failure (missing header, malformed, unknown or revoked key) is the same
// 401, so a response never tells which keys exist.
func (s *Server) authenticate(c *fiber.Ctx) error {
	p, err := s.headerKey(c)
	if err != nil {
		return err
	}
	c.Locals(localPrincipal, p)
	return c.Next()
}

// headerKey resolves the request's "Authorization: Bearer <key>".
func (s *Server) headerKey(c *fiber.Ctx) (actors.Principal, error) {
	h := c.Get(fiber.HeaderAuthorization)
	scheme, secret, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return actors.Principal{}, errUnauthorized()
	}
	return s.lookupKey(strings.TrimSpace(secret))
}

func errUnauthorized() error {
	return actors.Errorf(actors.EUnauthorized, "missing, invalid, or revoked API key")
}

// lookupKey resolves a secret through the one-second cache. Open SSE streams
// call it again at every heartbeat, so a revoked key ends them too.
func (s *Server) lookupKey(secret string) (actors.Principal, error) {
	res, ok := s.auth.Get(secret)
	if !ok {
		ctx, cancel := s.requestCtx()
		p, err := s.dir.Authenticate(ctx, secret)
		cancel()
		res = authResult{p: p, err: err}
		if code := actors.ErrorCode(err); err == nil || code == actors.EUnauthorized || code == actors.EForbidden {
			// Strings from Fiber point into its buffers; the cache must own its key.
			s.auth.Add(strings.Clone(secret), res)
		}
	}
	return res.p, res.err
}

// secretOnly admits secret keys only; publishable keys may only send SDK events.
func (s *Server) secretOnly(c *fiber.Ctx) error {
	if principal(c).Kind != actors.SecretKey {
		return actors.Errorf(actors.EForbidden, "publishable keys may only send SDK events; use a secret key")
	}
	return c.Next()
}

func principal(c *fiber.Ctx) actors.Principal {
	p, _ := c.Locals(localPrincipal).(actors.Principal)
	return p
}
