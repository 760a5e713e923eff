package persist

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/actors"
)

// MaxSharesPerRender bounds the share links of one render (revoked ones
// included), so that its actor can keep every share's own counts
// (actors.MaxSharesTracked is larger).
const MaxSharesPerRender = 1000

const shareColumns = `s.id::text, s.project_id::text, s.render_id, s.created_at, s.revoked_at, s.revoke_recorded_at IS NOT NULL`

func scanShare(row pgx.Row, extra ...any) (actors.Share, error) {
	var sh actors.Share
	err := row.Scan(append([]any{&sh.ID, &sh.ProjectID, &sh.RenderID, &sh.CreatedAt, &sh.RevokedAt, &sh.RevokeRecorded}, extra...)...)
	return sh, err
}

func noShare() error { return actors.Errorf(actors.ENotFound, "no share with that id on this render") }

func noRender() error {
	return actors.Errorf(actors.ENotFound, "no render with that id in this key's project")
}

// CreateShare creates a share link (UUIDv7 id) for render renderID of
// project projectID. It fails with ENotFound if the render does not exist
// in a live project, and with EConflict past MaxSharesPerRender.
func (s *Store) CreateShare(ctx context.Context, projectID, renderID string) (actors.Share, error) {
	if !validUUID(projectID) {
		return actors.Share{}, noRender()
	}
	var sh actors.Share
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The render's row lock serialises concurrent creates, so the
		// count below cannot be overtaken.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM items i JOIN projects p ON p.id = i.project_id
			WHERE i.project_id = $1 AND i.id = $2 AND i.kind = 'render' AND p.deleted_at IS NULL
			FOR UPDATE OF i`, projectID, renderID).Scan(&one)
		if err == pgx.ErrNoRows {
			return noRender()
		}
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM shares WHERE project_id = $1 AND render_id = $2`, projectID, renderID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxSharesPerRender {
			return actors.Errorf(actors.EConflict, "the render already has the maximum of %d share links", MaxSharesPerRender)
		}
		sh, err = scanShare(tx.QueryRow(ctx, `INSERT INTO shares AS s (id, project_id, render_id) VALUES ($1, $2, $3)
			RETURNING `+shareColumns, newID(), projectID, renderID))
		return err
	})
	if err != nil {
		return actors.Share{}, translate(err)
	}
	return sh, nil
}

// DeleteShare removes a share that was never handed out (its creation event
// could not be stored). Shares that were handed out are revoked, not deleted.
func (s *Store) DeleteShare(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM shares WHERE id = $1`, id)
	return translate(err)
}

// GetShare returns share id of render renderID in project projectID.
func (s *Store) GetShare(ctx context.Context, projectID, renderID, id string) (actors.Share, error) {
	if !validUUID(projectID) || !validUUID(id) {
		return actors.Share{}, noShare()
	}
	sh, err := scanShare(s.pool.QueryRow(ctx, `SELECT `+shareColumns+` FROM shares s
		WHERE s.id = $1 AND s.project_id = $2 AND s.render_id = $3`, id, projectID, renderID))
	if err == pgx.ErrNoRows {
		return actors.Share{}, noShare()
	}
	return sh, translate(err)
}

// RevokeShare revokes share id of render renderID in project projectID and
// returns it. Revoking twice keeps the first revocation time; the returned
// RevokeRecorded says whether its share_revoked event is already in the log.
func (s *Store) RevokeShare(ctx context.Context, projectID, renderID, id string) (actors.Share, error) {
	if !validUUID(projectID) || !validUUID(id) {
		return actors.Share{}, noShare()
	}
	sh, err := scanShare(s.pool.QueryRow(ctx, `UPDATE shares s SET revoked_at = coalesce(s.revoked_at, now())
		WHERE s.id = $1 AND s.project_id = $2 AND s.render_id = $3 RETURNING `+shareColumns, id, projectID, renderID))
	if err == pgx.ErrNoRows {
		return actors.Share{}, noShare()
	}
	return sh, translate(err)
}

// MarkRevokeRecorded notes that share id's share_revoked event is in the log.
func (s *Store) MarkRevokeRecorded(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `UPDATE shares SET revoke_recorded_at = coalesce(revoke_recorded_at, now()) WHERE id = $1`, id)
	return translate(err)
}

// ListShares lists the shares of render renderID in project projectID,
// newest first.
func (s *Store) ListShares(ctx context.Context, projectID, renderID string) ([]actors.Share, error) {
	if !validUUID(projectID) {
		return nil, noRender()
	}
	rows, err := s.pool.Query(ctx, `SELECT `+shareColumns+` FROM shares s
		WHERE s.project_id = $1 AND s.render_id = $2 ORDER BY s.created_at DESC, s.id DESC`, projectID, renderID)
	if err != nil {
		return nil, translate(err)
	}
	shares, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (actors.Share, error) { return scanShare(row) })
	if shares == nil {
		shares = []actors.Share{}
	}
	return shares, translate(err)
}

// PublicShare returns share id with its render's document URL, for the
// public share page. A share of a deleted project is ENotFound like an
// unknown one, so the public side never learns whether a project exists.
func (s *Store) PublicShare(ctx context.Context, id string) (actors.Share, error) {
	if !validUUID(id) {
		return actors.Share{}, noShare()
	}
	var doc *string
	var ipc actors.IPCapture
	sh, err := scanShare(s.pool.QueryRow(ctx, `SELECT `+shareColumns+`, i.document_url, p.ip_capture FROM shares s
		JOIN items i ON i.project_id = s.project_id AND i.id = s.render_id
		JOIN projects p ON p.id = s.project_id
		WHERE s.id = $1 AND p.deleted_at IS NULL`, id), &doc, &ipc)
	if err == pgx.ErrNoRows {
		return actors.Share{}, noShare()
	}
	sh.DocumentURL, sh.IPCapture = doc, ipc
	return sh, translate(err)
}

// ActiveRender returns render renderID of project projectID if both exist
// and the project is not deleted; otherwise ENotFound.
func (s *Store) ActiveRender(ctx context.Context, projectID, renderID string) (actors.Item, error) {
	if !validUUID(projectID) {
		return actors.Item{}, noRender()
	}
	rows, err := s.pool.Query(ctx, `SELECT i.id, i.project_id, i.kind, i.document_url, i.created_at
		FROM items i JOIN projects p ON p.id = i.project_id
		WHERE i.project_id = $1 AND i.id = $2 AND i.kind = 'render' AND p.deleted_at IS NULL`, projectID, renderID)
	if err != nil {
		return actors.Item{}, translate(err)
	}
	it, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[actors.Item])
	if err == pgx.ErrNoRows {
		return actors.Item{}, noRender()
	}
	return it, translate(err)
}

// CreateEmailMessage records an e-mail about to be sent; m.ID must be a
// new UUID. The returned message has its CreatedAt.
func (s *Store) CreateEmailMessage(ctx context.Context, m actors.EmailMessage) (actors.EmailMessage, error) {
	err := s.pool.QueryRow(ctx, `INSERT INTO email_messages (id, project_id, render_id, share_id, recipient)
		VALUES ($1, $2, $3, $4, $5) RETURNING created_at`, m.ID, m.ProjectID, m.RenderID, m.ShareID, m.Recipient).Scan(&m.CreatedAt)
	return m, translate(err)
}

// MarkEmailSent records that the mail server accepted message id.
func (s *Store) MarkEmailSent(ctx context.Context, id string) (time.Time, error) {
	var at time.Time
	err := s.pool.QueryRow(ctx, `UPDATE email_messages SET sent_at = coalesce(sent_at, now()) WHERE id = $1 RETURNING sent_at`, id).Scan(&at)
	return at, translate(err)
}

// DeleteEmailMessage removes a message the mail server refused.
func (s *Store) DeleteEmailMessage(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM email_messages WHERE id = $1`, id)
	return translate(err)
}

// PublicEmailMessage returns message id for its tracking pixel; a message of
// a deleted project is ENotFound like an unknown one.
func (s *Store) PublicEmailMessage(ctx context.Context, id string) (actors.EmailMessage, error) {
	var m actors.EmailMessage
	if !validUUID(id) {
		return m, actors.Errorf(actors.ENotFound, "no such message")
	}
	err := s.pool.QueryRow(ctx, `SELECT m.id::text, m.project_id::text, m.render_id, m.share_id::text, m.recipient, m.created_at, m.sent_at, p.ip_capture
		FROM email_messages m JOIN projects p ON p.id = m.project_id
		WHERE m.id = $1 AND p.deleted_at IS NULL`, id).
		Scan(&m.ID, &m.ProjectID, &m.RenderID, &m.ShareID, &m.Recipient, &m.CreatedAt, &m.SentAt, &m.IPCapture)
	if err == pgx.ErrNoRows {
		return m, actors.Errorf(actors.ENotFound, "no such message")
	}
	return m, translate(err)
}
