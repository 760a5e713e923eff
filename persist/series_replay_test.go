package persist

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/actors/series"
)

// A replay after a crash writes the same hourly rows as the run that did not
// crash: the snapshot round writes an item's pending hours with its
// snapshot, and a restored series rewrites absolute values.
func TestSeriesReplayRewritesSameRows(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	epoch, _ := s.ClaimPartition(ctx, 1)
	spec := series.Spec{Counters: 3, Distinct: 1}
	t0 := time.Date(2026, 12, 6, 20, 17, 0, 0, time.UTC).UnixMilli()
	r := rand.New(rand.NewPCG(1, 2))
	type event struct {
		at  int64
		key uint64
	}
	evs := make([]event, 3000)
	for i := range evs { // 6 hours, 40 visitors; in time order (disorder is series' tests' job)
		evs[i] = event{t0 + int64(i)*6*3_600_000/int64(len(evs)) + r.Int64N(5_000), uint64(r.IntN(40)) * 0x9e3779b97f4a7c15}
	}
	apply := func(sr *series.Series, e event) {
		sl := sr.At(e.at)
		sl.Add(int(e.key%3), 1)
		sl.AddKey(3, e.key)
	}
	// round is one snapshot round for one item: pending rows written, then
	// marked; the snapshot encoded in the same step is returned.
	round := func(key actors.ItemID, sr *series.Series, wall int64) []byte {
		pend := sr.PendingHours(wall)
		rows := make([]SeriesRow, len(pend))
		for i, p := range pend {
			rows[i] = SeriesRow{key, time.UnixMilli(p.Hour), p.Values}
		}
		pendDays := sr.PendingDays(wall)
		days := make([]SeriesRow, len(pendDays))
		for i, p := range pendDays {
			days[i] = SeriesRow{key, time.UnixMilli(p.Day), p.Values}
		}
		snap, _ := sr.AppendBinary(nil)
		if err := s.SaveSeriesHours(ctx, 1, epoch, rows); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveSeriesDays(ctx, 1, epoch, days); err != nil {
			t.Fatal(err)
		}
		sr.MarkPersisted(pend)
		sr.MarkDaysPersisted(pendDays)
		return snap
	}
	project := uuid.NewString()
	a, b := actors.ItemID{Project: project, Item: "a"}, actors.ItemID{Project: project, Item: "b"}

	// a runs through; b's last round before it is killed runs just after
	// the last event of an hour, while that hour is still open: only the
	// restore rule (the clock's hour is pending) gets that hour written.
	boundary := (t0/3_600_000 + 3) * 3_600_000
	last := 0
	for i, e := range evs {
		if e.at < boundary {
			last = i
		}
	}
	sa, sb := series.New(spec), series.New(spec)
	for i, e := range evs {
		apply(sa, e)
		if i%250 == 249 {
			round(a, sa, e.at)
		}
	}
	var snapB []byte
	for i, e := range evs[:last+100] {
		apply(sb, e)
		if i%250 == 249 && i < last {
			round(b, sb, e.at)
		}
		if i == last {
			snapB = round(b, sb, e.at)
		}
	} // and b is killed: what it applied after its last round is lost
	sb, rest, err := series.Decode(spec, snapB)
	if err != nil || len(rest) != 0 {
		t.Fatal(err)
	}
	for i, e := range evs[last+1:] {
		apply(sb, e)
		if (i+last+1)%250 == 249 {
			round(b, sb, e.at)
		}
	}
	end := evs[len(evs)-1].at + 24*3_600_000 // the last hour and day close by the wall clock
	finalA, finalB := round(a, sa, end), round(b, sb, end)
	if !bytes.Equal(finalA, finalB) {
		t.Fatal("restored series encodes differently")
	}
	from, to := time.UnixMilli(t0).Add(-2*time.Hour), time.UnixMilli(end)
	rowsA, err := s.SeriesHours(ctx, a, from, to)
	if err != nil {
		t.Fatal(err)
	}
	rowsB, _ := s.SeriesHours(ctx, b, from, to)
	if len(rowsA) < 6 || len(rowsA) != len(rowsB) {
		t.Fatalf("%d rows against %d", len(rowsA), len(rowsB))
	}
	var total int64
	for i := range rowsA {
		rowsB[i].Key = a
		if !equalRows(rowsA[i:i+1], rowsB[i:i+1]) {
			t.Fatalf("hour %s: %v against %v", rowsA[i].Hour, rowsA[i].Values, rowsB[i].Values)
		}
		total += rowsA[i].Values[0] + rowsA[i].Values[1] + rowsA[i].Values[2]
	}
	if total != int64(len(evs)) {
		t.Fatalf("rows sum to %d events, want %d", total, len(evs))
	}
	daysA, err := s.SeriesDays(ctx, a, from.Truncate(24*time.Hour), to, 1)
	if err != nil {
		t.Fatal(err)
	}
	daysB, _ := s.SeriesDays(ctx, b, from.Truncate(24*time.Hour), to, 1)
	if len(daysA) != 2 || len(daysB) != 2 {
		t.Fatalf("days: %+v against %+v", daysA, daysB)
	}
	for i := range daysA {
		daysB[i].Key = a
		if !equalRows(daysA[i:i+1], daysB[i:i+1]) || daysA[i].Values[3] == 0 || daysA[i].Values[3] > 40 {
			t.Fatalf("day %s: %v against %v", daysA[i].Hour, daysA[i].Values, daysB[i].Values)
		}
	}
}
