package actors

// rankings.go defines top-N per project (issue 20, docs/RANKINGS.md): which
// metrics rank, over which windows, and the answer's shape. persist's top
// index sums the series rows the snapshot rounds write (open hours, touched
// minutes, asof.go) and ranks them; this file only says what to sum and how
// to divide.

import (
	"slices"
	"time"
)

// The top-N windows: the 60 minute buckets up to and including the one
// holding the clock, and the 24, 168 and 720 hour buckets up to and
// including the one holding the clock.
const (
	Window7d  = "7d"
	Window30d = "30d"
)

// TopWindows are the windows of top-N, in the order the docs list them.
var TopWindows = []string{Window1h, Window24h, Window7d, Window30d}

// DefaultMinPlays is the plays a content needs in the window to be ranked
// by a rate, unless the query says minPlays: three plays and one like do
// not make the best content of a project.
const DefaultMinPlays = 10

// MaxTopLimit bounds limit; DefaultTopLimit is its default.
const (
	MaxTopLimit     = 100
	DefaultTopLimit = 10
)

// RankMetric is one rankable metric of a kind: a counter of the family's
// series (Index into RenderMetrics or ContentMetrics), or a content rate
// Num / Den over the window.
type RankMetric struct {
	Name  string
	Index int     // counters: the series metric summed
	Scale float64 // counters: the sum's unit (watchTime: ms to seconds)
	Rate  bool
	// Rates: Num / Den of the window's sums (series metric indexes), for
	// contents with at least minPlays plays; RebufferRatio divides seconds
	// by seconds and needs MinRebufferWatchTime watched, as everywhere.
	Num, Den      int
	RebufferRatio bool
}

// Plays is the series metric minPlays counts.
const RankPlays = cmPlays

// contentRates are the rankable content rates (docs/SIGNALS.md defines
// each); watchFraction and swipeAwayRate are null for every content today
// and are refused.
var contentRates = []RankMetric{
	{Name: "completionRate", Rate: true, Num: cmCompletions, Den: cmPlays},
	{Name: "rebufferRatio", Rate: true, Num: cmRebufferTime, Den: cmWatchTime, RebufferRatio: true},
	{Name: "likesPerPlay", Rate: true, Num: cmLikes, Den: cmPlays},
	{Name: "sharesPerPlay", Rate: true, Num: cmShares, Den: cmPlays},
	{Name: "savesPerPlay", Rate: true, Num: cmSaves, Den: cmPlays},
}

// RankMetrics returns the rankable metrics of kind ("render", "content"):
// every counter of its series, and for contents the rates.
func RankMetrics(kind string) []RankMetric {
	names, counters := RenderMetrics, renderSpec.Counters
	if kind == "content" {
		names, counters = ContentMetrics, contentSpec.Counters
	} else if kind != "render" {
		return nil
	}
	var out []RankMetric
	for i := range counters {
		m := RankMetric{Name: names[i], Index: i, Scale: 1}
		if kind == "content" && i == cmWatchTime {
			m.Scale = 0.001 // seconds, as the series read gives them
		}
		out = append(out, m)
	}
	if kind == "content" {
		out = append(out, contentRates...)
	}
	return out
}

// LookupRankMetric returns kind's metric name, or an EInvalid error naming
// the field metric that says why a known but unrankable metric is refused.
func LookupRankMetric(kind, name string) (RankMetric, error) {
	ms := RankMetrics(kind)
	if i := slices.IndexFunc(ms, func(m RankMetric) bool { return m.Name == name }); i >= 0 {
		return ms[i], nil
	}
	msg := "unknown metric for kind " + kind
	switch name {
	case "viewers", "users", "sessions":
		msg = name + " is a distinct count: per-bucket counts cannot be summed over a window (a person seen in two hours is one person)"
	case "watchFraction", "swipeAwayRate":
		msg = name + " is null for every content today (docs/SIGNALS.md): nothing to rank"
	}
	is := &Issues{}
	is.Add("metric", msg)
	return RankMetric{}, &Error{Code: EInvalid, Message: "invalid query parameters", Issues: is}
}

// TopQuery is one top-N question.
type TopQuery struct {
	Project  string
	Kind     string // "render" or "content"
	Metric   RankMetric
	Window   string // one of TopWindows
	Limit    int
	MinPlays int64 // rates only
}

// TopSpan returns the window's rows to sum at now: minute rows (minutes
// true) or hour rows of [from, to).
func TopSpan(window string, now time.Time) (from, to time.Time, minutes bool) {
	now = now.UTC()
	switch window {
	case Window1h:
		to = now.Truncate(time.Minute).Add(time.Minute)
		return to.Add(-60 * time.Minute), to, true
	case Window24h:
		to = now.Truncate(time.Hour).Add(time.Hour)
		return to.Add(-24 * time.Hour), to, false
	case Window7d:
		to = now.Truncate(time.Hour).Add(time.Hour)
		return to.Add(-168 * time.Hour), to, false
	default: // Window30d
		to = now.Truncate(time.Hour).Add(time.Hour)
		return to.Add(-720 * time.Hour), to, false
	}
}

// TopItem is one ranked item.
type TopItem struct {
	ID    string  `json:"id"`
	Value float64 `json:"value"`
}

// TopList is the answer of GET /v1/projects/:projectId/top: items by value
// descending, then id ascending (bytewise). AsOf: every event stored in the
// log before it is counted (nil until every partition has recorded one).
type TopList struct {
	Kind   string    `json:"kind"`
	Metric string    `json:"metric"`
	Window string    `json:"window"`
	AsOf   *Time     `json:"asOf"`
	Items  []TopItem `json:"items"`
}

// RankValue is what the ranking computes for one item from its window sums
// (indexed like the family's counters), and whether the item is ranked.
// persist's top index calls it once per item of a question, so m is a
// pointer: copying the struct was a sixth of a question's time.
func RankValue(m *RankMetric, sums []int64, minPlays int64) (float64, bool) {
	if !m.Rate {
		v := sums[m.Index]
		if v <= 0 {
			return 0, false
		}
		if m.Scale != 1 {
			return float64(v) / 1000, true
		}
		return float64(v), true
	}
	if sums[cmPlays] < minPlays {
		return 0, false
	}
	if m.RebufferRatio {
		r := rebufferRatio(float64(sums[m.Num])/1000, float64(sums[m.Den])/1000, 1)
		if r == nil {
			return 0, false
		}
		return *r, true
	}
	r := ratio(float64(sums[m.Num]), float64(sums[m.Den]))
	if r == nil {
		return 0, false
	}
	return *r, true
}
