package persist

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/actors/series"
)

func TestSeriesHours(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	epoch, err := s.ClaimPartition(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	key := actors.ItemID{Project: uuid.NewString(), Item: "r1"}
	other := actors.ItemID{Project: key.Project, Item: "r2"}
	h0 := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	rows := []SeriesRow{
		{key, h0, []int64{1, 2, 3}},
		{key, h0.Add(time.Hour), []int64{4, 0, 6, 7}}, // families may grow a metric
		{other, h0, []int64{9}},
		{key, h0.Add(3 * time.Hour), []int64{}},
	}
	if err := s.SaveSeriesHours(ctx, 3, epoch, rows); err != nil {
		t.Fatal(err)
	}
	// A replay rewrites the same hour with absolute values: replaced, not added.
	if err := s.SaveSeriesHours(ctx, 3, epoch, []SeriesRow{{key, h0.Add(time.Hour), []int64{5, 0, 6, 7}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SeriesHours(ctx, key, h0, h0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []SeriesRow{{key, h0, []int64{1, 2, 3}}, {key, h0.Add(time.Hour), []int64{5, 0, 6, 7}}}
	if !equalRows(got, want) {
		t.Fatalf("SeriesHours\n got %+v\nwant %+v", got, want)
	}
	if got, _ := s.SeriesHours(ctx, key, h0.Add(3*time.Hour), h0.Add(4*time.Hour)); len(got) != 1 || len(got[0].Values) != 0 {
		t.Fatalf("empty values: %+v", got)
	}
	// Inside the snapshot round's transaction.
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return saveSeriesRows(ctx, tx, []SeriesRow{{other, h0, []int64{10}}, {other, h0.Add(time.Hour), []int64{11}}}, []SeriesRow{{other, h0, []int64{4}}}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SeriesHours(ctx, other, h0, h0.Add(2*time.Hour)); !equalRows(got, []SeriesRow{{other, h0, []int64{10}}, {other, h0.Add(time.Hour), []int64{11}}}) {
		t.Fatalf("in a transaction: %+v", got)
	}
	if got, _ := s.SeriesDays(ctx, other, h0.Truncate(24*time.Hour), h0.Add(24*time.Hour), 1); !equalRows(got, []SeriesRow{{other, h0.Truncate(24 * time.Hour), []int64{4}}}) {
		t.Fatalf("day row in a transaction: %+v", got)
	}
	// A partition never claimed fences too.
	if err := s.SaveSeriesHours(ctx, 99, 1, rows[:1]); err != actors.ErrFenced {
		t.Fatalf("unclaimed partition: %v", err)
	}
	// A deposed owner writes nothing.
	if _, err := s.ClaimPartition(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSeriesHours(ctx, 3, epoch, []SeriesRow{{key, h0, []int64{100}}}); err != actors.ErrFenced {
		t.Fatalf("stale epoch: %v", err)
	}
	if got, _ := s.SeriesHours(ctx, key, h0, h0.Add(time.Hour)); got[0].Values[0] != 1 {
		t.Fatalf("a fenced write changed a row: %+v", got)
	}
}

func equalRows(a, b []SeriesRow) bool {
	return slices.EqualFunc(a, b, func(x, y SeriesRow) bool {
		return x.Key == y.Key && x.Hour.Equal(y.Hour) && slices.Equal(x.Values, y.Values)
	})
}

func TestSeriesDays(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	epoch, _ := s.ClaimPartition(ctx, 0)
	key := actors.ItemID{Project: uuid.NewString(), Item: "c1"}
	d0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	err := s.SaveSeriesHours(ctx, 0, epoch, []SeriesRow{ // one counter, one distinct metric
		{key, d0.Add(23 * time.Hour), []int64{1, 10}},
		{key, d0.Add(24 * time.Hour), []int64{2, 20}},
		{key, d0.Add(47 * time.Hour), []int64{3, 30}},
		{key, d0.Add(48 * time.Hour), []int64{4, 40}}, // outside [from, to)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Day rows: the first day's only; a key seen in two hours counted once.
	if err := s.SaveSeriesDays(ctx, 0, epoch, []SeriesRow{{key, d0.Add(5 * time.Hour), []int64{9}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SeriesDays(ctx, key, d0, d0.Add(48*time.Hour), 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []SeriesRow{{key, d0, []int64{1, 9}}, {key, d0.Add(24 * time.Hour), []int64{5, 0}}}
	if !equalRows(got, want) {
		t.Fatalf("SeriesDays\n got %+v\nwant %+v", got, want)
	}
	if err := s.SaveSeriesDays(ctx, 0, epoch+1, []SeriesRow{{key, d0, []int64{100}}}); err != actors.ErrFenced {
		t.Fatalf("stale epoch: %v", err)
	}
}

func TestPruneSeries(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	epoch, _ := s.ClaimPartition(ctx, 0)
	now := time.Date(2026, 12, 7, 3, 30, 0, 0, time.UTC)
	key := actors.ItemID{Project: uuid.NewString(), Item: "r"}
	var rows []SeriesRow
	for h := range 30 { // 25 rows older than 400 days, 5 within
		rows = append(rows, SeriesRow{key, now.Add(-DefaultSeriesRetention - 25*time.Hour + time.Duration(h)*time.Hour), []int64{int64(h)}})
	}
	if err := s.SaveSeriesHours(ctx, 0, epoch, rows); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneSeries(ctx, now, DefaultSeriesRetention, 7) // several batches
	if err != nil || n != 25 {
		t.Fatalf("pruned %d, %v; want 25", n, err)
	}
	left, _ := s.SeriesHours(ctx, key, time.Time{}, now)
	if len(left) != 5 || left[0].Values[0] != 25 {
		t.Fatalf("left %+v", left)
	}
}

func TestVisitorSalt(t *testing.T) {
	ctx := context.Background()
	s, url := open(t)
	s2, err := Open(ctx, url) // a second instance
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	project := uuid.NewString()
	now := time.Date(2026, 12, 7, 23, 59, 0, 0, time.UTC)
	salts := make([][]byte, 16)
	var wg sync.WaitGroup
	for i := range salts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s
			if i%2 == 1 {
				st = s2
			}
			salt, err := st.VisitorSalt(ctx, project, now)
			if err != nil {
				t.Error(err)
			}
			salts[i] = salt
		}()
	}
	wg.Wait()
	for i, salt := range salts {
		if len(salt) != 32 || !bytes.Equal(salt, salts[0]) {
			t.Fatalf("caller %d got salt %x, caller 0 %x", i, salt, salts[0])
		}
	}
	if bytes.Equal(salts[0], make([]byte, 32)) {
		t.Fatal("salt is zero")
	}
	tomorrow, _ := s.VisitorSalt(ctx, project, now.Add(2*time.Minute))
	otherProject, _ := s.VisitorSalt(ctx, uuid.NewString(), now)
	if bytes.Equal(tomorrow, salts[0]) || bytes.Equal(otherProject, salts[0]) {
		t.Fatal("salt shared across days or projects")
	}
	// Two days later today's and yesterday's salts stay; older ones go.
	later := now.Add(48 * time.Hour)
	n, err := s.PruneVisitorSalts(ctx, later)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2 (the first day's two salts)", n, err)
	}
	if again, _ := s.VisitorSalt(ctx, project, now.Add(2*time.Minute)); !bytes.Equal(again, tomorrow) {
		t.Fatal("yesterday's salt was deleted or changed")
	}
	if again, _ := s.VisitorSalt(ctx, project, now); bytes.Equal(again, salts[0]) {
		t.Fatal("a pruned day's salt came back")
	}
}

// SaveSnapshots writes the series rows a snapshot carries in its own
// transaction: both land, or (fenced) neither.
func TestSaveSnapshotsWritesSeriesRows(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	old, err := s.ClaimPartition(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	key := actors.ItemID{Project: uuid.NewString(), Item: "r1"}
	h0 := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	snap := actors.Snapshot{Key: key, Seq: 3, State: []byte{1}, Series: actors.SeriesRows{
		Hours: []series.HourRow{{Hour: h0.UnixMilli(), Values: []int64{2, 0, 0, 0, 0, 0, 0, 1}}},
		Days:  []series.DayRow{{Day: h0.Truncate(24 * time.Hour).UnixMilli(), Values: []int64{1}}},
	}}
	if err := s.SaveSnapshots(ctx, 5, old, []actors.Snapshot{snap}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SeriesHours(ctx, key, h0, h0.Add(time.Hour))
	if err != nil || !equalRows(got, []SeriesRow{{key, h0, []int64{2, 0, 0, 0, 0, 0, 0, 1}}}) {
		t.Fatalf("hours %+v %v", got, err)
	}
	days, err := s.SeriesDays(ctx, key, h0.Truncate(24*time.Hour), h0.Add(24*time.Hour), 1)
	if err != nil || len(days) != 1 || days[0].Values[0] != 2 || days[0].Values[7] != 1 {
		t.Fatalf("days %+v %v", days, err)
	}
	if _, err := s.ClaimPartition(ctx, 5); err != nil {
		t.Fatal(err)
	}
	stale := snap
	stale.Seq, stale.Series.Hours = 4, []series.HourRow{{Hour: h0.UnixMilli(), Values: []int64{9, 0, 0, 0, 0, 0, 0, 9}}}
	if err := s.SaveSnapshots(ctx, 5, old, []actors.Snapshot{stale}); err != actors.ErrFenced {
		t.Fatalf("stale epoch: %v", err)
	}
	if got, _ := s.SeriesHours(ctx, key, h0, h0.Add(time.Hour)); got[0].Values[0] != 2 {
		t.Fatalf("a fenced save wrote rows: %+v", got)
	}
}
