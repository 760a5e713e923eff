package httpapi

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"engaged/actors"
)

// Every 503 message the service has maps to a named reason, also when the
// cause is wrapped beside it (jetlog, persist).
func TestUnavailableReason(t *testing.T) {
	unavailable := func(msg string) error { return &actors.Error{Code: actors.EUnavailable, Message: msg} }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{unavailable("item is busy"), "actor_busy"},
		{unavailable("event stored but not applied yet"), "not_applied"},
		{unavailable("item log is unavailable"), "actor_load"},
		{unavailable("item state is unavailable"), "actor_load"},
		{fmt.Errorf("%w (%w)", unavailable("event log did not store the event"), errors.New("nats: timeout")), "jetstream"},
		{unavailable("the e-mail was sent (message m1) but its event could not be stored; sending again sends a second e-mail"), "jetstream"},
		{fmt.Errorf("%w (%w)", unavailable("database unavailable"), errors.New("dial tcp: refused")), "postgres"},
		{unavailable("too many open streams on this server"), "sse_limit"},
		{unavailable("live updates are unavailable"), "live_updates"},
		{unavailable("server is shutting down"), "shutting_down"},
		{unavailable(msgDraining), "draining"},
		{fmt.Errorf("%w (%w)", unavailable(msgNotReady), errors.New("nats RECONNECTING")), "not_ready"},
		{fiber.ErrRequestTimeout, "timeout"},
		{unavailable("something new"), "other"},
		{nil, "other"},
	} {
		if got := UnavailableReason(tc.err); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestSaneRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"req_0123": true, "trace-42.a:b_c": true, strings.Repeat("a", 128): true,
		"": false, strings.Repeat("a", 129): false, "a b": false, "a\nb": false, "é": false, "a/b": false,
	} {
		if saneRequestID(id) != want {
			t.Errorf("%q: %v", id, !want)
		}
	}
}
