package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// SeriesQuery selects one metric of an item over time (docs/SERIES.md); a
// zero field is left out of the query and takes the server's default
// (Interval "minute", To now, From 60 intervals before To). Metric is
// required.
type SeriesQuery struct {
	Metric   string // e.g. "viewed" (renders), "plays" (contents)
	Interval string // "minute", "hour" or "day"
	From, To time.Time
}

// values is q as a query string, zero fields left out.
func (q SeriesQuery) values() string {
	v := url.Values{}
	if q.Metric != "" {
		v.Set("metric", q.Metric)
	}
	if q.Interval != "" {
		v.Set("interval", q.Interval)
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339Nano))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Series is one metric of an item over time: Buckets ascending, contiguous
// and zero-filled over [From, To). Every bucket ending at or before
// CompleteThrough is final (nil before the item's first event); Late counts
// the item's events in its totals but in no bucket of this interval.
type Series struct {
	Metric          string         `json:"metric"`
	Interval        string         `json:"interval"`
	From            time.Time      `json:"from"`
	To              time.Time      `json:"to"`
	CompleteThrough *time.Time     `json:"completeThrough"`
	Late            int64          `json:"late"`
	Uniques         SeriesUniques  `json:"uniques"`
	Buckets         []SeriesBucket `json:"buckets"`
}

// SeriesBucket is one bucket: T its start (UTC), V the metric's value in it
// (watchTime in seconds, rebufferTime in ms).
type SeriesBucket struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// SeriesUniques is the item's all-time distinct counts: Viewers for a
// render, Users and Sessions for a content item (the others nil).
type SeriesUniques struct {
	Viewers     *int64 `json:"viewers,omitempty"`
	Users       *int64 `json:"users,omitempty"`
	Sessions    *int64 `json:"sessions,omitempty"`
	Approximate bool   `json:"approximate"`
}

// RenderSeries reads GET /v1/renders/:id/series (secret key).
func (c *Client) RenderSeries(ctx context.Context, renderID string, q SeriesQuery) (Series, error) {
	var s Series
	err := c.do(ctx, http.MethodGet, "/v1/renders/"+url.PathEscape(renderID)+"/series"+q.values(), nil, &s)
	return s, err
}

// ContentSeries reads GET /v1/contents/:id/series (secret key).
func (c *Client) ContentSeries(ctx context.Context, contentID string, q SeriesQuery) (Series, error) {
	var env struct {
		Data Series `json:"data"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/contents/"+url.PathEscape(contentID)+"/series"+q.values(), nil, &env)
	return env.Data, err
}
