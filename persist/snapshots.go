package persist

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/actors"
)

// Store implements actors.SnapshotStore.
var _ actors.SnapshotStore = (*Store)(nil)

// LoadSnapshots returns the newest snapshot of each of keys that has one,
// in one query: activations of a burst of items share a round trip.
func (s *Store) LoadSnapshots(ctx context.Context, keys []actors.ItemID) (map[actors.ItemID]actors.Snapshot, error) {
	projects, items := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		projects[i], items[i] = k.Project, k.Item
	}
	rows, err := s.pool.Query(ctx, `SELECT s.project_id, s.item_id, s.seq, s.state
		FROM snapshots s JOIN unnest($1::uuid[], $2::text[]) AS k(project_id, item_id)
		ON s.project_id = k.project_id AND s.item_id = k.item_id`, projects, items)
	if err != nil {
		return nil, fmt.Errorf("load %d snapshots: %w", len(keys), translate(err))
	}
	out := make(map[actors.ItemID]actors.Snapshot, len(keys))
	var snap actors.Snapshot
	var seq int64
	_, err = pgx.ForEachRow(rows, []any{&snap.Key.Project, &snap.Key.Item, &seq, &snap.State}, func() error {
		snap.Seq = uint64(seq)
		out[snap.Key] = snap
		snap.State = nil // the next row scans into a new slice
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load %d snapshots: %w", len(keys), translate(err))
	}
	return out, nil
}

// Epochs returns every claimed partition's epoch.
func (s *Store) Epochs(ctx context.Context) (map[int]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT part, epoch FROM partitions`)
	if err != nil {
		return nil, fmt.Errorf("partition epochs: %w", translate(err))
	}
	out := map[int]int64{}
	var part int
	var epoch int64
	_, err = pgx.ForEachRow(rows, []any{&part, &epoch}, func() error {
		out[part] = epoch
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("partition epochs: %w", translate(err))
	}
	return out, nil
}

// ClaimPartition bumps the epoch of part and returns it.
func (s *Store) ClaimPartition(ctx context.Context, part int) (int64, error) {
	var epoch int64
	err := s.pool.QueryRow(ctx, `INSERT INTO partitions (part, epoch) VALUES ($1, 1)
		ON CONFLICT (part) DO UPDATE SET epoch = partitions.epoch + 1, claimed_at = now()
		RETURNING epoch`, part).Scan(&epoch)
	if err != nil {
		return 0, fmt.Errorf("claim partition %d: %w", part, translate(err))
	}
	return epoch, nil
}

// SaveSnapshots writes snaps in one transaction if epoch is still the epoch
// of part. The row lock taken on the partition makes a concurrent claim wait
// for this write, so a write never lands after a newer claim.
func (s *Store) SaveSnapshots(ctx context.Context, part int, epoch int64, snaps []actors.Snapshot) error {
	projects := make([]string, len(snaps))
	items := make([]string, len(snaps))
	seqs := make([]int64, len(snaps))
	states := make([][]byte, len(snaps))
	var hours, days, minutes []SeriesRow
	for i, sn := range snaps {
		projects[i], items[i], seqs[i], states[i] = sn.Key.Project, sn.Key.Item, int64(sn.Seq), sn.State
		for _, h := range sn.Series.Hours {
			hours = append(hours, SeriesRow{Key: sn.Key, Hour: time.UnixMilli(h.Hour).UTC(), Values: h.Values})
		}
		for _, m := range sn.Series.Minutes.Rows {
			minutes = append(minutes, SeriesRow{Key: sn.Key, Hour: time.UnixMilli(m.Minute).UTC(), Values: m.Values})
		}
		for _, d := range sn.Series.Days {
			days = append(days, SeriesRow{Key: sn.Key, Hour: time.UnixMilli(d.Day).UTC(), Values: d.Values})
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var current int64
		if err := tx.QueryRow(ctx, `SELECT epoch FROM partitions WHERE part = $1 FOR SHARE`, part).Scan(&current); err != nil {
			return err
		}
		if current != epoch {
			return actors.ErrFenced
		}
		// An equal seq replaces the row too: the owner's state at one seq
		// changes only by an erasure's scrub (actors.Registry.Persist),
		// which must reach the store before the log messages go.
		_, err := tx.Exec(ctx, `INSERT INTO snapshots (project_id, item_id, seq, state, part, updated_at)
			SELECT p, i, q, st, $5, now() FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bytea[]) AS u(p, i, q, st)
			ON CONFLICT (project_id, item_id) DO UPDATE
			SET seq = excluded.seq, state = excluded.state, part = excluded.part, updated_at = now()
			WHERE snapshots.seq <= excluded.seq`, projects, items, seqs, states, part)
		if err != nil {
			return err
		}
		// The series hours (the open one too), closed days and touched
		// minutes taken with these snapshots, in the same transaction
		// (actors.Snapshot.Series).
		return saveSeriesRows(ctx, tx, hours, days, minutes)
	})
	if err == actors.ErrFenced {
		return err
	}
	if err != nil {
		return fmt.Errorf("save %d snapshots of partition %d: %w", len(snaps), part, translate(err))
	}
	return nil
}

// SnapshotKeys returns the items of partition part that have a snapshot,
// and those whose row predates the part column (NULL: reported for every
// partition; actors.Registry filters them by its own partition function).
func (s *Store) SnapshotKeys(ctx context.Context, part int) ([]actors.ItemID, error) {
	rows, err := s.pool.Query(ctx, `SELECT project_id::text, item_id FROM snapshots WHERE part = $1 OR part IS NULL`, part)
	if err != nil {
		return nil, fmt.Errorf("snapshot keys of partition %d: %w", part, translate(err))
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (actors.ItemID, error) {
		var k actors.ItemID
		err := row.Scan(&k.Project, &k.Item)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot keys of partition %d: %w", part, translate(err))
	}
	return keys, nil
}
