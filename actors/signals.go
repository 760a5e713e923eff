package actors

// signals.go derives a content's ranking signals (issue 20 item 2) from its
// figures: GET /v1/contents/:id/signals, and later the rankable metrics of
// top-N. docs/SIGNALS.md defines each.

// SwipeAwaySeconds is the watch time under which a swipe out of a content
// counts as a swipe away: the viewer left before 3 seconds.
const SwipeAwaySeconds = 3.0

// WindowAll is the one window the signals have until the contents' series
// are wired (issue 19): every event since the content's first.
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
