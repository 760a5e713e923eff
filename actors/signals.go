package actors

// signals.go derives a content's ranking signals (issue 20 item 2) from its
// figures: GET /v1/contents/:id/signals, and later the rankable metrics of
// top-N. docs/SIGNALS.md defines each.

import (
	"context"

	"github.com/engagedhq/engaged/actors/series"
)

// SwipeAwaySeconds is the watch time under which a swipe out of a content
// counts as a swipe away: the viewer left before 3 seconds.
const SwipeAwaySeconds = 3.0

// WindowAll is every event since the content's first (the summary's
// figures).
const WindowAll = "all"

// ContentSignals is the body of GET /v1/contents/:id/signals. A figure
// without a denominator, or that the events cannot give, is null.
type ContentSignals struct {
	ContentID      string   `json:"contentId"`
	Window         string   `json:"window"`
	Plays          int64    `json:"plays"`
	CompletionRate *float64 `json:"completionRate"` // completions / plays
	// WatchFraction is the average of watch time / duration. null: the
	// log does not keep a duration (watchProgress.data.duration stays in
	// the raw data, and completion and swipe carry none).
	WatchFraction *float64 `json:"watchFraction"`
	RebufferRatio *float64 `json:"rebufferRatio"` // stall time / watch time, as in the engagement read
	LikesPerPlay  *float64 `json:"likesPerPlay"`
	SharesPerPlay *float64 `json:"sharesPerPlay"`
	SavesPerPlay  *float64 `json:"savesPerPlay"`
	// SwipeAwayRate is swipes out with a watch time under
	// SwipeAwaySeconds, per play. null: the content's state counts swipes
	// out but not by watch time yet (it needs a new version of the content
	// snapshot section).
	SwipeAwayRate *float64 `json:"swipeAwayRate"`
}

// Signals returns the signals of a content with figures sum over window.
func Signals(sum *ContentSummary, window string) ContentSignals {
	plays := float64(sum.Plays)
	return ContentSignals{
		ContentID:      sum.ContentID,
		Window:         window,
		Plays:          sum.Plays,
		CompletionRate: sum.CompletionRate,
		RebufferRatio:  sum.Rebuffer.Ratio,
		LikesPerPlay:   ratio(float64(sum.Likes), plays),
		SharesPerPlay:  ratio(float64(sum.Shares), plays),
		SavesPerPlay:   ratio(float64(sum.Saves), plays),
	}
}

// The windows the contents' in-memory series can answer: the 60 minute
// buckets up to and including the one holding now, and the 24 hour buckets
// up to and including the one holding now. 7d and 30d need the hours in
// Postgres and are not served yet.
const (
	Window1h  = "1h"
	Window24h = "24h"
)

// WindowFigures are a content's figures summed over a window's buckets.
type WindowFigures struct {
	Plays, Completions, Likes, Shares, Saves int64
	WatchMS, RebufferMS                      int64
}

// windowMetrics are the series metrics WindowFigures sums, in its order.
var windowMetrics = [...]int{cmPlays, cmCompletions, cmLikes, cmShares, cmSaves, cmWatchTime, cmRebufferTime}

// ContentWindow sums content k's figures over window (Window1h or
// Window24h) ending at nowMs (the wall clock: a window is "the last hour",
// not the last hour of the item's events), from its actor's memory in one
// read. Buckets older than the memory's window are not counted; the memory
// holds 128 minutes and 49 hours up to the item's newest event, so that
// happens only for an item whose newest event lies ahead of nowMs.
func (r *Registry) ContentWindow(ctx context.Context, k ItemID, window string, nowMs int64) (WindowFigures, error) {
	g, step, n := series.Minute, int64(60_000), int64(60)
	switch window {
	case Window1h:
	case Window24h:
		g, step, n = series.Hour, 3_600_000, 24
	default:
		return WindowFigures{}, &Error{Code: EInvalid, Message: "unknown signals window " + window}
	}
	to := (nowMs/step + 1) * step // exclusive: the bucket holding now is the newest
	from := to - n*step
	return ask(ctx, r, k, func(st *itemState, _ ItemID, _ uint64) (WindowFigures, error) {
		var sums [len(windowMetrics)]int64
		cs, _ := st.fams[famContent].(*contentState)
		if cs == nil || cs.comps().ser == nil || cs.comps().ser.Clock() < 0 {
			return WindowFigures{}, nil
		}
		ser := cs.comps().ser
		lo := max(from, ser.Start(g))
		if lo >= to {
			return WindowFigures{}, nil
		}
		for i, m := range windowMetrics {
			bs, err := ser.Buckets(g, m, lo, to)
			if err != nil {
				return WindowFigures{}, err
			}
			for _, b := range bs {
				sums[i] += b.V
			}
		}
		return WindowFigures{Plays: sums[0], Completions: sums[1], Likes: sums[2], Shares: sums[3], Saves: sums[4],
			WatchMS: sums[5], RebufferMS: sums[6]}, nil
	})
}

// WindowSignals returns the signals of content contentID from its figures
// f over window, defined as Signals defines them over all events.
func WindowSignals(contentID, window string, f WindowFigures) ContentSignals {
	plays := float64(f.Plays)
	return ContentSignals{
		ContentID:      contentID,
		Window:         window,
		Plays:          f.Plays,
		CompletionRate: ratio(float64(f.Completions), plays),
		RebufferRatio:  rebufferRatio(float64(f.RebufferMS)/1000, float64(f.WatchMS)/1000, 1),
		LikesPerPlay:   ratio(float64(f.Likes), plays),
		SharesPerPlay:  ratio(float64(f.Shares), plays),
		SavesPerPlay:   ratio(float64(f.Saves), plays),
	}
}
