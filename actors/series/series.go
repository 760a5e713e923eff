// Package series keeps an item's figures over time in memory: minute buckets
// for the last Minutes minutes and hour buckets for the last Hours hours, for
// a fixed list of metrics a family gives, stored sparsely (a quiet item costs
// a few hundred bytes). Counter metrics sum int64 deltas; distinct metrics
// count distinct keys per bucket and per UTC day (the clock's and the one
// before): exactly while an item has at most SampleCap distinct keys in its
// window; past that, the open minute (and the one before), hour and day
// count in a uniques.Sketch (exact to 500, then about 1.6 % error) and keys
// arriving for an already closed bucket are counted through a sample of the
// keys (docs/SERIES.md gives the measured errors).
//
// A Series's state is a pure function of the calls that changed it, in
// order: time comes only from the times given to At and Advance (an event's
// own time, never the wall clock), so a replay of the same log encodes
// byte-identically. Which closed hours and days still have to be written to
// Postgres is bookkeeping beside that state (PendingHours, MarkPersisted,
// PendingDays, MarkDaysPersisted), not part of the encoding.
package series

import (
	"errors"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/engagedhq/engaged/actors/uniques"
)

const (
	// Minutes is how many minute buckets are kept: the clock's minute and
	// the 127 before it (at least the last two hours).
	Minutes = 128
	// Hours is how many hour buckets are kept: the clock's hour and the 48
	// before it.
	Hours = 49
	// MaxMetrics bounds Counters + Distinct; a cell key has 5 bits of metric.
	MaxMetrics = 32
	// SampleCap is how many distinct keys a distinct metric keeps per item
	// (32 bytes each) with the minutes and hours each was seen in. Past it,
	// only keys whose top L bits are zero are kept, L the smallest level
	// that fits; such a key found new in a closed bucket adds 2^L to it.
	SampleCap = 32
	// MaxBuckets bounds one Buckets answer.
	MaxBuckets = 10_000

	minuteMs = 60_000
	hourMs   = 3_600_000
	// Cell keys are bucket<<5 | metric in a uint32: minute indexes up to
	// 2^27 (year 2225).
	maxMinute = 1<<27 - 1
)

// Spec is a family's list of metrics: ids 0..Counters-1 are counters, ids
// Counters..Counters+Distinct-1 distinct metrics.
type Spec struct {
	Counters int
	Distinct int
}

func (sp Spec) valid() bool {
	return sp.Counters >= 0 && sp.Distinct >= 0 && sp.Counters+sp.Distinct <= MaxMetrics
}

// Granularity is a bucket width.
type Granularity uint8

const (
	Minute Granularity = iota
	Hour
)

// Bucket is one answer step: T the bucket's start in Unix milliseconds.
type Bucket struct {
	T int64
	V int64
}

// HourRow is an hour's absolute values of every metric (counters first, then
// distinct), for one row in Postgres.
type HourRow struct {
	Hour   int64   // start of the hour, Unix milliseconds
	Values []int64 // len Counters + Distinct
	ver    uint32  // the hour's change count when read; see MarkPersisted
}

// Errors of Buckets.
var (
	ErrRange        = errors.New("series: from after to, or too many buckets")
	ErrBeforeWindow = errors.New("series: range starts before the in-memory window")
	ErrMetric       = errors.New("series: no such metric")
)

// Series is one item's time series. The zero value is not usable; call New.
// A Series is not safe for concurrent use: the item's actor owns it.
type Series struct {
	nc, nd uint8  // the Spec: counters, distinct metrics
	clock  int32  // minute index (Unix minutes) of the newest time seen; -1 = none
	ver    uint32 // change count of the pending hours and days

	mc cells // minute cells, keys minute<<5|metric
	hc cells // hour cells, keys hour<<5|metric

	vis []visitors // one per distinct metric

	lateMinute int64 // events filed in no minute bucket (older than the minute window)
	lateHour   int64 // events filed in no bucket at all (older than the hour window)

	// Persistence bookkeeping, never encoded: hours (and days, as negative
	// keys: dayPend) changed since they were last written, with their change
	// counts; sorted by key.
	pend []pending
	// minLow is the oldest minute whose counters changed since the minutes
	// were last written (PendingMinutes), valid if minDirty. The zero value
	// (nothing pending) is what Decode gives: a snapshot is written in the
	// same transaction as its minute rows.
	minLow   int32
	minDirty bool
}

type pending struct {
	hour int32
	ver  uint32
}

// visitors are one distinct metric's keys seen in the window, each with the
// minutes and hours it was seen in: bit i of min is the minute clock-i, bit
// i of hour the hour clockHour-i. At level 0 every key of the window is
// here; at level L > 0 only those whose top L bits are zero, and the open
// minute and hour count every key in sketches.
type visitors struct {
	level uint8
	seen  []seen  // sorted by key
	ap    *approx // while level > 0
}

type approx struct {
	// unsampled is the newest hour of a key left out of the sample. Once it
	// is out of the hour window, every key of the window is in seen again
	// and the level returns to 0.
	unsampled int32
	// Every key of the clock's minute and the one before (events a few
	// seconds late cross a minute often, an hour rarely) and of the clock's
	// hour; nil = none yet.
	openMin  [2]*uniques.Sketch
	openHour *uniques.Sketch
	openDay  *uniques.Sketch // every key of the clock's UTC day
	prevDay  int64           // the day before's distinct count, frozen at midnight, plus late sampled keys
}

type seen struct {
	key  uint64
	min  [2]uint64
	hour uint64
}

func bySeenKey(sn seen, key uint64) int {
	switch {
	case sn.key < key:
		return -1
	case sn.key > key:
		return 1
	}
	return 0
}

// Bits 0-48 of seen.hour are hours; bits 62 and 63 say whether the key was
// seen on the clock's UTC day and the day before. The hour bits of a key
// outlive its day bits (49 hours cover both days), so a key leaves the table
// only when neither day can count it any more.
const (
	hourMask = 1<<Hours - 1
	dayShift = 62
	dayMask  = 3 << dayShift
	minDay   = 1440 // minutes a day
)

// New returns an empty series for spec; it panics on a spec with more than
// MaxMetrics metrics (a programming error).
func New(spec Spec) *Series {
	if !spec.valid() {
		panic("series: invalid spec")
	}
	s := &Series{nc: uint8(spec.Counters), nd: uint8(spec.Distinct), clock: -1}
	if spec.Distinct > 0 {
		s.vis = make([]visitors, spec.Distinct)
	}
	return s
}

// Spec returns the series' metric list.
func (s *Series) Spec() Spec { return Spec{int(s.nc), int(s.nd)} }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (s *Series) clockHour() int32 { return s.clock / 60 }

// Clock returns the start of the newest minute seen (Unix milliseconds), or
// -1 before the first time.
func (s *Series) Clock() int64 {
	if s.clock < 0 {
		return -1
	}
	return int64(s.clock) * minuteMs
}

// Start returns the start of the oldest bucket of g kept in memory.
func (s *Series) Start(g Granularity) int64 {
	if g == Hour {
		return (int64(s.clockHour()) - Hours + 1) * hourMs
	}
	return (int64(s.clock) - Minutes + 1) * minuteMs
}

// Late returns how many events (At calls) fell before the minute window
// (counted in no minute bucket; those inside the hour window are in their
// hour bucket) and how many before the hour window (in no bucket at all).
// The caller's totals count them all.
func (s *Series) Late() (minute, hour int64) { return s.lateMinute, s.lateHour }

// Advance moves the clock to nowMs if that is later. now must come from the
// log (for example the receive time of an event being applied), never from
// the wall clock, or a replay would not give the same state.
func (s *Series) Advance(nowMs int64) {
	m := floorDiv(nowMs, minuteMs)
	if m > maxMinute {
		m = maxMinute
	}
	if m <= int64(s.clock) {
		return
	}
	s.advanceTo(int32(m))
}

func (s *Series) advanceTo(m int32) {
	old := s.clock
	s.clock = m
	if old < 0 {
		return
	}
	dm := int64(m - old)
	dh := int64(m/60 - old/60)
	dd := int64(m/minDay - old/minDay)
	for j := range s.vis {
		v := &s.vis[j]
		n := 0
		for i := range v.seen {
			sn := shift(v.seen[i], dm, dh, dd)
			if sn.min[0]|sn.min[1]|sn.hour != 0 {
				v.seen[n] = sn
				n++
			}
		}
		v.seen = v.seen[:n]
		if v.level == 0 {
			continue
		}
		if dm == 1 {
			v.ap.openMin = [2]*uniques.Sketch{nil, v.ap.openMin[0]}
		} else if dm > 1 {
			v.ap.openMin = [2]*uniques.Sketch{}
		}
		if dh > 0 {
			v.ap.openHour = nil
		}
		if dd == 1 {
			v.ap.prevDay, v.ap.openDay = int64(count(v.ap.openDay)), nil
		} else if dd > 1 {
			v.ap.prevDay, v.ap.openDay = 0, nil
		}
		if int64(s.clockHour())-int64(v.ap.unsampled) >= Hours {
			// No key left out of the sample is in the window: exact again.
			v.level, v.ap = 0, nil
		}
	}
	s.dropOld()
}

func count(sk *uniques.Sketch) uint64 {
	if sk == nil {
		return 0
	}
	return sk.Count()
}

func shift(sn seen, dm, dh, dd int64) seen {
	switch {
	case dm >= 128:
		sn.min = [2]uint64{}
	case dm >= 64:
		sn.min = [2]uint64{0, sn.min[0] << (dm - 64)}
	case dm > 0:
		sn.min = [2]uint64{sn.min[0] << dm, sn.min[1]<<dm | sn.min[0]>>(64-dm)}
	}
	days := sn.hour >> dayShift
	if dh >= 64 {
		sn.hour = 0
	} else {
		sn.hour = sn.hour << dh & hourMask
	}
	if dd < 2 {
		sn.hour |= days << dd & 3 << dayShift
	}
	return sn
}

// dropOld removes cells before the windows, except hours still waiting to
// be written (kept in memory only, never encoded), and days past the day
// before from the pending list.
func (s *Series) dropOld() {
	minStart := uint32(max(int64(s.clock)-Minutes+1, 0)) << 5
	s.mc.dropBefore(minStart)
	hourStart := int32(max(int64(s.clockHour())-Hours+1, 0))
	s.hc.keep(func(k uint32) bool {
		h := int32(k >> 5)
		return h >= hourStart || s.pendingIndex(h) >= 0
	})
	// A day's distinct counts live in the keys' day bits, which leave with
	// the day before: a day still pending then (two days of log applied
	// between two rounds) cannot be written any more, so it stops pending.
	n := 0
	for _, p := range s.pend {
		if p.hour >= 0 || s.clockDay()-(-p.hour-1) <= 1 {
			s.pend[n] = p
			n++
		}
	}
	s.pend = s.pend[:n]
}

func (s *Series) pendingIndex(h int32) int {
	i, ok := slices.BinarySearchFunc(s.pend, h, func(p pending, h int32) int { return int(p.hour - h) })
	if !ok {
		return -1
	}
	return i
}

func (s *Series) touch(h int32) {
	s.ver++
	i, ok := slices.BinarySearchFunc(s.pend, h, func(p pending, h int32) int { return int(p.hour - h) })
	if ok {
		s.pend[i].ver = s.ver
		return
	}
	s.pend = slices.Insert(s.pend, i, pending{h, s.ver})
}

// Slot is where one event is filed: its minute and hour bucket, or fewer if
// it is late. Get it from At and use it before the next At.
type Slot struct {
	s           *Series
	min, hour   int32
	inMin, inHr bool
}

// At advances the clock to atMs if later, counts the event as late if it is
// older than a window, and returns its slot. Call it once per event, then
// Add and AddKey for each metric the event changes.
func (s *Series) At(atMs int64) Slot {
	m := floorDiv(atMs, minuteMs)
	if m > maxMinute || m < 0 {
		// Outside what a cell key holds: in no bucket, but counted.
		s.lateMinute++
		s.lateHour++
		return Slot{s: s}
	}
	if int32(m) > s.clock {
		s.advanceTo(int32(m))
	}
	sl := Slot{s: s, min: int32(m), hour: int32(m / 60)}
	sl.inHr = int64(sl.hour) > int64(s.clockHour())-Hours
	sl.inMin = int64(sl.min) > int64(s.clock)-Minutes
	if !sl.inMin {
		s.lateMinute++
	}
	if !sl.inHr {
		s.lateHour++
	}
	return sl
}

// Drop counts an event as late without filing it in any bucket: for a family
// that refuses events older than its lateness horizon behind the log's
// watermark, so that buckets before completeThrough stay final.
func (s *Series) Drop() {
	s.lateMinute++
	s.lateHour++
}

// Add adds delta to counter metric at atMs: At(atMs).Add(metric, delta).
func (s *Series) Add(atMs int64, metric int, delta int64) { s.At(atMs).Add(metric, delta) }

// Add adds delta to a counter metric in the slot's buckets. It panics if
// metric is not a counter of the spec.
func (sl Slot) Add(metric int, delta int64) {
	s := sl.s
	if metric < 0 || metric >= int(s.nc) {
		panic("series: Add on a metric that is not a counter")
	}
	if delta == 0 || !sl.inHr {
		return
	}
	if sl.inMin {
		s.mc.add(uint32(sl.min)<<5|uint32(metric), delta)
		if !s.minDirty || sl.min < s.minLow {
			s.minLow, s.minDirty = sl.min, true
		}
	}
	s.hc.add(uint32(sl.hour)<<5|uint32(metric), delta)
	s.touch(sl.hour)
}

// AddKey counts key once in each of the slot's buckets of distinct metric
// (an id from Counters on). Keys must be uniform 64-bit hashes (uniques.Hash,
// uniques.VisitorID): sampling keeps those with leading zero bits.
func (sl Slot) AddKey(metric int, key uint64) {
	s := sl.s
	j := metric - int(s.nc)
	if j < 0 || j >= int(s.nd) {
		panic("series: AddKey on a metric that is not distinct")
	}
	if !sl.inHr {
		return
	}
	v := &s.vis[j]
	mkey, hkey := uint32(sl.min)<<5|uint32(metric), uint32(sl.hour)<<5|uint32(metric)
	age := s.clock - sl.min
	openMin, openHour := sl.inMin && age < 2, sl.hour == s.clockHour()
	day := sl.min / minDay
	dayAge := s.clockDay() - day // 0: the clock's day, 1: the day before, more: no day counts it
	if v.level > 0 {
		if dayAge == 0 && sketchInsert(&v.ap.openDay, key) {
			s.touch(dayPend(day))
		}
		// The open buckets count every key, sampled or not.
		if openMin && sketchInsert(&v.ap.openMin[age], key) {
			s.mc.set(mkey, int64(v.ap.openMin[age].Count()))
		}
		if openHour && sketchInsert(&v.ap.openHour, key) {
			s.hc.set(hkey, int64(v.ap.openHour.Count()))
			s.touch(sl.hour)
		}
		if key>>(64-v.level) != 0 {
			v.ap.unsampled = max(v.ap.unsampled, sl.hour)
			return
		}
	}
	i, found := slices.BinarySearchFunc(v.seen, key, bySeenKey)
	if !found {
		v.seen = insertGrow(v.seen, i, seen{key: key})
	}
	sn := &v.seen[i]
	// A key new in a bucket adds 1 at level 0; at level L it stands for
	// 2^L keys new in a closed bucket (the open ones counted above).
	weight := int64(1) << v.level
	if sl.inMin {
		b := uint(s.clock - sl.min)
		if sn.min[b/64]&(1<<(b%64)) == 0 {
			sn.min[b/64] |= 1 << (b % 64)
			if v.level == 0 || !openMin {
				s.mc.add(mkey, weight)
			}
		}
	}
	b := uint(s.clockHour() - sl.hour)
	if sn.hour&(1<<b) == 0 {
		sn.hour |= 1 << b
		if v.level == 0 || !openHour {
			s.hc.add(hkey, weight)
			s.touch(sl.hour)
		}
	}
	if dayAge < 2 {
		bit := uint64(1) << (dayShift + dayAge)
		if sn.hour&bit == 0 {
			sn.hour |= bit
			if v.level == 0 || dayAge == 1 {
				if v.level > 0 {
					v.ap.prevDay += weight
				}
				s.touch(dayPend(day))
			}
		}
	}
	if len(v.seen) > SampleCap {
		s.sample(j)
	}
}

func (s *Series) clockDay() int32 { return s.clock / minDay }

// dayPend is a day's key among the pending hours: negative, so days sort
// before hours and never meet one.
func dayPend(day int32) int32 { return -day - 1 }

// dayValue is distinct metric j's count on the clock's day (age 0) or the
// day before (age 1).
func (s *Series) dayValue(j int, age int32) int64 {
	v := &s.vis[j]
	if v.level > 0 {
		if age == 0 {
			return int64(count(v.ap.openDay))
		}
		return v.ap.prevDay
	}
	var n int64
	for _, sn := range v.seen {
		n += int64(sn.hour >> (dayShift + age) & 1)
	}
	return n
}

// Day returns distinct metric's count over the UTC day holding atMs, if that
// is the clock's day or the day before (older days are in Postgres). Hourly
// values cannot be summed into it: a key seen in two hours is one key.
func (s *Series) Day(metric int, atMs int64) (int64, bool) {
	j := metric - int(s.nc)
	age := int64(s.clockDay()) - floorDiv(atMs, minDay*minuteMs)
	if j < 0 || j >= int(s.nd) || s.clock < 0 || age < 0 || age > 1 {
		return 0, false
	}
	return s.dayValue(j, int32(age)), true
}

// DayRow is a UTC day's distinct metrics (Values[j] is metric Counters+j),
// for one row in Postgres.
type DayRow struct {
	Day    int64 // start of the day, Unix milliseconds
	Values []int64
	ver    uint32
}

// PendingDays is PendingHours for the day values of the distinct metrics:
// days changed since last marked that are closed (before the clock's day,
// or ending at or before closedBeforeMs). The same rule holds: write them
// with the snapshot of the same step; Decode takes days before the clock's
// as written.
func (s *Series) PendingDays(closedBeforeMs int64) []DayRow {
	var out []DayRow
	for _, p := range s.pend {
		if p.hour >= 0 {
			break
		}
		day := -p.hour - 1
		age := s.clockDay() - day
		if age > 1 || (age == 0 && (int64(day)+1)*minDay*minuteMs > closedBeforeMs) {
			continue // gone with the window (written before), or still open
		}
		row := DayRow{Day: int64(day) * minDay * minuteMs, Values: make([]int64, s.nd), ver: p.ver}
		for j := range row.Values {
			row.Values[j] = s.dayValue(j, age)
		}
		out = append(out, row)
	}
	return out
}

// MarkDaysPersisted is MarkPersisted for PendingDays' rows.
func (s *Series) MarkDaysPersisted(rows []DayRow) {
	for _, r := range rows {
		i := s.pendingIndex(dayPend(int32(floorDiv(r.Day, minDay*minuteMs))))
		if i >= 0 && s.pend[i].ver == r.ver {
			s.pend = slices.Delete(s.pend, i, i+1)
		}
	}
}

func sketchInsert(p **uniques.Sketch, key uint64) bool {
	if *p == nil {
		*p = &uniques.Sketch{}
	}
	return (*p).Insert(key)
}

// sample raises the level until the keys fit. Going from exact to sampled,
// the open minutes' and hour's sketches start from the keys seen in them,
// all of which are in the table at level 0. Values already in cells stay.
func (s *Series) sample(j int) {
	v := &s.vis[j]
	if v.level == 0 {
		v.ap = &approx{prevDay: s.dayValue(j, 1)}
		for _, sn := range v.seen {
			if sn.hour>>dayShift&1 != 0 {
				sketchInsert(&v.ap.openDay, sn.key)
			}
			for age := range v.ap.openMin {
				if sn.min[0]>>age&1 != 0 {
					sketchInsert(&v.ap.openMin[age], sn.key)
				}
			}
			if sn.hour&1 != 0 {
				sketchInsert(&v.ap.openHour, sn.key)
			}
		}
	}
	for len(v.seen) > SampleCap {
		v.level++
		n := 0
		for _, sn := range v.seen {
			if sn.key>>(64-v.level) == 0 {
				v.seen[n] = sn
				n++
				continue
			}
			newest := s.clockHour() - int32(bits.TrailingZeros64(sn.hour))
			v.ap.unsampled = max(v.ap.unsampled, newest)
		}
		v.seen = v.seen[:n]
	}
}

// insertGrow inserts like slices.Insert but grows capacity by an eighth, not
// double: these slices are many and small, and an insert copies a few dozen
// words at most.
func insertGrow[T any](x []T, i int, v T) []T {
	if len(x) == cap(x) {
		y := make([]T, len(x), len(x)+len(x)/8+2)
		copy(y, x)
		x = y
	}
	return slices.Insert(x, i, v)
}

// Buckets returns metric's buckets of width g from the one holding fromMs to
// the one before toMs (to rounded up to a bucket boundary), ascending,
// contiguous, zero-filled. The range must start inside the window (Start);
// older hours are read from Postgres. It does not change the series.
func (s *Series) Buckets(g Granularity, metric int, fromMs, toMs int64) ([]Bucket, error) {
	if metric < 0 || metric >= int(s.nc)+int(s.nd) {
		return nil, ErrMetric
	}
	step, c := int64(minuteMs), &s.mc
	if g == Hour {
		step, c = hourMs, &s.hc
	}
	from := floorDiv(fromMs, step)
	to := floorDiv(toMs+step-1, step)
	if toMs < fromMs || to < from || to-from > MaxBuckets { // to < from: toMs overflowed
		return nil, ErrRange
	}
	if from*step < s.Start(g) {
		return nil, ErrBeforeWindow
	}
	out := make([]Bucket, to-from)
	for i := range out {
		out[i].T = (from + int64(i)) * step
	}
	// Cells of one metric are spread among the others: scan the range.
	lo, _ := c.search(uint32(max(from, 0)) << 5)
	for i := lo; i < len(c.k); i++ {
		b := int64(c.k[i] >> 5)
		if b >= to {
			break
		}
		if int(c.k[i]&31) == metric {
			out[b-from].V = c.at(i)
		}
	}
	return out, nil
}

// Values sets vals[m] to metric m's value in the bucket of width g holding
// atMs, for every metric (vals has one entry per metric: counters, then
// distinct), as Buckets would for each metric in turn; one scan of the
// bucket's cells instead of one slice per metric, for an item's live
// update, which reads every metric of its newest minute and hour after each
// event. The bucket must be inside the window (Start).
func (s *Series) Values(g Granularity, atMs int64, vals []int64) error {
	if len(vals) != int(s.nc)+int(s.nd) {
		return ErrMetric
	}
	step, c := int64(minuteMs), &s.mc
	if g == Hour {
		step, c = hourMs, &s.hc
	}
	b := floorDiv(atMs, step)
	if b*step < s.Start(g) {
		return ErrBeforeWindow
	}
	clear(vals)
	if b < 0 { // no cells before the epoch (Buckets: all zero)
		return nil
	}
	i, _ := c.search(uint32(b) << 5)
	for ; i < len(c.k) && int64(c.k[i]>>5) == b; i++ {
		vals[c.k[i]&31] = c.at(i)
	}
	return nil
}

// Total returns the sum of counter metric over the minute buckets in
// [fromMs, toMs), clamped to the window: what a reconciliation compares with
// a counter's change.
func (s *Series) Total(metric int, fromMs, toMs int64) int64 {
	from := max(floorDiv(fromMs+minuteMs-1, minuteMs), int64(s.clock)-Minutes+1, 0)
	to := floorDiv(toMs, minuteMs)
	var t int64
	lo, _ := s.mc.search(uint32(from) << 5)
	for i := lo; i < len(s.mc.k) && int64(s.mc.k[i]>>5) < to; i++ {
		if int(s.mc.k[i]&31) == metric {
			t += s.mc.at(i)
		}
	}
	return t
}

// PendingHours returns the hours changed since they were last marked
// persisted that are closed: before the clock's hour, or ending at or before
// closedBeforeMs (pass the wall clock to include an idle item's last hour,
// or a large value to include the open hour as well). Each row holds
// absolute values, so writing it again is harmless.
//
// The snapshot round must write these rows in the same transaction as (or
// before) the snapshot encoded in the same actor step: Decode treats every
// hour before the clock's as already written.
func (s *Series) PendingHours(closedBeforeMs int64) []HourRow {
	var out []HourRow
	n := int(s.nc) + int(s.nd)
	for _, p := range s.pend {
		if p.hour < 0 {
			continue // a day: PendingDays
		}
		end := (int64(p.hour) + 1) * hourMs
		if p.hour >= s.clockHour() && end > closedBeforeMs {
			continue
		}
		row := HourRow{Hour: int64(p.hour) * hourMs, Values: make([]int64, n), ver: p.ver}
		lo, _ := s.hc.search(uint32(p.hour) << 5)
		for i := lo; i < len(s.hc.k) && int32(s.hc.k[i]>>5) == p.hour; i++ {
			row.Values[s.hc.k[i]&31] = s.hc.at(i)
		}
		out = append(out, row)
	}
	return out
}

// MarkPersisted records that rows (from PendingHours) are written. An hour
// changed since its row was read stays pending.
func (s *Series) MarkPersisted(rows []HourRow) {
	for _, r := range rows {
		i := s.pendingIndex(int32(floorDiv(r.Hour, hourMs)))
		if i >= 0 && s.pend[i].ver == r.ver {
			s.pend = slices.Delete(s.pend, i, i+1)
		}
	}
	s.dropOld()
}

const (
	sizeofSeries   = int(unsafe.Sizeof(Series{}))
	sizeofVisitors = int(unsafe.Sizeof(visitors{}))
	sizeofSketch   = int(unsafe.Sizeof(uniques.Sketch{}))
)

// Size returns the bytes the series holds in memory, the Series value
// included.
func (s *Series) Size() int {
	n := sizeofSeries + s.mc.size() + s.hc.size() + cap(s.pend)*8
	n += cap(s.vis) * sizeofVisitors
	for _, v := range s.vis {
		n += cap(v.seen) * int(unsafe.Sizeof(seen{}))
		if v.ap == nil {
			continue
		}
		n += int(unsafe.Sizeof(approx{}))
		for _, sk := range []*uniques.Sketch{v.ap.openMin[0], v.ap.openMin[1], v.ap.openHour, v.ap.openDay} {
			if sk != nil {
				n += sizeofSketch + sk.Size()
			}
		}
	}
	return n
}

// MinuteRow is a minute's absolute values of the counter metrics (not the
// distinct ones: top-N sums counters only), for one row in Postgres.
type MinuteRow struct {
	Minute int64   // start of the minute, Unix milliseconds
	Values []int64 // len Counters
}

// MinuteRows are the minutes PendingMinutes read, with the change count
// MarkMinutesPersisted compares.
type MinuteRows struct {
	Rows []MinuteRow
	ver  uint32
}

// PendingMinutes returns every minute of the window from the oldest one
// whose counters changed since MarkMinutesPersisted, up to the clock's, that
// has a non-zero counter, with absolute values (writing one again is
// harmless). Counters only grow (deltas are non-negative), so a minute
// without a row is a minute of zeros. Like PendingHours, write the rows
// with the snapshot of the same step.
func (s *Series) PendingMinutes() MinuteRows {
	out := MinuteRows{ver: s.ver}
	if !s.minDirty || s.clock < 0 {
		return out
	}
	lo := max(int64(s.minLow), int64(s.clock)-Minutes+1, 0)
	i, _ := s.mc.search(uint32(lo) << 5)
	for ; i < len(s.mc.k); i++ {
		m, metric := int64(s.mc.k[i]>>5), int(s.mc.k[i]&31)
		if metric >= int(s.nc) {
			continue
		}
		if n := len(out.Rows); n == 0 || out.Rows[n-1].Minute != m*minuteMs {
			out.Rows = append(out.Rows, MinuteRow{Minute: m * minuteMs, Values: make([]int64, s.nc)})
		}
		out.Rows[len(out.Rows)-1].Values[metric] = s.mc.at(i)
	}
	return out
}

// MarkMinutesPersisted records that m (from PendingMinutes) is written:
// nothing is pending unless the series changed since m was read.
func (s *Series) MarkMinutesPersisted(m MinuteRows) {
	if s.ver == m.ver {
		s.minDirty = false
	}
}
