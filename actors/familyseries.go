package actors

// familyseries.go holds what the render and content families embed for
// figures over time and unique audiences (issue 19, docs/SERIES.md): each
// family's metric list, the components' part of a snapshot section, the
// closed hours and days a snapshot round writes, and the series reads.

import (
	"context"
	"encoding/binary"
	"math"
	"time"
	"unsafe"

	"github.com/engagedhq/engaged/actors/series"
	"github.com/engagedhq/engaged/actors/uniques"
)

// RenderMetrics names the render family's series metrics, by id: the seven
// counters (RenderEventTypes' order), then the distinct "viewers".
var RenderMetrics = []string{"viewed", "downloaded", "printed", "email_opened", "email_sent", "share_created", "share_revoked", "viewers"}

var renderSpec = series.Spec{Counters: 7, Distinct: 1}

const renderViewers = 7 // metric id of "viewers"

// ContentMetrics names the content family's series metrics, by id: counters
// (watchTime and rebufferTime kept in ms; watchTime reads as seconds), then
// the distinct "users" and "sessions".
var ContentMetrics = []string{
	"total", "impressions", "plays", "watchProgress", "completions", "loops", "likes", "shares", "saves",
	"swipesIn", "swipesOut", "rebuffers", "qualityChanges", "errors", "watchTime", "rebufferTime",
	"users", "sessions",
}

const (
	cmTotal = iota
	cmImpressions
	cmPlays
	cmWatchProgress
	cmCompletions
	cmLoops
	cmLikes
	cmShares
	cmSaves
	cmSwipesIn
	cmSwipesOut
	cmRebuffers
	cmQualityChanges
	cmErrors
	cmWatchTime
	cmRebufferTime
	cmUsers
	cmSessions
)

var contentSpec = series.Spec{Counters: cmUsers, Distinct: 2}

// contentTypeMetric is the counter each documented SDK type adds to, by
// ContentEventTypes' index.
var contentTypeMetric [len(ContentEventTypes)]int

func init() {
	m := map[ContentEventType]int{
		Impression: cmImpressions, PlayStart: cmPlays, WatchProgress: cmWatchProgress, Completion: cmCompletions,
		Swipe: cmSwipesIn, Like: cmLikes, SocialShare: cmShares, Save: cmSaves, Rebuffer: cmRebuffers,
		QualityChange: cmQualityChanges, PlaybackError: cmErrors,
	}
	for i, t := range ContentEventTypes {
		contentTypeMetric[i] = m[t]
	}
}

// msOf converts seconds to whole milliseconds: series sums integers so a
// replay adds the same values in the same order.
func msOf(sec float64) int64 {
	if math.IsNaN(sec) || math.IsInf(sec, 0) {
		return 0
	}
	return int64(math.Round(sec * 1000))
}

// components is what a family embeds: its series (nil until its first
// counted event) and its all-time distinct sketches.
type components struct {
	ser    *series.Series
	sk     []*uniques.Sketch // one per distinct metric, nil entries until a key comes
	spec   series.Spec
	counts int // how many sketches
}

func newComponents(spec series.Spec) components {
	return components{spec: spec, counts: spec.Distinct}
}

// The lateness horizons of completeThrough (docs/SERIES.md): an event whose
// bucket time is older than its item's watermark (the newest receive time
// the item applied, its own included) by more than the horizon is counted in
// every total and in late, and filed in no bucket, so that every bucket
// before watermark − horizon − ClockSkew is final.
const (
	// RenderLateness: a render event's bucket time is its receive time, so
	// only clock differences between instances and publish delays reorder.
	RenderLateness = 0
	// ContentLateness: SDK events carry their own (corrected) time; batches
	// sent within ten minutes of the event land in their bucket.
	ContentLateness = 10 * 60_000
	// ClockSkew bounds how far the receive times that instances stamp
	// disagree (clock differences plus publish delay), in ms.
	ClockSkew = 10_000
)

// at returns the series slot of an event at atMs, or ok false if the event
// is later than the horizon behind watermark (counted late, no bucket).
func (c *components) at(atMs, watermark, horizon int64) (series.Slot, bool) {
	if c.ser == nil {
		c.ser = series.New(c.spec)
	}
	if atMs < watermark-horizon-ClockSkew {
		c.ser.Drop()
		return series.Slot{}, false
	}
	return c.ser.At(atMs), true
}

// key counts key in distinct metric j (0-based among the distinct ones),
// all time, and in the slot's buckets if filed.
func (c *components) key(sl series.Slot, filed bool, j int, key uint64) {
	if c.sk == nil {
		c.sk = make([]*uniques.Sketch, c.counts)
	}
	if c.sk[j] == nil {
		c.sk[j] = &uniques.Sketch{}
	}
	c.sk[j].Insert(key)
	if filed {
		sl.AddKey(c.spec.Counters+j, key)
	}
}

// completeThrough is the time (ms) before which every bucket is final:
// watermark − horizon − ClockSkew, or false before any event.
func (c *components) completeThrough(watermark, horizon int64) (int64, bool) {
	if c.ser == nil || watermark == 0 {
		return 0, false
	}
	return watermark - horizon - ClockSkew, true
}

// distinct returns the all-time count of distinct metric j and whether it is
// an estimate.
func (c *components) distinct(j int) (uint64, bool) {
	if c.sk == nil || c.sk[j] == nil {
		return 0, false
	}
	return c.sk[j].Count(), c.sk[j].Approximate()
}

// size is the components' bytes in memory, beyond the components value.
func (c *components) size() int {
	n := 0
	if c.ser != nil {
		n += c.ser.Size()
	}
	n += 8 * cap(c.sk)
	for _, sk := range c.sk {
		if sk != nil {
			n += int(unsafe.Sizeof(*sk)) + sk.Size()
		}
	}
	return n
}

// encoded is the components' part of a snapshot section, encoded on the
// actor (the encoding is the copy: nothing is shared with the live state).
type encoded struct {
	series   []byte   // series.AppendBinary, or nil without a series
	sketches [][]byte // uniques encodings, nil for an absent sketch
}

func (c *components) encode() encoded {
	var e encoded
	if c.ser != nil {
		e.series, _ = c.ser.AppendBinary(nil) // never fails
	}
	e.sketches = make([][]byte, c.counts)
	for j := range e.sketches {
		if c.sk != nil && c.sk[j] != nil {
			e.sketches[j], _ = c.sk[j].AppendBinary(nil)
		}
	}
	return e
}

func (e *encoded) size() int {
	n := 8 + len(e.series)
	for _, s := range e.sketches {
		n += 4 + len(s)
	}
	return n
}

// appendBinary appends bytes(series) uvarint(n) bytes(sketch){n}; an empty
// bytes is an absent part.
func (e *encoded) appendBinary(b []byte) []byte {
	b = appendBytes(b, e.series)
	b = binary.AppendUvarint(b, uint64(len(e.sketches)))
	for _, s := range e.sketches {
		b = appendBytes(b, s)
	}
	return b
}

// readComponents reads what encoded.appendBinary wrote into c.
func (d *decoder) readComponents(c *components) {
	i, j := d.span()
	if d.err != nil {
		return
	}
	if j > i {
		s, rest, err := series.Decode(c.spec, d.b[i:j])
		if err != nil || len(rest) != 0 {
			d.err = errCodec
			return
		}
		c.ser = s
	}
	n := d.uvarint()
	if d.err != nil || n != uint64(c.counts) {
		d.err = errCodec
		return
	}
	for k := range c.counts {
		i, j := d.span()
		if d.err != nil {
			return
		}
		if j == i {
			continue
		}
		sk, rest, err := uniques.Decode(d.b[i:j])
		if err != nil || len(rest) != 0 {
			d.err = errCodec
			return
		}
		if c.sk == nil {
			c.sk = make([]*uniques.Sketch, c.counts)
		}
		c.sk[k] = sk
	}
}

// seriesFamily is a family with the components: the snapshot round and the
// series reads reach them through it.
type seriesFamily interface {
	comps() *components
}

// SeriesRows are the hours, days and minutes of an item's series that a
// snapshot round writes with its snapshot, in the same transaction (see
// series.PendingHours). An item holds one family, so one metric list.
// Hours include the open hour and Minutes the touched minutes, as absolute
// values, so that top-N (docs/RANKINGS.md) sums them exactly as of the
// round; Days are closed days only.
type SeriesRows struct {
	Hours   []series.HourRow
	Days    []series.DayRow
	Minutes series.MinuteRows
}

// empty reports whether the round has nothing to write or mark.
func (r *SeriesRows) empty() bool {
	return len(r.Hours)+len(r.Days)+len(r.Minutes.Rows) == 0
}

// pendingRows collects the unwritten hours (the open one included), closed
// days and touched minutes of every family of st, days as of the wall clock
// nowMs (bookkeeping, not state: see series.PendingHours).
func (s *itemState) pendingRows(nowMs int64) SeriesRows {
	var out SeriesRows
	for _, f := range s.fams {
		sf, ok := f.(seriesFamily)
		if !ok || sf.comps().ser == nil {
			continue
		}
		ser := sf.comps().ser
		out.Hours = append(out.Hours, ser.PendingHours(math.MaxInt64)...)
		out.Days = append(out.Days, ser.PendingDays(nowMs)...)
		if m := ser.PendingMinutes(); len(m.Rows) > 0 {
			out.Minutes = m // one family per item: one series with minutes
		}
	}
	return out
}

// markPersisted records that rows are written.
func (s *itemState) markPersisted(rows SeriesRows) {
	for _, f := range s.fams {
		sf, ok := f.(seriesFamily)
		if !ok || sf.comps().ser == nil {
			continue
		}
		sf.comps().ser.MarkPersisted(rows.Hours)
		sf.comps().ser.MarkDaysPersisted(rows.Days)
		if len(rows.Minutes.Rows) > 0 {
			sf.comps().ser.MarkMinutesPersisted(rows.Minutes)
		}
	}
}

// SeriesRow is one item's stored figures for one UTC hour or day (persist's
// series_hours and series_days rows): the absolute value of each metric of
// the family, in its order.
type SeriesRow struct {
	Key    ItemID
	Hour   time.Time // the hour's (or day's) start
	Values []int64
}

// RenderUniques is a render's all-time unique viewers: events with a client
// address, by visitor id (a person counts once per UTC day: the salt
// rotates). Approximate once the count is an estimate (past 500).
type RenderUniques struct {
	Viewers     uint64 `json:"viewers"`
	Approximate bool   `json:"approximate"`
}

// ContentUniques is a content item's all-time unique users (userId, else
// deviceId) and sessions. Approximate once either is an estimate.
type ContentUniques struct {
	Users       uint64 `json:"users"`
	Sessions    uint64 `json:"sessions"`
	Approximate bool   `json:"approximate"`
}

func (c *components) renderUniques() RenderUniques {
	n, ap := c.distinct(0)
	return RenderUniques{Viewers: n, Approximate: ap}
}

func (c *components) contentUniques() ContentUniques {
	u, up := c.distinct(0)
	n, sp := c.distinct(1)
	return ContentUniques{Users: u, Sessions: n, Approximate: up || sp}
}

// LiveSeries is the part of a live update that moves charts: every metric's
// value in the item's newest minute and hour (zeros left out), not whole
// series.
type LiveSeries struct {
	Minute LiveBucket `json:"minute"`
	Hour   LiveBucket `json:"hour"`
}

// LiveBucket is one bucket of every metric: T its start.
type LiveBucket struct {
	T      Time             `json:"t"`
	Values map[string]int64 `json:"values"`
}

// live returns the newest minute and hour of every metric, or nil before
// the first filed event. It defines what a live update's "series" holds;
// the updates write its JSON with appendLive (json.go), without building
// it, and the tests compare the two.
func (c *components) live(names []string) *LiveSeries {
	if c.ser == nil || c.ser.Clock() < 0 {
		return nil
	}
	clock := c.ser.Clock()
	hour := clock - clock%3_600_000
	out := &LiveSeries{Minute: LiveBucket{T: UnixMilli(clock), Values: map[string]int64{}}, Hour: LiveBucket{T: UnixMilli(hour), Values: map[string]int64{}}}
	for m, name := range names {
		if b, err := c.ser.Buckets(series.Minute, m, clock, clock+1); err == nil && b[0].V != 0 {
			out.Minute.Values[name] = b[0].V
		}
		if b, err := c.ser.Buckets(series.Hour, m, hour, hour+1); err == nil && b[0].V != 0 {
			out.Hour.Values[name] = b[0].V
		}
	}
	return out
}

// SeriesRead is what an item's actor answers from memory for a series
// query (Registry.ReadSeries); the HTTP edge adds Postgres's rows for what
// lies before Start.
type SeriesRead struct {
	// Buckets are the metric's buckets of [max(from, Start), to) at the
	// query's width (hours for a day query); empty when the range ends
	// before Start.
	Buckets []series.Bucket
	// Start is the first bucket time (ms) memory holds at that width;
	// earlier hours are in Postgres. math.MinInt64 for an item without a
	// series: every bucket is zero.
	Start int64
	// Pending are hours before Start that the item holds but no snapshot
	// round has written yet (e.g. just replayed from the log): they replace
	// Postgres's rows of the same hours.
	Pending []series.HourRow
	// Days are the distinct metric's values of the clock's UTC day and the
	// day before ([0] the clock's), for a distinct metric's day query.
	Days [2]series.Bucket
	// CompleteThrough (ms) is valid if HasComplete: see docs/SERIES.md.
	CompleteThrough int64
	HasComplete     bool
	// Late is how many events are in no minute bucket and in no bucket at
	// all (series.Late).
	LateMinute, LateHour int64
	// Uniques is the item's RenderUniques or ContentUniques.
	Uniques any
}

// ErrSeriesBeforeWindow: a minute query starting before the item's minute
// window.
var ErrSeriesBeforeWindow = series.ErrBeforeWindow

// ReadSeries reads metric (an index into RenderMetrics or ContentMetrics,
// by kind) of item k from its actor: minute buckets (hour false) or hour
// buckets of [fromMs, toMs). It changes no state.
func (r *Registry) ReadSeries(ctx context.Context, k ItemID, kind string, metric int, hour bool, fromMs, toMs int64) (SeriesRead, error) {
	fam, err := familyNamed(kind)
	if err != nil {
		return SeriesRead{}, err
	}
	return ask(ctx, r, k, func(st *itemState, _ ItemID, _ uint64) (SeriesRead, error) {
		var out SeriesRead
		sf, _ := st.fams[fam].(seriesFamily)
		var c *components
		switch {
		case sf != nil:
			c = sf.comps()
		case fam == famRender:
			e := newComponents(renderSpec)
			c = &e
		default:
			e := newComponents(contentSpec)
			c = &e
		}
		if fam == famRender {
			out.Uniques = c.renderUniques()
		} else {
			out.Uniques = c.contentUniques()
		}
		switch s := st.fams[fam].(type) {
		case *renderState:
			out.CompleteThrough, out.HasComplete = c.completeThrough(s.maxAt, RenderLateness)
		case *contentState:
			out.CompleteThrough, out.HasComplete = c.completeThrough(s.dedupe.maxRecv, ContentLateness)
		}
		if c.ser != nil {
			out.LateMinute, out.LateHour = c.ser.Late()
		}
		if c.ser == nil || c.ser.Clock() < 0 { // no event filed in a bucket yet
			out.Start = math.MinInt64
			return out, nil
		}
		g := series.Minute
		if hour {
			g = series.Hour
		}
		out.Start = c.ser.Start(g)
		if hour {
			for _, row := range c.ser.PendingHours(math.MaxInt64) {
				if row.Hour < out.Start {
					out.Pending = append(out.Pending, row)
				}
			}
		}
		if metric >= c.spec.Counters {
			clock := c.ser.Clock()
			for i := range out.Days {
				day := (clock/86_400_000 - int64(i)) * 86_400_000
				v, _ := c.ser.Day(metric, day)
				out.Days[i] = series.Bucket{T: day, V: v}
			}
		}
		if !hour && fromMs < out.Start {
			return out, ErrSeriesBeforeWindow
		}
		// Buckets after the newest event's are zero: the answer stops at
		// the bucket holding the clock (a range far into the future stays
		// small; Buckets rounds to up).
		from, to := max(fromMs, out.Start), min(toMs, c.ser.Clock()+1)
		if from >= to {
			return out, nil
		}
		b, err := c.ser.Buckets(g, metric, from, to)
		out.Buckets = b
		return out, err
	})
}
