package httpapi

import (
	"strconv"
	"sync"

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
	buf := seenBufs.Get().(*seenBuf)
	if buf.hashes, err = wire.DecodeSeenQuery(buf.hashes, b); err != nil {
		seenBufs.Put(buf)
		return err
	}
	seen, err := s.engine.ReadUserSeen(ctx, k, buf.hashes)
	if err != nil {
		// The actor may still read the hashes after a timeout: buf is
		// left to the GC rather than reused.
		return err
	}
	buf.answer = appendSeenAnswer(buf.answer[:0], seen, requestID(c))
	c.Status(fiber.StatusOK).Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Response().SetBody(buf.answer) // copied into the response's own pooled buffer
	seenBufs.Put(buf)
	return nil
}

// seenBufs recycles a seen request's two buffers: the 500 hashes (4 KB)
// and the answer (3 KB). In a seen run at 100k users they were 80 % of the
// bytes the server allocated, and that rate set how often the GC marked the
// actors' 300 MB of live heap (every 6 s at 4,700 req/s, 0.6-0.8 s each):
// the requests that met a mark made the tail.
var seenBufs = sync.Pool{New: func() any { return new(seenBuf) }}

type seenBuf struct {
	hashes []uint64
	answer []byte
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
