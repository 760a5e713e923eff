package persist

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/engagedhq/engaged/actors"
)

// SeriesRow is one item's figures for one UTC hour (or day, from
// SeriesDays): the absolute value of each metric of the item's family, in
// the family's order (actors/series.HourRow.Values).
type SeriesRow struct {
	Key    actors.ItemID
	Hour   time.Time
	Values []int64
}

// execer is what saveSeriesHours needs: the pool, or the transaction of a
// snapshot round.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// SaveSeriesHours writes rows in one statement, one round trip, if epoch is
// still the epoch of part, like SaveSnapshots (actors.ErrFenced otherwise):
// the statement takes the partition row FOR SHARE, so a concurrent claim
// waits for it and a write never lands after a newer claim. A row replaces
// the item's row of that hour: values are absolute, so a replay after a
// crash writes the same rows again.
//
// The snapshot round should write the rows of an actor step in the same
// transaction as the snapshot encoded in that step (saveSeriesHours on
// SaveSnapshots' transaction, after its epoch check): a decoded series takes
// every hour before its clock's as written.
func (s *Store) SaveSeriesHours(ctx context.Context, part int, epoch int64, rows []SeriesRow) error {
	return s.saveFenced(ctx, part, epoch, hoursTable, rows)
}

// SaveSeriesDays is SaveSeriesHours for days: rows of the distinct metrics
// of closed UTC days (series.PendingDays), each Hour the day's start.
func (s *Store) SaveSeriesDays(ctx context.Context, part int, epoch int64, rows []SeriesRow) error {
	return s.saveFenced(ctx, part, epoch, daysTable, rows)
}

// The tables of series rows and their columns. Hour and minute rows carry
// the writing transaction's xid, which the top-N index reads changes by
// (topindex.go, migration 014); day rows are not ranked.
const (
	hoursTable   = "series_hours (project_id, item_id, hour, vals, xid)"
	daysTable    = "series_days (project_id, item_id, day, vals)"
	minutesTable = "series_minutes (project_id, item_id, minute, vals, xid)"
)

func conflict(table string) string {
	if table == minutesTable {
		return ` ON CONFLICT (project_id, item_id, minute) DO UPDATE SET vals = excluded.vals, xid = excluded.xid`
	}
	if table == daysTable {
		return ` ON CONFLICT (project_id, item_id, day) DO UPDATE SET vals = excluded.vals`
	}
	return ` ON CONFLICT (project_id, item_id, hour) DO UPDATE SET vals = excluded.vals, xid = excluded.xid`
}

func (s *Store) saveFenced(ctx context.Context, part int, epoch int64, table string, rows []SeriesRow) error {
	if len(rows) == 0 {
		return nil
	}
	a := seriesArgs(rows, table == daysTable)
	var current *int64
	err := s.pool.QueryRow(ctx, `WITH fence AS (
			SELECT epoch FROM partitions WHERE part = $7 FOR SHARE
		), written AS (`+upsertSeries(table)+` WHERE (SELECT epoch FROM fence) = $8`+conflict(table)+`
			RETURNING 1)
		SELECT (SELECT epoch FROM fence) FROM (SELECT count(*) FROM written) AS w`,
		append(a, part, epoch)...).Scan(&current)
	if err != nil {
		return fmt.Errorf("save %d series rows of partition %d: %w", len(rows), part, translate(err))
	}
	if current == nil || *current != epoch {
		return actors.ErrFenced
	}
	return nil
}

// upsertSeries inserts rows given as seriesArgs: the values of all rows go
// flat in one array, each row naming its slice (Postgres has no array of
// arrays of different lengths).
func upsertSeries(table string) string {
	xid := ", pg_current_xact_id()"
	if table == daysTable {
		xid = ""
	}
	return `INSERT INTO ` + table + `
		SELECT p, i, h, ($6::bigint[])[o+1:o+n]` + xid + `
		FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::int[], $5::int[]) AS u(p, i, h, o, n)`
}

func seriesArgs(rows []SeriesRow, days bool) []any {
	return seriesArgsIn(rows, days, time.Hour)
}

func seriesArgsIn(rows []SeriesRow, days bool, unit time.Duration) []any {
	projects := make([]string, len(rows))
	items := make([]string, len(rows))
	hours := make([]time.Time, len(rows))
	offs := make([]int32, len(rows))
	lens := make([]int32, len(rows))
	var flat []int64
	for i, r := range rows {
		projects[i], items[i], hours[i] = r.Key.Project, r.Key.Item, r.Hour.UTC().Truncate(unit)
		if days {
			hours[i] = r.Hour.UTC().Truncate(24 * time.Hour)
		}
		offs[i], lens[i] = int32(len(flat)), int32(len(r.Values))
		flat = append(flat, r.Values...)
	}
	return []any{projects, items, hours, offs, lens, flat}
}

// saveSeriesRows upserts hour, day and minute rows in one statement each on
// q: what SaveSnapshots calls inside its transaction, after its epoch check.
func saveSeriesRows(ctx context.Context, q execer, hours, days, minutes []SeriesRow) error {
	if len(minutes) > 0 {
		if _, err := q.Exec(ctx, upsertSeries(minutesTable)+conflict(minutesTable), seriesArgsIn(minutes, false, time.Minute)...); err != nil {
			return err
		}
	}
	if len(hours) > 0 {
		if _, err := q.Exec(ctx, upsertSeries(hoursTable)+conflict(hoursTable), seriesArgs(hours, false)...); err != nil {
			return err
		}
	}
	if len(days) > 0 {
		if _, err := q.Exec(ctx, upsertSeries(daysTable)+conflict(daysTable), seriesArgs(days, true)...); err != nil {
			return err
		}
	}
	return nil
}

// SeriesHours returns key's rows of the hours in [from, to), ascending; hours
// without a row are absent (the caller zero-fills).
func (s *Store) SeriesHours(ctx context.Context, key actors.ItemID, from, to time.Time) ([]SeriesRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT hour, vals FROM series_hours
		WHERE project_id = $1 AND item_id = $2 AND hour >= $3 AND hour < $4 ORDER BY hour`,
		key.Project, key.Item, from, to)
	if err != nil {
		return nil, fmt.Errorf("series hours of %s: %w", key.Item, translate(err))
	}
	return collectSeries(key, rows)
}

// SeriesDays returns key's figures per UTC day over [from, to), ascending by
// day, each Hour the day's start: counters summed from the hourly rows, and
// the last distinct values (the family's distinct metrics) from the day
// rows, since a key seen in two hours is one key. A day without a day row
// has 0 there (a day still open is in memory: series.Day).
func (s *Store) SeriesDays(ctx context.Context, key actors.ItemID, from, to time.Time, distinct int) ([]SeriesRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT d, array_agg(v ORDER BY n) FROM (
			SELECT date_trunc('day', hour, 'UTC') AS d, n, sum(v)::bigint AS v
			FROM series_hours, unnest(vals) WITH ORDINALITY AS u(v, n)
			WHERE project_id = $1 AND item_id = $2 AND hour >= $3 AND hour < $4
			GROUP BY d, n) AS per_metric
		GROUP BY d ORDER BY d`, key.Project, key.Item, from, to)
	if err != nil {
		return nil, fmt.Errorf("series days of %s: %w", key.Item, translate(err))
	}
	sums, err := collectSeries(key, rows)
	if err != nil {
		return nil, err
	}
	rows, err = s.pool.Query(ctx, `SELECT day, vals FROM series_days
		WHERE project_id = $1 AND item_id = $2 AND day >= $3 AND day < $4 ORDER BY day`,
		key.Project, key.Item, from, to)
	if err != nil {
		return nil, fmt.Errorf("series days of %s: %w", key.Item, translate(err))
	}
	days, err := collectSeries(key, rows)
	if err != nil {
		return nil, err
	}
	// Merge the two ascending lists by day.
	var out []SeriesRow
	for i, j := 0, 0; i < len(sums) || j < len(days); {
		var row SeriesRow
		switch {
		case j == len(days) || (i < len(sums) && sums[i].Hour.Before(days[j].Hour)):
			row, i = sums[i], i+1
			row.Values = withDistinct(row.Values, nil, distinct)
		case i == len(sums) || days[j].Hour.Before(sums[i].Hour):
			row, j = days[j], j+1
			row.Values = withDistinct(nil, row.Values, distinct)
		default:
			row = sums[i]
			row.Values = withDistinct(sums[i].Values, days[j].Values, distinct)
			i, j = i+1, j+1
		}
		out = append(out, row)
	}
	return out, nil
}

// withDistinct returns sums with its last distinct values replaced by
// day's (zeros where day has none); a day row alone gives zero counters,
// sized by the longest row seen.
func withDistinct(sums, day []int64, distinct int) []int64 {
	n := max(len(sums), distinct)
	out := make([]int64, n)
	copy(out, sums)
	for k := range distinct {
		out[n-distinct+k] = 0
		if k < len(day) {
			out[n-distinct+k] = day[k]
		}
	}
	return out
}

func collectSeries(key actors.ItemID, rows pgx.Rows) ([]SeriesRow, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SeriesRow, error) {
		row := SeriesRow{Key: key}
		err := r.Scan(&row.Hour, &row.Values)
		row.Hour = row.Hour.UTC()
		return row, err
	})
	if err != nil {
		return nil, fmt.Errorf("series of %s: %w", key.Item, translate(err))
	}
	return out, nil
}

// DefaultSeriesRetention is how long hourly rows are kept unless
// ENGAGED_SERIES_RETENTION_DAYS says otherwise.
const DefaultSeriesRetention = 400 * 24 * time.Hour

// MinuteRowsKept is how long minute rows (series_minutes, top-N's 1h window)
// are kept: PruneSeries deletes older ones whatever the retention.
const MinuteRowsKept = 3 * time.Hour

// PruneSeries deletes hourly and daily rows older than now - retention, and
// minute rows older than MinuteRowsKept, in batches of
// at most batch rows so that no statement holds many locks or a long
// transaction, and returns how many it deleted. The service calls it
// periodically (an hour apart is plenty); several instances may run it at
// once.
func (s *Store) PruneSeries(ctx context.Context, now time.Time, retention time.Duration, batch int) (int64, error) {
	cutoff := now.UTC().Add(-retention).Truncate(time.Hour)
	var total int64
	minutes := now.UTC().Add(-MinuteRowsKept).Truncate(time.Minute)
	for _, q := range []struct {
		sql    string
		cutoff time.Time
	}{
		{`DELETE FROM series_hours WHERE ctid IN (SELECT ctid FROM series_hours WHERE hour < $1 LIMIT $2)`, cutoff},
		{`DELETE FROM series_days WHERE ctid IN (SELECT ctid FROM series_days WHERE day < $1 LIMIT $2)`, cutoff},
		{`DELETE FROM series_minutes WHERE ctid IN (SELECT ctid FROM series_minutes WHERE minute < $1 LIMIT $2)`, minutes},
	} {
		for {
			tag, err := s.pool.Exec(ctx, q.sql, q.cutoff, batch)
			if err != nil {
				return total, fmt.Errorf("prune series: %w", translate(err))
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < int64(batch) {
				break
			}
		}
	}
	return total, nil
}

// VisitorSalt returns project's salt of now's UTC day, creating a random one
// on first use. Two instances asking at once get the same salt: the insert
// that loses the race returns the row that won.
func (s *Store) VisitorSalt(ctx context.Context, project string, now time.Time) ([]byte, error) {
	day := now.UTC().Truncate(24 * time.Hour)
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("visitor salt: %w", err)
	}
	var salt []byte
	err := s.pool.QueryRow(ctx, `INSERT INTO visitor_salts (project_id, day, salt) VALUES ($1, $2, $3)
		ON CONFLICT (project_id, day) DO UPDATE SET salt = visitor_salts.salt
		RETURNING salt`, project, day, fresh).Scan(&salt)
	if err != nil {
		return nil, fmt.Errorf("visitor salt of %s: %w", project, translate(err))
	}
	return salt, nil
}

// PruneVisitorSalts deletes salts of days before yesterday (UTC), so a salt
// lives two days at most and visitor ids of older days can no longer be
// recomputed from an IP address. The service calls it periodically.
func (s *Store) PruneVisitorSalts(ctx context.Context, now time.Time) (int64, error) {
	yesterday := now.UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	tag, err := s.pool.Exec(ctx, `DELETE FROM visitor_salts WHERE day < $1`, yesterday)
	if err != nil {
		return 0, fmt.Errorf("prune visitor salts: %w", translate(err))
	}
	return tag.RowsAffected(), nil
}
