package actors

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"
)

var recv0 = time.Date(2026, 5, 3, 10, 30, 0, 0, time.UTC)

func videoEv(id string, typ ContentEventType, recv time.Duration) *ContentEvent {
	return &ContentEvent{ID: id, Type: typ, At: recv0.Add(recv).UnixMilli(), Recv: recv0.Add(recv).UnixMilli()}
}

func TestContentDedupeWindowAndBound(t *testing.T) {
	s := newContentState()
	if !s.apply(videoEv("a", Like, 0)) || s.apply(videoEv("a", Like, time.Minute)) {
		t.Fatal("a repeated eventId must count once")
	}
	if !s.apply(videoEv("b", Save, 0)) {
		t.Fatal("another id is another event")
	}
	if s.apply(videoEv("a", Like, 24*time.Hour)) {
		t.Fatal("forgotten inside 24 hours")
	}
	// Past the window (25 h on the receive clock) the id is forgotten.
	if !s.apply(videoEv("a", Like, 25*time.Hour+time.Minute)) {
		t.Fatal("remembered past the window")
	}
	if s.counts.Like != 2 || s.counts.Save != 1 || s.total != 3 {
		t.Fatalf("counts %+v", s.counts)
	}

	// Past the capacity the oldest id is forgotten first.
	d := newIDDedupe(4)
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		if d.seen(id, 0) {
			t.Fatalf("%s seen", id)
		}
	}
	if d.n != 4 || d.ids != nil { // a few ids: scanned, not indexed (smallDedupe)
		t.Fatalf("holds %d ids (%d indexed), bound 4", d.n, len(d.ids))
	}
	if !d.seen("5", 0) || !d.seen("2", 0) || d.seen("1", 0) {
		t.Fatal("eviction order")
	}
}

// A restored state decides every later event as the live one does and shows
// the same figures, at any cut, with duplicates and the window in play.
func TestContentSnapshotRestoreIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var events []*ContentEvent
	for i := 0; i < 3000; i++ {
		typ := ContentEventTypes[rng.IntN(len(ContentEventTypes))]
		if rng.IntN(10) == 0 {
			typ = ContentEventType(fmt.Sprintf("custom_%d", rng.IntN(80)))
		}
		ev := videoEv(fmt.Sprintf("id%d", rng.IntN(2500)), typ, time.Duration(i)*time.Minute)
		ev.StartupMS = rng.Int64N(5000)
		ev.WatchTime = rng.Float64() * 60
		ev.StallMS = rng.Int64N(3000)
		ev.Code = fmt.Sprintf("c%d", rng.IntN(100))
		if typ == Swipe && rng.IntN(2) == 0 {
			ev.Role = RoleSwipeOut
		}
		events = append(events, ev)
	}
	for _, cut := range []int{0, 1, 500, 1999, 2999} {
		live := newContentState()
		live.dedupe = newIDDedupe(700) // small, so eviction happens too
		for _, e := range events[:cut] {
			c := *e
			live.apply(&c)
		}
		b, err := itemWith(live).encode()
		if err != nil {
			t.Fatal(err)
		}
		st, err := restoreState(b)
		if err != nil {
			t.Fatal(err)
		}
		restored := st.contents()
		restored.dedupe.capacity = 700
		for i, e := range events[cut:] {
			c1, c2 := *e, *e
			if a, b := live.apply(&c1), restored.apply(&c2); a != b {
				t.Fatalf("cut %d, event %d: live counted %v, restored %v", cut, cut+i, a, b)
			}
		}
		if !reflect.DeepEqual(live.summary("x"), restored.summary("x")) {
			t.Fatalf("cut %d: summaries differ", cut)
		}
	}
}

func TestContentMapsAreBounded(t *testing.T) {
	s := newContentState()
	for i := 0; i < MaxErrorCodes+10; i++ {
		ev := videoEv(fmt.Sprint(i), PlaybackError, 0)
		ev.Code = fmt.Sprintf("E%d", i)
		s.apply(ev)
	}
	if len(s.errors) != MaxErrorCodes+1 || s.errors[OtherKey] != 10 {
		t.Fatalf("%d codes, other %d", len(s.errors), s.errors[OtherKey])
	}
	ev := videoEv("again", PlaybackError, 0)
	ev.Code = "E3"
	s.apply(ev)
	if s.errors["E3"] != 2 {
		t.Fatal("a known code must still count under its own key")
	}
}

func TestLogHistPrecision(t *testing.T) {
	prev := uint16(0)
	for v := int64(0); v <= histMax; v += 1 + v/50 {
		i := histIndex(v)
		lo := histLower(i)
		if i < prev || lo > v || (v >= 256 && float64(v-lo)/float64(v) >= 1.0/128) || (v < 256 && lo != v) {
			t.Fatalf("v %d: bin %d lower %d (previous bin %d)", v, i, lo, prev)
		}
		if histIndex(lo) != i {
			t.Fatalf("v %d: lower bound %d is in bin %d, not %d", v, lo, histIndex(lo), i)
		}
		prev = i
	}
	if int(histIndex(histMax)) >= 256+14*128 || histIndex(1<<40) != histIndex(histMax) || histIndex(-5) != 0 {
		t.Fatal("range")
	}
	var h logHist
	vals := []int64{}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 10000; i++ {
		v := int64(rng.NormFloat64()*400 + 900)
		if v < 0 {
			v = 0
		}
		vals = append(vals, v)
		h.add(v)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.95, 0.99} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.quantile(q)
		if got > exact || float64(exact-got) > float64(exact)/128 {
			t.Fatalf("q%.2f = %d, exact %d", q, got, exact)
		}
	}
}

func BenchmarkContentApply(b *testing.B) {
	s := newContentState()
	types := []ContentEventType{Impression, PlayStart, WatchProgress, Completion, Rebuffer}
	evs := make([]ContentEvent, 1<<16)
	for i := range evs {
		evs[i] = ContentEvent{ID: fmt.Sprintf("0193c2c3-aaaa-7000-8000-%012d", i), Type: types[i%len(types)], At: int64(i), Recv: int64(i), StartupMS: int64(i % 3000), WatchTime: 10}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := evs[i%len(evs)]
		ev.Recv += int64(i / len(evs) * ContentDedupeWindowMS) // every pass is new: ids expire
		s.apply(&ev)
		i++
	}
}

// The log message of one item with 10 events, as the edge encodes it and a
// partition consumer decodes it.
func BenchmarkContentMessageCodec(b *testing.B) {
	m := &Message{Ref: "0123456789abcdef"}
	for i := 0; i < 10; i++ {
		m.Content = append(m.Content, ContentEvent{ID: fmt.Sprintf("0193c2c3-aaaa-7000-8000-%012d", i), Type: PlayStart, SessionID: "sess_xyz789",
			At: recv0.UnixMilli(), Recv: recv0.UnixMilli(), StartupMS: 250, Data: json.RawMessage(`{"startupTime":250,"rendition":"720p","codec":"h264","autoplay":true}`)})
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := m.Encode()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeMessage(p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10), "ns/event")
}

// The dedupe set against a plain model, across the switch from scanning
// the ring to indexing it (smallDedupe) and back down as ids expire and
// are evicted, and through snapshots: the same answers, the same ids.
func TestContentDedupeMatchesModel(t *testing.T) {
	// Capacity 8 scans the ring only; 100 indexes past 32 ids and keeps the
	// index as they expire; the pools make repeats frequent in both.
	for _, c := range []struct{ capacity, pool int }{{8, 12}, {100, 160}} {
		dedupeModel(t, c.capacity, c.pool)
	}
}

func dedupeModel(t *testing.T, capacity, pool int) {
	t.Helper()
	type entry struct {
		h  uint64
		at int64
	}
	rng := rand.New(rand.NewPCG(5, 6))
	d := newIDDedupe(capacity)
	var model []entry
	var maxRecv, now int64
	for step := range 50_000 {
		now += rng.Int64N(ContentDedupeWindowMS / 200)
		id := fmt.Sprintf("evt-%d", rng.IntN(pool))
		maxRecv = max(maxRecv, now)
		for len(model) > 0 && maxRecv-model[0].at >= ContentDedupeWindowMS {
			model = model[1:]
		}
		h, want := hashID(id), false
		for _, e := range model {
			want = want || e.h == h
		}
		if !want {
			if len(model) == capacity {
				model = model[1:]
			}
			model = append(model, entry{h, now})
		}
		if got := d.seen(id, now); got != want {
			t.Fatalf("step %d: seen(%s) = %v, want %v", step, id, got, want)
		}
		if d.n != len(model) {
			t.Fatalf("step %d: %d ids, want %d", step, d.n, len(model))
		}
		if step%997 == 0 { // through a snapshot now and then
			r, err := restoreIDDedupe(capacity, d.snapshot())
			if err != nil {
				t.Fatal(err)
			}
			d = r
		}
	}
}
