package httpapi

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// WebhookStore is what the webhook routes need of the records store
// (persist.Store).
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w actors.WebhookEndpoint) (actors.WebhookEndpoint, error)
	Webhook(ctx context.Context, projectID, id string) (actors.WebhookEndpoint, error)
	ListWebhooks(ctx context.Context, projectID string) ([]actors.WebhookEndpoint, error)
	DeleteWebhook(ctx context.Context, projectID, id string) error
	RotateWebhookSecret(ctx context.Context, projectID, id, secret string, overlap time.Duration) (actors.WebhookEndpoint, error)
	WebhookAttempts(ctx context.Context, projectID, id string, limit int) ([]actors.WebhookAttempt, error)
}

// WebhookOptions configures the webhook routes. Without a Store they
// answer 404.
type WebhookOptions struct {
	Store WebhookStore
	// CheckURL refuses a URL that names or resolves to an address the
	// service must not call (webhooks.Guard.CheckURL).
	CheckURL func(ctx context.Context, raw string) error
	// NewSecret makes an endpoint secret, "whsec_…".
	NewSecret func() string
	// Test queues a webhook.test delivery to endpoint w and returns its
	// webhook-id.
	Test func(ctx context.Context, w actors.WebhookEndpoint) (string, error)
	// Replay queues again, to endpoint w, its deliveries with an event
	// timestamp in [from, to) (webhooks.Outbox.Replay) and returns the
	// summary answered with 202.
	Replay func(ctx context.Context, w actors.WebhookEndpoint, from, to time.Time) (any, error)
	// Deliveries are made by the actors that apply the events
	// (actors.Outbox, webhooks.Outbox), not by the handlers.
}

// maxAttemptsShown bounds GET /v1/webhooks/:id/attempts.
const maxAttemptsShown = 100

func (s *Server) webhookRoutes(v1 fiber.Router) {
	v1.Post("/webhooks", s.secretOnly, s.postWebhook)
	v1.Get("/webhooks", s.secretOnly, s.listWebhooks)
	v1.Get("/webhooks/:webhookId", s.secretOnly, s.getWebhook)
	v1.Delete("/webhooks/:webhookId", s.secretOnly, s.deleteWebhook)
	v1.Post("/webhooks/:webhookId/rotate-secret", s.secretOnly, s.rotateWebhookSecret)
	v1.Post("/webhooks/:webhookId/test", s.secretOnly, s.testWebhook)
	v1.Get("/webhooks/:webhookId/attempts", s.secretOnly, s.webhookAttempts)
	v1.Post("/webhooks/:webhookId/replay", s.secretOnly, s.replayWebhook)
}

func (s *Server) webhooks() (WebhookStore, error) {
	if s.opts.Webhooks.Store == nil {
		return nil, actors.Errorf(actors.ENotFound, "no such route")
	}
	return s.opts.Webhooks.Store, nil
}

// webhookJSON is an endpoint in answers; secret only when just made.
type webhookJSON struct {
	actors.WebhookEndpoint
	Secret                  string       `json:"secret,omitempty"`
	PreviousSecretExpiresAt *actors.Time `json:"previousSecretExpiresAt,omitempty"`
}

// postWebhook serves POST /v1/webhooks {"url", "eventTypes"}: 201 with the
// endpoint and its secret, shown this once.
func (s *Server) postWebhook(c *fiber.Ctx) error {
	st, err := s.webhooks()
	if err != nil {
		return err
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	b, err := body(c, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	url, types, err := wire.DecodeWebhook(b)
	if err != nil {
		return err
	}
	if err := s.opts.Webhooks.CheckURL(ctx, url); err != nil {
		return wire.FieldError("url", err.Error())
	}
	w, err := st.CreateWebhook(ctx, actors.WebhookEndpoint{ProjectID: principal(c).ProjectID, URL: url, EventTypes: types, Secret: s.opts.Webhooks.NewSecret()})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(webhookJSON{WebhookEndpoint: w, Secret: w.Secret})
}

func (s *Server) listWebhooks(c *fiber.Ctx) error {
	st, err := s.webhooks()
	if err != nil {
		return err
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	list, err := st.ListWebhooks(ctx, principal(c).ProjectID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"webhooks": list})
}

func (s *Server) webhook(ctx context.Context, c *fiber.Ctx) (WebhookStore, actors.WebhookEndpoint, error) {
	st, err := s.webhooks()
	if err != nil {
		return nil, actors.WebhookEndpoint{}, err
	}
	id, ok := wire.UUID(c.Params("webhookId"))
	if !ok {
		return nil, actors.WebhookEndpoint{}, actors.Errorf(actors.ENotFound, "no webhook endpoint with that id in this key's project")
	}
	w, err := st.Webhook(ctx, principal(c).ProjectID, id)
	return st, w, err
}

func (s *Server) getWebhook(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	_, w, err := s.webhook(ctx, c)
	if err != nil {
		return err
	}
	return c.JSON(w)
}

func (s *Server) deleteWebhook(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	st, w, err := s.webhook(ctx, c)
	if err != nil {
		return err
	}
	if err := st.DeleteWebhook(ctx, w.ProjectID, w.ID); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": w.ID, "deleted": true})
}

// rotateWebhookSecret serves POST /v1/webhooks/:id/rotate-secret: a new
// secret, shown this once; the old one keeps signing beside it for
// actors.WebhookRotationOverlap.
func (s *Server) rotateWebhookSecret(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	st, w, err := s.webhook(ctx, c)
	if err != nil {
		return err
	}
	w, err = st.RotateWebhookSecret(ctx, w.ProjectID, w.ID, s.opts.Webhooks.NewSecret(), actors.WebhookRotationOverlap)
	if err != nil {
		return err
	}
	out := webhookJSON{WebhookEndpoint: w, Secret: w.Secret}
	if w.PreviousUntil != nil {
		out.PreviousSecretExpiresAt = ptr(actors.NewTime(*w.PreviousUntil))
	}
	return c.JSON(out)
}

// testWebhook serves POST /v1/webhooks/:id/test: queues a webhook.test
// delivery, 202 with its webhook-id; its attempts show under attempts.
func (s *Server) testWebhook(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	_, w, err := s.webhook(ctx, c)
	if err != nil {
		return err
	}
	id, err := s.opts.Webhooks.Test(ctx, w)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"webhookId": id})
}

// webhookAttempts serves GET /v1/webhooks/:id/attempts?limit=: the newest
// attempts first, dead letters (final) among them.
func (s *Server) webhookAttempts(c *fiber.Ctx) error {
	limit := 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > maxAttemptsShown {
			return wire.FieldError("limit", "limit must be an integer from 1 to "+strconv.Itoa(maxAttemptsShown))
		}
		limit = n
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	st, w, err := s.webhook(ctx, c)
	if err != nil {
		return err
	}
	list, err := st.WebhookAttempts(ctx, w.ProjectID, w.ID, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"attempts": list})
}

// replayWebhook serves POST /v1/webhooks/:id/replay {"from", "to"}: queues
// again, to this endpoint only, its deliveries whose event timestamp is in
// [from, to); 202 with the replay's summary. The range is at most
// actors.MaxWebhookReplaySpan and ends no later than now; a disabled
// endpoint is a conflict, since nothing would be delivered to it.
func (s *Server) replayWebhook(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	_, w, err := s.webhook(ctx, c)
	if err != nil {
		return err
	}
	b, err := body(c, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	from, to, err := wire.DecodeReplayRange(b, time.Now(), actors.MaxWebhookReplaySpan)
	if err != nil {
		return err
	}
	if w.DisabledAt != nil {
		return actors.Errorf(actors.EConflict, "this webhook endpoint is disabled (its receiver answered 410); a replay would not be delivered")
	}
	if s.opts.Webhooks.Replay == nil {
		return actors.Errorf(actors.ENotFound, "no such route")
	}
	sum, err := s.opts.Webhooks.Replay(ctx, w, from, to)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(sum)
}
