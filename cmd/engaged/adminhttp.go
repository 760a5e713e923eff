package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/client"
)

// adminHTTP is the admin backend that calls a running server's HTTP admin
// API through the Go client's Admin, with the operator token. It only
// converts between the client's types and the store's, and turns the
// client's errors into the store's coded errors, so a command fails with
// the same message either way.
type adminHTTP struct {
	c *client.Admin
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
	if token == "" {
		return nil, errors.New("--url needs ENGAGED_ADMIN_TOKEN, the server's admin token")
	}
	c, err := client.NewAdmin(base, token, client.WithUserAgent("engaged-admin"))
	if err != nil {
		return nil, err
	}
	return &adminHTTP{c: c}, nil
}

// coded turns an error answer of the server back into the coded error the
// server made; other errors (the network) pass through.
func coded(err error) error {
	var e *client.Error
	if !errors.As(err, &e) || strings.HasPrefix(e.Code, "http_") {
		return err
	}
	ae := &actors.Error{Code: actors.Code(e.Code), Message: e.Message}
	if e.Issues != nil {
		ae.Issues = &actors.Issues{FormErrors: e.Issues.FormErrors, FieldErrors: e.Issues.FieldErrors}
	}
	return ae
}

func project(p client.Project) actors.Project {
	return actors.Project{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, AllowedOrigins: p.AllowedOrigins, AutoCreateContent: p.AutoCreateContent,
		IPCapture: actors.IPCapture(p.IPCapture)}
}

func apiKey(k client.APIKey) actors.APIKey {
	return actors.APIKey{ID: k.ID, ProjectID: k.ProjectID, Kind: actors.KeyKind(k.Kind), Prefix: k.Prefix, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

func item(it client.Item) actors.Item {
	return actors.Item{ID: it.ID, ProjectID: it.ProjectID, Kind: it.Kind, DocumentURL: it.DocumentURL, CreatedAt: it.CreatedAt}
}

func page(p actors.Page) client.Page { return client.Page{Limit: p.Limit, Cursor: p.Cursor} }

func mapped[A, B any](l []A, next string, err error, f func(A) B) ([]B, string, error) {
	if err != nil {
		return nil, "", coded(err)
	}
	out := make([]B, len(l))
	for i, x := range l {
		out[i] = f(x)
	}
	return out, next, nil
}

func (a *adminHTTP) CreateProject(ctx context.Context, name string) (actors.Project, error) {
	p, err := a.c.CreateProject(ctx, name, client.ProjectSettings{})
	return project(p), coded(err)
}

func (a *adminHTTP) SetIPCapture(ctx context.Context, projectID string, mode actors.IPCapture) (actors.IPCapture, error) {
	stored, err := a.c.SetIPCapture(ctx, projectID, string(mode))
	return actors.IPCapture(stored), coded(err)
}

func (a *adminHTTP) ListProjects(ctx context.Context, p actors.Page) ([]actors.Project, string, error) {
	l, next, err := a.c.ListProjects(ctx, page(p))
	return mapped(l, next, err, project)
}

func (a *adminHTTP) DeleteProject(ctx context.Context, id string) error {
	return coded(a.c.DeleteProject(ctx, id))
}

func (a *adminHTTP) SetAllowedOrigins(ctx context.Context, projectID string, origins []string) ([]string, error) {
	o, err := a.c.SetAllowedOrigins(ctx, projectID, origins)
	return o, coded(err)
}

func (a *adminHTTP) SetAutoCreateContent(ctx context.Context, projectID string, on bool) (bool, error) {
	v, err := a.c.SetAutoCreateContent(ctx, projectID, on)
	return v, coded(err)
}

func (a *adminHTTP) CreateKey(ctx context.Context, projectID string, kind actors.KeyKind) (actors.APIKey, string, error) {
	k, secret, err := a.c.CreateKey(ctx, projectID, string(kind))
	return apiKey(k), secret, coded(err)
}

func (a *adminHTTP) ListKeys(ctx context.Context, projectID string, p actors.Page) ([]actors.APIKey, string, error) {
	l, next, err := a.c.ListKeys(ctx, projectID, page(p))
	return mapped(l, next, err, apiKey)
}

func (a *adminHTTP) RevokeKey(ctx context.Context, id string) error {
	return coded(a.c.RevokeKey(ctx, id))
}

func (a *adminHTTP) CreateRender(ctx context.Context, projectID, documentURL string) (actors.Item, error) {
	it, err := a.c.CreateRender(ctx, projectID, documentURL)
	return item(it), coded(err)
}

func (a *adminHTTP) CreateContent(ctx context.Context, projectID, id string) (actors.Item, error) {
	it, err := a.c.CreateContent(ctx, projectID, id)
	return item(it), coded(err)
}

func (a *adminHTTP) ListItems(ctx context.Context, projectID, kind string, p actors.Page) ([]actors.Item, string, error) {
	list := a.c.ListContents
	if kind == actors.RenderItem {
		list = a.c.ListRenders
	}
	l, next, err := list(ctx, projectID, page(p))
	return mapped(l, next, err, item)
}
