package httpapi

import (
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// observe is the outermost middleware: it gives the request its id, answers
// the route's error through the ErrorHandler here (so that the status is
// final), then writes the one access-log line and hands the request to
// Options.ObserveRequest. The cause of every 503 is logged and counted here,
// once, whichever route or page answered it.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	id := setRequestID(c)
	if s.draining.Load() {
		// Clients with a kept-alive connection reconnect, and their load
		// balancer sends them to an instance that is not stopping.
		c.Context().SetConnectionClose()
	}
	err := c.Next()
	if err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	route := routeOf(c, err)
	method := methodLabel(c.Method())
	d := time.Since(start)
	if s.opts.ObserveRequest != nil {
		s.opts.ObserveRequest(method, route, status, d)
	}
	if status == fiber.StatusServiceUnavailable {
		cause := err
		if cause == nil { // an HTML page or the pixel answered it (htmlError)
			cause, _ = c.Locals(localError).(error)
		}
		reason := UnavailableReason(cause)
		if s.opts.ObserveUnavailable != nil {
			s.opts.ObserveUnavailable(reason)
		}
		s.logger.Warn("unavailable", "request_id", id, "route", route, "reason", reason, "err", cause)
	}
	if s.logger.Enabled(s.baseCtx, slog.LevelInfo) {
		attrs := []slog.Attr{
			slog.String("request_id", id), slog.String("method", method), slog.String("route", route),
			slog.Int("status", status), durationMS(d),
		}
		if p, ok := c.Locals(localPrincipal).(actors.Principal); ok {
			attrs = append(attrs, slog.String("key_id", p.KeyID)) // the key's id, never the key
		}
		s.logger.LogAttrs(s.baseCtx, slog.LevelInfo, "request", attrs...)
	}
	return nil
}

// methodLabel returns m as a constant string of the standard methods, or
// "other": a metrics label keeps its string for good, and Fiber's points
// into the request buffer that the next request reuses (a label once read
// "GETT"); the set also keeps the label bounded.
func methodLabel(m string) string {
	switch m {
	case fiber.MethodGet:
		return fiber.MethodGet
	case fiber.MethodHead:
		return fiber.MethodHead
	case fiber.MethodPost:
		return fiber.MethodPost
	case fiber.MethodPut:
		return fiber.MethodPut
	case fiber.MethodPatch:
		return fiber.MethodPatch
	case fiber.MethodDelete:
		return fiber.MethodDelete
	case fiber.MethodOptions:
		return fiber.MethodOptions
	}
	return "other"
}

// routeOf is the route pattern that answered c ("/v1/renders/:id/events"),
// never the raw path, so that metrics labels stay bounded: a group's prefix
// when its middleware answered (a 401 is "/v1"), "unmatched" for a path no
// route has.
func routeOf(c *fiber.Ctx, err error) string {
	var fe *fiber.Error
	if errors.As(err, &fe) && fe.Code == fiber.StatusNotFound {
		return "unmatched"
	}
	r := c.Route()
	if r == nil || r.Path == "" {
		return "unmatched"
	}
	return r.Path
}

// UnavailableReason is the reason of a 503's cause (the label of
// engaged_http_unavailable_total): the Reason its *actors.Error carries,
// set where the error was made, or timeout for Fiber's own 408/503.
func UnavailableReason(err error) string {
	var e *actors.Error
	var fe *fiber.Error
	if !errors.As(err, &e) && errors.As(err, &fe) {
		return string(actors.ReasonTimeout)
	}
	return string(actors.UnavailableReason(err))
}

const (
	msgNotReady = "not ready"
	msgDraining = "draining: this instance is stopping"
)

// sane request ids from a client or proxy are kept: at most 128 of
// [A-Za-z0-9._:-], so a log line or a response header cannot be forged or
// bloated through it.
func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == ':' || b == '-') {
			return false
		}
	}
	return true
}

// durationMS is a duration as a log attribute: milliseconds with the unit in
// the key, so that a log query compares numbers rather than parsing "1.2ms"
// (slog's text form) or nanoseconds (its JSON form). Microsecond precision
// keeps sub-millisecond requests apart.
func durationMS(d time.Duration) slog.Attr {
	return slog.Float64("duration_ms", float64(d.Microseconds())/1000)
}
