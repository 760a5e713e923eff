package persist

// top.go answers top-N per project (docs/RANKINGS.md) from the rows the
// snapshot rounds write: series_minutes for the 1h window, series_hours
// (the open hour included) for the others, and partition_asof for asOf.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/actors"
)

// Top ranks q's items over the window ending with the bucket that holds
// now: value descending, then item id ascending bytewise (COLLATE "C", as
// Go compares strings). Counters rank items with a positive sum; rates
// rank contents with at least q.MinPlays plays and a defined rate (see
// actors.RankValue, which this SQL mirrors operation for operation so that
// both give the same float64).
func (s *Store) Top(ctx context.Context, q actors.TopQuery, now time.Time) ([]actors.TopItem, error) {
	from, to, minutes := actors.TopSpan(q.Window, now)
	table, col := "series_hours", "hour"
	if minutes {
		table, col = "series_minutes", "minute"
	}
	idx := func(i int) string { return strconv.Itoa(i + 1) } // Postgres arrays count from 1
	m := q.Metric
	var value, where string
	switch {
	case !m.Rate && m.Scale != 1:
		value, where = "v::float8 / 1000", "v > 0"
	case !m.Rate:
		value, where = "v::float8", "v > 0"
	case m.RebufferRatio:
		value = "(num::float8 / 1000) / (den::float8 / 1000)"
		where = "plays >= $6 AND den::float8 / 1000 >= " + strconv.FormatFloat(actors.MinRebufferWatchTime, 'f', -1, 64)
	default:
		value, where = "num::float8 / den::float8", "plays >= $6 AND den > 0"
	}
	sums := "sum(s.vals[" + idx(m.Index) + "])::bigint AS v, 0::bigint AS num, 0::bigint AS den, 0::bigint AS plays"
	if m.Rate {
		sums = "0::bigint AS v, sum(s.vals[" + idx(m.Num) + "])::bigint AS num, sum(s.vals[" + idx(m.Den) + "])::bigint AS den, sum(s.vals[" + idx(actors.RankPlays) + "])::bigint AS plays"
	}
	// The kind is checked after the sums (EXISTS on items), not by a join
	// before them: the join made Postgres sort 100k rows by item id
	// (0.7 s at 100k items), the semi-join lets it hash (0.1 s).
	sql := `SELECT item_id, ` + value + ` AS value FROM (
			SELECT s.item_id, ` + sums + `
			FROM ` + table + ` s
			WHERE s.project_id = $1 AND s.` + col + ` >= $3 AND s.` + col + ` < $4
			GROUP BY s.item_id) AS w
		WHERE ` + where + `
			AND EXISTS (SELECT 1 FROM items i WHERE i.project_id = $1 AND i.id = w.item_id AND i.kind = $2)
		ORDER BY value DESC, item_id COLLATE "C" LIMIT $5`
	args := []any{q.Project, q.Kind, from, to, q.Limit}
	if m.Rate {
		args = append(args, q.MinPlays)
	}
	var items []actors.TopItem
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// Enough memory to hash-aggregate a window of 100k items instead
		// of sorting them on disk (measured: 0.65 s → 0.1 s); for this
		// query only.
		if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '`+topWorkMem+`'`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (actors.TopItem, error) {
			var it actors.TopItem
			err := r.Scan(&it.ID, &it.Value)
			return it, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("top %s of %s: %w", m.Name, q.Project, translate(err))
	}
	if items == nil {
		items = []actors.TopItem{}
	}
	return items, nil
}

// topWorkMem is work_mem for one top-N query (SET LOCAL): at most one such
// query per question runs at a time per instance (singleflight), and the
// pool bounds how many questions run at once.
const topWorkMem = "64MB"

// AsOf returns the oldest of the partitions' asOf times: every event stored
// in the log before it is in the rows Top sums. ok is false until each of
// the parts partitions has one.
func (s *Store) AsOf(ctx context.Context, parts int) (time.Time, bool, error) {
	var n int
	var at *time.Time
	err := s.pool.QueryRow(ctx, `SELECT count(*), min(as_of) FROM partition_asof WHERE part < $1`, parts).Scan(&n, &at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("asOf: %w", translate(err))
	}
	if n < parts || at == nil {
		return time.Time{}, false, nil
	}
	return at.UTC(), true, nil
}

// SaveAsOf implements actors.AsOfStore in one statement: each mark raises
// its partition's time if its epoch is still the partition's (or, Epoch 0,
// unfenced), taking the partition row FOR SHARE like SaveSnapshots so that
// no mark lands after a newer claim.
func (s *Store) SaveAsOf(ctx context.Context, marks []actors.AsOfMark) error {
	parts := make([]int32, len(marks))
	epochs := make([]int64, len(marks))
	ats := make([]time.Time, len(marks))
	for i, m := range marks {
		parts[i], epochs[i], ats[i] = int32(m.Part), m.Epoch, m.At
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO partition_asof (part, as_of)
		SELECT DISTINCT ON (m.part) m.part, m.at FROM unnest($1::int[], $2::bigint[], $3::timestamptz[]) AS m(part, epoch, at)
		LEFT JOIN LATERAL (SELECT epoch FROM partitions p WHERE p.part = m.part FOR SHARE) AS p ON true
		WHERE m.epoch = 0 OR p.epoch = m.epoch
		ORDER BY m.part, m.at DESC
		ON CONFLICT (part) DO UPDATE SET as_of = greatest(partition_asof.as_of, excluded.as_of)`, parts, epochs, ats)
	if err != nil {
		return fmt.Errorf("save asOf of %d partitions: %w", len(marks), translate(err))
	}
	return nil
}

// Store keeps the rounds' asOf times.
var _ actors.AsOfStore = (*Store)(nil)
