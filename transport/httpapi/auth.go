package httpapi

import (
	"strings"
	"time"

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

// lookupKey resolves a secret through the key cache (keycache.go). Open
// SSE streams call it again at every heartbeat, so a revoked key ends them
// too. While Postgres cannot answer, a key seen before keeps its last
// answer; a key never seen gets the 503.
func (s *Server) lookupKey(secret string) (actors.Principal, error) {
	now := time.Now()
	cached, ask, gen := s.keys.get(secret, now)
	if !ask {
		return cached.p, cached.err
	}
	ctx, cancel := s.requestCtx()
	p, err := s.dir.Authenticate(ctx, secret)
	cancel()
	if code := actors.ErrorCode(err); err == nil || code == actors.EUnauthorized || code == actors.EForbidden {
		// Strings from Fiber point into its buffers; the cache must own its key.
		s.keys.put(strings.Clone(secret), &keyAnswer{p: p, err: err, due: now.Add(keyRefresh)}, gen)
		return p, err
	}
	if cached != nil {
		// Postgres did not answer: the last answer stands (see keyRetry).
		return cached.p, cached.err
	}
	return p, err
}

// ForgetKeys drops the cached answers of key keyID, or of every key of
// project projectID: the key was revoked, the project deleted or its
// origins changed. The next request with such a key asks Postgres, and
// while Postgres is down gets a 503, never the old answer. cmd/engaged calls
// it for every change published on NATS (live.KeyChanges).
func (s *Server) ForgetKeys(keyID, projectID string) { s.keys.forget(keyID, projectID) }

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
