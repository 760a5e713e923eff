package persist

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/actors/series"
)

// topFixture is one item's rows as the snapshot round writes them, kept in
// Go for the brute-force answers.
type topFixture struct {
	key     actors.ItemID
	kind    string
	minutes []series.MinuteRow
	hours   []series.HourRow
}

// TestTopBruteForce writes 100k items' rows over every partition through
// SaveSnapshots (the snapshot round's write path, under each partition's
// epoch) and compares the TopIndex's answers with sums computed in Go, for
// every metric of both kinds and every window: exact values, ties broken by
// id ascending, windows cut at their bucket edges, the other project's and
// the other kind's rows left out.
func TestTopBruteForce(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	const parts, items = 8, 100_000
	epochs := map[int]int64{}
	for p := range parts {
		e, err := s.ClaimPartition(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		epochs[p] = e
	}
	now := time.Date(2026, 12, 7, 5, 30, 30, 0, time.UTC)
	rng := rand.New(rand.NewPCG(20, 1))
	project, other := uuid.NewString(), uuid.NewString()
	var fx []topFixture
	for _, pr := range []string{project, other} {
		if _, err := s.pool.Exec(ctx, `INSERT INTO projects (id, name) VALUES ($1, 'top')`, pr); err != nil {
			t.Fatal(err)
		}
		n := items
		if pr == other {
			n = 2000
		}
		ids, kinds := make([]string, n), make([]string, n)
		for i := range n {
			kinds[i] = "content"
			if i%5 < 2 {
				kinds[i] = "render"
			}
			// Ids that sort differently bytewise and in a locale's
			// collation (case, punctuation), to check the tie order.
			ids[i] = fmt.Sprintf("%c%05d", "aB_b-A"[i%6], rng.IntN(1_000_000)) + fmt.Sprint(i)
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO items (project_id, id, kind) SELECT $1, i, k FROM unnest($2::text[], $3::text[]) AS u(i, k)`, pr, ids, kinds); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			f := topFixture{key: actors.ItemID{Project: pr, Item: ids[i]}, kind: kinds[i]}
			width := len(actors.RenderMetrics)
			if f.kind == "content" {
				width = len(actors.ContentMetrics)
			}
			counters := width - 1
			if f.kind == "content" {
				counters = width - 2
			}
			vals := func(n int) []int64 {
				v := make([]int64, n)
				for j := range v {
					if rng.IntN(3) > 0 {
						v[j] = rng.Int64N(4) // small: many ties
					}
				}
				if f.kind == "content" && n > 15 {
					v[14] *= 400 // watch time (ms): past 1 s often, for rebufferRatio
				}
				return v
			}
			// Minutes around the 1h window's edges, hours around the others'.
			for range rng.IntN(2) + rng.IntN(2) {
				m := now.Truncate(time.Minute).Add(-time.Duration(rng.IntN(64)) * time.Minute)
				if !slices.ContainsFunc(f.minutes, func(r series.MinuteRow) bool { return r.Minute == m.UnixMilli() }) {
					f.minutes = append(f.minutes, series.MinuteRow{Minute: m.UnixMilli(), Values: vals(counters)})
				}
			}
			for range 1 + rng.IntN(2) {
				back := []int{0, 1, 23, 24, 100, 167, 168, 500, 719, 720}[rng.IntN(10)]
				h := now.Truncate(time.Hour).Add(-time.Duration(back) * time.Hour)
				if !slices.ContainsFunc(f.hours, func(r series.HourRow) bool { return r.Hour == h.UnixMilli() }) {
					f.hours = append(f.hours, series.HourRow{Hour: h.UnixMilli(), Values: vals(width)})
				}
			}
			fx = append(fx, f)
		}
	}
	byPart := map[int][]actors.Snapshot{}
	for _, f := range fx {
		p := f.key.Partition(parts)
		byPart[p] = append(byPart[p], actors.Snapshot{Key: f.key, Seq: 1, State: []byte{1},
			Series: actors.SeriesRows{Hours: f.hours, Minutes: series.MinuteRows{Rows: f.minutes}}})
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, parts)
	for p, snaps := range byPart {
		wg.Go(func() {
			for len(snaps) > 0 {
				n := min(len(snaps), 4000)
				if err := s.SaveSnapshots(ctx, p, epochs[p], snaps[:n]); err != nil {
					errs <- err
					return
				}
				snaps = snaps[n:]
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	t.Logf("wrote %d items' rows in %s", len(fx), time.Since(start))
	// What autovacuum does after a bulk write: without statistics the
	// planner loops over the items.
	if _, err := s.pool.Exec(ctx, `ANALYZE items; ANALYZE series_hours; ANALYZE series_minutes`); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	defer func() { t.Logf("queries in %s", time.Since(start)) }()
	idx := NewTopIndex(s, parts, 0, 1<<40, slog.Default())
	// Each item's sums per window, computed once.
	windowSums := map[string][][]int64{}
	for _, w := range actors.TopWindows {
		from, to, minutes := actors.TopSpan(w, now)
		all := make([][]int64, len(fx))
		for i, f := range fx {
			sums := make([]int64, len(actors.ContentMetrics))
			add := func(at int64, v []int64) {
				if at >= from.UnixMilli() && at < to.UnixMilli() {
					for j := range v {
						sums[j] += v[j]
					}
				}
			}
			if minutes {
				for _, r := range f.minutes {
					add(r.Minute, r.Values)
				}
			} else {
				for _, r := range f.hours {
					add(r.Hour, r.Values)
				}
			}
			all[i] = sums
		}
		windowSums[w] = all
	}
	check := func(t *testing.T, kind string, m actors.RankMetric, window string, limit int, minPlays int64) {
		t.Helper()
		q := actors.TopQuery{Project: project, Kind: kind, Metric: m, Window: window, Limit: limit, MinPlays: minPlays}
		qs := time.Now()
		l, err := idx.Top(ctx, q, now)
		if err != nil {
			t.Fatal(err)
		}
		got := l.Items
		t.Logf("%s %s %s: %v", kind, m.Name, window, time.Since(qs).Round(time.Millisecond))
		var want []actors.TopItem
		for i, f := range fx {
			if f.key.Project != project || f.kind != kind {
				continue
			}
			if v, ok := actors.RankValue(&m, windowSums[window][i], minPlays); ok {
				want = append(want, actors.TopItem{ID: f.key.Item, Value: v})
			}
		}
		slices.SortFunc(want, func(a, b actors.TopItem) int {
			return cmp.Or(cmp.Compare(b.Value, a.Value), cmp.Compare(a.ID, b.ID))
		})
		want = want[:min(len(want), limit)]
		if !slices.Equal(got, want) {
			t.Fatalf("%s %s %s limit %d minPlays %d:\n got %v\nwant %v", kind, m.Name, window, limit, minPlays, got, want)
		}
		if len(want) == 0 {
			t.Fatalf("%s %s %s: nothing ranked, the fixture checks nothing", kind, m.Name, window)
		}
	}
	// Every rate, the one scaled counter and counters at both ends of each
	// family's list (the SQL differs only by the array index otherwise).
	for _, kind := range []string{"render", "content"} {
		ms := actors.RankMetrics(kind)
		for i, m := range ms {
			if m.Rate || m.Scale != 1 || i == 0 || i == len(ms)-1 || (kind == "content" && m.Name == "rebufferTime") {
				check(t, kind, m, actors.Window24h, 100, 3)
			}
		}
	}
	plays, _ := actors.LookupRankMetric("content", "plays")
	rate, _ := actors.LookupRankMetric("content", "completionRate")
	viewed, _ := actors.LookupRankMetric("render", "viewed")
	for _, w := range actors.TopWindows {
		check(t, "content", plays, w, 100, 0)
		check(t, "content", rate, w, 50, 2)
		check(t, "render", viewed, w, 7, 0)
	}
	check(t, "content", rate, actors.Window30d, 1, 0)
}

// SaveAsOf raises a partition's time under its epoch (a stale epoch writes
// nothing; an older time never lowers it), and AsOf is the minimum once
// every partition has one.
func TestAsOf(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	e0, _ := s.ClaimPartition(ctx, 0)
	e1, _ := s.ClaimPartition(ctx, 1)
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	if err := s.SaveAsOf(ctx, []actors.AsOfMark{{Part: 0, Epoch: e0, At: t0.Add(5 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := readAsOf(ctx, s.pool, 2); ok || err != nil {
		t.Fatalf("one partition of two has a time: ok %v %v", ok, err)
	}
	marks := []actors.AsOfMark{
		{Part: 1, Epoch: e1, At: t0.Add(3 * time.Second)},
		{Part: 0, Epoch: e0, At: t0},                      // older: not lowered
		{Part: 0, Epoch: e0 + 7, At: t0.Add(time.Minute)}, // not the epoch: ignored
	}
	if err := s.SaveAsOf(ctx, marks); err != nil {
		t.Fatal(err)
	}
	if at, ok, err := readAsOf(ctx, s.pool, 2); !ok || err != nil || !at.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("AsOf = %v %v %v, want the minimum %v", at, ok, err, t0.Add(3*time.Second))
	}
	// A settled partition's mark (epoch 0) is written whoever owns it.
	if err := s.SaveAsOf(ctx, []actors.AsOfMark{{Part: 1, At: t0.Add(time.Hour)}, {Part: 0, Epoch: e0, At: t0.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if at, _, _ := readAsOf(ctx, s.pool, 2); !at.Equal(t0.Add(time.Hour)) {
		t.Fatalf("AsOf = %v after settled marks", at)
	}
}
