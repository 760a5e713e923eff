package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// AdminStore is what the admin API needs of the records store
// (persist.Store). Lists return one page and the cursor of the next, "" on
// the last.
type AdminStore interface {
	CreateProject(ctx context.Context, name string) (actors.Project, error)
	ListProjects(ctx context.Context, p actors.Page) ([]actors.Project, string, error)
	DeleteProject(ctx context.Context, id string) error
	SetAllowedOrigins(ctx context.Context, projectID string, origins []string) ([]string, error)
	SetAutoCreateContent(ctx context.Context, projectID string, on bool) (bool, error)
	SetIPCapture(ctx context.Context, projectID string, mode actors.IPCapture) (actors.IPCapture, error)
	CreateKey(ctx context.Context, projectID string, kind actors.KeyKind) (actors.APIKey, string, error)
	ListKeys(ctx context.Context, projectID string, p actors.Page) ([]actors.APIKey, string, error)
	RevokeKey(ctx context.Context, id string) error
	CreateRender(ctx context.Context, projectID, documentURL string) (actors.Item, error)
	CreateContent(ctx context.Context, projectID, id string) (actors.Item, error)
	ListItems(ctx context.Context, projectID, kind string, p actors.Page) ([]actors.Item, string, error)
}

// AdminOptions configures the admin API. With an empty Token its routes are
// not registered at all, so they answer 404 like any unknown path.
type AdminOptions struct {
	Token string // the operator's bearer token (config.Config.AdminToken)
	Store AdminStore
}

// adminRoutes registers /admin/v1. It is a group of its own, outside /v1,
// whose middleware would ask for an API key first.
func (s *Server) adminRoutes() {
	if s.opts.Admin.Token == "" || s.opts.Admin.Store == nil {
		return
	}
	sum := sha256.Sum256([]byte(s.opts.Admin.Token))
	s.adminToken = sum[:]
	a := s.app.Group("/admin/v1", s.adminAuth)
	a.Post("/projects", s.adminCreateProject)
	a.Get("/projects", s.adminListProjects)
	a.Delete("/projects/:id", s.adminDeleteProject)
	a.Put("/projects/:id/allowed-origins", adminSetting(s, "allowedOrigins", wire.DecodeOrigins, s.opts.Admin.Store.SetAllowedOrigins))
	a.Put("/projects/:id/auto-create-content", adminSetting(s, "autoCreateContent", wire.DecodeAutoCreate, s.opts.Admin.Store.SetAutoCreateContent))
	a.Put("/projects/:id/ip-capture", adminSetting(s, "ipCapture", wire.DecodeIPCaptureSetting, s.opts.Admin.Store.SetIPCapture))
	a.Post("/projects/:id/keys", s.adminCreateKey)
	a.Get("/projects/:id/keys", s.adminListKeys)
	a.Delete("/keys/:keyId", s.adminRevokeKey)
	a.Post("/projects/:id/renders", s.adminCreateRender)
	a.Get("/projects/:id/renders", s.adminListItems(actors.RenderItem, "renders"))
	a.Post("/projects/:id/contents", s.adminCreateContent)
	a.Get("/projects/:id/contents", s.adminListItems(actors.ContentItem, "contents"))
}

// adminAuth admits "Authorization: Bearer <operator token>". Both sides are
// hashed before the constant-time comparison so that neither the token's
// bytes nor its length show in the response time.
func (s *Server) adminAuth(c *fiber.Ctx) error {
	scheme, tok, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], s.adminToken) != 1 {
		return actors.Errorf(actors.EUnauthorized, "missing or invalid admin token")
	}
	return c.Next()
}

// adminPage reads ?limit= and ?cursor=; the store checks their values.
func adminPage(c *fiber.Ctx) (actors.Page, error) {
	var p actors.Page
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return p, wire.FieldError("limit", "Expected integer, received string")
		}
		p.Limit = n
	}
	p.Cursor = strings.Clone(c.Query("cursor"))
	return p, nil
}

// list is the shape of every admin list: {"<name>": [...], "nextCursor"}.
func list[T any](c *fiber.Ctx, name string, items []T, next string) error {
	var cursor *string
	if next != "" {
		cursor = &next
	}
	return c.JSON(fiber.Map{name: items, "nextCursor": cursor})
}

// CreatedKey is a new key with its secret, shown this once: the answer of
// POST /admin/v1/projects/:id/keys and the output of `engaged admin key create`.
type CreatedKey struct {
	actors.APIKey
	Key string `json:"key"`
}

func (s *Server) adminCreateProject(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	b, err := body(c, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	name, set, err := wire.DecodeProject(b)
	if err != nil {
		return err
	}
	p, err := CreateProject(ctx, s.opts.Admin.Store, name, set)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(p)
}

// adminSetting serves PUT /admin/v1/projects/:id/<setting>: decode reads
// the body's member, set stores it, and the answer is {"id", member: the
// stored value}. Allowed origins (cors.go; an empty list allows any origin),
// autoCreateContent (sdk.go) and ipCapture (privacy: docs/PRIVACY.md) are set
// this way.
func adminSetting[T any](s *Server, member string, decode func([]byte) (T, error), set func(ctx context.Context, projectID string, v T) (T, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := s.requestCtx()
		defer cancel()
		b, err := body(c, s.opts.MaxBodyBytes)
		if err != nil {
			return err
		}
		v, err := decode(b)
		if err != nil {
			return err
		}
		id := strings.Clone(c.Params("id"))
		stored, err := set(ctx, id, v)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"id": id, member: stored})
	}
}

// CreateProject creates a project with its settings: the one sequence
// behind POST /admin/v1/projects and `engaged admin project create`.
func CreateProject(ctx context.Context, st AdminStore, name string, set wire.ProjectSettings) (actors.Project, error) {
	p, err := st.CreateProject(ctx, name)
	if err != nil {
		return p, err
	}
	if len(set.AllowedOrigins) > 0 {
		if p.AllowedOrigins, err = st.SetAllowedOrigins(ctx, p.ID, set.AllowedOrigins); err != nil {
			return p, err
		}
	}
	if set.IPCapture != "" && set.IPCapture != p.IPCapture {
		if p.IPCapture, err = st.SetIPCapture(ctx, p.ID, set.IPCapture); err != nil {
			return p, err
		}
	}
	if set.AutoCreateContent {
		p.AutoCreateContent, err = st.SetAutoCreateContent(ctx, p.ID, true)
	}
	return p, err
}

func (s *Server) adminListProjects(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	pg, err := adminPage(c)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Admin.Store.ListProjects(ctx, pg)
	if err != nil {
		return err
	}
	return list(c, "projects", items, next)
}

func (s *Server) adminDeleteProject(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	id := strings.Clone(c.Params("id"))
	if err := s.opts.Admin.Store.DeleteProject(ctx, id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": id, "deleted": true})
}

func (s *Server) adminCreateKey(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	b, err := body(c, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	kind, err := wire.DecodeKey(b)
	if err != nil {
		return err
	}
	k, secret, err := s.opts.Admin.Store.CreateKey(ctx, strings.Clone(c.Params("id")), kind)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(CreatedKey{APIKey: k, Key: secret})
}

func (s *Server) adminListKeys(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	pg, err := adminPage(c)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Admin.Store.ListKeys(ctx, strings.Clone(c.Params("id")), pg)
	if err != nil {
		return err
	}
	return list(c, "keys", items, next)
}

// adminRevokeKey revokes a key; every instance stops accepting it within
// its auth cache's second.
func (s *Server) adminRevokeKey(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	id := strings.Clone(c.Params("keyId"))
	if err := s.opts.Admin.Store.RevokeKey(ctx, id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": id, "revoked": true})
}

func (s *Server) adminCreateRender(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	b, err := body(c, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	docURL, err := wire.DecodeRender(b)
	if err != nil {
		return err
	}
	it, err := s.opts.Admin.Store.CreateRender(ctx, strings.Clone(c.Params("id")), docURL)
	if err != nil {
		return err
	}
	s.remember(it)
	return c.Status(fiber.StatusCreated).JSON(it)
}

func (s *Server) adminCreateContent(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	b, err := body(c, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	id, err := wire.DecodeContent(b)
	if err != nil {
		return err
	}
	it, err := s.opts.Admin.Store.CreateContent(ctx, strings.Clone(c.Params("id")), id)
	if err != nil {
		return err
	}
	s.remember(it)
	return c.Status(fiber.StatusCreated).JSON(it)
}

func (s *Server) adminListItems(kind, name string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := s.requestCtx()
		defer cancel()
		pg, err := adminPage(c)
		if err != nil {
			return err
		}
		items, next, err := s.opts.Admin.Store.ListItems(ctx, strings.Clone(c.Params("id")), kind, pg)
		if err != nil {
			return err
		}
		return list(c, name, items, next)
	}
}

// getRender serves GET /v1/renders/:id (secret key): the render itself,
// {id, documentUrl, createdAt}. Another project's render is the same 404 as
// a missing one.
func (s *Server) getRender(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	it, err := s.renderItem(ctx, c)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": it.ID, "documentUrl": it.DocumentURL, "createdAt": actors.NewTime(it.CreatedAt)})
}
