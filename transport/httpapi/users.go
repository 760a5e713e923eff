package httpapi

import (
	"strconv"

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
	// A view, not a copy: the ids are hashed as they are decoded, and
	// nothing kept points into the body.
	b, err := bodyView(c, s.opts.MaxBodyBytes)
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
	c.Status(fiber.StatusOK).Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	id := requestID(c)
	return c.Send(appendSeenAnswer(make([]byte, 0, seenAnswerSize(len(seen), id)), seen, id))
}

// appendSeenAnswer appends seen's answer in the envelope s.ok writes,
// {"data":{"seen":[…]},"meta":{"requestId":…}}, encoded by hand: a feed asks
// it thousands of times a second, and encoding/json spent reflection on
// every one of up to 500 booleans. TestSeenAnswerJSON holds it to
// encoding/json byte for byte.
func appendSeenAnswer(b []byte, seen []bool, requestID string) []byte {
	b = append(b, `{"data":{"seen":[`...)
	for i, v := range seen {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendBool(b, v)
	}
	b = append(b, `]},"meta":{"requestId":`...)
	b = actors.AppendJSONString(b, requestID)
	return append(b, `}}`...)
}

// seenAnswerSize is room for the answer of n booleans with request id id
// (ours need no escapes): the envelope's 42 bytes, the quoted id, and at
// most 6 bytes per boolean.
func seenAnswerSize(n int, id string) int { return 42 + len(id) + 2 + 6*n }

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
