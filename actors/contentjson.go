package actors

import (
	"errors"
	"math"
	"strconv"
)

// Hand-written JSON for the content family's live update, which an item
// encodes after its applied events (at the throttle's edges, updates.go).
// encoding/json there (reflection over the summary's nested structs, five
// maps to sort, three Times through MarshalJSON) was 7.6 % of all server CPU
// under SDK single-event load (scripts/bench.sh sdk-single, 1,000 content
// items), and building the LiveSeries it encoded (a slice per metric and
// bucket, two maps) came on top; appendLive reads the series instead.
// ContentSummary's and LiveSeries' structs and JSON tags stay the one
// definition of the wire shape: TestContentUpdateJSON, TestLiveSeriesJSON
// and FuzzContentUpdateJSON compare this encoder with encoding/json of
// contentUpdate over generated states, byte for byte.

// appendContentUpdate appends the live update of a content item: what
// json.Marshal writes for contentUpdate{seq, *sum, c.live(ContentMetrics)},
// for any sum whose floats are finite (see finite).
func appendContentUpdate(b []byte, seq uint64, sum *ContentSummary, c *components) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ',')
	b = sum.appendFields(b)
	b = c.appendLive(b, contentLiveKeys)
	return append(b, '}')
}

// updateJSONSize bounds the length of a content update of s unless a string
// needs escaping (then append grows the buffer), so the update is one
// allocation.
func (s *ContentSummary) updateJSONSize() int {
	return 1024 + len(s.ContentID) + countsJSONSize(s.CustomCounts) + countsJSONSize(s.SharesBy) +
		countsJSONSize(s.Errors.ByCode) + contentLiveKeys.size
}

// errNotFinite: an update with a NaN or infinite figure, which
// encoding/json refused to encode too.
var errNotFinite = errors.New("a figure is not finite")

// finite reports whether every float of s is finite. encoding/json refuses
// to encode NaN and ±Inf (the update failed); update refuses them the same
// way. The summary's figures are finite by construction (ratio).
func (s *ContentSummary) finite() bool {
	for _, f := range [...]*float64{s.CompletionRate, &s.WatchTime.Total, s.WatchTime.Average, s.StartupTime.Average, s.Rebuffer.Ratio, s.Rebuffer.Frequency} {
		if f != nil && (math.IsInf(*f, 0) || math.IsNaN(*f)) {
			return false
		}
	}
	return true
}

// appendFields appends s's fields without the braces around them: the
// fields of ContentSummary in declaration order, named by their JSON tags.
func (s *ContentSummary) appendFields(b []byte) []byte {
	b = append(b, `"contentId":`...)
	b = AppendJSONString(b, s.ContentID)
	c := &s.Counts
	b = append(b, `,"counts":{"impression":`...)
	b = strconv.AppendInt(b, c.Impression, 10)
	b = append(b, `,"playStart":`...)
	b = strconv.AppendInt(b, c.PlayStart, 10)
	b = append(b, `,"watchProgress":`...)
	b = strconv.AppendInt(b, c.WatchProgress, 10)
	b = append(b, `,"completion":`...)
	b = strconv.AppendInt(b, c.Completion, 10)
	b = append(b, `,"swipe":`...)
	b = strconv.AppendInt(b, c.Swipe, 10)
	b = append(b, `,"like":`...)
	b = strconv.AppendInt(b, c.Like, 10)
	b = append(b, `,"share":`...)
	b = strconv.AppendInt(b, c.Share, 10)
	b = append(b, `,"save":`...)
	b = strconv.AppendInt(b, c.Save, 10)
	b = append(b, `,"rebuffer":`...)
	b = strconv.AppendInt(b, c.Rebuffer, 10)
	b = append(b, `,"qualityChange":`...)
	b = strconv.AppendInt(b, c.QualityChange, 10)
	b = append(b, `,"error":`...)
	b = strconv.AppendInt(b, c.Error, 10)
	b = append(b, `},"customCounts":`...)
	b = appendJSONCounts(b, s.CustomCounts)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, s.Total, 10)
	b = append(b, `,"impressions":`...)
	b = strconv.AppendInt(b, s.Impressions, 10)
	b = append(b, `,"plays":`...)
	b = strconv.AppendInt(b, s.Plays, 10)
	b = append(b, `,"completions":`...)
	b = strconv.AppendInt(b, s.Completions, 10)
	b = append(b, `,"completionRate":`...)
	b = appendJSONFloatPtr(b, s.CompletionRate)
	b = append(b, `,"loops":`...)
	b = strconv.AppendInt(b, s.Loops, 10)
	b = append(b, `,"watchTime":{"total":`...)
	b = AppendJSONFloat(b, s.WatchTime.Total)
	b = append(b, `,"average":`...)
	b = appendJSONFloatPtr(b, s.WatchTime.Average)
	st := &s.StartupTime
	b = append(b, `},"startupTime":{"samples":`...)
	b = strconv.AppendInt(b, st.Samples, 10)
	b = append(b, `,"average":`...)
	b = appendJSONFloatPtr(b, st.Average)
	b = append(b, `,"p50":`...)
	b = appendJSONIntPtr(b, st.P50)
	b = append(b, `,"p95":`...)
	b = appendJSONIntPtr(b, st.P95)
	r := &s.Rebuffer
	b = append(b, `},"rebuffer":{"count":`...)
	b = strconv.AppendInt(b, r.Count, 10)
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, r.Time, 10)
	b = append(b, `,"ratio":`...)
	b = appendJSONFloatPtr(b, r.Ratio)
	b = append(b, `,"frequency":`...)
	b = appendJSONFloatPtr(b, r.Frequency)
	b = append(b, `},"qualityChanges":`...)
	b = strconv.AppendInt(b, s.QualityChanges, 10)
	b = append(b, `,"errors":{"total":`...)
	b = strconv.AppendInt(b, s.Errors.Total, 10)
	b = append(b, `,"byCode":`...)
	b = appendJSONCounts(b, s.Errors.ByCode)
	b = append(b, `},"likes":`...)
	b = strconv.AppendInt(b, s.Likes, 10)
	b = append(b, `,"shares":`...)
	b = strconv.AppendInt(b, s.Shares, 10)
	b = append(b, `,"sharesByPlatform":`...)
	b = appendJSONCounts(b, s.SharesBy)
	b = append(b, `,"saves":`...)
	b = strconv.AppendInt(b, s.Saves, 10)
	b = append(b, `,"swipes":{"in":`...)
	b = strconv.AppendInt(b, s.Swipes.In, 10)
	b = append(b, `,"out":`...)
	b = strconv.AppendInt(b, s.Swipes.Out, 10)
	b = append(b, `},"lastEventAt":`...)
	if s.LastEventAt == nil {
		b = append(b, "null"...)
	} else {
		b = s.LastEventAt.AppendJSON(b)
	}
	u := &s.Uniques
	b = append(b, `,"uniques":{"users":`...)
	b = strconv.AppendUint(b, u.Users, 10)
	b = append(b, `,"sessions":`...)
	b = strconv.AppendUint(b, u.Sessions, 10)
	b = append(b, `,"approximate":`...)
	b = strconv.AppendBool(b, u.Approximate)
	return append(b, '}')
}
