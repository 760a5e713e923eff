package actors

import (
	"encoding/json"
	"math"
	"math/bits"
	"slices"
	"sort"

	"github.com/engagedhq/engaged/actors/uniques"
)

// ContentEventType is the type of an SDK event: one of the eleven the API documents
// (ContentEventTypes), or a custom type "custom_<name>".
type ContentEventType string

// The eleven documented SDK event types, in the order the summary lists them.
const (
	Impression    ContentEventType = "impression"
	PlayStart     ContentEventType = "playStart"
	WatchProgress ContentEventType = "watchProgress"
	Completion    ContentEventType = "completion"
	Swipe         ContentEventType = "swipe"
	Like          ContentEventType = "like"
	SocialShare   ContentEventType = "share" // not Share: that is a render share link (shares.go)
	Save          ContentEventType = "save"
	Rebuffer      ContentEventType = "rebuffer"
	QualityChange ContentEventType = "qualityChange"
	PlaybackError ContentEventType = "error"
)

// ContentEventTypes lists the documented types; a type's position is its counter.
var ContentEventTypes = [...]ContentEventType{Impression, PlayStart, WatchProgress, Completion, Swipe, Like, SocialShare, Save, Rebuffer, QualityChange, PlaybackError}

func (t ContentEventType) index() int {
	for i, v := range ContentEventTypes {
		if v == t {
			return i
		}
	}
	return -1
}

// CustomPrefix marks custom event types (the SDK's trackEvent, e.g.
// "custom_action"). They need only a contentId and are counted per type.
const CustomPrefix = "custom_"

// Custom reports whether t is a well-formed custom type: CustomPrefix and
// 1 to 57 more characters of [A-Za-z0-9_], 64 in all.
func (t ContentEventType) Custom() bool {
	s := string(t)
	if len(s) <= len(CustomPrefix) || len(s) > MaxIDLen || s[:len(CustomPrefix)] != CustomPrefix {
		return false
	}
	for i := len(CustomPrefix); i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Valid reports whether t is documented or custom.
func (t ContentEventType) Valid() bool { return t.index() >= 0 || t.Custom() }

// RoleSwipeOut marks the copy of a swipe that goes to the item swiped away
// from. A swipe concerns two items, and each item's figures are owned by its
// own actor, so the edge publishes the swipe to both: the event itself to its
// contentId (the item swiped to, which counts it and a swipe in), and this
// copy to fromContentId (which counts a swipe out and the time watched there).
const RoleSwipeOut = "out"

// ContentEvent is one SDK event as it is stored in the log. The edge validated
// it and decoded the figures the aggregates need, so the actor never parses
// Data; Data stays in the log, compacted, for read models built later.
// Times are Unix milliseconds, stamped or checked by the server, so a replay
// makes the same decisions.
type ContentEvent struct {
	ID        string           `json:"id"`              // eventId: the client's, or evt_<UUIDv7>
	Type      ContentEventType `json:"type"`            // a documented or custom type
	Role      string           `json:"role,omitempty"`  // "", or RoleSwipeOut on the swipe's copy for the item left
	Other     string           `json:"other,omitempty"` // swipe: the other item (from on the event, to on the copy)
	UserID    string           `json:"userId,omitempty"`
	DeviceID  string           `json:"deviceId,omitempty"`
	SessionID string           `json:"sessionId,omitempty"`
	At        int64            `json:"at"`   // event time after skew correction and clamping
	Recv      int64            `json:"recv"` // when the server received it: the dedupe clock
	Data      json.RawMessage  `json:"data,omitempty"`

	StartupMS int64   `json:"startupMs,omitempty"` // playStart.startupTime
	WatchTime float64 `json:"watchTime,omitempty"` // seconds: completion.watchTime, swipe.watchTime
	StallMS   int64   `json:"stallMs,omitempty"`   // rebuffer.duration
	Loops     int64   `json:"loops,omitempty"`     // completion.loopCount
	Code      string  `json:"code,omitempty"`      // error.errorCode, share.platform
}

// Bounds of the per-item maps; past them further keys are counted under
// OtherKey, so one client cannot grow an item without limit.
const (
	MaxCustomTypes = 64
	MaxErrorCodes  = 64
	MaxPlatforms   = 32
	OtherKey       = "(other)"
)

// ContentCounts has one counter per documented type, always all eleven keys.
type ContentCounts struct {
	Impression    int64 `json:"impression"`
	PlayStart     int64 `json:"playStart"`
	WatchProgress int64 `json:"watchProgress"`
	Completion    int64 `json:"completion"`
	Swipe         int64 `json:"swipe"`
	Like          int64 `json:"like"`
	Share         int64 `json:"share"`
	Save          int64 `json:"save"`
	Rebuffer      int64 `json:"rebuffer"`
	QualityChange int64 `json:"qualityChange"`
	Error         int64 `json:"error"`
}

func (c *ContentCounts) field(i int) *int64 {
	return [...]*int64{&c.Impression, &c.PlayStart, &c.WatchProgress, &c.Completion, &c.Swipe, &c.Like,
		&c.Share, &c.Save, &c.Rebuffer, &c.QualityChange, &c.Error}[i]
}

// ContentSummary is the body of GET /v1/contents/:id/engagement. Every figure
// is defined in the README ("SDK events"). A ratio or average without a
// denominator is null.
type ContentSummary struct {
	ContentID      string           `json:"contentId"`
	Counts         ContentCounts    `json:"counts"`
	CustomCounts   map[string]int64 `json:"customCounts"`
	Total          int64            `json:"total"`
	Impressions    int64            `json:"impressions"`
	Plays          int64            `json:"plays"`
	Completions    int64            `json:"completions"`
	CompletionRate *float64         `json:"completionRate"`
	Loops          int64            `json:"loops"`
	WatchTime      WatchTimeFigures `json:"watchTime"`
	StartupTime    StartupFigures   `json:"startupTime"`
	Rebuffer       RebufferFigures  `json:"rebuffer"`
	QualityChanges int64            `json:"qualityChanges"`
	Errors         ErrorFigures     `json:"errors"`
	Likes          int64            `json:"likes"`
	Shares         int64            `json:"shares"`
	SharesBy       map[string]int64 `json:"sharesByPlatform"`
	Saves          int64            `json:"saves"`
	Swipes         SwipeFigures     `json:"swipes"`
	LastEventAt    *Time            `json:"lastEventAt"`
	Uniques        ContentUniques   `json:"uniques"`
}

// WatchTimeFigures are in seconds.
type WatchTimeFigures struct {
	Total   float64  `json:"total"`
	Average *float64 `json:"average"`
}

// StartupFigures are in milliseconds.
type StartupFigures struct {
	Samples int64    `json:"samples"`
	Average *float64 `json:"average"`
	P50     *int64   `json:"p50"`
	P95     *int64   `json:"p95"`
}

// RebufferFigures: Time in milliseconds, Ratio a fraction of watch time,
// Frequency stalls per minute watched.
type RebufferFigures struct {
	Count     int64    `json:"count"`
	Time      int64    `json:"time"`
	Ratio     *float64 `json:"ratio"`
	Frequency *float64 `json:"frequency"`
}

// ErrorFigures counts playback errors, by errorCode.
type ErrorFigures struct {
	Total  int64            `json:"total"`
	ByCode map[string]int64 `json:"byCode"`
}

// SwipeFigures: In counts swipes that arrived at the item, Out swipes that
// left it.
type SwipeFigures struct {
	In  int64 `json:"in"`
	Out int64 `json:"out"`
}

// contentState is the SDK half of an item's state. Only its actor touches it.
type contentState struct {
	counts     ContentCounts
	custom     map[string]int64
	total      int64
	loops      int64
	watchTime  float64 // seconds, completions plus swipes out
	startup    logHist // ms
	startupSum int64   // ms
	stallMS    int64
	errors     map[string]int64
	platforms  map[string]int64
	swipesOut  int64
	lastAt     int64 // newest event time counted, unix ms; 0 = none
	dedupe     *idDedupe
	// c is the item's series (ContentMetrics) and its all-time users and
	// sessions (familyseries.go); events are filed at their corrected At.
	c components
}

func newContentState() *contentState {
	return &contentState{custom: map[string]int64{}, errors: map[string]int64{}, platforms: map[string]int64{}, dedupe: newIDDedupe(ContentDedupeCapacity), c: newComponents(contentSpec)}
}

func (s *contentState) comps() *components { return &s.c }

// file adds a counted event to the series and the distinct sketches.
func (s *contentState) file(ev *ContentEvent, i int) {
	sl, filed := s.c.at(ev.At, s.dedupe.maxRecv, ContentLateness)
	switch {
	case !filed:
	case ev.Role == RoleSwipeOut:
		sl.Add(cmSwipesOut, 1)
		sl.Add(cmWatchTime, msOf(ev.WatchTime))
	default:
		sl.Add(cmTotal, 1)
		if i >= 0 {
			sl.Add(contentTypeMetric[i], 1)
		}
		switch ev.Type {
		case Completion:
			sl.Add(cmWatchTime, msOf(ev.WatchTime))
			sl.Add(cmLoops, ev.Loops)
		case Rebuffer:
			sl.Add(cmRebufferTime, ev.StallMS)
		}
	}
	user := ev.UserID
	if user == "" {
		user = ev.DeviceID
	}
	if user != "" {
		s.c.key(sl, filed, 0, uniques.Hash(user))
	}
	if ev.SessionID != "" {
		s.c.key(sl, filed, 1, uniques.Hash(ev.SessionID))
	}
}

// apply counts ev unless its eventId was seen on this item before, and
// reports whether it counted. A type this version does not know (a foreign
// message) is ignored and not remembered. The decision depends only on the
// log: the event's id, its server-stamped Recv, and what came before it.
func (s *contentState) apply(ev *ContentEvent) bool {
	i := ev.Type.index()
	if i < 0 && !ev.Type.Custom() {
		return false
	}
	if ev.Role != "" && (ev.Role != RoleSwipeOut || ev.Type != Swipe) {
		return false
	}
	if s.dedupe.seen(ev.ID, ev.Recv) {
		return false
	}
	if ev.At > s.lastAt {
		s.lastAt = ev.At
	}
	s.file(ev, i)
	if ev.Role == RoleSwipeOut {
		s.swipesOut++
		s.watchTime += ev.WatchTime
		return true
	}
	s.total++
	if i < 0 {
		bump(s.custom, string(ev.Type), MaxCustomTypes)
		return true
	}
	*s.counts.field(i)++
	switch ev.Type {
	case PlayStart:
		s.startup.add(ev.StartupMS)
		s.startupSum += ev.StartupMS
	case Completion:
		s.watchTime += ev.WatchTime
		s.loops += ev.Loops
	case Rebuffer:
		s.stallMS += ev.StallMS
	case PlaybackError:
		bump(s.errors, ev.Code, MaxErrorCodes)
	case SocialShare:
		bump(s.platforms, ev.Code, MaxPlatforms)
	}
	return true
}

// bump counts key in m, or under OtherKey once m holds limit other keys.
func bump(m map[string]int64, key string, limit int) {
	if _, ok := m[key]; !ok {
		n := len(m)
		if _, has := m[OtherKey]; has {
			n--
		}
		if n >= limit {
			key = OtherKey
		}
	}
	m[key]++
}

// MinRebufferWatchTime is the watch time (seconds) below which the rebuffer
// ratio and frequency are null. Both divide by watch time, and a watch time
// is any number from 0 to 86,400, so a completion with watchTime 5e-324 and a
// long rebuffer made the ratio +Inf, which JSON cannot carry (the read and
// every live update of the item failed). Under a second of watching there is
// nothing meaningful to say about stalls per second or per minute; from a
// second on, both stay far inside float64's range.
const MinRebufferWatchTime = 1.0

// ratio is num/den, or nil without a denominator. It is also nil for a
// result that is not finite: no figure may be +Inf or NaN, because the
// summary must always marshal.
func ratio(num, den float64) *float64 {
	if den <= 0 {
		return nil
	}
	v := num / den
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

// rebufferRatio is ratio for the figures that divide by watch time: nil
// below MinRebufferWatchTime.
func rebufferRatio(num, watchTime, unit float64) *float64 {
	if watchTime < MinRebufferWatchTime {
		return nil
	}
	return ratio(num, watchTime/unit)
}

// summary returns the item's figures as of now; its maps are copies, so
// the caller may keep it.
func (s *contentState) summary(contentID string) ContentSummary {
	out := s.figures(contentID)
	out.CustomCounts, out.Errors.ByCode, out.SharesBy = cloneCounts(s.custom), cloneCounts(s.errors), cloneCounts(s.platforms)
	return out
}

// figures is summary with the state's own maps in it, not copies: for a
// caller on the actor that encodes it at once and keeps nothing (a live
// update), which then clones no map. The state's maps are never nil
// (newContentState), so both encode an empty map as {}.
func (s *contentState) figures(contentID string) ContentSummary {
	c := s.counts
	out := ContentSummary{
		ContentID:      contentID,
		Counts:         c,
		CustomCounts:   s.custom,
		Total:          s.total,
		Impressions:    c.Impression,
		Plays:          c.PlayStart,
		Completions:    c.Completion,
		CompletionRate: ratio(float64(c.Completion), float64(c.PlayStart)),
		Loops:          s.loops,
		WatchTime:      WatchTimeFigures{Total: s.watchTime, Average: ratio(s.watchTime, float64(c.PlayStart))},
		StartupTime:    StartupFigures{Samples: s.startup.n, Average: ratio(float64(s.startupSum), float64(s.startup.n))},
		Rebuffer: RebufferFigures{
			Count: c.Rebuffer, Time: s.stallMS,
			Ratio:     rebufferRatio(float64(s.stallMS)/1000, s.watchTime, 1),
			Frequency: rebufferRatio(float64(c.Rebuffer), s.watchTime, 60),
		},
		QualityChanges: c.QualityChange,
		Errors:         ErrorFigures{Total: c.Error, ByCode: s.errors},
		Likes:          c.Like,
		Shares:         c.Share,
		SharesBy:       s.platforms,
		Saves:          c.Save,
		Swipes:         SwipeFigures{In: c.Swipe, Out: s.swipesOut},
		Uniques:        s.c.contentUniques(),
	}
	if s.startup.n > 0 {
		p50, p95 := s.startup.quantile(0.50), s.startup.quantile(0.95)
		out.StartupTime.P50, out.StartupTime.P95 = &p50, &p95
	}
	if s.lastAt != 0 {
		t := UnixMilli(s.lastAt)
		out.LastEventAt = &t
	}
	return out
}

func cloneCounts(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// contentSnapshot is the persisted form of contentState. Every field round-trips
// exactly (float64 through JSON included), so a restored state makes the
// same decisions and shows the same figures as the one that never stopped.
type contentSnapshot struct {
	Counts     map[string]int64 `json:"counts"` // by type name, so a reordering of ContentEventTypes cannot shift them
	Custom     map[string]int64 `json:"custom,omitempty"`
	Total      int64            `json:"total"`
	Loops      int64            `json:"loops,omitempty"`
	WatchTime  float64          `json:"watchTime"`
	Startup    []histBin        `json:"startup,omitempty"`
	StartupSum int64            `json:"startupSum,omitempty"`
	StallMS    int64            `json:"stallMs,omitempty"`
	Errors     map[string]int64 `json:"errors,omitempty"`
	Platforms  map[string]int64 `json:"platforms,omitempty"`
	SwipesOut  int64            `json:"swipesOut,omitempty"`
	LastAt     int64            `json:"lastAt,omitempty"`
	Dedupe     dedupeSnapshot   `json:"dedupe"`
	Comps      encoded          `json:"-"` // series and sketches (section version 2)
	comps      *components      // what restore reads from a version 2 body
}

// snapshot copies the maps and bins: the snapshot is encoded on another
// goroutine while the actor goes on applying events.
func (s *contentState) snapshot() *contentSnapshot {
	out := &contentSnapshot{
		Counts: map[string]int64{}, Custom: cloneCounts(s.custom), Total: s.total, Loops: s.loops, WatchTime: s.watchTime,
		Startup: slices.Clone(s.startup.bins), StartupSum: s.startupSum, StallMS: s.stallMS, Errors: cloneCounts(s.errors),
		Platforms: cloneCounts(s.platforms), SwipesOut: s.swipesOut, LastAt: s.lastAt, Dedupe: s.dedupe.snapshot(),
		Comps: s.c.encode(),
	}
	for i, t := range ContentEventTypes {
		if n := *s.counts.field(i); n != 0 {
			out.Counts[string(t)] = n
		}
	}
	return out
}

func restoreContent(snap *contentSnapshot) (*contentState, error) {
	s := newContentState()
	for i, t := range ContentEventTypes {
		*s.counts.field(i) = snap.Counts[string(t)]
	}
	for k, v := range snap.Custom {
		s.custom[k] = v
	}
	for k, v := range snap.Errors {
		s.errors[k] = v
	}
	for k, v := range snap.Platforms {
		s.platforms[k] = v
	}
	s.total, s.loops, s.watchTime = snap.Total, snap.Loops, snap.WatchTime
	s.startupSum, s.stallMS, s.swipesOut, s.lastAt = snap.StartupSum, snap.StallMS, snap.SwipesOut, snap.LastAt
	if err := s.startup.restore(snap.Startup); err != nil {
		return nil, err
	}
	d, err := restoreIDDedupe(ContentDedupeCapacity, snap.Dedupe)
	if err != nil {
		return nil, err
	}
	s.dedupe = d
	if snap.comps != nil {
		s.c = *snap.comps
	}
	return s, nil
}

// logHist is a sparse log-linear histogram of non-negative integers
// (startup times in ms). Values below 256 have a bin each; above, every
// power of two is split into 128 bins, so a bin's lower bound is within
// 1/128 (0.8%) below any value in it. Quantiles report that lower bound:
// exact below 256 ms, at most 0.8% low above. Bins are kept sorted and
// only when used; values are capped at 2^22-1, so there are never more than
// 256 + 14·128 = 2,048 bins (16 B each), and a handful in practice.
type logHist struct {
	bins []histBin
	n    int64
}

type histBin struct {
	I uint16 `json:"i"`
	N int64  `json:"n"`
}

const histMax = 1<<22 - 1

func histIndex(v int64) uint16 {
	if v < 0 {
		v = 0
	}
	if v > histMax {
		v = histMax
	}
	if v < 256 {
		return uint16(v)
	}
	e := 63 - bits.LeadingZeros64(uint64(v)) // floor(log2 v), >= 8
	shift := e - 7
	return uint16(256 + (e-8)*128 + int(v>>shift) - 128)
}

// histLower is the smallest value of bin i.
func histLower(i uint16) int64 {
	if i < 256 {
		return int64(i)
	}
	j := int(i) - 256
	e := j/128 + 8
	return int64(128+j%128) << (e - 7)
}

func (h *logHist) add(v int64) {
	i := histIndex(v)
	k := sort.Search(len(h.bins), func(k int) bool { return h.bins[k].I >= i })
	if k == len(h.bins) || h.bins[k].I != i {
		h.bins = append(h.bins, histBin{})
		copy(h.bins[k+1:], h.bins[k:])
		h.bins[k] = histBin{I: i}
	}
	h.bins[k].N++
	h.n++
}

// quantile returns the nearest-rank q-quantile: the lower bound of the bin
// holding the ceil(q·n)-th smallest value.
func (h *logHist) quantile(q float64) int64 {
	rank := int64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for _, b := range h.bins {
		seen += b.N
		if seen >= rank {
			return histLower(b.I)
		}
	}
	return 0
}

func (h *logHist) restore(bins []histBin) error {
	h.bins, h.n = nil, 0
	for k, b := range bins {
		if b.N <= 0 || int(b.I) >= 256+14*128 || (k > 0 && bins[k-1].I >= b.I) {
			return errBadSnapshot
		}
		h.n += b.N
	}
	h.bins = append([]histBin(nil), bins...)
	return nil
}
