package persist

// top.go keeps partition_asof, the time up to which the series rows the
// snapshot rounds write hold every event (actors/asof.go); topindex.go
// ranks those rows.

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/actors"
)

// readAsOf returns the oldest of the partitions' asOf times: every event
// stored in the log before it is in the series rows. ok is false until each
// of the parts partitions has one. TopIndex reads it in the snapshot it
// reads the rows in.
func readAsOf(ctx context.Context, q querier, parts int) (time.Time, bool, error) {
	var n int
	var at *time.Time
	err := q.QueryRow(ctx, `SELECT count(*), min(as_of) FROM partition_asof WHERE part < $1`, parts).Scan(&n, &at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("asOf: %w", translate(err))
	}
	if n < parts || at == nil {
		return time.Time{}, false, nil
	}
	return at.UTC(), true, nil
}

// querier is what readAsOf needs: the pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
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
