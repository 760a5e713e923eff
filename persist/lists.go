package persist

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/actors"
)

// Lists are in id order, which for projects, keys and renders (UUIDv7) is
// the order of creation. The cursor is the last id shown, opaque to
// clients, so the next page is an index range scan however deep it is.

// nilUUID sorts before every UUIDv7: the cursor of a uuid list's start.
const nilUUID = "00000000-0000-0000-0000-000000000000"

// pageStart validates p and returns the id the page starts after (start if
// p has no cursor) and the limit.
func pageStart(p actors.Page, start string, uuidIDs bool) (string, int, error) {
	limit := p.Limit
	if limit == 0 {
		limit = actors.DefaultLimit
	}
	if limit < 1 || limit > actors.MaxLimit {
		return "", 0, fieldError("limit", fmt.Sprintf("limit must be an integer from 1 to %d", actors.MaxLimit))
	}
	if p.Cursor == "" {
		return start, limit, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	id := string(b)
	if err != nil || (uuidIDs && !validUUID(id)) || (!uuidIDs && !actors.ValidID(id)) {
		return "", 0, fieldError("cursor", "cursor is not one this service returned")
	}
	return id, limit, nil
}

// page trims rows fetched with limit+1 to limit and returns the next cursor,
// "" on the last page.
func page[T any](rows []T, limit int, id func(T) string) ([]T, string) {
	if rows == nil {
		rows = []T{}
	}
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, base64.RawURLEncoding.EncodeToString([]byte(id(rows[limit-1])))
}

// ListProjects lists the projects that are not deleted.
func (s *Store) ListProjects(ctx context.Context, p actors.Page) ([]actors.Project, string, error) {
	after, limit, err := pageStart(p, nilUUID, true)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, name, created_at, allowed_origins, auto_create_content, ip_capture FROM projects
		WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2`, after, limit+1)
	if err != nil {
		return nil, "", translate(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (actors.Project, error) {
		var pr actors.Project
		err := r.Scan(&pr.ID, &pr.Name, &pr.CreatedAt, &pr.AllowedOrigins, &pr.AutoCreateContent, &pr.IPCapture)
		pr.CreatedAt = pr.CreatedAt.UTC()
		return pr, err
	})
	if err != nil {
		return nil, "", translate(err)
	}
	list, next := page(list, limit, func(pr actors.Project) string { return pr.ID })
	return list, next, nil
}

// ListKeys lists the keys of project projectID, revoked ones too; never
// their secrets, which are not stored.
func (s *Store) ListKeys(ctx context.Context, projectID string, p actors.Page) ([]actors.APIKey, string, error) {
	after, limit, err := pageStart(p, nilUUID, true)
	if err != nil {
		return nil, "", err
	}
	if err := s.liveProject(ctx, projectID); err != nil {
		return nil, "", err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, project_id, kind, prefix, created_at, revoked_at FROM api_keys
		WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3`, projectID, after, limit+1)
	if err != nil {
		return nil, "", translate(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (actors.APIKey, error) {
		var k actors.APIKey
		var kind string
		err := r.Scan(&k.ID, &k.ProjectID, &kind, &k.Prefix, &k.CreatedAt, &k.RevokedAt)
		k.Kind = actors.KeyKind(kind)
		k.CreatedAt = k.CreatedAt.UTC()
		if k.RevokedAt != nil {
			*k.RevokedAt = k.RevokedAt.UTC()
		}
		return k, err
	})
	if err != nil {
		return nil, "", translate(err)
	}
	list, next := page(list, limit, func(k actors.APIKey) string { return k.ID })
	return list, next, nil
}

// ListItems lists the items of kind (actors.RenderItem or
// actors.ContentItem) in project projectID.
func (s *Store) ListItems(ctx context.Context, projectID, kind string, p actors.Page) ([]actors.Item, string, error) {
	after, limit, err := pageStart(p, "", false)
	if err != nil {
		return nil, "", err
	}
	if err := s.liveProject(ctx, projectID); err != nil {
		return nil, "", err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, project_id, kind, document_url, created_at FROM items
		WHERE project_id = $1 AND kind = $2 AND id > $3 ORDER BY id LIMIT $4`, projectID, kind, after, limit+1)
	if err != nil {
		return nil, "", translate(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (actors.Item, error) {
		it, err := pgx.RowToStructByPos[actors.Item](r)
		it.CreatedAt = it.CreatedAt.UTC()
		return it, err
	})
	if err != nil {
		return nil, "", translate(err)
	}
	list, next := page(list, limit, func(it actors.Item) string { return it.ID })
	return list, next, nil
}

// liveProject returns ENotFound unless project id exists and is not
// deleted, so that listing a missing project is not an empty list.
func (s *Store) liveProject(ctx context.Context, id string) error {
	notFound := actors.Errorf(actors.ENotFound, "project %s not found", id)
	if !validUUID(id) {
		return notFound
	}
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1 AND deleted_at IS NULL)`, id).Scan(&ok); err != nil {
		return translate(err)
	}
	if !ok {
		return notFound
	}
	return nil
}

// fieldError is an EInvalid error naming one field, in the shape the API
// documents (error.issues.fieldErrors).
func fieldError(field, msg string) error {
	return &actors.Error{Code: actors.EInvalid, Message: msg,
		Issues: &actors.Issues{FormErrors: []string{}, FieldErrors: map[string][]string{field: {msg}}}}
}
