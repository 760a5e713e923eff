package actors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors/series"
)

// jsonTricky are strings that encoding/json escapes in every way it can:
// quotes, backslashes, control characters, HTML characters, U+2028/U+2029,
// invalid UTF-8 (and keys whose escaped order differs from their raw one).
var jsonTricky = []string{"", "plain", `quo"te`, `back\slash`, "new\nline\ttab\r\x01\x1f\b\f\x7f", "<script>&amp;", ">", "=", ";",
	"é ü 日本 🙂", "bad \xff utf8 \xc3", "\xff", "\xfe", "line\u2028sep\u2029", "(other)", "Z", "a", "ios", "android_tv"}

// checkContentUpdate fails unless appendContentUpdate writes, for seq, sum
// and c, what json.Marshal writes for the update struct with c's LiveSeries,
// byte for byte, and valid JSON; or, for a sum with a NaN or infinite
// figure, unless both refuse it.
func checkContentUpdate(t testing.TB, what string, seq uint64, sum ContentSummary, c *components) {
	t.Helper()
	want, err := json.Marshal(&contentUpdate{Seq: seq, ContentSummary: sum, Series: c.live(ContentMetrics)})
	if !sum.finite() {
		if err == nil {
			t.Fatalf("%s: not finite, but encoding/json encodes it: %s", what, want)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: encoding/json: %v", what, err)
	}
	got := appendContentUpdate(nil, seq, &sum, c)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
	}
	if !json.Valid(got) {
		t.Fatalf("%s: not valid JSON: %s", what, got)
	}
}

// checkContentState checks the update of s both from the figures the live
// update encodes (the state's own maps) and through update itself against
// what the old path marshalled (a cloned summary).
func checkContentState(t testing.TB, what string, s *contentState, id string, seq uint64) {
	t.Helper()
	checkContentUpdate(t, what, seq, s.figures(id), &s.c)
	want, err := json.Marshal(&contentUpdate{Seq: seq, ContentSummary: s.summary(id), Series: s.c.live(ContentMetrics)})
	if err != nil {
		t.Fatalf("%s: encoding/json: %v", what, err)
	}
	got, err := s.update(ItemID{Project: "p", Item: id}, seq)
	if err != nil {
		t.Fatalf("%s: update: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: update:\n got %s\nwant %s", what, got, want)
	}
	if cap(got) > 2*len(got)+4096 { // updateJSONSize is a bound, not a guess far off
		t.Fatalf("%s: update of %d bytes in a buffer of %d", what, len(got), cap(got))
	}
}

// randomContentEvent is an SDK event with figures anywhere in the ranges
// the edge accepts (and codes it does not), ids that repeat (dedupe), times
// spread over hours and some too late for a bucket.
func randomContentEvent(r *rand.Rand, i int, users int) ContentEvent {
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	recv := recv0.UnixMilli() + int64(i)*r.Int64N(20_000)
	ev := ContentEvent{ID: fmt.Sprintf("e%d", r.IntN(2*i+2)), Recv: recv, At: recv - r.Int64N(2*3_600_000)}
	if r.IntN(8) == 0 {
		ev.Type = ContentEventType(fmt.Sprintf("custom_%s%d", pick([]string{"a", "step", "X_9", "Z"}), r.IntN(80)))
	} else {
		ev.Type = ContentEventTypes[r.IntN(len(ContentEventTypes))]
	}
	switch r.IntN(4) {
	case 0:
		ev.UserID = fmt.Sprintf("u%d", r.IntN(users))
	case 1:
		ev.DeviceID = pick(jsonTricky)
	case 2:
		ev.UserID = pick(jsonTricky)
	}
	if r.IntN(2) == 0 {
		ev.SessionID = fmt.Sprintf("s%d", r.IntN(users))
	}
	seconds := []float64{0, 0.1, 1e-7, 5e-324, 1e-300, 0.5, 1.0 / 3, 86_400, r.Float64() * 86_400, float64(r.IntN(100)) + 0.25, r.Float64()}
	ev.WatchTime = seconds[r.IntN(len(seconds))]
	ev.StartupMS = []int64{0, 1, 255, 256, 3_600_000, r.Int64N(3_600_001), r.Int64N(5000)}[r.IntN(7)]
	ev.StallMS = []int64{0, 1, 86_400_000, r.Int64N(86_400_001), r.Int64N(3000)}[r.IntN(5)]
	ev.Loops = r.Int64N(1_000_001)
	switch r.IntN(3) {
	case 0:
		ev.Code = pick(jsonTricky)
	case 1:
		ev.Code = fmt.Sprintf("c%d", r.IntN(80)) // past MaxErrorCodes and MaxPlatforms: (other)
	}
	if ev.Type == Swipe && r.IntN(2) == 0 {
		ev.Role, ev.Other = RoleSwipeOut, "cnt_next"
	}
	return ev
}

// TestContentUpdateJSON: the hand-written live update of the content family
// is the document encoding/json writes for contentUpdate, byte for byte, for
// states built by the family's own apply from random event sequences, and
// for hand-made values no apply reaches (nil maps, non-UTC times, extreme
// numbers, every kind of escaping).
func TestContentUpdateJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var seen struct{ series, noSeries, approximate, other, percentiles, ratio, custom, escaped int }
	for n := 0; n < 160; n++ {
		s := newContentState()
		id := "cnt_" + jsonTricky[r.IntN(len(jsonTricky))]
		events, users := r.IntN(200), 50
		if n%40 == 0 { // enough users and sessions for estimates
			events, users = 1600, 5000
		}
		checkContentState(t, fmt.Sprintf("state %d, empty", n), s, id, 0)
		for i := range events {
			ev := randomContentEvent(r, i, users)
			s.apply(&ev)
			if i%25 == 0 || i == events-1 {
				checkContentState(t, fmt.Sprintf("state %d after %d events", n, i+1), s, id, r.Uint64())
			}
		}
		sum := s.figures(id)
		switch {
		case s.c.live(ContentMetrics) != nil:
			seen.series++
		default:
			seen.noSeries++
		}
		if sum.Uniques.Approximate {
			seen.approximate++
		}
		if _, ok := sum.Errors.ByCode[OtherKey]; ok {
			seen.other++
		}
		if sum.StartupTime.P95 != nil {
			seen.percentiles++
		}
		if sum.Rebuffer.Ratio != nil && sum.CompletionRate != nil {
			seen.ratio++
		}
		if len(sum.CustomCounts) > 0 {
			seen.custom++
		}
		if b := appendContentUpdate(nil, 0, &sum, &components{}); bytes.Contains(b, []byte(`\u003c`)) || bytes.Contains(b, []byte(`\ufffd`)) {
			seen.escaped++
		}
	}
	// The generated states reach every branch of the encoder.
	if seen.series == 0 || seen.noSeries == 0 || seen.approximate == 0 || seen.other == 0 || seen.percentiles == 0 || seen.ratio == 0 || seen.custom == 0 || seen.escaped == 0 {
		t.Fatalf("generated states miss a case: %+v", seen)
	}

	f := func(v float64) *float64 { return &v }
	i := func(v int64) *int64 { return &v }
	tm := func(v Time) *Time { return &v }
	tricky := map[string]int64{}
	for k, s := range jsonTricky {
		tricky[s] = int64(k) - 3
	}
	full := ContentSummary{
		ContentID: "cnt_<&>\u2028\xff\"", Counts: ContentCounts{Impression: math.MaxInt64, PlayStart: math.MinInt64, Error: -1},
		CustomCounts: tricky, Total: 1 << 53, Impressions: 1<<53 + 1, CompletionRate: f(0.1), Loops: -0,
		WatchTime:   WatchTimeFigures{Total: 1e21, Average: f(1e-7)},
		StartupTime: StartupFigures{Samples: 3, Average: f(999_999_999_999_999_999_999.0), P50: i(math.MinInt64), P95: i(math.MaxInt64)},
		Rebuffer:    RebufferFigures{Count: 2, Time: 7, Ratio: f(math.Copysign(0, -1)), Frequency: f(5e-324)},
		Errors:      ErrorFigures{Total: 4, ByCode: map[string]int64{"a": 1, "b": 2, "": 3}},
		SharesBy:    map[string]int64{}, Swipes: SwipeFigures{In: 1, Out: 2},
		LastEventAt: tm(Time{time.Date(2026, 5, 3, 12, 0, 0, 123_456_789, time.FixedZone("x", 5*3600+1800))}),
		Uniques:     ContentUniques{Users: math.MaxUint64, Sessions: 1, Approximate: true},
	}
	cases := []struct {
		name string
		seq  uint64
		sum  ContentSummary
	}{
		{"zero value: nil maps and pointers", 0, ContentSummary{}},
		{"empty maps", 1, ContentSummary{CustomCounts: map[string]int64{}, SharesBy: map[string]int64{}, Errors: ErrorFigures{ByCode: map[string]int64{}}}},
		{"every field set", math.MaxUint64, full},
		{"zero time", 2, ContentSummary{LastEventAt: tm(Time{})}},
		{"far past time", 3, ContentSummary{LastEventAt: tm(UnixMilli(-62_135_596_800_001))}},
		{"far future time", 4, ContentSummary{LastEventAt: tm(UnixMilli(253_402_300_800_000))}},
		{"NaN", 5, ContentSummary{CompletionRate: f(math.NaN())}},
		{"+Inf total", 6, ContentSummary{WatchTime: WatchTimeFigures{Total: math.Inf(1)}}},
		{"-Inf frequency", 7, ContentSummary{Rebuffer: RebufferFigures{Frequency: f(math.Inf(-1))}}},
	}
	for _, c := range cases {
		checkContentUpdate(t, c.name, c.seq, c.sum, &components{})
		checkContentUpdate(t, c.name+", with a series", c.seq, c.sum, edgeSeries(contentSpec))
	}
	// Time.MarshalJSON calls Time.AppendJSON, so the comparisons cannot see
	// a change to both: the documented form (UTC, milliseconds, Z) is pinned
	// here.
	if got := full.LastEventAt.AppendJSON(nil); string(got) != `"2026-05-03T06:30:00.123Z"` {
		t.Fatalf("lastEventAt %s", got)
	}
	for _, v := range jsonFloats {
		checkContentUpdate(t, fmt.Sprint(v), 0, ContentSummary{WatchTime: WatchTimeFigures{Total: v, Average: &v}}, &components{})
	}
}

// jsonFloats are the float64s around encoding/json's format changes and
// extremes.
var jsonFloats = []float64{0, math.Copysign(0, -1), 0.1, 0.2, 1.0 / 3, 1, 100, 1e20, 1e21, 999_999_999_999_999_999_999.0, 1.0000000000000001e21,
	1e-6, 1e-7, 9.999999999999999e-7, 1e-10, 5e-324, 2.2250738585072014e-308, math.MaxFloat64, -math.MaxFloat64,
	-1e21, -1e-7, 123456789.125, 1e100, 1e-100, 86_400, 0.9999999}

// TestJSONFloat: AppendJSONFloat writes what encoding/json writes for a
// float64, for the values around its format changes and for random bit
// patterns (every exponent).
func TestJSONFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	vals := append([]float64(nil), jsonFloats...)
	for range 20_000 {
		vals = append(vals, math.Float64frombits(r.Uint64()), r.Float64()*math.Pow(10, float64(r.IntN(50)-25)))
	}
	for _, v := range vals {
		want, err := json.Marshal(v)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if err == nil || string(AppendJSONFloat(nil, v)) != "null" {
				t.Fatalf("%v: %s, %v", v, want, err)
			}
			continue
		}
		if got := AppendJSONFloat(nil, v); err != nil || string(got) != string(want) {
			t.Fatalf("%v (%#x): got %s, want %s (%v)", v, math.Float64bits(v), got, want, err)
		}
	}
}

// TestJSONString: AppendJSONString writes what encoding/json writes for a
// string, for every string of one and two bytes, every rune up to U+FFFF
// and random byte strings (FuzzContentUpdateJSON once found \b and \f
// written as \u0008 and \u000c, which no hand-picked string had).
func TestJSONString(t *testing.T) {
	check := func(s string) {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	}
	var b [2]byte
	for i := range 1 << 16 {
		b[0], b[1] = byte(i), byte(i>>8)
		check(string(b[:1]))
		check(string(b[:]))
		check(string(rune(i)))
	}
	r := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 0, 64)
	for range 5000 {
		buf = buf[:0]
		for range r.IntN(64) {
			buf = append(buf, byte(r.IntN(256)))
		}
		check(string(buf))
	}
}

// edgeSeries is a series no apply builds: values at the limits of int64,
// negative ones, metrics left at zero, at the epoch's first minute.
func edgeSeries(spec series.Spec) *components {
	c := newComponents(spec)
	sl, _ := c.at(0, 0, 0)
	sl.Add(0, math.MaxInt64)
	sl.Add(1, -1)
	sl.Add(2, math.MinInt64)
	sl.Add(3, 1)
	sl.Add(3, -1) // back to zero: left out
	c.key(sl, true, 0, 42)
	sl, _ = c.at(60_000, 0, 0) // the next minute, the same hour
	sl.Add(spec.Counters-1, 7)
	return &c
}

// TestLiveSeriesJSON: appendLive writes the LiveSeries that live builds,
// as encoding/json writes it, for render and content series.
func TestLiveSeriesJSON(t *testing.T) {
	check := func(what string, c *components, names []string, lk *liveKeys) {
		t.Helper()
		want := []byte{}
		if ls := c.live(names); ls != nil {
			enc, err := json.Marshal(ls)
			if err != nil {
				t.Fatal(err)
			}
			want = append([]byte(`,"series":`), enc...)
		}
		if got := c.appendLive(nil, lk); !bytes.Equal(got, want) {
			t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
		}
		if len(want) > lk.size {
			t.Fatalf("%s: %d bytes, bound %d", what, len(want), lk.size)
		}
	}
	empty := newComponents(renderSpec)
	check("no series", &empty, RenderMetrics, renderLiveKeys)
	check("render edge", edgeSeries(renderSpec), RenderMetrics, renderLiveKeys)
	check("content edge", edgeSeries(contentSpec), ContentMetrics, contentLiveKeys)
	rs := newRenderState()
	for n, e := range seriesRenderEvents(600) {
		rs.apply(e)
		if n%20 == 0 {
			check(fmt.Sprintf("render after %d events", n+1), &rs.c, RenderMetrics, renderLiveKeys)
		}
	}
	cs := newContentState()
	for n, e := range seriesContentEvents(600) {
		cs.apply(&e)
		if n%20 == 0 {
			check(fmt.Sprintf("content after %d events", n+1), &cs.c, ContentMetrics, contentLiveKeys)
		}
	}
	// A render's live update carries them after the summary.
	want, _ := json.Marshal(rs.c.live(RenderMetrics))
	if b := rs.appendJSON(nil, 9, true); !json.Valid(b) || !bytes.HasSuffix(b, append(append([]byte(`],"series":`), want...), '}')) {
		t.Fatalf("render update: %s", b)
	}
}

// FuzzContentUpdateJSON applies arbitrary valid SDK events (as
// FuzzContentFigures does) with arbitrary error codes, share platforms and
// content id, and checks every update against encoding/json. The seeds,
// which `go test` runs, include FuzzContentFigures's extreme figures.
func FuzzContentUpdateJSON(f *testing.F) {
	f.Add([]byte{byte(Completion.index()), 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(Rebuffer.index()), 0, 0x5c, 0x26, 0x05}, "cnt_1", "ios", uint64(1))
	f.Add([]byte{byte(PlayStart.index()), 250, 0, 0, 0, 0, 0, 0, 0, byte(SocialShare.index()), 3, byte(PlaybackError.index()), 9}, "<cnt>&\u2028", "bad \xff\"code\"", uint64(math.MaxUint64))
	f.Add([]byte{byte(Swipe.index()), 0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f, byte(Swipe.index()), 0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f}, "", "", uint64(0))
	f.Add([]byte{}, "cnt_empty", "x", uint64(7))
	f.Fuzz(func(t *testing.T, b []byte, id, code string, seq uint64) {
		s := newContentState()
		checkContentState(t, "empty", s, id, seq)
		for i := 0; len(b) > 0 && i < 1000; i++ {
			ev := nextContentEvent(&b, i)
			if ev.Code != "" && i%2 == 0 {
				ev.Code = code + ev.Code[:i%len(ev.Code)]
			}
			if i%5 == 4 {
				ev.Type = ContentEventType(fmt.Sprintf("custom_k%d", strings.Count(code, "a")+i%7))
			}
			ev.UserID, ev.SessionID = code, fmt.Sprint(i%3)
			s.apply(&ev)
			checkContentState(t, fmt.Sprintf("after %d events", i+1), s, id, seq+uint64(i))
		}
	})
}

// BenchmarkContentUpdate: a live update of an item that saw 1,000 events,
// the way update encoded it before (json.Marshal of a cloned summary) and
// now; and the encoders alone, on the same prebuilt update.
func BenchmarkContentUpdate(b *testing.B) {
	s := benchContentItem().contents()
	k := ItemID{Project: "prj_bench", Item: "cnt_bench"}
	b.Run("update/json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&contentUpdate{Seq: 7, ContentSummary: s.summary(k.Item), Series: s.c.live(ContentMetrics)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("update/hand-written", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.update(k, 7); err != nil {
				b.Fatal(err)
			}
		}
	})
	sum := s.summary(k.Item)
	u := contentUpdate{Seq: 7, ContentSummary: sum, Series: s.c.live(ContentMetrics)}
	b.Run("encode/json.Marshal", func(b *testing.B) { // of a built summary and LiveSeries
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/hand-written", func(b *testing.B) { // of a built summary, reading the series
		b.ReportAllocs()
		buf := make([]byte, 0, sum.updateJSONSize())
		for b.Loop() {
			buf = appendContentUpdate(buf[:0], 7, &sum, &s.c)
		}
	})
}
