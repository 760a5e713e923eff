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

// render resolves the :id parameter to a render of the caller's project,
// for routes that need only to know it exists (the item set answers most,
// itemset.go). A malformed id, a missing render and another project's
// render are the same 404, and an id never reaches a NATS subject
// unvalidated.
func (s *Server) render(ctx context.Context, c *fiber.Ctx) (actors.ItemID, error) {
	k, err := renderKey(c)
	if err != nil {
		return actors.ItemID{}, err
	}
	found, err := s.exists(ctx, k, actors.RenderItem)
	if err != nil {
		return actors.ItemID{}, err
	}
	if !found {
		return actors.ItemID{}, errNoRender()
	}
	return k, nil
}

// renderItem is render for a route that needs the render's row (its
// document URL, its creation time): through the item cache and Postgres.
func (s *Server) renderItem(ctx context.Context, c *fiber.Ctx) (actors.Item, error) {
	k, err := renderKey(c)
	if err != nil {
		return actors.Item{}, err
	}
	it, found, err := s.item(ctx, k, actors.RenderItem)
	if err != nil {
		return actors.Item{}, err
	}
	if !found {
		return actors.Item{}, errNoRender()
	}
	return it, nil
}

// renderKey is the key the :id parameter names in the caller's project, if
// it is a render id (a UUID in canonical form) at all.
func renderKey(c *fiber.Ctx) (actors.ItemID, error) {
	id := strings.ToLower(c.Params("id"))
	if u, err := uuid.Parse(id); err != nil || len(id) != 36 || u.String() != id {
		return actors.ItemID{}, errNoRender()
	}
	return actors.ItemID{Project: principal(c).ProjectID, Item: strings.Clone(id)}, nil
}

func errNoRender() error {
	return actors.Errorf(actors.ENotFound, "no render with that id in this key's project")
}

// unknownTTL is how long an id that names no item is remembered as such:
// long enough that a flood of requests for one bad id costs one query per
// interval, short enough that an item the admin CLI creates (straight in
// Postgres, bypassing this cache) is found soon after; sooner by the item
// set, which is asked first (itemset.go).
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
	s.set.add(kind, k.Project, k.Item)
	return it, true, nil
}

// remember caches an item this instance just created, and adds it to the
// item set.
func (s *Server) remember(it actors.Item) {
	s.items.add(it.Kind+"/"+actors.ItemID{Project: it.ProjectID, Item: it.ID}.String(), it)
	s.set.add(it.Kind, it.ProjectID, it.ID)
}

// getRenderEngagement serves GET /v1/renders/:id/engagement.
func (s *Server) getRenderEngagement(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.render(ctx, c)
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
	k, err := s.render(ctx, c)
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
