package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Admin calls the operator's admin API (/admin/v1) with the server's admin
// token (ENGAGED_ADMIN_TOKEN): projects, their keys and settings, renders
// and content items. It is safe for concurrent use and has no goroutine:
// there is nothing to close. `engaged admin … --url` is built on it.
type Admin struct {
	conn
}

// NewAdmin returns an admin client for the service at baseURL with the
// operator token. It returns an error when baseURL is not an http(s) URL,
// the token is empty, or an option is out of range.
func NewAdmin(baseURL, token string, opts ...Option) (*Admin, error) {
	cn, _, err := newConn(baseURL, token, opts)
	if err != nil {
		return nil, err
	}
	cn.base += "/admin/v1"
	return &Admin{cn}, nil
}

// Project is a tenant: its keys, items and settings.
type Project struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	// AllowedOrigins are the web origins whose pages may send SDK events;
	// nil or empty: any origin.
	AllowedOrigins []string `json:"allowedOrigins"`
	// AutoCreateContent: an SDK event about an unregistered content id
	// registers it (within the server's per-project cap and rate).
	AutoCreateContent bool `json:"autoCreateContent"`
	// IPCapture is how much of a client address the project keeps: "full",
	// "truncated" (IPv4 /24, IPv6 /48) or "none".
	IPCapture string `json:"ipCapture"`
}

// APIKey describes a key without its secret, which is shown once, when it
// is created.
type APIKey struct {
	ID        string     `json:"id"`
	ProjectID string     `json:"projectId"`
	Kind      string     `json:"kind"` // secret or publishable
	Prefix    string     `json:"prefix"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt"`
}

// Item is a registered render or content item.
type Item struct {
	ID          string    `json:"id"`
	ProjectID   string    `json:"projectId"`
	Kind        string    `json:"kind"`        // render or content
	DocumentURL *string   `json:"documentUrl"` // renders: the rendered document, or nil
	CreatedAt   time.Time `json:"createdAt"`
}

// Page asks for one page of a list: at most Limit entries (0: the server's
// default, 100; at most 1000) after Cursor ("": from the start), the cursor
// the previous page returned.
type Page struct {
	Limit  int
	Cursor string
}

// ProjectSettings are the settings given when a project is created.
type ProjectSettings struct {
	AllowedOrigins    []string // nil: any origin
	AutoCreateContent bool
	IPCapture         string // "": the server's default, "full"
}

// CreateProject creates a project (POST /admin/v1/projects).
func (a *Admin) CreateProject(ctx context.Context, name string, s ProjectSettings) (Project, error) {
	in := map[string]any{"name": name}
	if len(s.AllowedOrigins) > 0 {
		in["allowedOrigins"] = s.AllowedOrigins
	}
	if s.AutoCreateContent {
		in["autoCreateContent"] = true
	}
	if s.IPCapture != "" {
		in["ipCapture"] = s.IPCapture
	}
	var p Project
	err := a.do(ctx, http.MethodPost, "/projects", in, &p)
	return p, err
}

// ListProjects returns one page of the projects not deleted, oldest first,
// and the cursor of the next page ("" on the last).
func (a *Admin) ListProjects(ctx context.Context, p Page) ([]Project, string, error) {
	return list[Project](ctx, a, "/projects", "projects", p)
}

// DeleteProject soft-deletes a project: its keys then get ErrForbidden.
func (a *Admin) DeleteProject(ctx context.Context, id string) error {
	return a.do(ctx, http.MethodDelete, projectPath(id), nil, nil)
}

// SetAllowedOrigins replaces the web origins whose pages may send SDK
// events (empty: any) and returns them as stored, normalised.
func (a *Admin) SetAllowedOrigins(ctx context.Context, projectID string, origins []string) ([]string, error) {
	if origins == nil {
		origins = []string{}
	}
	var out struct {
		AllowedOrigins []string `json:"allowedOrigins"`
	}
	err := a.do(ctx, http.MethodPut, projectPath(projectID)+"/allowed-origins", map[string][]string{"allowedOrigins": origins}, &out)
	return out.AllowedOrigins, err
}

// SetAutoCreateContent turns on or off the registration of unknown content
// ids by SDK events, and returns the stored setting.
func (a *Admin) SetAutoCreateContent(ctx context.Context, projectID string, on bool) (bool, error) {
	var out struct {
		AutoCreateContent bool `json:"autoCreateContent"`
	}
	err := a.do(ctx, http.MethodPut, projectPath(projectID)+"/auto-create-content", map[string]bool{"autoCreateContent": on}, &out)
	return out.AutoCreateContent, err
}

// SetIPCapture sets how much of a client address the project keeps from
// now on ("full", "truncated" or "none") and returns the stored setting.
func (a *Admin) SetIPCapture(ctx context.Context, projectID, mode string) (string, error) {
	var out struct {
		IPCapture string `json:"ipCapture"`
	}
	err := a.do(ctx, http.MethodPut, projectPath(projectID)+"/ip-capture", map[string]string{"ipCapture": mode}, &out)
	return out.IPCapture, err
}

// CreateKey creates a key of kind "secret" or "publishable" and returns it
// with its secret, which cannot be read again.
func (a *Admin) CreateKey(ctx context.Context, projectID, kind string) (APIKey, string, error) {
	var k struct {
		APIKey
		Key string `json:"key"`
	}
	err := a.do(ctx, http.MethodPost, projectPath(projectID)+"/keys", map[string]string{"kind": kind}, &k)
	return k.APIKey, k.Key, err
}

// ListKeys returns one page of a project's keys, revoked ones too.
func (a *Admin) ListKeys(ctx context.Context, projectID string, p Page) ([]APIKey, string, error) {
	return list[APIKey](ctx, a, projectPath(projectID)+"/keys", "keys", p)
}

// RevokeKey revokes a key; every instance refuses it within a second.
func (a *Admin) RevokeKey(ctx context.Context, id string) error {
	return a.do(ctx, http.MethodDelete, "/keys/"+url.PathEscape(id), nil, nil)
}

// CreateRender registers a render (a UUIDv7 id) with the absolute http(s)
// URL of its document, or "".
func (a *Admin) CreateRender(ctx context.Context, projectID, documentURL string) (Item, error) {
	in := map[string]string{}
	if documentURL != "" {
		in["documentUrl"] = documentURL
	}
	var it Item
	err := a.do(ctx, http.MethodPost, projectPath(projectID)+"/renders", in, &it)
	return it, err
}

// CreateContent registers a content item with id (1 to 64 of
// [A-Za-z0-9_-]), or a generated id when id is "".
func (a *Admin) CreateContent(ctx context.Context, projectID, id string) (Item, error) {
	in := map[string]string{}
	if id != "" {
		in["id"] = id
	}
	var it Item
	err := a.do(ctx, http.MethodPost, projectPath(projectID)+"/contents", in, &it)
	return it, err
}

// ListRenders returns one page of a project's renders, oldest first.
func (a *Admin) ListRenders(ctx context.Context, projectID string, p Page) ([]Item, string, error) {
	return list[Item](ctx, a, projectPath(projectID)+"/renders", "renders", p)
}

// ListContents returns one page of a project's content items, by id.
func (a *Admin) ListContents(ctx context.Context, projectID string, p Page) ([]Item, string, error) {
	return list[Item](ctx, a, projectPath(projectID)+"/contents", "contents", p)
}

func projectPath(id string) string { return "/projects/" + url.PathEscape(id) }

// list fetches one page of the list at path, {"<name>": [...], "nextCursor"}.
func list[T any](ctx context.Context, a *Admin, path, name string, p Page) ([]T, string, error) {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out map[string]json.RawMessage
	if err := a.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, "", err
	}
	var items []T
	var next *string
	if err := json.Unmarshal(out[name], &items); err != nil || items == nil {
		return nil, "", fmt.Errorf("engaged: GET %s: no %q list in the answer", path, name)
	}
	if err := json.Unmarshal(out["nextCursor"], &next); err != nil {
		return nil, "", fmt.Errorf("engaged: GET %s: nextCursor: %w", path, err)
	}
	if next == nil {
		return items, "", nil
	}
	return items, *next, nil
}
