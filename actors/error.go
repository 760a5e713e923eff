package actors

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an Error. Transport maps each code to an HTTP status in
// exactly one place (transport/httpapi/errors.go); the code string itself is what
// clients see in error.code.
type Code string

// The codes a client can see. Anything else is reported as EInternal.
const (
	EInvalidJSON   Code = "invalid_json"      // body is not JSON
	EInvalid       Code = "invalid_request"   // body or parameters do not match the schema
	EUnauthorized  Code = "unauthorized"      // missing, malformed, unknown or revoked key
	EForbidden     Code = "forbidden"         // key is valid but may not do this
	ENotFound      Code = "not_found"         // no such thing in this key's project
	EConflict      Code = "conflict"          // the thing exists already
	ETooLarge      Code = "payload_too_large" // body over the documented limit
	EUnsupported   Code = "unsupported_media_type"
	ERateLimited   Code = "rate_limited"
	EUnavailable   Code = "unavailable" // try again: JetStream, Postgres or an actor is busy or down
	EInternal      Code = "internal"
	EMethodAllowed Code = "method_not_allowed"
	EGone          Code = "gone"              // the thing existed and was withdrawn (a revoked share link)
	EMailFailed    Code = "mail_failed"       // the mail server refused the message or could not be reached
	ETooOld        Code = "too_old"           // an SDK event older than 24 hours
	EHeadersTooBig Code = "headers_too_large" // request headers over ENGAGED_MAX_HEADER_BYTES
	EURITooLong    Code = "uri_too_long"      // the request line alone is over ENGAGED_MAX_HEADER_BYTES
	EContentLimit  Code = "content_limit"     // an SDK event would auto-create content past the project's cap (ENGAGED_AUTOCREATE_MAX_ITEMS)
)

// Issues carries per-field validation messages, in the shape of zod's
// flatten() that the API documents as error.issues.
type Issues struct {
	FormErrors  []string            `json:"formErrors"`
	FieldErrors map[string][]string `json:"fieldErrors"`
}

// Add records a message for field.
func (is *Issues) Add(field, msg string) {
	if is.FieldErrors == nil {
		is.FieldErrors = map[string][]string{}
	}
	is.FieldErrors[field] = append(is.FieldErrors[field], msg)
}

// Empty reports whether nothing was recorded.
func (is *Issues) Empty() bool { return len(is.FormErrors) == 0 && len(is.FieldErrors) == 0 }

// Error is the one error type that carries a client-visible code.
type Error struct {
	Code       Code
	Message    string
	Issues     *Issues       // for EInvalid
	RetryAfter time.Duration // for EUnavailable and ERateLimited
	// Reason says, for EUnavailable, what was unavailable: set where the
	// error is made, for metrics and logs (clients see Message). Empty
	// reads as ReasonOther.
	Reason Reason
}

// Reason is the cause of an EUnavailable error, one of a fixed set: the
// label of engaged_http_unavailable_total (docs name each).
type Reason string

// The reasons of EUnavailable errors.
const (
	ReasonActorBusy    Reason = "actor_busy"    // an item's actor did not take or answer a request in time
	ReasonNotApplied   Reason = "not_applied"   // an event is stored but its item has not applied it yet
	ReasonActorLoad    Reason = "actor_load"    // an item's snapshot or log could not be read, or its state is being rebuilt
	ReasonLog          Reason = "jetstream"     // the event log refused or did not answer
	ReasonDatabase     Reason = "postgres"      // the database did not answer
	ReasonStreamLimit  Reason = "sse_limit"     // too many open live streams
	ReasonLiveUpdates  Reason = "live_updates"  // live updates are off or down
	ReasonShuttingDown Reason = "shutting_down" // the server is stopping
	ReasonDraining     Reason = "draining"      // this instance is stopping and sheds requests
	ReasonNotReady     Reason = "not_ready"     // the readiness check failed
	ReasonTimeout      Reason = "timeout"       // the request ran out of time
	ReasonOther        Reason = "other"
)

// UnavailableReason returns the Reason of the first *Error in err's chain,
// ReasonOther if it has none.
func UnavailableReason(err error) Reason {
	var e *Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	return ReasonOther
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or EInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}
