package persist

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/actors"
)

func keyPrefix(k actors.KeyKind) string {
	if k == actors.PublishableKey {
		return "pk_"
	}
	return "sk_"
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// MaxProjectName bounds a project's name, in characters.
const MaxProjectName = 200

// CreateProject creates a project named name (1 to MaxProjectName
// characters).
func (s *Store) CreateProject(ctx context.Context, name string) (actors.Project, error) {
	if n := utf8.RuneCountInString(name); n == 0 || n > MaxProjectName {
		return actors.Project{}, fieldError("name", fmt.Sprintf("project name must be 1 to %d characters", MaxProjectName))
	}
	p := actors.Project{ID: newID(), Name: name}
	err := s.pool.QueryRow(ctx, `INSERT INTO projects (id, name) VALUES ($1, $2) RETURNING created_at, ip_capture`, p.ID, name).Scan(&p.CreatedAt, &p.IPCapture)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, translate(err)
}

// DeleteProject soft-deletes project id. Its keys then fail with forbidden.
func (s *Store) DeleteProject(ctx context.Context, id string) error {
	if !validUUID(id) {
		return actors.Errorf(actors.ENotFound, "project %s not found", id)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE projects SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL`, id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return actors.Errorf(actors.ENotFound, "project %s not found", id)
	}
	return nil
}

// SetAllowedOrigins sets the web origins whose pages may send SDK events
// for project id (see actors.Principal.AllowedOrigins); nil or empty allows
// any. Each is checked and normalised with actors.NormalizeOrigin, and the
// stored list is returned. Keys already cached see the change within a
// second.
func (s *Store) SetAllowedOrigins(ctx context.Context, id string, origins []string) ([]string, error) {
	if !validUUID(id) {
		return nil, actors.Errorf(actors.ENotFound, "project %s not found", id)
	}
	norm := []string{}
	for _, o := range origins {
		n, err := actors.NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(norm, n) {
			norm = append(norm, n)
		}
	}
	var stored []string
	if len(norm) > 0 {
		stored = norm
	}
	if err := s.setProject(ctx, id, "allowed_origins", stored); err != nil {
		return nil, err
	}
	return norm, nil
}

// SetAutoCreateContent turns project id's AutoCreateContent setting on or
// off and returns it as stored. Keys already cached see the change within
// a second.
func (s *Store) SetAutoCreateContent(ctx context.Context, id string, on bool) (bool, error) {
	if err := s.setProject(ctx, id, "auto_create_content", on); err != nil {
		return false, err
	}
	return on, nil
}

// SetIPCapture sets how much of a client address project id keeps
// (actors.IPCapture) and returns the stored setting. Keys already cached,
// and so the partner route, see the change within a second; the public
// share page and pixel read it with each share or message lookup.
func (s *Store) SetIPCapture(ctx context.Context, id string, mode actors.IPCapture) (actors.IPCapture, error) {
	m, err := actors.ParseIPCapture(string(mode))
	if err != nil {
		return "", err
	}
	if err := s.setProject(ctx, id, "ip_capture", string(m)); err != nil {
		return "", err
	}
	return m, nil
}

// setProject sets one settings column of live project id; a malformed,
// unknown or deleted id is ENotFound. column is one of the callers'
// constants, never input.
func (s *Store) setProject(ctx context.Context, id, column string, v any) error {
	if !validUUID(id) {
		return actors.Errorf(actors.ENotFound, "project %s not found", id)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE projects SET `+column+` = $2 WHERE id = $1 AND deleted_at IS NULL`, id, v)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return actors.Errorf(actors.ENotFound, "project %s not found", id)
	}
	return nil
}

var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// keyLen is the length of a whole key: "sk_" + 24 random bytes in base32.
const keyLen = 3 + 39

// CreateKey creates a key of kind for project projectID and returns the key
// itself; it is not stored and cannot be shown again.
func (s *Store) CreateKey(ctx context.Context, projectID string, kind actors.KeyKind) (actors.APIKey, string, error) {
	if kind != actors.SecretKey && kind != actors.PublishableKey {
		return actors.APIKey{}, "", fieldError("kind", "key kind must be secret or publishable")
	}
	if !validUUID(projectID) {
		return actors.APIKey{}, "", actors.Errorf(actors.ENotFound, "project %s not found", projectID)
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return actors.APIKey{}, "", err
	}
	secret := keyPrefix(kind) + keyEncoding.EncodeToString(raw[:])
	k := actors.APIKey{ID: newID(), ProjectID: projectID, Kind: kind, Prefix: secret[:11]}
	hash := sha256.Sum256([]byte(secret))
	err := s.pool.QueryRow(ctx, `INSERT INTO api_keys (id, project_id, kind, prefix, hash)
		SELECT $1, id, $3, $4, $5 FROM projects WHERE id = $2 AND deleted_at IS NULL RETURNING created_at`,
		k.ID, projectID, string(kind), k.Prefix, hash[:]).Scan(&k.CreatedAt)
	if err == pgx.ErrNoRows {
		return actors.APIKey{}, "", actors.Errorf(actors.ENotFound, "project %s not found", projectID)
	}
	if err != nil {
		return actors.APIKey{}, "", translate(err)
	}
	k.CreatedAt = k.CreatedAt.UTC()
	return k, secret, nil
}

// RevokeKey revokes key id. Revoking twice is not an error.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	if !validUUID(id) {
		return actors.Errorf(actors.ENotFound, "key %s not found", id)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return actors.Errorf(actors.ENotFound, "key %s not found", id)
	}
	return nil
}

// WellFormedKey reports whether secret looks like a key this service issues.
func WellFormedKey(secret string) bool {
	if len(secret) != keyLen || !(strings.HasPrefix(secret, "sk_") || strings.HasPrefix(secret, "pk_")) {
		return false
	}
	_, err := keyEncoding.DecodeString(secret[3:])
	return err == nil
}

// Authenticate returns the principal of secret. A missing, malformed,
// unknown or revoked key is EUnauthorized, all alike; a key of a deleted
// project is EForbidden.
func (s *Store) Authenticate(ctx context.Context, secret string) (actors.Principal, error) {
	unauthorized := actors.Errorf(actors.EUnauthorized, "missing, invalid, or revoked API key")
	if !WellFormedKey(secret) {
		return actors.Principal{}, unauthorized
	}
	hash := sha256.Sum256([]byte(secret))
	var p actors.Principal
	var kind string
	var stored []byte
	var revoked, deleted bool
	err := s.pool.QueryRow(ctx, `SELECT k.id, k.project_id, k.kind, k.hash, k.revoked_at IS NOT NULL, p.deleted_at IS NOT NULL,
		p.allowed_origins, p.auto_create_content, p.ip_capture FROM api_keys k JOIN projects p ON p.id = k.project_id WHERE k.hash = $1`, hash[:]).
		Scan(&p.KeyID, &p.ProjectID, &kind, &stored, &revoked, &deleted, &p.AllowedOrigins, &p.AutoCreateContent, &p.IPCapture)
	if err != nil {
		if err == pgx.ErrNoRows {
			return actors.Principal{}, unauthorized
		}
		return actors.Principal{}, translate(err)
	}
	if subtle.ConstantTimeCompare(stored, hash[:]) != 1 || revoked {
		return actors.Principal{}, unauthorized
	}
	if deleted {
		return actors.Principal{}, actors.Errorf(actors.EForbidden, "the key's project no longer exists")
	}
	p.Kind = actors.KeyKind(kind)
	return p, nil
}

// CreateRender registers a render (UUIDv7 id) in project projectID.
// documentURL may be empty, else it must be an absolute http(s) URL: the
// share page embeds it and its download route redirects to it.
func (s *Store) CreateRender(ctx context.Context, projectID, documentURL string) (actors.Item, error) {
	if documentURL != "" {
		u, err := url.Parse(documentURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return actors.Item{}, fieldError("documentUrl", "documentUrl must be an absolute http(s) URL")
		}
	}
	return s.createItem(ctx, projectID, newID(), actors.RenderItem, documentURL)
}

func (s *Store) createItem(ctx context.Context, projectID, id, kind, documentURL string) (actors.Item, error) {
	if !validUUID(projectID) {
		return actors.Item{}, actors.Errorf(actors.ENotFound, "project %s not found", projectID)
	}
	it := actors.Item{ID: id, ProjectID: projectID, Kind: kind}
	if documentURL != "" {
		it.DocumentURL = &documentURL
	}
	err := s.pool.QueryRow(ctx, `INSERT INTO items (project_id, id, kind, document_url)
		SELECT id, $2, $3, $4 FROM projects WHERE id = $1 AND deleted_at IS NULL RETURNING created_at`,
		projectID, id, kind, it.DocumentURL).Scan(&it.CreatedAt)
	it.CreatedAt = it.CreatedAt.UTC()
	if err == pgx.ErrNoRows {
		return actors.Item{}, actors.Errorf(actors.ENotFound, "project %s not found", projectID)
	}
	return it, translate(err)
}

// GetItem returns item id of kind in project projectID, or ENotFound.
func (s *Store) GetItem(ctx context.Context, projectID, id, kind string) (actors.Item, error) {
	if !validUUID(projectID) {
		return actors.Item{}, actors.Errorf(actors.ENotFound, "not found")
	}
	rows, err := s.pool.Query(ctx, `SELECT id, project_id, kind, document_url, created_at FROM items
		WHERE project_id = $1 AND id = $2 AND kind = $3`, projectID, id, kind)
	if err != nil {
		return actors.Item{}, translate(err)
	}
	it, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[actors.Item])
	return it, translate(err)
}

// ItemKeys calls fn with the kind, project and id of every item created at
// or after since (the zero time: every item), row by row as Postgres sends
// them, in no particular order; fn's error ends the read and is returned as
// it is. asOf is Postgres's clock just before the read: the next call's since
// (less a margin, see httpapi's item set) finds what was created from then on.
// A row's created_at is its transaction's start, so a transaction that
// commits later than that is seen only by a read whose since reaches back
// to its start. The item sets filled from here assume that an item row is
// never deleted (nothing here does): deleting one would have to tell every
// instance, as key changes do.
func (s *Store) ItemKeys(ctx context.Context, since time.Time, fn func(kind, projectID, id string) error) (asOf time.Time, err error) {
	if err := s.pool.QueryRow(ctx, `SELECT now()`).Scan(&asOf); err != nil {
		return time.Time{}, fmt.Errorf("item keys: %w", translate(err))
	}
	q, args := `SELECT kind, project_id::text, id FROM items`, []any(nil)
	if !since.IsZero() {
		// items_created_at (migration 013): a poll reads the last seconds.
		q, args = q+` WHERE created_at >= $1`, []any{since}
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return time.Time{}, fmt.Errorf("item keys: %w", translate(err))
	}
	var kind, project, id string
	var fnErr error
	_, err = pgx.ForEachRow(rows, []any{&kind, &project, &id}, func() error {
		fnErr = fn(kind, project, id)
		return fnErr
	})
	if fnErr != nil {
		return time.Time{}, fnErr
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("item keys: %w", translate(err))
	}
	return asOf.UTC(), nil
}

func validUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// CreateRenders registers n renders in project projectID in one statement
// and returns their ids; the load tool uses it to set up a key space.
func (s *Store) CreateRenders(ctx context.Context, projectID string, n int) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newID()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO items (project_id, id, kind)
		SELECT $1, unnest($2::text[]), 'render'`, projectID, ids)
	return ids, translate(err)
}
