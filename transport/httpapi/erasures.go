package httpapi

import (
	"context"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// The erasure routes (docs/PRIVACY.md): POST /v1/privacy/erasures stores a
// request to erase one data subject of the key's project and answers 202;
// a job (cmd/engaged/erasure.go) carries it out, resuming after a restart,
// and GET /v1/privacy/erasures/:id shows its progress. Secret keys only.

// ErasureOptions is the erasure routes' port. Without a Store they answer
// 404.
type ErasureOptions struct {
	Store ErasureStore
	// Wake tells the job that a request is waiting (nil: it finds it at
	// its next poll).
	Wake func()
}

// ErasureStore keeps erasure requests (persist.Store).
type ErasureStore interface {
	CreateErasure(ctx context.Context, e actors.ErasureRequest) (actors.ErasureRequest, error)
	Erasure(ctx context.Context, projectID, id string) (actors.ErasureRequest, error)
}

func (s *Server) erasureRoutes(v1 fiber.Router) {
	v1.Post("/privacy/erasures", s.secretOnly, s.postErasure)
	v1.Get("/privacy/erasures/:erasureId", s.secretOnly, s.getErasure)
}

func (s *Server) erasures() (ErasureStore, error) {
	if s.opts.Erasures.Store == nil {
		return nil, actors.Errorf(actors.ENotFound, "no such route")
	}
	return s.opts.Erasures.Store, nil
}

// postErasure serves POST /v1/privacy/erasures.
func (s *Server) postErasure(c *fiber.Ctx) error {
	st, err := s.erasures()
	if err != nil {
		return err
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	b, err := body(c, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	kind, id, err := wire.DecodeErasure(b)
	if err != nil {
		return err
	}
	e, err := st.CreateErasure(ctx, actors.ErasureRequest{
		ID: uuid.Must(uuid.NewV7()).String(), ProjectID: principal(c).ProjectID, Kind: kind, Identifier: id,
	})
	if err != nil {
		return err
	}
	if s.opts.Erasures.Wake != nil {
		s.opts.Erasures.Wake()
	}
	return c.Status(fiber.StatusAccepted).JSON(e)
}

// getErasure serves GET /v1/privacy/erasures/:erasureId.
func (s *Server) getErasure(c *fiber.Ctx) error {
	st, err := s.erasures()
	if err != nil {
		return err
	}
	id, ok := wire.UUID(c.Params("erasureId"))
	if !ok {
		return actors.Errorf(actors.ENotFound, "erasure not found")
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	e, err := st.Erasure(ctx, principal(c).ProjectID, id)
	if err != nil {
		return err
	}
	return c.JSON(e)
}
