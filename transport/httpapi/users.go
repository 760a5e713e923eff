package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// The per-user routes (docs/USERS.md): what a user of the key's project has
// seen, and the user's latest events, from the user's state (actors/user.go),
// which every SDK event with a userId feeds. Secret keys only. A user the
// service never heard of has seen nothing and has no history: not a 404,
// since a feed asks about new users all the time.

// user resolves the :userId parameter to the item of its state.
func (s *Server) user(c *fiber.Ctx) (actors.ItemID, error) {
	id, err := wire.UserID(c.Params("userId"))
	if err != nil {
		return actors.ItemID{}, err
	}
	return actors.UserItemID(principal(c).ProjectID, id), nil
}

// postUserSeen serves POST /v1/users/:userId/seen.
func (s *Server) postUserSeen(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.user(c)
	if err != nil {
		return err
	}
	b, err := body(c, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	hashes, err := wire.DecodeSeenQuery(b)
	if err != nil {
		return err
	}
	seen, err := s.engine.ReadUserSeen(ctx, k, hashes)
	if err != nil {
		return err
	}
	return s.ok(c, fiber.StatusOK, fiber.Map{"seen": seen})
}

// getUserHistory serves GET /v1/users/:userId/history.
func (s *Server) getUserHistory(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.user(c)
	if err != nil {
		return err
	}
	limit, err := wire.HistoryLimit(c.Query("limit"))
	if err != nil {
		return err
	}
	evs, err := s.engine.ReadUserHistory(ctx, k, limit)
	if err != nil {
		return err
	}
	return s.ok(c, fiber.StatusOK, fiber.Map{"events": evs})
}
