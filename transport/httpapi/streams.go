package httpapi

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// streamRenderEngagement serves GET /v1/renders/:id/engagement/stream.
func (s *Server) streamRenderEngagement(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.render(ctx, c)
	if err != nil {
		return err
	}
	return s.stream(ctx, c, k, actors.RenderItem)
}

// streamContentEngagement serves GET /v1/contents/:id/engagement/stream:
// the SDK content item's summaries, each the "data" of its engagement read
// plus "seq".
func (s *Server) streamContentEngagement(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.content(ctx, c)
	if err != nil {
		return err
	}
	return s.stream(ctx, c, k, actors.ContentItem)
}

// stream hands the request to the SSE streams (sse.Streams.Open) with
// what they need of it. Errors before the stream starts are the usual JSON
// envelope.
func (s *Server) stream(ctx context.Context, c *fiber.Ctx, k actors.ItemID, kind string) error {
	// Everything the stream needs from the request, copied: Fiber reuses
	// its buffers once the handler returns.
	_, secret, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	secret = strings.Clone(strings.TrimSpace(secret))
	project := principal(c).ProjectID
	check := func() bool {
		p, err := s.lookupKey(secret)
		switch actors.ErrorCode(err) {
		case actors.EUnauthorized, actors.EForbidden:
			return false
		}
		return err != nil || p.ProjectID == project // a lookup that failed for another reason keeps the stream
	}
	current := func(ctx context.Context) (actors.Update, error) { return s.engine.Current(ctx, k, kind) }
	return s.streams.Open(ctx, c, k, principal(c).KeyID, requestID(c), current, check)
}
