package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/persist"
)

// seriesReader gives the HTTP edge the series rows in Postgres
// (httpapi.SeriesStore).
type seriesReader struct{ store *persist.Store }

func (r seriesReader) SeriesHours(ctx context.Context, key actors.ItemID, from, to time.Time) ([]actors.SeriesRow, error) {
	rows, err := r.store.SeriesHours(ctx, key, from, to)
	return convertRows(rows), err
}

func (r seriesReader) SeriesDays(ctx context.Context, key actors.ItemID, from, to time.Time, distinct int) ([]actors.SeriesRow, error) {
	rows, err := r.store.SeriesDays(ctx, key, from, to, distinct)
	return convertRows(rows), err
}

func convertRows(rows []persist.SeriesRow) []actors.SeriesRow {
	out := make([]actors.SeriesRow, len(rows))
	for i, r := range rows {
		out[i] = actors.SeriesRow(r)
	}
	return out
}

// seriesPruner is what the hourly pruning job needs (persist.Store).
type seriesPruner interface {
	PruneSeries(ctx context.Context, now time.Time, retention time.Duration, batch int) (int64, error)
	PruneVisitorSalts(ctx context.Context, now time.Time) (int64, error)
}

// seriesPruneInterval is how often each instance deletes series rows past
// retention and visitor salts older than yesterday (docs/SERIES.md); several
// instances doing it at once is harmless.
const seriesPruneInterval = time.Hour

// startSeriesPruning runs the pruning job once now and then every interval,
// on one goroutine owned by the returned stop, which waits for it to end.
func startSeriesPruning(store seriesPruner, retention, interval time.Duration, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			pruneSeries(ctx, store, retention, logger)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

func pruneSeries(ctx context.Context, store seriesPruner, retention time.Duration, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	now := time.Now()
	if n, err := store.PruneVisitorSalts(ctx, now); err != nil {
		logger.Warn("prune visitor salts", "err", err)
	} else if n > 0 {
		logger.Info("pruned visitor salts", "rows", n)
	}
	if n, err := store.PruneSeries(ctx, now, retention, 10_000); err != nil {
		logger.Warn("prune series", "err", err)
	} else if n > 0 {
		logger.Info("pruned series rows", "rows", n)
	}
}
