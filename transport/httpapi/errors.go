package httpapi

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// status maps each error code to its HTTP status. This is the one place that
// decides it.
func status(c actors.Code) int {
	switch c {
	case actors.EInvalidJSON, actors.EInvalid, actors.ETooOld:
		return http.StatusBadRequest
	case actors.EUnauthorized:
		return http.StatusUnauthorized
	case actors.EForbidden, actors.EContentLimit:
		return http.StatusForbidden
	case actors.ENotFound:
		return http.StatusNotFound
	case actors.EMethodAllowed:
		return http.StatusMethodNotAllowed
	case actors.EConflict:
		return http.StatusConflict
	case actors.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case actors.EUnsupported:
		return http.StatusUnsupportedMediaType
	case actors.ERateLimited:
		return http.StatusTooManyRequests
	case actors.EUnavailable:
		return http.StatusServiceUnavailable
	case actors.EGone:
		return http.StatusGone
	case actors.EMailFailed:
		return http.StatusBadGateway
	case actors.EHeadersTooBig:
		return http.StatusRequestHeaderFieldsTooLarge
	case actors.EURITooLong:
		return http.StatusRequestURITooLong
	default:
		return http.StatusInternalServerError
	}
}

// fromFiber turns Fiber's own errors (unknown route, body over the limit,
// bad method, a request fasthttp could not read) into coded errors. Every
// status Fiber's serverErrorHandler can produce is here, so none of them
// reaches a client as 500.
func fromFiber(fe *fiber.Error) *actors.Error {
	switch fe.Code {
	case http.StatusNotFound:
		return actors.Errorf(actors.ENotFound, "no such route")
	case http.StatusRequestEntityTooLarge:
		return actors.Errorf(actors.ETooLarge, "request body is too large")
	case http.StatusMethodNotAllowed:
		return actors.Errorf(actors.EMethodAllowed, "method not allowed")
	case http.StatusBadRequest:
		return actors.Errorf(actors.EInvalid, "%s", fe.Message)
	case http.StatusUnsupportedMediaType:
		return actors.Errorf(actors.EUnsupported, "%s", fe.Message)
	case http.StatusRequestHeaderFieldsTooLarge:
		return actors.Errorf(actors.EHeadersTooBig, "request headers are too large")
	case http.StatusRequestURITooLong:
		return actors.Errorf(actors.EURITooLong, "request URL is too long")
	case http.StatusBadGateway:
		// Fiber's name for a network error while reading the request: the
		// request never arrived whole, which is the client's side.
		return actors.Errorf(actors.EInvalid, "the request could not be read")
	case http.StatusRequestTimeout, http.StatusServiceUnavailable:
		return &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonTimeout, Message: fe.Message, RetryAfter: time.Second}
	}
	return nil
}

// setRetryAfter sets the Retry-After header for err and returns its value:
// err's RetryAfter in whole seconds, rounded up, and at least 1, also for an
// error that names no wait. Every response that carries the header gets it
// here, JSON, HTML page or pixel alike.
func setRetryAfter(c *fiber.Ctx, err error) int {
	secs := 1
	var e *actors.Error
	if errors.As(err, &e) {
		secs = max(1, int(math.Ceil(e.RetryAfter.Seconds())))
	}
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
	return secs
}

type errorBody struct {
	Code    actors.Code    `json:"code"`
	Message string         `json:"message"`
	Issues  *actors.Issues `json:"issues,omitempty"`
}

type errorEnvelope struct {
	Error errorBody `json:"error"`
	Meta  meta      `json:"meta"`
}

type meta struct {
	RequestID string `json:"requestId"`
}

// errorHandler is Fiber's ErrorHandler: every error of every route ends here
// and leaves as {"error":{code,message,issues?},"meta":{requestId}}.
// Internal errors are logged once, here, and shown only as "internal".
func errorHandler(logger *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var e *actors.Error
		var fe *fiber.Error
		switch {
		case errors.As(err, &e):
		case errors.As(err, &fe) && fromFiber(fe) != nil:
			e = fromFiber(fe)
		default:
			logger.Error("internal error", "method", c.Method(), "path", c.Path(), "request_id", requestID(c), "err", err)
			e = &actors.Error{Code: actors.EInternal, Message: "internal error"}
		}
		if e.Code == actors.EUnavailable || e.Code == actors.ERateLimited || e.RetryAfter > 0 {
			setRetryAfter(c, e)
		}
		if e.Code == actors.EInternal {
			e = &actors.Error{Code: actors.EInternal, Message: "internal error"}
		}
		return c.Status(status(e.Code)).JSON(errorEnvelope{
			Error: errorBody{Code: e.Code, Message: e.Message, Issues: e.Issues},
			Meta:  meta{RequestID: requestID(c)},
		})
	}
}
