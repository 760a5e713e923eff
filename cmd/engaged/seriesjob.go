package main

import (
	"context"
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
