package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// A 503's reason is the one its error was made with, also when the cause is
// wrapped beside it (jetlog, persist); never read from the message.
func TestUnavailableReason(t *testing.T) {
	unavailable := func(r actors.Reason) error {
		return &actors.Error{Code: actors.EUnavailable, Reason: r, Message: "database unavailable"}
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{unavailable(actors.ReasonActorBusy), "actor_busy"},
		{fmt.Errorf("%w (%w)", unavailable(actors.ReasonLog), errors.New("nats: timeout")), "jetstream"},
		{fmt.Errorf("%w (%w)", unavailable(actors.ReasonNotReady), errors.New("nats RECONNECTING")), "not_ready"},
		{fiber.ErrRequestTimeout, "timeout"},
		{unavailable(""), "other"},
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

// The public /readyz names no internal error; the cause goes to the log line
// of the 503, with its reason, and to ObserveUnavailable.
func TestReadyzHidesTheCause(t *testing.T) {
	var log bytes.Buffer
	var reasons []string
	s := NewServer(Options{
		MaxBodyBytes: 1 << 16, MaxMetadataBytes: 1024, RequestTimeout: 5 * time.Second,
		Ready: func(context.Context) error {
			return errors.New("postgres at 10.1.2.3:5432: password authentication failed")
		},
		Logger:             slog.New(slog.NewTextHandler(&log, nil)),
		ObserveUnavailable: func(r string) { reasons = append(reasons, r) },
	}, fakeDir{}, &fakeEngine{})
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	resp, err := s.app.Test(httptest.NewRequest("GET", "/readyz", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || strings.Contains(string(b), "10.1.2.3") || !strings.Contains(string(b), `"unavailable"`) {
		t.Fatalf("public /readyz: %d %s", resp.StatusCode, b)
	}
	if !strings.Contains(log.String(), "msg=unavailable") || !strings.Contains(log.String(), "reason=not_ready") ||
		!strings.Contains(log.String(), "password authentication failed") {
		t.Fatalf("the cause is not logged:\n%s", log.String())
	}
	if len(reasons) != 1 || reasons[0] != "not_ready" {
		t.Fatalf("reasons %v", reasons)
	}
}
