package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on ENGAGED_PPROF_ADDR
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"engaged/actors"
	"engaged/config"
	"engaged/transport/httpapi"
	"engaged/transport/jetlog"
	"engaged/transport/live"
	"engaged/transport/sse"
	"engaged/transport/sysevents"
)

// shutdownTimeout bounds each shutdown step.
const shutdownTimeout = 15 * time.Second

// serve starts everything in dependency order (Postgres, NATS, the log, the
// actors, the partition consumers, HTTP), runs until ctx ends, and stops in
// reverse order: HTTP, consumers, actors (final snapshots), NATS, Postgres.
func serve(ctx context.Context, o options, args []string, lookupenv func(string) (string, bool), stderr io.Writer) error {
	cfg, err := config.Load(args, lookupenv, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

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
	nc, err := jetlog.Connect(cfg.NATSURL, ns, "engaged")
	if err != nil {
		return err
	}
	defer nc.Close()

	log, err := jetlog.OpenLog(ctx, nc, jetlog.LogOptions{
		Partitions: cfg.Partitions, MaxAge: cfg.StreamMaxAge, MaxBytes: cfg.StreamMaxBytes, Replicas: cfg.StreamReplicas,
	})
	if err != nil {
		return err
	}

	updates := live.NewUpdates(nc, logger)
	var sink actors.UpdateSink = updates
	if o.wrapUpdates != nil {
		sink = o.wrapUpdates(sink)
	}
	reg := actors.NewRegistry(actors.Options{
		Partitions: cfg.Partitions, MailboxSize: cfg.MailboxSize,
		SnapshotInterval: cfg.SnapshotInterval, IdleTimeout: cfg.IdleTimeout, MaxLive: cfg.MaxLiveItems, Logger: logger,
		Updates: sink, UpdateInterval: cfg.UpdateInterval,
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

	shares, err := shareOptions(cfg, store, logger)
	if err != nil {
		return err
	}
	sys := sysevents.New(sysevents.Options{
		MaxBytes: cfg.MaxBodyBytes, MaxMetadataBytes: cfg.MaxMetadataBytes,
		Timeout: cfg.RequestTimeout, Now: o.now, Logger: logger,
	}, store, reg)
	var engine httpapi.Engine = reg
	if o.wrapEngine != nil {
		engine = o.wrapEngine(engine)
	}
	srv := httpapi.NewServer(httpapi.Options{
		MaxBodyBytes: cfg.MaxBodyBytes, MaxMetadataBytes: cfg.MaxMetadataBytes, MaxHeaderBytes: cfg.MaxHeaderBytes,
		TrustedProxies: cfg.TrustedProxies, RequestTimeout: cfg.RequestTimeout,
		Ready: func(ctx context.Context) error {
			if nc.Status() != nats.CONNECTED {
				return errors.New("nats " + nc.Status().String())
			}
			return store.Ping(ctx)
		},
		Now:    o.now,
		Logger: logger,
		Shares: shares,
		Streams: sse.Options{
			Updates: updates, MaxStreams: cfg.SSEMaxStreams, MaxLifetime: cfg.SSEMaxLifetime,
			Heartbeat: cfg.SSEHeartbeat, MaxPerKey: cfg.SSEMaxStreamsKey,
		},
		SystemCounts: sys.Counts,
	}, store, engine)
	if cfg.PprofAddr != "" {
		stopPprof, err := servePprof(cfg.PprofAddr, reg, logger)
		if err != nil {
			return err
		}
		defer stopPprof()
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
	logger.Info("listening", "http", ln.Addr().String(), "nats", natsAddr, "partitions", cfg.Partitions, "sync", syncMode(cfg))

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("http: %w", err)
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	sys.Stop()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	// The deferred calls stop consumers, then the registry (final
	// snapshots), then NATS and Postgres.
	return nil
}

func syncMode(cfg config.Config) string {
	if cfg.SyncAlways {
		return "always"
	}
	return cfg.SyncInterval.String()
}

// servePprof serves net/http/pprof on its own listener, apart from the API,
// and /debug/stats: live actors, goroutines and memory, which the load
// tool's memory scenario reads (?gc=1 first returns freed memory to the OS).
func servePprof(addr string, reg *actors.Registry, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ENGAGED_PPROF_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/pprof/", http.DefaultServeMux)
	mux.HandleFunc("/debug/stats", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") == "1" {
			debug.FreeOSMemory()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"liveActors": reg.Live(), "goroutines": runtime.NumGoroutine(), "rssBytes": rss(),
			"heapInuseBytes": ms.HeapInuse, "stackInuseBytes": ms.StackInuse,
		})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("pprof", "err", err)
		}
	}()
	logger.Info("pprof", "addr", ln.Addr().String())
	return func() { srv.Close(); <-done }, nil
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
