package persist

import (
	"context"
	"crypto/rand"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/actors"
)

// CreateContent registers SDK content item id in project projectID; an empty
// id gets a generated one (cnt_ and 26 random characters). Content ids share
// the project's item id space with renders: an id in use is EConflict.
func (s *Store) CreateContent(ctx context.Context, projectID, id string) (actors.Item, error) {
	if id == "" {
		var raw [16]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return actors.Item{}, err
		}
		id = "cnt_" + keyEncoding.EncodeToString(raw[:])
	}
	if !actors.ValidID(id) {
		return actors.Item{}, &actors.Error{Code: actors.EInvalid, Message: "content id must be 1 to 64 characters of letters, digits, '_' and '-'",
			Issues: &actors.Issues{FormErrors: []string{}, FieldErrors: map[string][]string{"id": {"Invalid content id: 1 to 64 characters of letters, digits, '_' and '-'"}}}}
	}
	it, err := s.createItem(ctx, projectID, strings.Clone(id), actors.ContentItem, "")
	if actors.ErrorCode(err) == actors.EConflict {
		return actors.Item{}, actors.Errorf(actors.EConflict, "an item with id %s already exists in this project", id)
	}
	return it, err
}

// AutoCreateContent registers content item id in project projectID on
// behalf of an SDK event, if the project has AutoCreateContent on and holds
// fewer than maxItems items (renders and contents). The project's row is
// locked while it counts, so concurrent creations never pass the cap. It
// returns the item (also when it existed already: a concurrent event made
// it), EContentLimit at the cap, and ENotFound when the project is gone,
// has the setting off, or id names a render.
func (s *Store) AutoCreateContent(ctx context.Context, projectID, id string, maxItems int) (actors.Item, error) {
	notFound := actors.Errorf(actors.ENotFound, "content %s cannot be created in project %s", id, projectID)
	if !validUUID(projectID) || !actors.ValidID(id) {
		return actors.Item{}, notFound
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return actors.Item{}, translate(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var on bool
	err = tx.QueryRow(ctx, `SELECT auto_create_content FROM projects WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, projectID).Scan(&on)
	if err == pgx.ErrNoRows || (err == nil && !on) {
		return actors.Item{}, notFound
	}
	if err != nil {
		return actors.Item{}, translate(err)
	}
	it := actors.Item{ID: strings.Clone(id), ProjectID: projectID, Kind: actors.ContentItem}
	var kind string
	err = tx.QueryRow(ctx, `SELECT kind, created_at FROM items WHERE project_id = $1 AND id = $2`, projectID, id).Scan(&kind, &it.CreatedAt)
	switch {
	case err == nil && kind == actors.ContentItem:
		it.CreatedAt = it.CreatedAt.UTC()
		return it, nil
	case err == nil:
		return actors.Item{}, notFound
	case err != pgx.ErrNoRows:
		return actors.Item{}, translate(err)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM items WHERE project_id = $1`, projectID).Scan(&n); err != nil {
		return actors.Item{}, translate(err)
	}
	if n >= maxItems {
		return actors.Item{}, actors.Errorf(actors.EContentLimit, "project holds %d items, the cap for content created by events (ENGAGED_AUTOCREATE_MAX_ITEMS)", maxItems)
	}
	err = tx.QueryRow(ctx, `INSERT INTO items (project_id, id, kind) VALUES ($1, $2, $3) RETURNING created_at`,
		projectID, it.ID, actors.ContentItem).Scan(&it.CreatedAt)
	if err != nil {
		return actors.Item{}, translate(err)
	}
	it.CreatedAt = it.CreatedAt.UTC()
	return it, translate(tx.Commit(ctx))
}
