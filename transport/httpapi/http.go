// Package httpapi is the Fiber HTTP API: every route, authentication, and
// the one mapping of coded errors to HTTP statuses and JSON envelopes. Its
// handlers decode requests with wire and reach the actors, the records
// store and the live updates only through the ports declared here and in sse.
package httpapi

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/sse"
)

// Directory is what the HTTP API needs of the records store (persist.Store).
type Directory interface {
	Authenticate(ctx context.Context, secret string) (actors.Principal, error)
	GetItem(ctx context.Context, projectID, id, kind string) (actors.Item, error)
	CreateContent(ctx context.Context, projectID, id string) (actors.Item, error)
	// AutoCreateContent registers content id for an SDK event of a project
	// with autoCreateContent on and fewer than maxItems items: EContentLimit
	// at the cap, ENotFound when the setting is off or the id is a render's.
	AutoCreateContent(ctx context.Context, projectID, id string, maxItems int) (actors.Item, error)
	// ItemKeys streams the kind, project and id of each item created at
	// or after since (zero: every item) and returns the store's clock as
	// of the read's start: what fills the item set (itemset.go).
	ItemKeys(ctx context.Context, since time.Time, fn func(kind, projectID, id string) error) (asOf time.Time, err error)
}

// Engine is what the HTTP API needs of the actors (actors.Registry).
type Engine interface {
	ReadJSON(ctx context.Context, k actors.ItemID) ([]byte, error)
	ReadContent(ctx context.Context, k actors.ItemID) (actors.ContentSummary, error)
	// Submit publishes each submission's message and fills in its
	// verdicts: the one ingest path of every route that records events.
	Submit(ctx context.Context, subs ...*actors.Submission) error
	ShareCounts(ctx context.Context, k actors.ItemID) (map[string]actors.ShareCounts, error)
	Current(ctx context.Context, k actors.ItemID, kind string) (actors.Update, error)
	// ReadSeries reads one metric of an item's series from its actor's
	// memory (series.go).
	ReadSeries(ctx context.Context, k actors.ItemID, kind string, metric int, hour bool, fromMs, toMs int64) (actors.SeriesRead, error)
	// ContentWindow sums a content's figures over a signals window from
	// its actor's memory (getContentSignals).
	ContentWindow(ctx context.Context, k actors.ItemID, window string, nowMs int64) (actors.WindowFigures, error)
	ReadUserSeen(ctx context.Context, k actors.ItemID, hashes []uint64) ([]bool, error) // actors.ContentHash of each content id
	ReadUserHistory(ctx context.Context, k actors.ItemID, limit int) ([]actors.UserHistoryEvent, error)
}

// Options configures the HTTP API.
type Options struct {
	MaxBodyBytes     int
	MaxMetadataBytes int
	MaxHeaderBytes   int // request line and headers; 0 = Fiber's 4096
	TrustedProxies   []netip.Prefix
	RequestTimeout   time.Duration
	Ready            func(context.Context) error // for /readyz
	Now              func() time.Time            // the clock of receive and event times; nil = time.Now
	Logger           *slog.Logger
	Shares           ShareOptions // share links, public page, e-mail, pixel (shares.go)
	Streams          sse.Options  // server-sent event streams
	// SystemCounts returns the system-events subscriber's counters for
	// /stats (sysevents.Subscriber.Counts); nil: zeros.
	SystemCounts func() (accepted, duplicate, rejected, failed int64)
	Admin        AdminOptions   // the operator's admin API (admin.go); off without a token
	Webhooks     WebhookOptions // webhook endpoints (webhooks.go); 404 without a store
	Erasures     ErasureOptions // erasure requests (erasures.go); 404 without a store
	// VisitorSalts gives the daily salts of render events' visitor ids
	// (visitors.go); nil: events carry no visitor id.
	VisitorSalts VisitorSalts
	// Series reads closed hours and days of an item's series from Postgres
	// (series.go); nil: series routes answer from memory only.
	Series     SeriesStore
	AutoCreate AutoCreateOptions
	// ItemSetMax bounds the item set (itemset.go), which RunItemSet fills:
	// past it the set stops growing; 0: no set.
	ItemSetMax int
	// Rankings answers top-N per project (top.go); 404 without a store.
	Rankings RankingOptions

	// ObserveRequest is called once per request after its response is
	// final, with the route pattern (never the raw path); nil: nothing.
	// ObserveUnavailable is called with the reason of each 503
	// (UnavailableReason). Both are the metrics' ports.
	ObserveRequest     func(method, route string, status int, d time.Duration)
	ObserveUnavailable func(reason string)
	// ObserveEvents is called with each request's event verdicts, where
	// they are known: kind is the item family ("render", "content"),
	// outcome "recorded", "duplicate" or "rejected", reason (rejected
	// only, else "") one of the Reject* constants; n events had it.
	// nil: nothing.
	ObserveEvents func(kind, outcome, reason string, n int)
}

// AutoCreateOptions bound the content items SDK events create in projects
// with autoCreateContent on (sdk.go): no creation once a project holds
// MaxItems items, and at most Rate creations per project on this instance.
// Past either, the event is rejected with content_limit or rate_limited.
type AutoCreateOptions struct {
	MaxItems int
	Rate     RateLimit // N == 0: no rate limit
}

// autoCreateLimiters bounds the token buckets of auto-creation, one per
// project that created content lately (see limiterSet).
const autoCreateLimiters = 10_000

// Server is the HTTP API. Create it with NewServer, serve with Serve, stop
// with Shutdown.
type Server struct {
	app    *fiber.App
	opts   Options
	dir    Directory
	engine Engine
	logger *slog.Logger

	baseCtx context.Context // parent of request contexts; cancelled by Shutdown
	cancel  context.CancelFunc

	streams *sse.Streams // open SSE streams, which Shutdown ends
	panics  atomic.Int64 // handler panics (recoverPanics)

	// keys caches key lookups (keycache.go): a hot key costs no query, a
	// key seen before keeps working while Postgres is down, and a revoked
	// key stops working on every instance when ForgetKeys hears of it.
	keys *keyCache
	// items caches item lookups, bounded (see Server.item).
	items *itemCache
	// set holds every item, for the routes that need only to know one
	// exists (itemset.go).
	set *itemSet
	sh  *shares // share links, public page, e-mail, pixel (shares.go)
	// autoCreate is the per-project token bucket of content creation by
	// SDK events (sdk.go).
	autoCreate *limiterSet

	openapi    []byte      // the document served at /openapi.json: OpenAPI with this service's servers (openapi.go)
	salts      *saltCache  // visitor salts (visitors.go); nil without Options.VisitorSalts
	adminToken []byte      // SHA-256 of the admin token (admin.go)
	topCache   topCache    // top-N answers (top.go)
	topHub     topHub      // watched rankings (topstream.go)
	draining   atomic.Bool // set by Drain: /readyz answers 503, connections are closed after each response
}

// NewServer builds the API with every route.
func NewServer(o Options, dir Directory, engine Engine) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts: o, dir: dir, engine: engine, logger: o.Logger,
		baseCtx: ctx, cancel: cancel,
		keys:  newKeyCache(100_000),
		items: newItemCache(100_000),
		set:   newItemSet(o.ItemSetMax),
		sh:    newShares(o.Shares),

		autoCreate: newLimiterSet(o.AutoCreate.Rate, autoCreateLimiters),
		topCache:   topCache{ttl: o.Rankings.CacheTTL},
	}
	if o.VisitorSalts != nil {
		s.salts = newSaltCache(o.VisitorSalts)
	}
	s.app = fiber.New(fiber.Config{
		// Fiber enforces the raw body size; body() enforces it again after
		// decompression.
		BodyLimit:             o.MaxBodyBytes,
		ErrorHandler:          errorHandler(o.Logger),
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		// The request line and headers must fit in this buffer; past it
		// the answer is 414 or 431 (headerlimit.go).
		ReadBufferSize: o.MaxHeaderBytes,
	})
	s.app.Server().ErrorHandler = s.readErrorHandler(s.app.Server().ErrorHandler)
	var err error
	if s.openapi, err = OpenAPIFor(s.sh.PublicBaseURL); err != nil {
		// Only a malformed embedded document gets here, which the tests
		// rule out; serve it unchanged rather than nothing.
		o.Logger.Error("openapi.json servers not set", "err", err)
		s.openapi = OpenAPI
	}
	if o.Streams.Logger == nil {
		o.Streams.Logger = o.Logger
	}
	s.streams = sse.New(o.Streams)
	s.routes()
	return s
}

// routes lists every route of the service in one place.
func (s *Server) routes() {
	s.app.Use(s.observe)       // request id, access log, metrics: first, so it sees every final status
	s.app.Use(s.recoverPanics) // after observe, which then sees the recovered 500
	s.app.Get("/", s.landing)  // a page for a person who opens the address
	s.app.Get("/healthz", s.healthz)
	s.app.Get("/readyz", s.readyz)
	s.app.Get("/openapi.json", s.getOpenAPI)
	s.app.Get("/dashboard", s.dashboard)
	s.app.Get("/dashboard/:file", s.dashboardAsset)

	// Browsers (cors.go): preflights before authentication, and the SDK
	// event routes, which authenticate themselves (a key in the header or
	// the body), ahead of the /v1 group's authentication.
	s.app.Options("/v1/events", s.sdkPreflight)
	s.app.Options("/v1/events/batch", s.sdkPreflight)
	// A middleware, not an OPTIONS route: that would make unknown routes 405.
	s.app.Use("/v1", s.closedPreflight)
	s.app.Post("/v1/events", s.sdkCORS, s.postEvent) // publishable or secret key
	s.app.Post("/v1/events/batch", s.sdkCORS, s.postEventBatch)
	s.app.Get("/sdk/engaged.js", s.webSDK)

	s.adminRoutes() // /admin/v1, only with an admin token (admin.go)

	v1 := s.app.Group("/v1", s.authenticate)
	v1.Get("/renders/:id", s.secretOnly, s.getRender)
	v1.Get("/renders/:id/engagement", s.secretOnly, s.getRenderEngagement)
	v1.Get("/renders/:id/series", s.secretOnly, s.getRenderSeries)
	v1.Post("/renders/:id/events", s.secretOnly, s.postRenderEvent)
	v1.Post("/renders/:id/shares", s.secretOnly, s.postShare)
	v1.Get("/renders/:id/shares", s.secretOnly, s.listShares)
	v1.Delete("/renders/:id/shares/:shareId", s.secretOnly, s.deleteShare)
	v1.Post("/renders/:id/emails", s.secretOnly, s.postEmail)
	s.webhookRoutes(v1)
	s.erasureRoutes(v1)

	// Public, no key: the share id or the signed pixel token is the capability.
	s.app.Get("/s/:shareId", s.getSharePage)
	s.app.Get("/s/:shareId/download", s.getShareDownload)
	s.app.Post("/s/:shareId/print", s.postSharePrint)
	s.app.Get("/p/:token", s.getPixel)

	// SDK events (POST /v1/events and /v1/events/batch are above).
	v1.Post("/contents", s.secretOnly, s.postContent)
	v1.Get("/contents/:id/engagement", s.secretOnly, s.getContentEngagement)
	v1.Get("/contents/:id/series", s.secretOnly, s.getContentSeries)
	v1.Get("/contents/:id/signals", s.secretOnly, s.getContentSignals)
	v1.Post("/users/:userId/seen", s.secretOnly, s.postUserSeen)
	v1.Get("/users/:userId/history", s.secretOnly, s.getUserHistory)
	v1.Get("/projects/:projectId/top", s.secretOnly, s.getTop)
	v1.Get("/projects/:projectId/top/stream", s.secretOnly, s.streamTop)

	// Live updates.
	v1.Get("/renders/:id/engagement/stream", s.secretOnly, s.streamRenderEngagement)
	v1.Get("/contents/:id/engagement/stream", s.secretOnly, s.streamContentEngagement)
}

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(lineListener{ln}) }

// Shutdown stops accepting connections, ends the SSE streams and waits for
// requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.streams.Close()
	err := s.app.ShutdownWithContext(ctx)
	s.cancel()
	if werr := s.streams.Wait(ctx); err == nil {
		err = werr
	}
	s.topHub.wg.Wait()   // ended by s.cancel: each watcher's context is baseCtx's
	s.topCache.wg.Wait() // the refreshes behind stale answers, the same
	return err
}

func (s *Server) requestCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.baseCtx, s.opts.RequestTimeout)
}

// Drain makes /readyz answer 503 so that load balancers stop sending new
// requests, while every route keeps serving; Shutdown follows after the
// drain delay (cmd/engaged/serve.go).
func (s *Server) Drain() { s.draining.Store(true) }

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// setRequestID keeps the client's X-Request-Id if it is a sane token, else
// makes one, and sets it on the response.
func setRequestID(c *fiber.Ctx) string {
	if id := c.Get(fiber.HeaderXRequestID); saneRequestID(id) {
		id = strings.Clone(id) // Fiber reuses the request's buffer
		c.Locals(localRequestID, id)
		c.Set(fiber.HeaderXRequestID, id)
		return id
	}
	var b [10]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	id := "req_" + hex.EncodeToString(b[:])
	c.Locals(localRequestID, id)
	c.Set("X-Request-Id", id)
	return id
}

type localKey int

const (
	localRequestID localKey = iota
	localPrincipal
	localError // the error an HTML page or the pixel answered, for the access log
)

// requestID returns the request's id, making one for requests that failed
// before any middleware ran (a body over the limit).
func requestID(c *fiber.Ctx) string {
	if id, ok := c.Locals(localRequestID).(string); ok {
		return id
	}
	return setRequestID(c)
}

func (s *Server) healthz(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) }

// readyz is the public readiness check for load balancers. It names no
// internal error (the operator listener's /readyz has the detail); the cause
// goes to the log with the 503.
func (s *Server) readyz(c *fiber.Ctx) error {
	if s.draining.Load() {
		return &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonDraining, Message: msgDraining, RetryAfter: time.Second}
	}
	if s.opts.Ready != nil {
		ctx, cancel := s.requestCtx()
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			return fmt.Errorf("%w (%w)", &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonNotReady, Message: msgNotReady, RetryAfter: time.Second}, err)
		}
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// sourceIP is the best-effort client address: the first hop of
// X-Forwarded-For, else X-Real-IP, but only when the peer is a trusted
// proxy; otherwise the peer itself.
func (s *Server) sourceIP(c *fiber.Ctx) string {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if s.trusted(peer) {
		if xff := c.Get(fiber.HeaderXForwardedFor); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if a, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
				return a.Unmap().String()
			}
		}
		if a, err := netip.ParseAddr(strings.TrimSpace(c.Get("X-Real-Ip"))); err == nil {
			return a.Unmap().String()
		}
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }
