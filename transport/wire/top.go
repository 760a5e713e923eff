package wire

import (
	"errors"
	"slices"
	"strconv"

	"github.com/engagedhq/engaged/actors"
)

// TopQuery decodes the query of GET /v1/projects/:projectId/top (and its
// stream) for project: kind and metric required, window 1h|24h|7d|30d
// (default 24h), limit 1..100 (default 10), minPlays ≥ 0 (rates only;
// default actors.DefaultMinPlays). Every bad field is named.
func TopQuery(project, kind, metric, window, limit, minPlays string) (actors.TopQuery, error) {
	q := actors.TopQuery{Project: project, Kind: kind, Window: window, Limit: actors.DefaultTopLimit, MinPlays: actors.DefaultMinPlays}
	is := &actors.Issues{FormErrors: []string{}}
	if kind != "render" && kind != "content" {
		is.Add("kind", `kind must be "render" or "content"`)
	}
	if window == "" {
		q.Window = actors.Window24h
	} else if !slices.Contains(actors.TopWindows, window) {
		is.Add("window", `window must be "1h", "24h", "7d" or "30d"`)
	}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > actors.MaxTopLimit {
			is.Add("limit", "limit must be an integer from 1 to 100")
		}
		q.Limit = n
	}
	if minPlays != "" {
		n, err := strconv.ParseInt(minPlays, 10, 64)
		if err != nil || n < 0 {
			is.Add("minPlays", "minPlays must be a non-negative integer")
		}
		q.MinPlays = n
	}
	if metric == "" {
		is.Add("metric", "metric is required")
	} else if kind == "render" || kind == "content" {
		m, err := actors.LookupRankMetric(kind, metric)
		var e *actors.Error
		if errors.As(err, &e) && e.Issues != nil {
			for _, msg := range e.Issues.FieldErrors["metric"] {
				is.Add("metric", msg)
			}
		}
		q.Metric = m
		if !m.Rate {
			q.MinPlays = 0 // counters ignore it: one cache entry per question
		}
	}
	if !is.Empty() {
		return actors.TopQuery{}, Invalid(is)
	}
	return q, nil
}
