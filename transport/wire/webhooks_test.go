package wire

import (
	"errors"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

func TestDecodeReplayRange(t *testing.T) {
	now := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	from, to, err := DecodeReplayRange([]byte(`{"from":"2026-12-06T04:00:00.1234+01:00","to":"2026-12-07T04:00:00Z"}`), now, 7*24*time.Hour)
	if err != nil || !from.Equal(time.Date(2026, 12, 6, 3, 0, 0, 123_000_000, time.UTC)) || !to.Equal(now) || from.Location() != time.UTC {
		t.Fatalf("%s %s %v", from, to, err)
	}
	for body, field := range map[string]string{
		`{"to":"2026-12-07T00:00:00Z"}`:                               "from",
		`{"from":"2026-12-06T00:00:00Z","to":"tomorrow"}`:             "to",
		`{"from":"2026-12-06","to":"2026-12-07T00:00:00Z"}`:           "from",
		`{"from":"2026-12-06T00:00:00Z","to":"2026-12-06T00:00:00Z"}`: "to",
		`{"from":"2026-11-29T23:59:59Z","to":"2026-12-07T00:00:00Z"}`: "to",
		`{"from":"2026-12-07T03:00:00Z","to":"2026-12-07T04:00:01Z"}`: "to",
		`{"from":true,"to":"2026-12-07T00:00:00Z"}`:                   "from",
	} {
		_, _, err := DecodeReplayRange([]byte(body), now, 7*24*time.Hour)
		var e *actors.Error
		if !errors.As(err, &e) || e.Code != actors.EInvalid || e.Issues == nil || len(e.Issues.FieldErrors[field]) == 0 {
			t.Errorf("%s: want an issue on %s: %#v", body, field, err)
		}
	}
	// Exactly the span, ending exactly now: accepted.
	if _, _, err := DecodeReplayRange([]byte(`{"from":"2026-11-30T04:00:00Z","to":"2026-12-07T04:00:00Z"}`), now, 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
}
