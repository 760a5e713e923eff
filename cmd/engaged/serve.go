package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"engaged/actors"
	"engaged/config"
	"engaged/persist"
	"engaged/transport"
)

// shutdownTimeout bounds each shutdown step.
const shutdownTimeout = 15 * time.Second

// serve starts everything in dependency order (Postgres, NATS, the log, the
// actors, the partition consumers, HTTP), runs until ctx ends, and stops in
// reverse order: HTTP, consumers, actors (final snapshots), NATS, Postgres.
func serve(ctx context.Context, args []string, lookupenv func(string) (string, bool), stderr io.Writer) error {
	cfg, err := config.Load(args, lookupenv, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	dbURL, err := cfg.ResolveDatabaseURL()
	if err != nil {
		return err
	}
	store, err := persist.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer store.Close()

	var ns *server.Server
	if cfg.NATSURL == "" {
		ns, err = transport.StartEmbedded(transport.EmbeddedOptions{
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
	nc, err := transport.Connect(cfg.NATSURL, ns, "engaged")
	if err != nil {
		return err
	}
	defer nc.Close()

	log, err := transport.OpenLog(ctx, nc, transport.LogOptions{
		Partitions: cfg.Partitions, MaxAge: cfg.StreamMaxAge, MaxBytes: cfg.StreamMaxBytes, Replicas: cfg.StreamReplicas,
	})
	if err != nil {
		return err
	}

	updates := transport.NewUpdates(nc, logger)
	reg := actors.NewRegistry(actors.Options{
		Partitions: cfg.Partitions, MailboxSize: cfg.MailboxSize,
		SnapshotInterval: cfg.SnapshotInterval, IdleTimeout: cfg.IdleTimeout, Logger: logger,
		Updates: updates, UpdateInterval: cfg.UpdateInterval,
	}, store, log)
	regCtx, stopReg := context.WithCancel(context.Background())
	regDone := make(chan error, 1)
	go func() { regDone <- reg.Run(regCtx, shutdownTimeout) }()
	defer func() { stopReg(); <-regDone }()

	cons, err := transport.StartConsumers(ctx, log, reg, transport.ConsumerOptions{
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

	srv := transport.NewServer(transport.HTTPOptions{
		MaxBodyBytes: cfg.MaxBodyBytes, MaxMetadataBytes: cfg.MaxMetadataBytes,
		TrustedProxies: cfg.TrustedProxies, RequestTimeout: cfg.RequestTimeout,
		Ready: func(ctx context.Context) error {
			if nc.Status() != nats.CONNECTED {
				return errors.New("nats " + nc.Status().String())
			}
			return store.Ping(ctx)
		},
		Logger: logger,
		Streams: transport.StreamOptions{
			Updates: updates, MaxStreams: cfg.SSEMaxStreams, MaxLifetime: cfg.SSEMaxLifetime,
			Heartbeat: cfg.SSEHeartbeat, Buffer: cfg.SSEBuffer,
		},
	}, store, reg, log)
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
