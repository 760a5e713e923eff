package actors

// familyseries.go holds what the render and content families embed for
// figures over time and unique audiences (issue 19, docs/SERIES.md): each
// family's metric list, the components' part of a snapshot section, the
// closed hours and days a snapshot round writes, and the series reads.

import (
	"encoding/binary"
	"math"
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

// at returns the series slot of an event at atMs, creating the series.
func (c *components) at(atMs int64) series.Slot {
	if c.ser == nil {
		c.ser = series.New(c.spec)
	}
	return c.ser.At(atMs)
}

// key counts key in distinct metric j (0-based among the distinct ones),
// all time and in the slot's buckets.
func (c *components) key(sl series.Slot, j int, key uint64) {
	if c.sk == nil {
		c.sk = make([]*uniques.Sketch, c.counts)
	}
	if c.sk[j] == nil {
		c.sk[j] = &uniques.Sketch{}
	}
	c.sk[j].Insert(key)
	sl.AddKey(c.spec.Counters+j, key)
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

// SeriesRows are the closed hours and days of an item's series that a
// snapshot round writes with its snapshot, in the same transaction (see
// series.PendingHours). An item holds one family, so one metric list.
type SeriesRows struct {
	Hours []series.HourRow
	Days  []series.DayRow
}

// pendingRows collects the closed, unwritten hours and days of every family
// of st, as of the wall clock nowMs (bookkeeping, not state: see
// series.PendingHours).
func (s *itemState) pendingRows(nowMs int64) SeriesRows {
	var out SeriesRows
	for _, f := range s.fams {
		sf, ok := f.(seriesFamily)
		if !ok || sf.comps().ser == nil {
			continue
		}
		ser := sf.comps().ser
		out.Hours = append(out.Hours, ser.PendingHours(nowMs)...)
		out.Days = append(out.Days, ser.PendingDays(nowMs)...)
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
	}
}
