package actors

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors/series"
)

// seriesRenderEvents are n render events over about three hours, out of
// order by up to a minute, from 40 visitors (every seventh event without a
// client address).
func seriesRenderEvents(n int) []RenderEvent {
	out := snapRenderEvents(n, 10)
	for i := range out {
		d := time.Duration(i*97%(3*3600))*time.Second - time.Duration(i%3)*20*time.Second
		out[i].CreatedAt = Time{time.UnixMilli(1_780_000_000_000).Add(d)}
		if i%7 != 0 {
			out[i].Visitor = uint64(i%40)*0x9e3779b97f4a7c15 + 1
		}
	}
	return out
}

func seriesContentEvents(n int) []ContentEvent {
	out := snapContentEvents(n, 0)
	for i := range out {
		out[i].UserID = fmt.Sprintf("u%d", i%30)
		out[i].SessionID = fmt.Sprintf("s%d", i%45)
		if i%5 == 0 {
			out[i].UserID, out[i].DeviceID = "", fmt.Sprintf("d%d", i%9)
		}
	}
	return out
}

// TestSeriesReplayIdentical: a state restored from a snapshot taken midway
// and fed the rest of the events encodes byte-identically to the one that
// never stopped, and the series and uniques agree with the counters.
func TestSeriesReplayIdentical(t *testing.T) {
	rev, cev := seriesRenderEvents(900), seriesContentEvents(900)
	apply := func(s *itemState, from, to int) {
		for _, e := range rev[from:to] {
			if r := s.renders(); r != nil {
				r.apply(e)
			}
		}
		for i := from; i < to; i++ {
			if c := s.contents(); c != nil {
				c.apply(&cev[i])
			}
		}
	}
	for _, mk := range []func() *itemState{
		func() *itemState { return itemWith(newRenderState()) },
		func() *itemState { return itemWith(newContentState()) },
	} {
		live := mk()
		apply(live, 0, 900)
		for _, cut := range []int{1, 333, 899} {
			mid := mk()
			apply(mid, 0, cut)
			restored := mustRestore(t, mustEncode(t, mid))
			apply(restored, cut, 900)
			if a, b := mustEncode(t, live), mustEncode(t, restored); !bytes.Equal(a, b) {
				t.Fatalf("cut %d: replayed state encodes differently (%d and %d bytes)", cut, len(a), len(b))
			}
			requireSameState(t, "live and replayed", live, restored)
		}
	}

	r := itemWith(newRenderState())
	apply(r, 0, 900)
	rs := r.renders()
	if n, approx := rs.c.distinct(0); n != 40 || approx {
		t.Fatalf("viewers %d approximate %v, want 40 exact", n, approx)
	}
	// Every event is inside the hour window (three hours): the hour buckets
	// and the late figure (events behind the item's watermark) add up to
	// the counters.
	ser := rs.c.ser
	var sum int64
	for m := range 7 {
		bs, err := ser.Buckets(series.Hour, m, ser.Start(series.Hour), ser.Clock()+60_000)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			sum += b.V
		}
	}
	_, late := ser.Late()
	if sum+late != rs.counts.Total() || sum == 0 || late == 0 {
		t.Fatalf("hour buckets sum %d + late %d, counters %d", sum, late, rs.counts.Total())
	}
	c := itemWith(newContentState())
	cs := c.contents()
	users := map[string]bool{}
	for i := range cev {
		if cs.apply(&cev[i]) {
			users[cev[i].UserID+"|"+cev[i].DeviceID] = true
		}
	}
	if u, _ := cs.c.distinct(0); u != uint64(len(users)) || u < 30 {
		t.Fatalf("users %d, want %d", u, len(users))
	}
	if s, _ := cs.c.distinct(1); s != 45 {
		t.Fatalf("sessions %d, want 45", s)
	}
}

// TestSeriesMemoryTypical measures what the components add to a typical
// render: 10 viewers, events in 5 distinct minutes.
func TestSeriesMemoryTypical(t *testing.T) {
	s := newRenderState()
	base := time.UnixMilli(1_780_000_000_000)
	for i := range 40 {
		// In receive order, as the log holds them: 8 events a minute.
		at := base.Add(time.Duration(i/8)*time.Minute + time.Duration(i)*time.Second)
		e := ev(fmt.Sprintf("evt_%d", i), Viewed, "", fmt.Sprintf("203.0.113.%d", i), 0)
		e.CreatedAt = Time{at}
		e.Visitor = uint64(i%10)*0x9e3779b97f4a7c15 + 1
		e.ID = fmt.Sprintf("evt_%d", i)
		s.apply(e)
	}
	n := s.c.size()
	if _, late := s.c.ser.Late(); late != 0 {
		t.Fatalf("%d events late", late)
	}
	t.Logf("components of a typical render: %d bytes in memory", n)
	if n > 1024 {
		t.Fatalf("typical render's series and sketch take %d bytes, over 1 KiB", n)
	}
}

// The snapshot round hands the store each item's closed hours with its
// snapshot, and once written they are not handed again until they change.
func TestRoundWritesSeriesRows(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	k := ItemID{Project: "p", Item: "r"}
	r := startRegistry(t, l, s, time.Hour)
	at := func(d time.Duration, ip string) Message {
		e := ev("", Viewed, "", ip, d)
		e.Visitor = 42
		return Message{Render: []RenderEvent{e}}
	}
	hour := func(d time.Duration) int64 { return t0.Add(d).Truncate(time.Hour).UnixMilli() }
	steps := []struct {
		m    Message
		want map[int64][2]int64 // hour -> viewed, viewers
	}{
		{at(0, "10.0.0.1"), map[int64][2]int64{hour(0): {1, 1}}},
		{at(time.Minute, "10.0.0.2"), map[int64][2]int64{hour(0): {2, 1}}},
		{at(2*time.Hour, "10.0.0.3"), map[int64][2]int64{hour(2 * time.Hour): {1, 1}}}, // hour(0) is written and unchanged
	}
	for i, st := range steps {
		r.deliver(t, l, l.append(t, k, st.m), uint64(i+1))
		waitFor(t, "the claim", func() bool { return r.owns(k) })
		before := len(s.rows)
		r.round(context.Background(), false)
		s.mu.Lock()
		got := s.rows[before:]
		s.mu.Unlock()
		if len(got) != 1 {
			t.Fatalf("step %d: %d writes with rows, want 1", i, len(got))
		}
		rows := map[int64][2]int64{}
		for _, h := range got[0].Hours {
			rows[h.Hour] = [2]int64{h.Values[0], h.Values[renderViewers]}
		}
		if fmt.Sprint(rows) != fmt.Sprint(st.want) {
			t.Fatalf("step %d: rows %v, want %v", i, rows, st.want)
		}
	}
}

// TestSeriesMemoryTypicalContent: a content item with 10 users (one session
// each) and plays, completions and likes in 5 distinct minutes.
func TestSeriesMemoryTypicalContent(t *testing.T) {
	s := newContentState()
	base := int64(1_780_000_000_000)
	for i := range 40 {
		at := base + int64(i/8)*60_000 + int64(i)*100
		typ := []ContentEventType{PlayStart, Completion, Like, Impression}[i%4]
		s.apply(&ContentEvent{ID: fmt.Sprintf("e%d", i), Type: typ, UserID: fmt.Sprintf("u%d", i%10), SessionID: fmt.Sprintf("s%d", i%10),
			At: at, Recv: at + 50, WatchTime: 12.5})
	}
	n := s.c.size()
	t.Logf("components of a typical content item: %d bytes in memory", n)
	if n > 2048 {
		t.Fatalf("typical content item's series and sketches take %d bytes", n)
	}
}

// ReadSeries answers from memory without changing the state, stops at the
// newest event's bucket, refuses minutes before the window, and reports
// the hours it holds that no round wrote yet.
func TestReadSeriesFromMemory(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	k := ItemID{Project: "p", Item: "r"}
	r := startRegistry(t, l, s, time.Hour)
	for i, d := range []time.Duration{0, 3 * time.Hour} {
		e := ev("", Viewed, "", fmt.Sprintf("10.0.0.%d", i), d)
		e.Visitor = uint64(i + 1)
		r.deliver(t, l, l.append(t, k, Message{Render: []RenderEvent{e}}), uint64(i+1))
	}
	ctx := context.Background()
	before, err := r.Current(ctx, k, RenderItem)
	if err != nil {
		t.Fatal(err)
	}
	last := t0.Add(3 * time.Hour).UnixMilli()
	rd, err := r.ReadSeries(ctx, k, RenderItem, 0, true, t0.Add(-time.Hour).UnixMilli(), last+1500*24*3_600_000)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, b := range rd.Buckets {
		sum += b.V
	}
	if sum != 2 || rd.Buckets[len(rd.Buckets)-1].T != t0.Add(3*time.Hour).Truncate(time.Hour).UnixMilli() {
		t.Fatalf("hour buckets %v", rd.Buckets)
	}
	if u := rd.Uniques.(RenderUniques); u.Viewers != 2 || !rd.HasComplete || rd.CompleteThrough != last-ClockSkew {
		t.Fatalf("uniques %+v, completeThrough %d (%v), want %d", u, rd.CompleteThrough, rd.HasComplete, last-ClockSkew)
	}
	if _, err := r.ReadSeries(ctx, k, RenderItem, 0, false, t0.UnixMilli(), last); err != ErrSeriesBeforeWindow {
		t.Fatalf("minutes three hours back: %v", err)
	}
	after, _ := r.Current(ctx, k, RenderItem)
	if string(before.Payload) != string(after.Payload) {
		t.Fatal("a series read changed the state")
	}
}

// ContentWindow sums the window's buckets as of the given now: the 60
// minutes or 24 hours up to the bucket holding now, whatever the item's
// newest event.
func TestContentWindow(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	k := ItemID{Project: "p", Item: "c"}
	r := startRegistry(t, l, s, time.Hour)
	for i, d := range []time.Duration{0, 90 * time.Minute} {
		at := t0.Add(d).UnixMilli()
		evs := []ContentEvent{
			{ID: fmt.Sprintf("p%d", i), Type: PlayStart, At: at, Recv: at},
			{ID: fmt.Sprintf("c%d", i), Type: Completion, At: at, Recv: at, WatchTime: 10},
			{ID: fmt.Sprintf("b%d", i), Type: Rebuffer, At: at, Recv: at, StallMS: 250},
		}
		r.deliver(t, l, l.append(t, k, Message{Content: evs}), uint64(i+1))
	}
	ctx := context.Background()
	for _, c := range []struct {
		window string
		now    time.Duration // after t0
		plays  int64
	}{
		{Window1h, 90 * time.Minute, 1},
		{Window1h, 30 * time.Minute, 1}, // t0's minute is 30 minutes before
		{Window1h, 61 * time.Minute, 0},
		{Window1h, 3 * time.Hour, 0},
		{Window24h, 90 * time.Minute, 2},
		{Window24h, 24 * time.Hour, 1}, // t0's hour is 24 hours before: out
		{Window24h, 30 * time.Hour, 0},
	} {
		f, err := r.ContentWindow(ctx, k, c.window, t0.Add(c.now).UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		want := WindowFigures{Plays: c.plays, Completions: c.plays, WatchMS: c.plays * 10_000, RebufferMS: c.plays * 250}
		if f != want {
			t.Fatalf("%s at t0+%v: %+v, want %+v", c.window, c.now, f, want)
		}
	}
	if _, err := r.ContentWindow(ctx, k, "7d", t0.UnixMilli()); err == nil {
		t.Fatal("window 7d answered")
	}
	if f, err := r.ContentWindow(ctx, ItemID{Project: "p", Item: "quiet"}, Window24h, t0.UnixMilli()); err != nil || f != (WindowFigures{}) {
		t.Fatalf("a content without events: %+v %v", f, err)
	}
}
