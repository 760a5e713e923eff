package persist

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/actors"
)

const webhookColumns = `id::text, project_id::text, url, event_types, created_at, disabled_at, disabled_reason,
	secret, coalesce(previous_secret, ''), previous_until`

func scanWebhook(row pgx.CollectableRow) (actors.WebhookEndpoint, error) {
	var w actors.WebhookEndpoint
	err := row.Scan(&w.ID, &w.ProjectID, &w.URL, &w.EventTypes, &w.CreatedAt, &w.DisabledAt, &w.DisabledReason,
		&w.Secret, &w.PreviousSecret, &w.PreviousUntil)
	w.CreatedAt = w.CreatedAt.UTC()
	return w, err
}

func noWebhook() error {
	return actors.Errorf(actors.ENotFound, "no webhook endpoint with that id in this key's project")
}

// CreateWebhook registers endpoint w (URL, event types and secret checked
// by the caller) in w.ProjectID with a new UUIDv7 id. A project has at most
// actors.MaxWebhooksPerProject endpoints: past it, conflict.
func (s *Store) CreateWebhook(ctx context.Context, w actors.WebhookEndpoint) (actors.WebhookEndpoint, error) {
	var out actors.WebhookEndpoint
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Serialise creations per project so the bound holds.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM projects WHERE id = $1 FOR UPDATE`, w.ProjectID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM webhook_endpoints WHERE project_id = $1 AND deleted_at IS NULL`, w.ProjectID).Scan(&n); err != nil {
			return err
		}
		if n >= actors.MaxWebhooksPerProject {
			return actors.Errorf(actors.EConflict, "a project has at most %d webhook endpoints", actors.MaxWebhooksPerProject)
		}
		rows, err := tx.Query(ctx, `INSERT INTO webhook_endpoints (id, project_id, url, event_types, secret) VALUES ($1, $2, $3, $4, $5)
			RETURNING `+webhookColumns, newID(), w.ProjectID, w.URL, w.EventTypes, w.Secret)
		if err != nil {
			return err
		}
		out, err = pgx.CollectExactlyOneRow(rows, scanWebhook)
		return err
	})
	return out, translate(err) // an *actors.Error passes through translate unchanged
}

// Webhook returns endpoint id of project projectID ("" = any project: the
// dispatcher's lookup), deleted ones excluded.
func (s *Store) Webhook(ctx context.Context, projectID, id string) (actors.WebhookEndpoint, error) {
	if !validUUID(id) || (projectID != "" && !validUUID(projectID)) {
		return actors.WebhookEndpoint{}, noWebhook()
	}
	rows, err := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints
		WHERE id = $1 AND ($2 = '' OR project_id::text = $2) AND deleted_at IS NULL`, id, projectID)
	if err != nil {
		return actors.WebhookEndpoint{}, translate(err)
	}
	w, err := pgx.CollectExactlyOneRow(rows, scanWebhook)
	if err == pgx.ErrNoRows {
		return actors.WebhookEndpoint{}, noWebhook()
	}
	return w, translate(err)
}

// ListWebhooks lists a project's endpoints, oldest first, disabled ones too.
func (s *Store) ListWebhooks(ctx context.Context, projectID string) ([]actors.WebhookEndpoint, error) {
	if !validUUID(projectID) {
		// No such project can have endpoints; an error here would hold
		// the webhook outbox's flush, and so every snapshot, back.
		return []actors.WebhookEndpoint{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints
		WHERE project_id = $1 AND deleted_at IS NULL ORDER BY id`, projectID)
	if err != nil {
		return nil, translate(err)
	}
	list, err := pgx.CollectRows(rows, scanWebhook)
	if list == nil {
		list = []actors.WebhookEndpoint{}
	}
	return list, translate(err)
}

// DeleteWebhook deletes endpoint id of project projectID; deliveries still
// queued for it are dropped by the dispatcher.
func (s *Store) DeleteWebhook(ctx context.Context, projectID, id string) error {
	if !validUUID(id) {
		return noWebhook()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE webhook_endpoints SET deleted_at = now() WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL`, id, projectID)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return noWebhook()
	}
	return nil
}

// RotateWebhookSecret makes secret the endpoint's signing secret; the
// previous one keeps signing beside it for overlap.
func (s *Store) RotateWebhookSecret(ctx context.Context, projectID, id, secret string, overlap time.Duration) (actors.WebhookEndpoint, error) {
	if !validUUID(id) {
		return actors.WebhookEndpoint{}, noWebhook()
	}
	rows, err := s.pool.Query(ctx, `UPDATE webhook_endpoints SET previous_secret = secret, secret = $3,
		previous_until = now() + make_interval(secs => $4)
		WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL RETURNING `+webhookColumns, id, projectID, secret, overlap.Seconds())
	if err != nil {
		return actors.WebhookEndpoint{}, translate(err)
	}
	w, err := pgx.CollectExactlyOneRow(rows, scanWebhook)
	if err == pgx.ErrNoRows {
		return actors.WebhookEndpoint{}, noWebhook()
	}
	return w, translate(err)
}

// DisableWebhook turns endpoint id off (its receiver answered 410).
func (s *Store) DisableWebhook(ctx context.Context, id, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE webhook_endpoints SET disabled_at = coalesce(disabled_at, now()), disabled_reason = $2 WHERE id = $1`, id, reason)
	return translate(err)
}

// WebhookTargets returns the live, enabled endpoints of project projectID
// that subscribe to event type typ.
func (s *Store) WebhookTargets(ctx context.Context, projectID, typ string) ([]actors.WebhookEndpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints
		WHERE project_id = $1 AND deleted_at IS NULL AND disabled_at IS NULL AND $2 = ANY(event_types)`, projectID, typ)
	if err != nil {
		return nil, translate(err)
	}
	list, err := pgx.CollectRows(rows, scanWebhook)
	return list, translate(err)
}

// CountWebhookAttempts counts the attempts recorded for one delivery:
// the original's (replayID "") or one replay's.
func (s *Store) CountWebhookAttempts(ctx context.Context, endpointID, webhookID, replayID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM webhook_attempts WHERE endpoint_id = $1 AND webhook_id = $2 AND replay_id = $3`,
		endpointID, webhookID, replayID).Scan(&n)
	return n, translate(err)
}

// RecordWebhookAttempt keeps one attempt.
func (s *Store) RecordWebhookAttempt(ctx context.Context, a actors.WebhookAttempt) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO webhook_attempts (endpoint_id, webhook_id, type, attempt, at, outcome, status, error, duration_ms, final, replay_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, a.EndpointID, a.WebhookID, a.Type, a.N, a.At, a.Outcome, a.Status, a.Error, a.DurationMS, a.Final, a.ReplayID)
	return translate(err)
}

// KeepWebhookDelivery keeps delivery d for replay; a delivery already kept
// (a redelivery, a retry) is left as it is.
func (s *Store) KeepWebhookDelivery(ctx context.Context, d actors.WebhookDelivery) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO webhook_deliveries (endpoint_id, webhook_id, type, ts, data) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (endpoint_id, webhook_id) DO NOTHING`, d.EndpointID, d.WebhookID, d.Type,
		// Postgres keeps microseconds and would round the rest, which could
		// move the body's millisecond: truncate instead.
		d.Timestamp.Truncate(time.Microsecond), d.Data)
	return translate(err)
}

// WebhookDeliveries returns the kept deliveries of endpoint endpointID
// whose event timestamp is in [from, to), oldest first (ties by
// webhook-id), at most limit.
func (s *Store) WebhookDeliveries(ctx context.Context, endpointID string, from, to time.Time, limit int) ([]actors.WebhookDelivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT endpoint_id::text, webhook_id, type, ts, data FROM webhook_deliveries
		WHERE endpoint_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts, webhook_id LIMIT $4`, endpointID, from, to, limit)
	if err != nil {
		return nil, translate(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (actors.WebhookDelivery, error) {
		var d actors.WebhookDelivery
		err := r.Scan(&d.EndpointID, &d.WebhookID, &d.Type, &d.Timestamp, &d.Data)
		d.Timestamp = d.Timestamp.UTC()
		return d, err
	})
	return list, translate(err)
}

// WebhookAttempts returns the newest attempts of endpoint id of project
// projectID, at most limit, newest first.
func (s *Store) WebhookAttempts(ctx context.Context, projectID, id string, limit int) ([]actors.WebhookAttempt, error) {
	if _, err := s.Webhook(ctx, projectID, id); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT endpoint_id::text, webhook_id, type, attempt, at, outcome, status, error, duration_ms, final, replay_id
		FROM webhook_attempts WHERE endpoint_id = $1 ORDER BY seq DESC LIMIT $2`, id, limit)
	if err != nil {
		return nil, translate(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (actors.WebhookAttempt, error) {
		var a actors.WebhookAttempt
		err := r.Scan(&a.EndpointID, &a.WebhookID, &a.Type, &a.N, &a.At, &a.Outcome, &a.Status, &a.Error, &a.DurationMS, &a.Final, &a.ReplayID)
		a.At = a.At.UTC()
		return a, err
	})
	if list == nil {
		list = []actors.WebhookAttempt{}
	}
	return list, translate(err)
}

// PruneWebhookHistory deletes kept deliveries and attempts older than
// before, batch rows per statement (safe to run from several instances),
// and returns how many rows it deleted. Migration 011 indexes both by age.
func (s *Store) PruneWebhookHistory(ctx context.Context, before time.Time, batch int) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM webhook_deliveries WHERE ctid IN (SELECT ctid FROM webhook_deliveries WHERE kept_at < $1 LIMIT $2)`,
		`DELETE FROM webhook_attempts WHERE ctid IN (SELECT ctid FROM webhook_attempts WHERE at < $1 LIMIT $2)`,
	} {
		for {
			tag, err := s.pool.Exec(ctx, q, before, batch)
			if err != nil {
				return total, fmt.Errorf("prune webhook history: %w", translate(err))
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < int64(batch) {
				break
			}
		}
	}
	return total, nil
}
