package main

import (
	"context"
	"log/slog"
	"time"
)

// pruneStore is what the hourly pruning job needs (persist.Store).
type pruneStore interface {
	PruneSeries(ctx context.Context, now time.Time, retention time.Duration, batch int) (int64, error)
	PruneVisitorSalts(ctx context.Context, now time.Time) (int64, error)
	PruneWebhookHistory(ctx context.Context, before time.Time, batch int) (int64, error)
}

// retention is how long the pruning job keeps each kind of row.
type retention struct {
	series   time.Duration // ENGAGED_SERIES_RETENTION_DAYS (docs/SERIES.md)
	webhooks time.Duration // ENGAGED_WEBHOOK_RETENTION_DAYS (docs/WEBHOOKS.md)
}

// pruneInterval is how often each instance deletes rows past retention and
// visitor salts older than yesterday; several instances doing it at once is
// harmless.
const pruneInterval = time.Hour

// startPruning runs the pruning job once now and then every interval, on
// one goroutine owned by the returned stop, which waits for it to end.
func startPruning(store pruneStore, keep retention, interval time.Duration, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			prune(ctx, store, keep, logger)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

func prune(ctx context.Context, store pruneStore, keep retention, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	now := time.Now()
	report := func(what string, n int64, err error) {
		if err != nil {
			logger.Warn("prune "+what, "err", err)
		} else if n > 0 {
			logger.Info("pruned "+what, "rows", n)
		}
	}
	n, err := store.PruneVisitorSalts(ctx, now)
	report("visitor salts", n, err)
	n, err = store.PruneSeries(ctx, now, keep.series, 10_000)
	report("series rows", n, err)
	n, err = store.PruneWebhookHistory(ctx, now.Add(-keep.webhooks), 10_000)
	report("webhook deliveries and attempts", n, err)
}
