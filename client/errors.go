package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The kinds of failure, for errors.Is. Every *Error (an error answer of the
// API, or a rejected event of a batch) matches exactly one of them, chosen
// by the envelope's code and, for a code this version does not know, by
// the HTTP status.
var (
	ErrInvalid      = errors.New("engaged: invalid request")       // 400: the body, an id or an event does not match the API (invalid_request, invalid_json, too_old)
	ErrUnauthorized = errors.New("engaged: unauthorized")          // 401: missing, unknown or revoked key or token
	ErrForbidden    = errors.New("engaged: forbidden")             // 403: the key may not do this (a publishable key reading)
	ErrNotFound     = errors.New("engaged: not found")             // 404: no such thing in the key's project
	ErrConflict     = errors.New("engaged: conflict")              // 409: it exists already
	ErrTooLarge     = errors.New("engaged: payload too large")     // 413
	ErrLimit        = errors.New("engaged: project limit reached") // a per-project limit: content_limit
	ErrRateLimited  = errors.New("engaged: rate limited")          // 429: try again after RetryAfter
	ErrUnavailable  = errors.New("engaged: unavailable")           // 502, 503, 504: try again after RetryAfter
	ErrInternal     = errors.New("engaged: internal error")        // 500 and other answers
)

// ErrQueueFull is returned by Track when the queue holds WithMaxQueue events.
var ErrQueueFull = errors.New("engaged: client queue full")

// ErrClosed is returned by Track and Flush after Close.
var ErrClosed = errors.New("engaged: client closed")

// Error is an error answer of the API: its status and the envelope's code,
// message and field issues. errors.Is(err, ErrNotFound) and the like match
// its kind.
type Error struct {
	Status     int    // the HTTP status; 200 for a rejected event in a batch reply
	Code       string // the envelope's code: invalid_request, not_found, rate_limited, …
	Message    string
	Issues     *Issues
	RequestID  string
	RetryAfter time.Duration // from Retry-After on 429 and 503
}

func (e *Error) Error() string {
	if e.Status == http.StatusOK {
		return fmt.Sprintf("engaged: event rejected: %s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("engaged: %d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns the error's kind, one of ErrInvalid … ErrInternal.
func (e *Error) Unwrap() error {
	switch e.Code {
	case "invalid_request", "invalid_json", "too_old", "method_not_allowed", "unsupported_media_type",
		"headers_too_large", "uri_too_long":
		return ErrInvalid
	case "unauthorized":
		return ErrUnauthorized
	case "forbidden":
		return ErrForbidden
	case "not_found", "gone":
		return ErrNotFound
	case "conflict":
		return ErrConflict
	case "payload_too_large":
		return ErrTooLarge
	case "content_limit":
		return ErrLimit
	case "rate_limited":
		return ErrRateLimited
	case "unavailable", "mail_failed":
		return ErrUnavailable
	case "internal":
		return ErrInternal
	}
	switch s := e.Status; {
	case s == http.StatusUnauthorized:
		return ErrUnauthorized
	case s == http.StatusForbidden:
		return ErrForbidden
	case s == http.StatusNotFound, s == http.StatusGone:
		return ErrNotFound
	case s == http.StatusConflict:
		return ErrConflict
	case s == http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case s == http.StatusTooManyRequests:
		return ErrRateLimited
	case s == http.StatusBadGateway, s == http.StatusServiceUnavailable, s == http.StatusGatewayTimeout:
		return ErrUnavailable
	case s >= 400 && s < 500:
		return ErrInvalid
	}
	return ErrInternal
}

// Temporary reports whether the same request may succeed later: 429 and
// 5xx. The queue retries these; other errors are final.
func (e *Error) Temporary() bool { return retryable(e.Status) }

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// decodeError turns a non-2xx answer into an *Error: the envelope
// {"error":{code,message,issues},"meta":{requestId}} when the body is one,
// else a code http_<status> with the body as message (a proxy's page).
// This is the one decoder of error envelopes, for events, reads, streams
// and the admin API.
func decodeError(res *http.Response, body []byte) *Error {
	var env struct {
		Error struct {
			Code    string  `json:"code"`
			Message string  `json:"message"`
			Issues  *Issues `json:"issues"`
		} `json:"error"`
		Meta Meta `json:"meta"`
	}
	e := &Error{Status: res.StatusCode, RetryAfter: retryAfter(res.Header)}
	if json.Unmarshal(body, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message, e.Issues, e.RequestID = env.Error.Code, env.Error.Message, env.Error.Issues, env.Meta.RequestID
	} else {
		e.Code, e.Message = "http_"+strconv.Itoa(res.StatusCode), string(bytes.TrimSpace(body))
	}
	return e
}

func retryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h.Get("Retry-After")); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}
