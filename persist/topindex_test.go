package persist

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/actors/series"
)

// topIndexFixture is a project with content items a, b, c and render r in
// partition 0 of 1, owned under epoch.
type topIndexFixture struct {
	s       *Store
	project string
	epoch   int64
	seq     uint64
}

func newTopIndexFixture(t *testing.T) *topIndexFixture {
	t.Helper()
	ctx := context.Background()
	s, _ := open(t)
	f := &topIndexFixture{s: s, project: uuid.NewString()}
	var err error
	if f.epoch, err = s.ClaimPartition(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO projects (id, name) VALUES ($1, 'top')`, f.project); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO items (project_id, id, kind) VALUES ($1, 'a', 'content'), ($1, 'b', 'content'), ($1, 'c', 'content'), ($1, 'r', 'render')`, f.project); err != nil {
		t.Fatal(err)
	}
	return f
}

// plays returns a content hour row with n plays.
func plays(at time.Time, n int64) series.HourRow {
	v := make([]int64, len(actors.ContentMetrics))
	v[actors.RankPlays] = n
	return series.HourRow{Hour: at.UnixMilli(), Values: v}
}

// write saves item's hour rows as a snapshot round does.
func (f *topIndexFixture) write(t *testing.T, item string, rows ...series.HourRow) {
	t.Helper()
	f.seq++
	snap := actors.Snapshot{Key: actors.ItemID{Project: f.project, Item: item}, Seq: f.seq, State: []byte{1}, Series: actors.SeriesRows{Hours: rows}}
	if err := f.s.SaveSnapshots(context.Background(), 0, f.epoch, []actors.Snapshot{snap}); err != nil {
		t.Fatal(err)
	}
}

func (f *topIndexFixture) top(t *testing.T, idx *TopIndex, window string, now time.Time) []actors.TopItem {
	t.Helper()
	m, _ := actors.LookupRankMetric("content", "plays")
	l, err := idx.Top(context.Background(), actors.TopQuery{Project: f.project, Kind: "content", Metric: m, Window: window, Limit: 10}, now)
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func (f *topIndexFixture) read(t *testing.T, idx *TopIndex, window string) {
	t.Helper()
	idx.mu.Lock()
	w := idx.windows[topKey{f.project, window}]
	idx.mu.Unlock()
	if err := idx.read(context.Background(), w, false); err != nil {
		t.Fatal(err)
	}
}

func items(kv ...any) []actors.TopItem {
	var out []actors.TopItem
	for i := 0; i < len(kv); i += 2 {
		out = append(out, actors.TopItem{ID: kv[i].(string), Value: float64(kv[i+1].(int))})
	}
	if out == nil {
		out = []actors.TopItem{}
	}
	return out
}

// TestTopIndexReadsChanges loads a window, then checks that a read picks
// up rewritten rows and new items, and that a row written by a transaction
// still open during a read is picked up by the read after its commit (the
// xmin mark), not lost.
func TestTopIndexReadsChanges(t *testing.T) {
	ctx := context.Background()
	f := newTopIndexFixture(t)
	now := time.Date(2026, 12, 7, 5, 30, 0, 0, time.UTC)
	h := now.Truncate(time.Hour)
	f.write(t, "a", plays(h, 3))
	f.write(t, "b", plays(h.Add(-2*time.Hour), 5))
	idx := NewTopIndex(f.s, 1, 0, 1<<40, slog.Default())
	if got, want := f.top(t, idx, actors.Window24h, now), items("b", 5, "a", 3); !slices.Equal(got, want) {
		t.Fatalf("loaded: %v, want %v", got, want)
	}

	f.write(t, "a", plays(h, 9))                      // rewritten
	f.write(t, "c", plays(h.Add(-time.Hour), 5))      // new item, ties with b
	f.write(t, "b", plays(h.Add(-30*time.Hour), 100)) // outside the window
	if got, want := f.top(t, idx, actors.Window24h, now), items("b", 5, "a", 3); !slices.Equal(got, want) {
		t.Fatalf("before a read: %v, want the loaded answer %v", got, want)
	}
	f.read(t, idx, actors.Window24h)
	if got, want := f.top(t, idx, actors.Window24h, now), items("a", 9, "b", 5, "c", 5); !slices.Equal(got, want) {
		t.Fatalf("after a read: %v, want %v", got, want)
	}

	// A transaction open across a read.
	tx, err := f.s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	row := SeriesRow{Key: actors.ItemID{Project: f.project, Item: "c"}, Hour: h, Values: plays(h, 7).Values}
	if err := saveSeriesRows(ctx, tx, []SeriesRow{row}, nil, nil); err != nil {
		t.Fatal(err)
	}
	f.write(t, "a", plays(h, 10)) // committed meanwhile, after the open one began
	f.read(t, idx, actors.Window24h)
	if got, want := f.top(t, idx, actors.Window24h, now), items("a", 10, "b", 5, "c", 5); !slices.Equal(got, want) {
		t.Fatalf("with a transaction open: %v, want %v", got, want)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	f.read(t, idx, actors.Window24h)
	if got, want := f.top(t, idx, actors.Window24h, now), items("c", 12, "a", 10, "b", 5); !slices.Equal(got, want) {
		t.Fatalf("after its commit: %v, want %v", got, want)
	}
	// Nothing new: a read changes nothing.
	f.read(t, idx, actors.Window24h)
	if got, want := f.top(t, idx, actors.Window24h, now), items("c", 12, "a", 10, "b", 5); !slices.Equal(got, want) {
		t.Fatalf("read again: %v, want %v", got, want)
	}
}

// TestTopIndexWindowMoves checks that the sums follow the clock of the
// questions: an hour leaving the window stops counting, an hour written
// ahead of the clock counts once the window reaches it, and the bounds
// never move back. Hour windows are cut at the retention.
func TestTopIndexWindowMoves(t *testing.T) {
	f := newTopIndexFixture(t)
	now := time.Date(2026, 12, 7, 5, 30, 0, 0, time.UTC)
	h := now.Truncate(time.Hour)
	f.write(t, "a", plays(h.Add(-23*time.Hour), 4), plays(h, 1))
	f.write(t, "b", plays(h.Add(time.Hour), 6)) // an instance's clock ahead
	f.write(t, "c", plays(h.Add(-100*time.Hour), 8))
	idx := NewTopIndex(f.s, 1, 72*time.Hour, 1<<40, slog.Default())
	if got, want := f.top(t, idx, actors.Window24h, now), items("a", 5); !slices.Equal(got, want) {
		t.Fatalf("at %v: %v, want %v", now, got, want)
	}
	later := now.Add(time.Hour)
	if got, want := f.top(t, idx, actors.Window24h, later), items("b", 6, "a", 1); !slices.Equal(got, want) {
		t.Fatalf("an hour later: %v, want %v", got, want)
	}
	if got, want := f.top(t, idx, actors.Window24h, now), items("b", 6, "a", 1); !slices.Equal(got, want) {
		t.Fatalf("asked with the older clock again: %v, want the later window %v", got, want)
	}
	// 7d would hold c's hour, 100 hours back, but the retention (72 h)
	// deletes it: it does not count whether or not the sweep has run.
	if got, want := f.top(t, idx, actors.Window7d, now), items("a", 5); !slices.Equal(got, want) {
		t.Fatalf("7d with 72 h retention: %v, want %v", got, want)
	}
	if got, want := f.top(t, NewTopIndex(f.s, 1, 0, 1<<40, slog.Default()), actors.Window7d, now), items("c", 8, "a", 5); !slices.Equal(got, want) {
		t.Fatalf("7d without a cut: %v, want %v", got, want)
	}
}

// TestTopHeap checks the bounded heap against a full sort, ties included.
func TestTopHeap(t *testing.T) {
	for limit := range 12 {
		for n := range 30 {
			var all []actors.TopItem
			h := topHeap{limit: limit}
			for i := range n {
				it := actors.TopItem{ID: string(rune('a' + (i*7)%26)), Value: float64((i * 5) % 4)}
				all = append(all, it)
				h.offer(it)
			}
			want := (&topHeap{limit: len(all), items: slices.Clone(all)}).sorted()
			want = want[:min(limit, len(want))]
			if got := h.sorted(); !slices.Equal(got, want) {
				t.Fatalf("limit %d of %d: %v, want %v", limit, n, got, want)
			}
		}
	}
}

// BenchmarkTopIndexQuery ranks 100k contents (one hour row each, plus 50k
// renders to skip) by a rate, as a question that misses the answer cache
// does: go test -run '^$' -bench TopIndexQuery -benchmem ./persist
func BenchmarkTopIndexQuery(b *testing.B) {
	now := time.Date(2026, 12, 7, 5, 30, 0, 0, time.UTC)
	w := &topWindow{index: map[string]int32{}}
	x := &TopIndex{}
	w.from, w.to = x.bounds(actors.Window24h, now)
	rng := uint64(1)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 150_000 {
		v := make([]int64, len(actors.ContentMetrics))
		for j := range v {
			rng = rng*6364136223846793005 + 1442695040888963407
			v[j] = int64(rng >> 58)
		}
		w.apply(topRowIn{id: fmt.Sprintf("item-%06d", i), content: i%3 != 0, at: now.Truncate(time.Hour).Unix(), vals: v})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	// What the window holds per item with one row (the rows' input
	// slices, which apply copies, are garbage by now).
	m, _ := actors.LookupRankMetric("content", "completionRate")
	q := actors.TopQuery{Kind: "content", Metric: m, Window: actors.Window24h, Limit: 100, MinPlays: 3}
	b.ReportAllocs()
	for b.Loop() {
		if items, _, _ := w.top(q, w.from, w.to); len(items) != 100 {
			b.Fatal(len(items))
		}
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/150_000, "heapB/item")
	b.ReportMetric(float64(w.bytes())/150_000, "estB/item") // what trim counts
	runtime.KeepAlive(w)
}

// TestTopWindowMatchesModel applies random rows (new last buckets, the
// last bucket again, older buckets, zeros, large and negative values, rows
// ahead of the window) and moves the window, and checks after each step
// that every item's packed rows and sums are those of a plain model.
func TestTopWindowMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	const hour = 3600
	w := &topWindow{index: map[string]int32{}, from: 1000 * hour, to: 1024 * hour}
	model := map[string]map[int64][]int64{} // item → bucket → vals
	content := map[string]bool{}
	check := func(step int) {
		t.Helper()
		rows := 0
		for id, byAt := range model {
			i, ok := w.index[id]
			if !ok {
				if len(byAt) > 0 {
					t.Fatalf("step %d: %s missing", step, id)
				}
				continue
			}
			n := counters(content[id])
			e := &w.items[i]
			got := e.unpack(n)
			want := make([]int64, topStride)
			var ats []int64
			for at := range byAt {
				ats = append(ats, at)
			}
			slices.Sort(ats)
			if len(got) != len(ats) {
				t.Fatalf("step %d: %s has %d rows, want %d", step, id, len(got), len(ats))
			}
			for k, at := range ats {
				if got[k].at != at || !slices.Equal(got[k].vals, byAt[at]) {
					t.Fatalf("step %d: %s row %d = %v %v, want %v %v", step, id, k, got[k].at, got[k].vals, at, byAt[at])
				}
				if at >= w.from && at < w.to {
					add(want[:n], byAt[at], 1)
				}
			}
			if e.rows != int32(len(ats)) || (len(ats) > 0 && e.lastAt != ats[len(ats)-1]) {
				t.Fatalf("step %d: %s rows %d lastAt %d, want %d %v", step, id, e.rows, e.lastAt, len(ats), ats)
			}
			if !slices.Equal(w.sumsOf(int(i)), want) {
				t.Fatalf("step %d: %s sums %v, want %v", step, id, w.sumsOf(int(i)), want)
			}
			rows += len(ats)
		}
		for i := range w.items {
			if j, ok := w.index[w.items[i].id]; !ok || int(j) != i {
				t.Fatalf("step %d: %s is at %d, indexed at %d", step, w.items[i].id, i, j)
			}
		}
		if w.rows != rows || len(w.items) != len(w.index) || len(w.items) != len(model) {
			t.Fatalf("step %d: %d rows, %d items, %d indexed; want %d rows", step, w.rows, len(w.items), len(w.index), rows)
		}
	}
	for step := range 20_000 {
		if rng.IntN(500) == 0 { // the window moves on, now and then past many items' rows
			jump := int64(rng.IntN(3))
			if rng.IntN(4) == 0 {
				jump = int64(rng.IntN(30))
			}
			w.advance(w.from+jump*hour, w.to+int64(rng.IntN(3))*hour)
			for id, byAt := range model {
				for at := range byAt {
					if at < w.from {
						delete(byAt, at)
					}
				}
				if len(byAt) == 0 {
					delete(model, id)
				}
			}
			check(step)
			continue
		}
		id := fmt.Sprintf("i%d", rng.IntN(40))
		if _, ok := content[id]; !ok {
			content[id] = rng.IntN(2) == 0
		}
		at := w.from + int64(rng.IntN(30)-2)*hour // some before the window, some past its end
		vals := make([]int64, counters(content[id]))
		for k := range vals {
			switch rng.IntN(6) {
			case 0:
				vals[k] = rng.Int64N(1 << 40)
			case 1:
				vals[k] = -rng.Int64N(100)
			case 2:
				vals[k] = rng.Int64N(10)
			}
		}
		w.apply(topRowIn{id: id, content: content[id], at: at, vals: vals})
		if at >= w.from {
			if model[id] == nil {
				model[id] = map[int64][]int64{}
			}
			model[id][at] = vals
		}
		if step%50 == 0 {
			check(step)
		}
	}
	check(-1)
}

// BenchmarkTopIndexBusyItems holds 10k contents busy in every hour of a
// 24h window (a few non-zero counters per row) and measures the heap per
// row and what moving the window by an hour costs (advance unpacks, drops
// the oldest row and sums again): go test -run '^$' -bench BusyItems
// -benchmem ./persist
func BenchmarkTopIndexBusyItems(b *testing.B) { benchBusyWindow(b, 10_000, 24, 3600) }

// BenchmarkTopIndexBusyMinutes is the 1h window at its heaviest: 100k
// items with a row in every minute. One step moves it by a minute, which
// holds the window's lock (questions of that window wait).
func BenchmarkTopIndexBusyMinutes(b *testing.B) { benchBusyWindow(b, 100_000, 60, 60) }

// benchBusyWindow fills a window with items rows in each of its buckets
// (step seconds wide) and times moving it by one bucket.
func benchBusyWindow(b *testing.B, items, buckets int, step int64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := &topWindow{index: map[string]int32{}, from: 1000 * step, to: (1000 + int64(buckets)) * step}
	rng := rand.New(rand.NewPCG(3, 4))
	for h := range buckets {
		for i := range items {
			v := make([]int64, counters(true))
			v[actors.RankPlays] = rng.Int64N(50)
			v[actors.RankPlays+1] = rng.Int64N(20)
			v[len(v)-2] = rng.Int64N(3_000_000) // watch time, ms
			w.apply(topRowIn{id: fmt.Sprintf("item-%06d", i), content: true, at: (1000 + int64(h)) * step, vals: v})
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	rows := w.rows
	b.ResetTimer()
	for n := 0; b.Loop(); n++ {
		// Each step drops the oldest bucket and writes the newest: the row
		// count stays at items × buckets.
		w.advance(w.from+step, w.to+step)
		b.StopTimer()
		for i := range items {
			v := make([]int64, counters(true))
			v[actors.RankPlays] = 1
			w.apply(topRowIn{id: fmt.Sprintf("item-%06d", i), content: true, at: w.to - step, vals: v})
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(rows), "heapB/row")
	b.ReportMetric(float64(w.bytes())/float64(rows), "estB/row") // what trim counts
	runtime.KeepAlive(w)
}

// TestTopIndexKeepsWithinBudget checks that past maxBytes the least
// recently asked window is dropped, and that a window larger than the
// whole budget still answers the question that loaded it (and the next,
// by loading it again).
func TestTopIndexKeepsWithinBudget(t *testing.T) {
	f := newTopIndexFixture(t)
	now := time.Date(2026, 12, 7, 5, 30, 0, 0, time.UTC)
	h := now.Truncate(time.Hour)
	f.write(t, "a", plays(h, 3))
	f.write(t, "b", plays(h.Add(-100*time.Hour), 5))
	size := func(idx *TopIndex, window string) int64 {
		idx.mu.Lock()
		w := idx.windows[topKey{f.project, window}]
		idx.mu.Unlock()
		if w == nil {
			return 0
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.bytes()
	}
	held := func(idx *TopIndex) []string {
		idx.mu.Lock()
		defer idx.mu.Unlock()
		var out []string
		for k := range idx.windows {
			out = append(out, k.window)
		}
		slices.Sort(out)
		return out
	}
	probe := NewTopIndex(f.s, 1, 0, 1<<40, slog.Default())
	f.top(t, probe, actors.Window24h, now)
	f.top(t, probe, actors.Window7d, now)
	one, seven := size(probe, actors.Window24h), size(probe, actors.Window7d)
	if one <= 0 || seven <= one {
		t.Fatalf("sizes: 24h %d, 7d %d (7d holds one more item)", one, seven)
	}

	// Room for the bigger window, not for both: the one asked first goes.
	idx := NewTopIndex(f.s, 1, 0, seven, slog.Default())
	f.top(t, idx, actors.Window24h, now)
	f.top(t, idx, actors.Window7d, now)
	if got := held(idx); !slices.Equal(got, []string{actors.Window7d}) || idx.dropped.Load() != 1 {
		t.Fatalf("holds %v after %d drops, want [7d] after 1", got, idx.dropped.Load())
	}
	if got, want := f.top(t, idx, actors.Window24h, now), items("a", 3); !slices.Equal(got, want) {
		t.Fatalf("24h loaded again: %v, want %v", got, want)
	}
	if got := held(idx); !slices.Equal(got, []string{actors.Window24h}) {
		t.Fatalf("holds %v, want the 24h window just asked", got)
	}

	// No room at all: every question loads, answers, and drops.
	tiny := NewTopIndex(f.s, 1, 0, 1, slog.Default())
	for range 2 {
		if got, want := f.top(t, tiny, actors.Window7d, now), items("b", 5, "a", 3); !slices.Equal(got, want) {
			t.Fatalf("over budget: %v, want %v", got, want)
		}
		if got := held(tiny); len(got) != 0 {
			t.Fatalf("over budget, holds %v", got)
		}
	}
}
