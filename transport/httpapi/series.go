package httpapi

// series.go serves GET /v1/renders/:id/series and GET /v1/contents/:id/series
// (issue 19, docs/SERIES.md): one metric of an item over time, minute buckets
// from the actor's memory, hour buckets from memory for the last 48 hours and
// from Postgres before, day buckets from both.

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// SeriesStore reads the closed hours and days of an item's series that the
// snapshot rounds wrote (persist.Store).
type SeriesStore interface {
	SeriesHours(ctx context.Context, key actors.ItemID, from, to time.Time) ([]actors.SeriesRow, error)
	SeriesDays(ctx context.Context, key actors.ItemID, from, to time.Time, distinct int) ([]actors.SeriesRow, error)
}

// MaxSeriesBuckets bounds one series answer; a longer range is 400.
const MaxSeriesBuckets = 1500

// seriesAnswer is the body of a series read (in {"data","meta"} for contents).
type seriesAnswer struct {
	Metric          string         `json:"metric"`
	Interval        string         `json:"interval"`
	From            actors.Time    `json:"from"`
	To              actors.Time    `json:"to"`
	CompleteThrough *actors.Time   `json:"completeThrough"`
	Late            int64          `json:"late"`
	Uniques         any            `json:"uniques"`
	Buckets         []seriesBucket `json:"buckets"`
}

type seriesBucket struct {
	T actors.Time `json:"t"`
	V float64     `json:"v"`
}

// MarshalJSON encodes a as encoding/json would from its tags, by hand: a
// series read at 100k items spent a sixth of the server's CPU in
// encoding/json on the buckets (reflection, and each Time's MarshalJSON
// output checked and compacted again). TestSeriesAnswerJSON compares the two.
func (a *seriesAnswer) MarshalJSON() ([]byte, error) {
	uniques, err := json.Marshal(a.Uniques) // one small object of the family's
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 160+len(uniques)+len(a.Buckets)*48)
	b = append(b, `{"metric":`...)
	b = actors.AppendJSONString(b, a.Metric)
	b = append(b, `,"interval":`...)
	b = actors.AppendJSONString(b, a.Interval)
	b = append(b, `,"from":`...)
	b = a.From.AppendJSON(b)
	b = append(b, `,"to":`...)
	b = a.To.AppendJSON(b)
	b = append(b, `,"completeThrough":`...)
	if a.CompleteThrough == nil {
		b = append(b, "null"...)
	} else {
		b = a.CompleteThrough.AppendJSON(b)
	}
	b = append(b, `,"late":`...)
	b = strconv.AppendInt(b, a.Late, 10)
	b = append(b, `,"uniques":`...)
	b = append(b, uniques...)
	b = append(b, `,"buckets":`...)
	if a.Buckets == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, k := range a.Buckets {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"t":`...)
			b = k.T.AppendJSON(b)
			b = append(b, `,"v":`...)
			b = actors.AppendJSONFloat(b, k.V)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

var seriesSteps = map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}

// seriesQuery is a parsed and checked query: [from, to) aligned to step.
type seriesQuery struct {
	metric   int
	name     string
	interval string
	step     time.Duration
	from, to time.Time
}

func (s *Server) parseSeries(c *fiber.Ctx, metrics []string) (seriesQuery, error) {
	is := &actors.Issues{FormErrors: []string{}, FieldErrors: map[string][]string{}}
	q := seriesQuery{interval: c.Query("interval", "minute"), name: c.Query("metric")}
	q.metric = slices.Index(metrics, q.name)
	if q.metric < 0 {
		is.Add("metric", "one of the item kind's metrics is required (see the document)")
	}
	step, ok := seriesSteps[q.interval]
	if !ok {
		is.Add("interval", "must be minute, hour or day")
		step = time.Minute
	}
	q.step = step
	parse := func(field string, def time.Time) time.Time {
		v := c.Query(field)
		if v == "" {
			return def
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			is.Add(field, "must be an RFC 3339 time")
			return def
		}
		return t
	}
	q.to = parse("to", s.now())
	q.from = parse("from", time.Time{})
	if is.Empty() {
		// to is rounded up to a bucket boundary, so the bucket holding it is
		// the newest; by default from is 60 buckets before.
		after := !q.from.IsZero() && q.from.After(q.to)
		q.to = floorTime(q.to.Add(step-time.Millisecond), step)
		if q.from.IsZero() {
			q.from = q.to.Add(-60 * step)
		}
		q.from = floorTime(q.from, step)
		switch {
		case after:
			is.Add("from", "must not be after to")
		case q.to.Sub(q.from)/step > MaxSeriesBuckets:
			is.FormErrors = append(is.FormErrors, "the range holds more than 1500 buckets")
		}
	}
	if !is.Empty() {
		return q, &actors.Error{Code: actors.EInvalid, Message: "invalid series query", Issues: is}
	}
	return q, nil
}

// floorTime is t floored to a multiple of step since the Unix epoch (UTC
// days for a day step).
func floorTime(t time.Time, step time.Duration) time.Time {
	ms, w := t.UnixMilli(), step.Milliseconds()
	q := ms / w
	if ms%w != 0 && ms < 0 {
		q--
	}
	return time.UnixMilli(q * w).UTC()
}

// getRenderSeries serves GET /v1/renders/:id/series, unwrapped like the
// render engagement read.
func (s *Server) getRenderSeries(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.render(ctx, c)
	if err != nil {
		return err
	}
	ans, err := s.series(ctx, c, k, actors.RenderItem, actors.RenderMetrics, 1)
	if err != nil {
		return err
	}
	b, err := ans.MarshalJSON()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// getContentSeries serves GET /v1/contents/:id/series in {"data","meta"}.
func (s *Server) getContentSeries(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.content(ctx, c)
	if err != nil {
		return err
	}
	ans, err := s.series(ctx, c, k, actors.ContentItem, actors.ContentMetrics, 2)
	if err != nil {
		return err
	}
	return s.ok(c, fiber.StatusOK, ans)
}

// series answers a series query of item k: the actor's memory first, then
// Postgres's rows for the hours before the memory's window.
func (s *Server) series(ctx context.Context, c *fiber.Ctx, k actors.ItemID, kind string, metrics []string, distinct int) (*seriesAnswer, error) {
	q, err := s.parseSeries(c, metrics)
	if err != nil {
		return nil, err
	}
	fromMs, toMs := q.from.UnixMilli(), q.to.UnixMilli()
	hour := q.interval != "minute"
	rd, err := s.engine.ReadSeries(ctx, k, kind, q.metric, hour, fromMs, toMs)
	if err == actors.ErrSeriesBeforeWindow {
		is := &actors.Issues{FormErrors: []string{}, FieldErrors: map[string][]string{}}
		is.Add("from", "minute buckets are kept for the 128 minutes up to the item's newest event; ask for hours")
		return nil, &actors.Error{Code: actors.EInvalid, Message: "invalid series query", Issues: is}
	}
	if err != nil {
		return nil, err
	}
	n := int(q.to.Sub(q.from) / q.step)
	vals := make([]int64, n)
	stepMs := q.step.Milliseconds()
	add := func(t, v int64) {
		if i := (t - fromMs) / stepMs; t >= fromMs && i < int64(n) {
			vals[i] += v
		}
	}
	isDistinct := q.metric >= len(metrics)-distinct
	for _, b := range rd.Buckets {
		if !(q.interval == "day" && isDistinct) { // a distinct day is not the sum of its hours
			add(b.T, b.V)
		}
	}
	if hour && fromMs < rd.Start && rd.Start != math.MinInt64 && s.opts.Series != nil && !(q.interval == "day" && isDistinct) {
		// Hours before the memory's window: Postgres's rows, replaced by
		// the hours the item holds but has not written yet. A day's
		// counters are the sum of its hours.
		end := min(toMs, rd.Start)
		rows, err := s.opts.Series.SeriesHours(ctx, k, q.from, time.UnixMilli(end))
		if err != nil {
			return nil, err
		}
		byHour := map[int64]int64{}
		for _, r := range rows {
			if q.metric < len(r.Values) {
				byHour[r.Hour.UnixMilli()] = r.Values[q.metric]
			}
		}
		for _, r := range rd.Pending {
			if r.Hour >= fromMs && r.Hour < end {
				byHour[r.Hour] = r.Values[q.metric]
			}
		}
		for t, v := range byHour {
			add(t, v)
		}
	}
	if q.interval == "day" && isDistinct {
		// The clock's day and the day before from memory; older days from
		// the day rows.
		inMemory := map[int64]bool{}
		for _, d := range rd.Days {
			if rd.Start != math.MinInt64 && d.T != 0 {
				add(d.T, d.V)
				inMemory[d.T] = true
			}
		}
		if s.opts.Series != nil && rd.Start != math.MinInt64 {
			rows, err := s.opts.Series.SeriesDays(ctx, k, q.from, q.to, distinct)
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				// Distinct values are a row's last ones (a day with a day
				// row and no hour rows holds only those).
				j := len(r.Values) - (len(metrics) - q.metric)
				if t := r.Hour.UnixMilli(); !inMemory[t] && j >= 0 {
					add(t, r.Values[j])
				}
			}
		}
	}
	ans := &seriesAnswer{
		Metric: q.name, Interval: q.interval, From: actors.NewTime(q.from), To: actors.NewTime(q.to),
		Late: rd.LateHour, Uniques: rd.Uniques, Buckets: make([]seriesBucket, n),
	}
	if q.interval == "minute" {
		ans.Late = rd.LateMinute
	}
	if rd.HasComplete {
		t := actors.NewTime(time.UnixMilli(rd.CompleteThrough))
		ans.CompleteThrough = &t
	}
	seconds := kind == actors.ContentItem && q.name == "watchTime"
	for i := range ans.Buckets {
		ans.Buckets[i].T = actors.NewTime(q.from.Add(time.Duration(i) * q.step))
		v := float64(vals[i])
		if seconds {
			v /= 1000
		}
		ans.Buckets[i].V = v
	}
	return ans, nil
}
