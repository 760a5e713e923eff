package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/config"
	"github.com/engagedhq/engaged/persist"
	"github.com/engagedhq/engaged/transport/httpapi"
	"github.com/engagedhq/engaged/transport/jetlog"
	"github.com/engagedhq/engaged/transport/live"
	"github.com/engagedhq/engaged/transport/metrics"
	"github.com/engagedhq/engaged/transport/sse"
	"github.com/engagedhq/engaged/transport/sysevents"
	"github.com/engagedhq/engaged/transport/webhooks"
)

// shutdownTimeout bounds each shutdown step.
const shutdownTimeout = 15 * time.Second

// serve starts everything in dependency order (Postgres, NATS, the log, the
// actors, the partition consumers, HTTP), runs until ctx ends, drains (see
// drain), and stops in reverse order: HTTP, consumers, actors (final
// snapshots), NATS, Postgres.
func serve(ctx context.Context, o options, args []string, lookupenv func(string) (string, bool), stdout, stderr io.Writer) error {
	cfg, err := config.Load(args, lookupenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	if o.environ != nil {
		for _, name := range config.Unknown(o.environ()) {
			logger.Warn("unknown variable ignored (a typo?); serve -h lists the settings", "name", name)
		}
	}
	b := buildInfo()
	met := metrics.New(metrics.Build{Version: b.Version, Revision: b.Revision, Go: b.Go})

	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	var ns *server.Server
	if cfg.NATSURL == "" {
		ns, err = jetlog.StartEmbedded(jetlog.EmbeddedOptions{
			StoreDir:     filepath.Join(cfg.DataDir, "jetstream"),
			Listen:       cfg.NATSListen,
			SyncAlways:   cfg.SyncAlways,
			SyncInterval: cfg.SyncInterval,
		})
		if err != nil {
			return err
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	}
	nc, err := jetlog.Connect(jetlog.ConnectOptions{
		URL: cfg.NATSURL, Server: ns, Name: "engaged",
		CredsFile: cfg.NATSCreds, NKeyFile: cfg.NATSNKey,
		TLSCAFile: cfg.NATSTLSCA, TLSCertFile: cfg.NATSTLSCert, TLSKeyFile: cfg.NATSTLSKey,
	})
	if err != nil {
		return err
	}
	defer nc.Close()

	log, err := jetlog.OpenLog(ctx, nc, jetlog.LogOptions{
		Partitions: cfg.Partitions, MaxAge: cfg.StreamMaxAge, MaxBytes: cfg.StreamMaxBytes, Replicas: cfg.StreamReplicas,
		ObservePublish: met.ObservePublish,
	})
	if err != nil {
		return err
	}

	// With the embedded server, updates nobody subscribes to are not even
	// encoded: its account sees every subscriber (the SSE streams' and any
	// client of ENGAGED_NATS_LISTEN). An external NATS cannot tell us.
	var interest func(string) bool
	if ns != nil {
		interest = ns.GlobalAccount().SubscriptionInterest
	}
	updates := live.NewUpdates(nc, logger, interest)
	var sink actors.UpdateSink = updates
	if o.wrapUpdates != nil {
		sink = o.wrapUpdates(sink)
	}
	// The webhook outbox outlives the registry (deferred calls run in
	// reverse): the final snapshot round flushes it.
	outbox, err := webhooks.NewOutbox(nc, store, logger)
	if err != nil {
		return err
	}
	outCtx, stopOutbox := context.WithCancel(context.Background())
	outDone := make(chan struct{})
	go func() { defer close(outDone); outbox.Run(outCtx) }()
	defer func() { stopOutbox(); <-outDone }()
	reg := actors.NewRegistry(actors.Options{
		Partitions: cfg.Partitions, MailboxSize: cfg.MailboxSize,
		SnapshotInterval: cfg.SnapshotInterval, IdleTimeout: cfg.IdleTimeout, MaxLive: cfg.MaxLiveItems, Logger: logger,
		Updates: sink, UpdateInterval: cfg.UpdateInterval, ObserveRound: met.ObserveRound,
		Outbox: outbox, AsOf: store,
	}, store, log)
	regCtx, stopReg := context.WithCancel(context.Background())
	regDone := make(chan error, 1)
	go func() { regDone <- reg.Run(regCtx, shutdownTimeout) }()
	defer func() { stopReg(); <-regDone }()

	cons, err := jetlog.StartConsumers(ctx, log, reg, jetlog.ConsumerOptions{
		AckWait:       max(30*time.Second, 10*cfg.SnapshotInterval),
		MaxAckPending: 200_000,
		PinnedTTL:     3 * time.Second,
		PullExpiry:    time.Second,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	defer cons.Stop()
	reg.SetLogPositions(cons) // top-N's asOf (actors/asof.go)

	shares, err := shareOptions(cfg, store, logger)
	if err != nil {
		return err
	}
	hooks, hookOpts, err := startWebhooks(ctx, cfg, nc, store, outbox, logger)
	if err != nil {
		return err
	}
	defer hooks.Stop()
	// After the registry's (deferred calls run in reverse): both stop
	// before the registry's final round.
	stopRetention := startRetention(log, reg.Persist, cfg.LogRetention, cfg.RecentMaxAge, logger)
	defer stopRetention()
	hookJS, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	// Read-only copies of erased items on every instance (this one
	// included) are dropped when an erasure says which items it scrubbed.
	subCtx, cancelSub := context.WithTimeout(ctx, 10*time.Second)
	stopErased, err := live.SubscribeErased(subCtx, nc, logger, func(e live.Erased) {
		for _, item := range e.Items {
			dctx, cancel := context.WithTimeout(context.Background(), cfg.RequestTimeout)
			if err := reg.DropCopy(dctx, actors.ItemID{Project: e.ProjectID, Item: item}); err != nil {
				logger.Warn("drop an erased item's copy", "item", item, "err", err)
			}
			cancel()
		}
	})
	cancelSub()
	if err != nil {
		return fmt.Errorf("subscribe to erasures: %w", err)
	}
	defer stopErased()
	wakeErasures, stopErasures := startErasures(erasureDeps{
		store: store, log: log, persist: reg.Persist, logger: logger, lease: persist.ErasureLease(),
		eraseQueued: func(ctx context.Context, match func([]byte) bool) (int, error) {
			return webhooks.EraseQueued(ctx, hookJS, match)
		},
		dropCopies: func(ctx context.Context, project string, items []actors.ItemID) error {
			e := live.Erased{ProjectID: project}
			for _, k := range items {
				e.Items = append(e.Items, k.Item)
			}
			return live.PublishErased(ctx, nc, e)
		},
	})
	defer stopErasures()
	sys := sysevents.New(sysevents.Options{
		MaxBytes: cfg.MaxBodyBytes, MaxMetadataBytes: cfg.MaxMetadataBytes,
		Timeout: cfg.RequestTimeout, Now: o.now, Logger: logger,
	}, store, reg)
	checks := readiness{nc: nc, store: store}
	var engine httpapi.Engine = reg
	if o.wrapEngine != nil {
		engine = o.wrapEngine(engine)
	}
	// Top-N answers from memory (persist/topindex.go); its reader stops
	// before the store closes.
	seriesRetention := time.Duration(cfg.SeriesRetentionDays) * 24 * time.Hour
	topIndex := persist.NewTopIndex(store, cfg.Partitions, seriesRetention, int64(cfg.TopIndexMaxMB)<<20, logger)
	topCtx, stopTop := context.WithCancel(context.Background())
	topDone := make(chan struct{})
	go func() { defer close(topDone); topIndex.Run(topCtx) }()
	defer func() { stopTop(); <-topDone }()
	srv := httpapi.NewServer(httpapi.Options{
		MaxBodyBytes: cfg.MaxBodyBytes, MaxMetadataBytes: cfg.MaxMetadataBytes, MaxHeaderBytes: cfg.MaxHeaderBytes,
		TrustedProxies: cfg.TrustedProxies, RequestTimeout: cfg.RequestTimeout,
		Ready:  checks.ready,
		Now:    o.now,
		Logger: logger,
		Shares: shares,
		Streams: sse.Options{
			Updates: updates, MaxStreams: cfg.SSEMaxStreams, MaxLifetime: cfg.SSEMaxLifetime,
			Heartbeat: cfg.SSEHeartbeat, MaxPerKey: cfg.SSEMaxStreamsKey,
		},
		SystemCounts:       sys.Counts,
		ObserveRequest:     met.ObserveRequest,
		ObserveUnavailable: met.ObserveUnavailable,
		ObserveEvents:      met.ObserveEvents,
		Admin:              httpapi.AdminOptions{Token: cfg.AdminToken, Store: announcingStore{Store: store, nc: nc, logger: logger}},
		AutoCreate: httpapi.AutoCreateOptions{
			MaxItems: cfg.AutoCreateMaxItems,
			Rate:     httpapi.RateLimit{N: cfg.AutoCreateRate.N, Per: cfg.AutoCreateRate.Per},
		},
		ItemSetMax:   cfg.ItemSetMax,
		Webhooks:     hookOpts,
		Erasures:     httpapi.ErasureOptions{Store: store, Wake: wakeErasures},
		VisitorSalts: store,
		Series:       seriesReader{store},
		Rankings: httpapi.RankingOptions{Store: topIndex, CacheTTL: topCacheTTL,
			Publish: func(subject string, payload []byte) {
				if err := nc.Publish(subject, payload); err != nil {
					logger.Debug("publish ranking", "subject", subject, "err", err)
				}
			}},
	}, store, engine)
	// The item set's reader: stopped before the store closes (deferred
	// calls run in reverse); nothing waits for its first read.
	setCtx, stopSet := context.WithCancel(context.Background())
	setDone := make(chan struct{})
	go func() { defer close(setDone); srv.RunItemSet(setCtx) }()
	defer func() { stopSet(); <-setDone }()
	stopPruning := startPruning(store, retention{
		series:   seriesRetention,
		webhooks: time.Duration(cfg.WebhookRetentionDays) * 24 * time.Hour,
	}, pruneInterval, logger)
	defer stopPruning()
	// Key changes published by any instance or the admin CLI drop this
	// instance's cached answers (announcingStore publishes them).
	subCtx, cancelSub = context.WithTimeout(ctx, 10*time.Second)
	stopKeys, err := live.SubscribeKeyChanges(subCtx, nc, logger, func(c live.KeyChange) { srv.ForgetKeys(c.KeyID, c.ProjectID) })
	cancelSub()
	if err != nil {
		return fmt.Errorf("subscribe to key changes: %w", err)
	}
	defer stopKeys()
	met.Watch(metrics.Sources{
		Registry: reg, Consumers: cons, Streams: srv.Streams(), Updates: updates, SystemEvents: sys.Counts,
		Panics: map[string]func() int64{
			"http": srv.Panics, "actor": reg.Panics, "consumer": cons.Panics,
			"sse": srv.Streams().Panics, "live": updates.Panics, "sysevents": sys.Panics,
		},
	})
	adminAddr := "off"
	if cfg.AdminAddr != "" {
		op, err := startOperator(cfg.AdminAddr, operatorDeps{metrics: met, srv: srv, reg: reg, checks: checks, top: topIndex}, logger)
		if err != nil {
			return err
		}
		defer op.stop()
		adminAddr = op.addr
	}
	// Internal publishers' system events; stopped before HTTP so that the
	// requests it has in hand still find the log and the actors.
	if err := sys.Start(nc); err != nil {
		return err
	}
	defer sys.Stop()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("ENGAGED_HTTP_ADDR: %w", err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	natsAddr := "in-process"
	if ns != nil && cfg.NATSListen != "" {
		natsAddr = ns.ClientURL()
	} else if cfg.NATSURL != "" {
		natsAddr = cfg.NATSURL
	}
	logger.Info("listening", "http", ln.Addr().String(), "admin", adminAddr, "nats", natsAddr, "partitions", cfg.Partitions, "sync", syncMode(cfg))

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("http: %w", err)
	}
	drain(srv, cfg.DrainDelay, logger)
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	sys.Stop()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	// The deferred calls stop the operator listener, consumers, then the
	// registry (final snapshots), then NATS and Postgres.
	return nil
}

// drain is the first step of a graceful stop: /readyz answers 503 at once, so
// that load balancers take this instance out, while every route keeps serving
// for delay (their health checks need a few periods to notice). Then
// Shutdown lets requests in flight finish; none is cut off.
func drain(srv *httpapi.Server, delay time.Duration, logger *slog.Logger) {
	srv.Drain()
	if delay <= 0 {
		return
	}
	logger.Info("draining: /readyz answers 503, requests are still served", "delay_ms", delay.Milliseconds())
	time.Sleep(delay)
}

// newLogger returns the process's logger: JSON unless ENGAGED_LOG_FORMAT
// says text or, with no setting, stderr is a terminal (a person reading).
func newLogger(cfg config.Config, stderr io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(stderr, opts))
}

// readiness checks what serving needs: NATS connected. Postgres is not
// part of it: while it is down, keys and items this instance has seen keep
// being ingested and read (docs/OPERATING-POSTGRES.md), so a load balancer
// must keep sending them here; the operator's /readyz shows it apart.
type readiness struct {
	nc    *nats.Conn
	store interface{ Ping(context.Context) error }
}

func (r readiness) ready(context.Context) error { return r.nats() }

func (r readiness) nats() error {
	if st := r.nc.Status(); st != nats.CONNECTED {
		return errors.New("nats " + st.String())
	}
	return nil
}

func syncMode(cfg config.Config) string {
	if cfg.SyncAlways {
		return "always"
	}
	return cfg.SyncInterval.String()
}

// rss returns the resident set size of this process, or 0 off Linux.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// topCacheTTL is how long an instance reuses a top-N answer
// (docs/RANKINGS.md): well under the snapshot interval's default, so the
// cache adds at most a second to the answer's age.
const topCacheTTL = time.Second
