package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// The log retention sweep (docs/OPERATING.md, "Log retention"; issue 18):
// the service, not JetStream's age limit, removes old log messages, and
// only once a snapshot of their item covers them. Every sweep reads the log
// from its start to the first message younger than the retention, and for
// each item met there makes sure its snapshot covers its newest old message
// (activating the item and writing its snapshot when not: an item never
// activated since an ownership move or a restart has no newer one), then
// purges the item's subject through that message. JetStream's own
// ENGAGED_STREAM_MAX_AGE stays as a safety net at twice the retention or
// more, for a sweep that cannot run (Postgres down for days).

// retentionLog is what the sweep needs of the event log (jetlog.Log).
type retentionLog interface {
	OlderThan(ctx context.Context, before time.Time) (map[actors.ItemID]uint64, error)
	Purge(ctx context.Context, k actors.ItemID, through uint64) error
}

// sweepInterval is how often the sweep runs for a retention: an eighth of
// it, from a second to ten minutes, so a message outlives the retention by
// at most that much more.
func sweepInterval(retention time.Duration) time.Duration {
	return min(max(retention/8, time.Second), 10*time.Minute)
}

// startRetention runs the sweep every sweepInterval on one goroutine owned
// by the returned stop, which waits for it to end.
// recentMaxAge (0: none) bounds recent events' age (ENGAGED_RECENT_MAX_AGE).
func startRetention(log retentionLog, persist func(ctx context.Context, k actors.ItemID, through uint64, e *actors.Erasure) (uint64, error),
	retention, recentMaxAge time.Duration, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(sweepInterval(retention))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := time.Now()
			var recent *actors.Erasure
			if recentMaxAge > 0 {
				recent = &actors.Erasure{RecentBefore: now.Add(-recentMaxAge)}
			}
			sweep(ctx, log, persist, now.Add(-retention), recent, logger)
		}
	}()
	return func() { cancel(); <-done }
}

// sweep removes the messages stored before before whose item's snapshot
// covers them, writing that snapshot first where needed; recent (nil:
// none) drops old recent events in the same step. An item whose
// snapshot cannot be written now (its partition is being claimed, Postgres
// is down) keeps its messages until a later sweep.
func sweep(ctx context.Context, log retentionLog, persist func(ctx context.Context, k actors.ItemID, through uint64, e *actors.Erasure) (uint64, error),
	before time.Time, recent *actors.Erasure, logger *slog.Logger) (purged int) {
	old, err := log.OlderThan(ctx, before)
	if err != nil {
		if ctx.Err() == nil {
			logger.Warn("retention sweep: read the log", "err", err)
		}
		return 0
	}
	kept := 0
	for k, through := range old {
		if ctx.Err() != nil {
			return purged
		}
		seq, err := persist(ctx, k, through, recent)
		if err != nil || seq < through {
			kept++
			continue
		}
		if err := log.Purge(ctx, k, through); err != nil {
			logger.Warn("retention sweep: purge", "item", k.String(), "err", err)
			kept++
			continue
		}
		purged++
	}
	if purged+kept > 0 {
		logger.Info("retention sweep", "items_purged", purged, "items_kept", kept)
	}
	return purged
}
