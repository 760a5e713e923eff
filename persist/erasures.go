package persist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/actors"
)

// erasureLease is how long an instance holds a running erasure without
// renewing it; past it another instance (or this one, restarted) resumes it.
const erasureLease = 30 * time.Second

// CreateErasure stores a new erasure request, pending.
func (s *Store) CreateErasure(ctx context.Context, e actors.ErasureRequest) (actors.ErasureRequest, error) {
	h := sha256.Sum256([]byte(e.Identifier))
	var at time.Time
	err := s.pool.QueryRow(ctx, `INSERT INTO erasures (id, project_id, kind, identifier, identifier_hash)
		VALUES ($1, $2, $3, $4, $5) RETURNING created_at`, e.ID, e.ProjectID, e.Kind, e.Identifier, hex.EncodeToString(h[:])).Scan(&at)
	if err != nil {
		return e, fmt.Errorf("create erasure: %w", translate(err))
	}
	e.Status, e.CreatedAt = "pending", actors.NewTime(at)
	return e, nil
}

const erasureColumns = `id::text, project_id::text, kind, coalesce(identifier, ''), coalesce(needles, '{}'), coalesce(through_seq, 0),
	status, step, items_total, items_done, messages_deleted, error, created_at, finished_at, attempts`

func scanErasure(row pgx.Row) (actors.ErasureRequest, error) {
	var e actors.ErasureRequest
	var through int64
	var created time.Time
	var finished *time.Time
	err := row.Scan(&e.ID, &e.ProjectID, &e.Kind, &e.Identifier, &e.Needles, &through, &e.Status, &e.Step,
		&e.ItemsTotal, &e.ItemsDone, &e.MessagesDeleted, &e.Error, &created, &finished, &e.Attempts)
	e.ThroughSeq, e.CreatedAt = uint64(through), actors.NewTime(created)
	if finished != nil {
		t := actors.NewTime(*finished)
		e.FinishedAt = &t
	}
	return e, err
}

// Erasure returns erasure id of project projectID.
func (s *Store) Erasure(ctx context.Context, projectID, id string) (actors.ErasureRequest, error) {
	e, err := scanErasure(s.pool.QueryRow(ctx, `SELECT `+erasureColumns+` FROM erasures WHERE project_id = $1 AND id = $2`, projectID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, actors.Errorf(actors.ENotFound, "erasure not found")
	}
	if err != nil {
		return e, fmt.Errorf("erasure: %w", translate(err))
	}
	return e, nil
}

// ClaimErasure takes the oldest erasure not done whose lease has run out,
// leases it to the caller and marks it running; ok is false when there is
// none.
func (s *Store) ClaimErasure(ctx context.Context) (e actors.ErasureRequest, ok bool, err error) {
	e, err = scanErasure(s.pool.QueryRow(ctx, `UPDATE erasures SET status = 'running', attempts = attempts + 1,
			lease_until = now() + $1::interval, updated_at = now()
		WHERE id = (SELECT id FROM erasures WHERE status IN ('pending', 'running') AND (lease_until IS NULL OR lease_until < now())
			ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+erasureColumns, erasureLease.String()))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("claim erasure: %w", translate(err))
	}
	return e, true, nil
}

// ErasureProgress records a running erasure's progress and renews its lease.
func (s *Store) ErasureProgress(ctx context.Context, e actors.ErasureRequest) error {
	_, err := s.pool.Exec(ctx, `UPDATE erasures SET step = $2, needles = $3, through_seq = $4, items_total = $5, items_done = $6,
			messages_deleted = $7, lease_until = now() + $8::interval, updated_at = now()
		WHERE id = $1`, e.ID, e.Step, e.Needles, int64(e.ThroughSeq), e.ItemsTotal, e.ItemsDone, e.MessagesDeleted, erasureLease.String())
	if err != nil {
		return fmt.Errorf("erasure progress: %w", translate(err))
	}
	return nil
}

// FinishErasure ends an erasure: done (its identifier and needles are
// dropped, only their hash stays) or failed with a reason (the identifier
// is dropped too: a failed erasure is asked for again).
func (s *Store) FinishErasure(ctx context.Context, id string, failure *string) error {
	status := "done"
	if failure != nil {
		status = "failed"
	}
	_, err := s.pool.Exec(ctx, `UPDATE erasures SET status = $2, error = $3, identifier = NULL, needles = NULL, step = '',
			lease_until = NULL, finished_at = now(), updated_at = now() WHERE id = $1`, id, status, failure)
	if err != nil {
		return fmt.Errorf("finish erasure: %w", translate(err))
	}
	return nil
}

// EmailMessageIDs returns the ids of the e-mails project sent to recipient.
func (s *Store) EmailMessageIDs(ctx context.Context, projectID, recipient string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text FROM email_messages WHERE project_id = $1 AND lower(recipient) = lower($2)`, projectID, recipient)
	if err != nil {
		return nil, fmt.Errorf("e-mail messages: %w", translate(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("e-mail messages: %w", translate(err))
	}
	return ids, nil
}

// ErasedRecipient replaces the recipient of every message in ids.
const ErasedRecipient = "(erased)"

// EraseRecords removes an erasure's subject from the project's rows: the
// recipient of the e-mails in messageIDs, and the webhook deliveries whose
// body holds one of needles, with their attempts. It returns how many
// rows it changed.
func (s *Store) EraseRecords(ctx context.Context, projectID string, messageIDs, needles []string) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE email_messages SET recipient = $3 WHERE project_id = $1 AND id::text = ANY($2)`, projectID, messageIDs, ErasedRecipient)
		if err != nil {
			return err
		}
		n += tag.RowsAffected()
		tag, err = tx.Exec(ctx, `WITH gone AS (
				DELETE FROM webhook_deliveries d USING webhook_endpoints w
				WHERE d.endpoint_id = w.id AND w.project_id = $1
				  AND EXISTS (SELECT 1 FROM unnest($2::text[]) AS n(s) WHERE n.s <> '' AND position(convert_to(n.s, 'UTF8') IN d.data) > 0)
				RETURNING d.endpoint_id, d.webhook_id)
			DELETE FROM webhook_attempts a USING gone g WHERE a.endpoint_id = g.endpoint_id AND a.webhook_id = g.webhook_id`, projectID, needles)
		if err != nil {
			return err
		}
		n += tag.RowsAffected()
		// Attempts whose error text quotes the subject (a receiver's answer).
		tag, err = tx.Exec(ctx, `DELETE FROM webhook_attempts a USING webhook_endpoints w
			WHERE a.endpoint_id = w.id AND w.project_id = $1 AND a.error IS NOT NULL
			  AND EXISTS (SELECT 1 FROM unnest($2::text[]) AS n(s) WHERE n.s <> '' AND position(n.s IN a.error) > 0)`, projectID, needles)
		if err != nil {
			return err
		}
		n += tag.RowsAffected()
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("erase records: %w", translate(err))
	}
	return n, nil
}

// SnapshotItems returns the items of project whose snapshot holds one of
// needles as bytes: an erasure scrubs them even when the log no longer
// holds the messages their state came from (the retention sweep removed
// them once the snapshot covered them, and a recent event outlives them).
// One pass over the project's snapshots.
func (s *Store) SnapshotItems(ctx context.Context, projectID string, needles []string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT item_id FROM snapshots s WHERE project_id = $1
		AND EXISTS (SELECT 1 FROM unnest($2::text[]) AS n(v) WHERE n.v <> '' AND position(convert_to(n.v, 'UTF8') IN s.state) > 0)
		ORDER BY item_id`, projectID, needles)
	if err != nil {
		return nil, fmt.Errorf("snapshots holding an erasure's subject: %w", translate(err))
	}
	items, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("snapshots holding an erasure's subject: %w", translate(err))
	}
	return items, nil
}

// RenewErasure extends a running erasure's lease (a long step, such as
// reading a large log, renews it while it runs).
func (s *Store) RenewErasure(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `UPDATE erasures SET lease_until = now() + $2::interval WHERE id = $1 AND status = 'running'`, id, erasureLease.String())
	if err != nil {
		return fmt.Errorf("renew erasure: %w", translate(err))
	}
	return nil
}

// ErasureLease is how long a claimed erasure stays leased without renewal.
func ErasureLease() time.Duration { return erasureLease }
