package httpapi

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// render resolves the :id parameter to a render of the caller's project.
// A malformed id, a missing render and another project's render are the
// same 404, and an id never reaches a NATS subject unvalidated.
func (s *Server) render(ctx context.Context, c *fiber.Ctx) (actors.ItemID, actors.Item, error) {
	id := strings.ToLower(c.Params("id"))
	p := principal(c)
	notFound := actors.Errorf(actors.ENotFound, "no render with that id in this key's project")
	if u, err := uuid.Parse(id); err != nil || len(id) != 36 || u.String() != id {
		return actors.ItemID{}, actors.Item{}, notFound
	}
	k := actors.ItemID{Project: p.ProjectID, Item: strings.Clone(id)}
	it, found, err := s.item(ctx, k, actors.RenderItem)
	if err != nil {
		return actors.ItemID{}, actors.Item{}, err
	}
	if !found {
		return actors.ItemID{}, actors.Item{}, notFound
	}
	return k, it, nil
}

// unknownTTL is how long an id that names no item is remembered as such:
// long enough that a flood of requests for one bad id costs one query per
// interval, short enough that an item the admin CLI creates (straight in
// Postgres, bypassing this cache) is found soon after.
const unknownTTL = 5 * time.Second

// item returns the registered item k of kind, through the caches: items
// are never deleted (a deleted project is caught by auth first), so a hit
// stays true, and an unknown id is remembered for unknownTTL.
func (s *Server) item(ctx context.Context, k actors.ItemID, kind string) (actors.Item, bool, error) {
	key := kind + "/" + k.String()
	now := time.Now()
	if it, known, cached := s.items.get(key, now); cached {
		return it, known, nil
	}
	it, err := s.dir.GetItem(ctx, k.Project, k.Item, kind)
	if actors.ErrorCode(err) == actors.ENotFound {
		s.items.addUnknown(key, now)
		return actors.Item{}, false, nil
	}
	if err != nil {
		return actors.Item{}, false, err
	}
	s.items.add(key, it)
	return it, true, nil
}

// remember caches an item this instance just created.
func (s *Server) remember(it actors.Item) {
	s.items.add(it.Kind+"/"+actors.ItemID{Project: it.ProjectID, Item: it.ID}.String(), it)
}

// getRenderEngagement serves GET /v1/renders/:id/engagement.
func (s *Server) getRenderEngagement(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, _, err := s.render(ctx, c)
	if err != nil {
		return err
	}
	body, err := s.engine.ReadJSON(ctx, k)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}

// postRenderEvent serves POST /v1/renders/:id/events: a partner-side
// viewed, downloaded or printed event. It answers only after JetStream has
// stored the event and the render's actor has applied it, so the verdict is
// the actor's and a read right after shows the event.
func (s *Server) postRenderEvent(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, _, err := s.render(ctx, c)
	if err != nil {
		if rejectReason(err) == RejectUnknownItem {
			s.countEvents(KindRender, OutcomeRejected, RejectUnknownItem, 1)
		}
		return err
	}
	b, err := body(c, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := wire.DecodePartnerEvent(b, s.opts.MaxMetadataBytes)
	if err != nil {
		s.countEvents(KindRender, OutcomeRejected, rejectReason(err), 1)
		return err
	}
	ip, ipKey := s.clientIP(c, principal(c).IPCapture)
	ev := actors.RenderEvent{
		ID:        uuid.Must(uuid.NewV7()).String(),
		EventType: req.Type,
		ActorKind: actors.Partner,
		SourceIP:  ip,
		Metadata:  req.Metadata,
		CreatedAt: actors.NewTime(s.now()),
		IPKey:     ipKey,
	}
	if ua := c.Get(fiber.HeaderUserAgent); ua != "" {
		ev.UserAgent = ptr(strings.Clone(ua))
	}
	recorded, err := s.record(ctx, k, ev)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"recorded": recorded})
}

// record publishes one render event and waits for its actor's verdict.
func (s *Server) record(ctx context.Context, k actors.ItemID, ev actors.RenderEvent) (bool, error) {
	recorded, _, err := s.recordAll(ctx, k, ev.ID, ev)
	if err != nil {
		return false, err
	}
	return recorded[0], nil
}

func ptr[T any](v T) *T { return &v }
