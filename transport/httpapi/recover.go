package httpapi

import (
	"fmt"
	"runtime/debug"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// recoverPanics is the first middleware of every route: neither fasthttp nor
// Fiber recovers a handler's panic, so without it one panicking request ends
// the process. The request answers the 500 envelope (errorHandler) like
// any internal error, the panic is logged once with its stack and the
// request id, and counted (Server.Panics); the next request is served as
// usual. Fiber's own recover middleware would log through its global
// logger and answer without the envelope.
func (s *Server) recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.panics.Add(1)
			s.logger.Error("panic in handler", "method", c.Method(), "path", c.Path(), "request_id", requestID(c),
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			// A coded internal error, so errorHandler does not log it again.
			err = &actors.Error{Code: actors.EInternal, Message: "internal error"}
		}
	}()
	return c.Next()
}

// Panics returns how many requests panicked in a handler since start.
func (s *Server) Panics() int64 { return s.panics.Load() }
