package httpapi

import (
	"context"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// ShareStore is what share links, the public page and e-mail need of the
// records store (persist.Store implements it).
type ShareStore interface {
	CreateShare(ctx context.Context, projectID, renderID string) (actors.Share, error)
	DeleteShare(ctx context.Context, id string) error
	GetShare(ctx context.Context, projectID, renderID, id string) (actors.Share, error)
	RevokeShare(ctx context.Context, projectID, renderID, id string) (actors.Share, error)
	MarkRevokeRecorded(ctx context.Context, id string) error
	ListShares(ctx context.Context, projectID, renderID string) ([]actors.Share, error)
	PublicShare(ctx context.Context, id string) (actors.Share, error)
	ActiveRender(ctx context.Context, projectID, renderID string) (actors.Item, error)
	CreateEmailMessage(ctx context.Context, m actors.EmailMessage) (actors.EmailMessage, error)
	MarkEmailSent(ctx context.Context, id string) (time.Time, error)
	DeleteEmailMessage(ctx context.Context, id string) error
	PublicEmailMessage(ctx context.Context, id string) (actors.EmailMessage, error)
}

// ShareOptions configures share links, the public share page, e-mail and the
// tracking pixel. Without a Store those routes answer 404.
type ShareOptions struct {
	Store         ShareStore
	Mailer        Mailer
	MailFrom      string
	PublicBaseURL string // links handed to people: <base>/s/<shareId>, <base>/p/<token>.gif
	PixelKey      []byte // HMAC key of pixel tokens
	IPLimit       RateLimit
	ShareLimit    RateLimit
	Bots          BotOptions // which public requests are robots (bots.go)
}

// Bounds of the public limiter maps (see limiterSet).
const (
	ipLimiters    = 65536
	shareLimiters = 65536
)

// shares is the state of the share, public and e-mail routes.
type shares struct {
	ShareOptions
	publicPath string      // path of PublicBaseURL, prefix of the public page's own links
	byIP       *limiterSet // public requests per client IP
	byShare    *limiterSet // public requests per share link ("s:<id>") or e-mail ("m:<id>")
	bots       *botFilter
	stats      shareStats
}

// shareStats are counters for /stats.
type shareStats struct {
	rateLimited      atomic.Int64 // public requests answered 429
	mailSent         atomic.Int64
	mailFailed       atomic.Int64
	pixelsInvalid    atomic.Int64 // pixel requests with a bad or tampered token
	opensNotRecorded atomic.Int64 // valid pixel requests whose open could not be stored
	botsCrawler      atomic.Int64 // public requests served but not counted: the User-Agent is a crawler's
	botsPrefetch     atomic.Int64 // public requests served but not counted: a browser's prefetch
	botsEmptyUA      atomic.Int64 // public requests served but not counted: no User-Agent (generic clients on)
}

func newShares(o ShareOptions) *shares {
	o.PublicBaseURL = strings.TrimRight(o.PublicBaseURL, "/")
	var path string
	if u, err := url.Parse(o.PublicBaseURL); err == nil {
		path = u.Path
	}
	return &shares{
		ShareOptions: o,
		publicPath:   path,
		byIP:         newLimiterSet(o.IPLimit, ipLimiters),
		byShare:      newLimiterSet(o.ShareLimit, shareLimiters),
		bots:         newBotFilter(o.Bots),
	}
}

// store returns the share store, or not_found when shares are not set up.
func (s *Server) store() (ShareStore, error) {
	if s.sh.Store == nil {
		return nil, actors.Errorf(actors.ENotFound, "no such route")
	}
	return s.sh.Store, nil
}

func (s *Server) shareURL(id string) string { return s.sh.PublicBaseURL + "/s/" + id }

// revokeNamespace makes the Nats-Msg-Id of a share's revocation a function
// of the share id alone.
var revokeNamespace = uuid.MustParse("3f0b5a52-8d0e-4f57-9a39-6a1f3d2c7e41")

// shareJSON is a share in API responses.
type shareJSON struct {
	ID        string              `json:"id"`
	RenderID  string              `json:"renderId"`
	URL       string              `json:"url"`
	CreatedAt actors.Time         `json:"createdAt"`
	RevokedAt *actors.Time        `json:"revokedAt"`
	Counts    actors.RenderCounts `json:"counts"`
	LinkOpens int64               `json:"linkOpens"`
}

func (s *Server) shareJSON(sh actors.Share, c actors.ShareCounts) shareJSON {
	out := shareJSON{ID: sh.ID, RenderID: sh.RenderID, URL: s.shareURL(sh.ID), CreatedAt: actors.NewTime(sh.CreatedAt), Counts: c.Counts, LinkOpens: c.LinkOpens}
	if sh.RevokedAt != nil {
		out.RevokedAt = ptr(actors.NewTime(*sh.RevokedAt))
	}
	return out
}

// cleanupCtx is for undoing a half-done request after its own context may
// have ended.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

// postShare serves POST /v1/renders/:id/shares: creates a share link and
// records share_created (system). The body is optional: {"metadata": {…}}
// is stored with the event.
func (s *Server) postShare(c *fiber.Ctx) error {
	st, err := s.store()
	if err != nil {
		return err
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.render(ctx, c)
	if err != nil {
		return err
	}
	var metadata []byte
	if len(c.Request().Body()) > 0 {
		b, err := body(c, s.opts.MaxBodyBytes)
		if err != nil {
			return err
		}
		if metadata, err = wire.DecodeShare(b, s.opts.MaxMetadataBytes); err != nil {
			return err
		}
	}
	sh, err := st.CreateShare(ctx, k.Project, k.Item)
	if err != nil {
		return err
	}
	ev := actors.RenderEvent{
		ID: uuid.Must(uuid.NewV7()).String(), EventType: actors.ShareCreated, ActorKind: actors.System,
		ShareID: ptr(sh.ID), Metadata: metadata, CreatedAt: actors.NewTime(sh.CreatedAt),
	}
	rec, _, err := s.recordAll(ctx, k, ev.ID, ev)
	if err != nil {
		// The share was never handed out; without its event it must not
		// be openable or listed either.
		cctx, ccancel := cleanupCtx(ctx)
		defer ccancel()
		if derr := st.DeleteShare(cctx, sh.ID); derr != nil {
			s.logger.Warn("delete unrecorded share", "share", sh.ID, "err", derr)
		}
		return err
	}
	var counts actors.ShareCounts
	if rec[0] {
		counts.Counts.ShareCreated = 1
	}
	return c.Status(fiber.StatusCreated).JSON(s.shareJSON(sh, counts))
}

// listShares serves GET /v1/renders/:id/shares: every share of the render,
// newest first, with its own counts from the render's actor.
func (s *Server) listShares(c *fiber.Ctx) error {
	st, err := s.store()
	if err != nil {
		return err
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.render(ctx, c)
	if err != nil {
		return err
	}
	list, err := st.ListShares(ctx, k.Project, k.Item)
	if err != nil {
		return err
	}
	counts, err := s.engine.ShareCounts(ctx, k)
	if err != nil {
		return err
	}
	out := make([]shareJSON, 0, len(list))
	for _, sh := range list {
		out = append(out, s.shareJSON(sh, counts[sh.ID]))
	}
	return c.JSON(fiber.Map{"shares": out})
}

// deleteShare serves DELETE /v1/renders/:id/shares/:shareId: revokes the
// share and records share_revoked once.
//
// Once: the database keeps the first revocation time and whether its event
// reached the log. The event's Nats-Msg-Id and createdAt derive from the
// share alone, so a retry after a crash between the database update and the
// publish publishes the same message again: JetStream drops it inside its
// duplicate window, and past it the render's actor ignores a second
// share_revoked for the same share (a rule over the log, so replays agree).
func (s *Server) deleteShare(c *fiber.Ctx) error {
	st, err := s.store()
	if err != nil {
		return err
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.render(ctx, c)
	if err != nil {
		return err
	}
	id, ok := wire.UUID(c.Params("shareId"))
	if !ok {
		return actors.Errorf(actors.ENotFound, "no share with that id on this render")
	}
	sh, err := st.RevokeShare(ctx, k.Project, k.Item, id)
	if err != nil {
		return err
	}
	if !sh.RevokeRecorded {
		ev := actors.RenderEvent{
			ID: uuid.Must(uuid.NewV7()).String(), EventType: actors.ShareRevoked, ActorKind: actors.System,
			ShareID: ptr(sh.ID), CreatedAt: actors.NewTime(*sh.RevokedAt),
		}
		if _, _, err := s.recordAll(ctx, k, uuid.NewSHA1(revokeNamespace, []byte(sh.ID)).String(), ev); err != nil {
			return err
		}
		if err := st.MarkRevokeRecorded(ctx, sh.ID); err != nil {
			// Harmless: the next DELETE publishes the same message again,
			// and it is dropped as above.
			s.logger.Warn("mark revoke recorded", "share", sh.ID, "err", err)
		}
	}
	counts, err := s.engine.ShareCounts(ctx, k)
	if err != nil {
		return err
	}
	return c.JSON(s.shareJSON(sh, counts[sh.ID]))
}
