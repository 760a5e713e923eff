package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// adminHTTP is the admin backend that calls a running server's HTTP admin
// API (/admin/v1) with the operator token. Its errors are the server's
// coded errors, so a command fails with the same message either way.
type adminHTTP struct {
	base   string // scheme://host[:port], no trailing slash
	token  string
	client *http.Client
}

// checkServerURL accepts the base URL of a server, http(s)://host[:port].
func checkServerURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", base)
	}
	return nil
}

func newAdminHTTP(base, token string) (*adminHTTP, error) {
	if err := checkServerURL(base); err != nil {
		return nil, err
	}
	if token == "" {
		return nil, errors.New("--url needs ENGAGED_ADMIN_TOKEN, the server's admin token")
	}
	return &adminHTTP{base: strings.TrimRight(base, "/"), token: token, client: &http.Client{Timeout: 30 * time.Second}}, nil
}

// call sends one request; a 2xx body is decoded into out, any other status
// becomes the *actors.Error of its envelope.
func (a *adminHTTP) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+"/admin/v1"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		var env struct {
			Error struct {
				Code    actors.Code    `json:"code"`
				Message string         `json:"message"`
				Issues  *actors.Issues `json:"issues"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &env) != nil || env.Error.Code == "" {
			return fmt.Errorf("%s %s: HTTP %d", method, path, res.StatusCode)
		}
		return &actors.Error{Code: env.Error.Code, Message: env.Error.Message, Issues: env.Error.Issues}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// fetchList fetches one page of the list at path, named name in the response.
func fetchList[T any](ctx context.Context, a *adminHTTP, path, name string, p actors.Page) ([]T, string, error) {
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
	if err := a.call(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, "", err
	}
	var items []T
	var next *string
	if err := json.Unmarshal(out[name], &items); err != nil || items == nil {
		return nil, "", fmt.Errorf("GET %s: no %q list in the response", path, name)
	}
	if err := json.Unmarshal(out["nextCursor"], &next); err != nil {
		return nil, "", fmt.Errorf("GET %s: nextCursor: %w", path, err)
	}
	if next == nil {
		return items, "", nil
	}
	return items, *next, nil
}

func projectPath(id string) string { return "/projects/" + url.PathEscape(id) }

func (a *adminHTTP) CreateProject(ctx context.Context, name string) (actors.Project, error) {
	var p actors.Project
	err := a.call(ctx, http.MethodPost, "/projects", map[string]string{"name": name}, &p)
	return p, err
}

func (a *adminHTTP) SetAllowedOrigins(ctx context.Context, projectID string, origins []string) ([]string, error) {
	if origins == nil {
		origins = []string{}
	}
	var out struct {
		AllowedOrigins []string `json:"allowedOrigins"`
	}
	err := a.call(ctx, http.MethodPut, projectPath(projectID)+"/allowed-origins", map[string][]string{"allowedOrigins": origins}, &out)
	return out.AllowedOrigins, err
}

func (a *adminHTTP) SetIPCapture(ctx context.Context, projectID string, mode actors.IPCapture) (actors.IPCapture, error) {
	var out struct {
		IPCapture actors.IPCapture `json:"ipCapture"`
	}
	err := a.call(ctx, http.MethodPut, projectPath(projectID)+"/ip-capture", map[string]string{"ipCapture": string(mode)}, &out)
	return out.IPCapture, err
}

func (a *adminHTTP) ListProjects(ctx context.Context, p actors.Page) ([]actors.Project, string, error) {
	return fetchList[actors.Project](ctx, a, "/projects", "projects", p)
}

func (a *adminHTTP) DeleteProject(ctx context.Context, id string) error {
	return a.call(ctx, http.MethodDelete, projectPath(id), nil, &struct{}{})
}

func (a *adminHTTP) CreateKey(ctx context.Context, projectID string, kind actors.KeyKind) (actors.APIKey, string, error) {
	var k createdKey
	err := a.call(ctx, http.MethodPost, projectPath(projectID)+"/keys", map[string]string{"kind": string(kind)}, &k)
	return k.APIKey, k.Key, err
}

func (a *adminHTTP) ListKeys(ctx context.Context, projectID string, p actors.Page) ([]actors.APIKey, string, error) {
	return fetchList[actors.APIKey](ctx, a, projectPath(projectID)+"/keys", "keys", p)
}

func (a *adminHTTP) RevokeKey(ctx context.Context, id string) error {
	return a.call(ctx, http.MethodDelete, "/keys/"+url.PathEscape(id), nil, &struct{}{})
}

func (a *adminHTTP) CreateRender(ctx context.Context, projectID, documentURL string) (actors.Item, error) {
	body := map[string]string{}
	if documentURL != "" {
		body["documentUrl"] = documentURL
	}
	var it actors.Item
	err := a.call(ctx, http.MethodPost, projectPath(projectID)+"/renders", body, &it)
	return it, err
}

func (a *adminHTTP) CreateContent(ctx context.Context, projectID, id string) (actors.Item, error) {
	body := map[string]string{}
	if id != "" {
		body["id"] = id
	}
	var it actors.Item
	err := a.call(ctx, http.MethodPost, projectPath(projectID)+"/contents", body, &it)
	return it, err
}

func (a *adminHTTP) ListItems(ctx context.Context, projectID, kind string, p actors.Page) ([]actors.Item, string, error) {
	name := map[string]string{actors.RenderItem: "renders", actors.ContentItem: "contents"}[kind]
	return fetchList[actors.Item](ctx, a, projectPath(projectID)+"/"+name, name, p)
}
