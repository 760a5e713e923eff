package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/engagedhq/engaged/transport/httpapi"
)

// The per-request cost of the metrics: one counter and one histogram
// observation under three labels.
func BenchmarkObserveRequest(b *testing.B) {
	m := New(Build{})
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("POST", "/v1/renders/:id/events", 200, 730*time.Microsecond)
	}
}

// The per-request cost of the access-log line (JSON, as in production),
// written to io.Discard: the formatting, not the write to stderr.
func BenchmarkAccessLogLine(b *testing.B) {
	l := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", "req_0123456789abcdef0123"), slog.String("method", "POST"),
			slog.String("route", "/v1/renders/:id/events"), slog.Int("status", 200),
			slog.Float64("duration_ms", 0.73), slog.String("key_id", "0193c2d0-0000-7000-8000-000000000001"))
	}
}

// engaged_build_info names the binary; engaged_events_total keeps its
// labels inside the fixed sets, whatever it is called with.
func TestBuildInfoAndEvents(t *testing.T) {
	m := New(Build{Version: "v1.2.0", Revision: "0123abc", Go: "go1.26.8"})
	m.ObserveEvents("content", "recorded", "", 3)
	m.ObserveEvents("content", "rejected", "too_old", 2)
	m.ObserveEvents("render", "duplicate", "ignored", 1)
	m.ObserveEvents("render", "rejected", "a new reason nobody listed", 4)
	m.ObserveEvents("users", "vanished", "", 5)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		`engaged_build_info{go="go1.26.8",revision="0123abc",version="v1.2.0"} 1`,
		`engaged_events_total{kind="content",outcome="recorded",reason=""} 3`,
		`engaged_events_total{kind="content",outcome="rejected",reason="too_old"} 2`,
		`engaged_events_total{kind="content",outcome="rejected",reason="unknown_item"} 0`,
		`engaged_events_total{kind="render",outcome="duplicate",reason=""} 1`,
		`engaged_events_total{kind="render",outcome="rejected",reason="other"} 4`,
		`engaged_events_total{kind="other",outcome="other",reason=""} 5`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(out, "a new reason") || strings.Contains(out, `reason="ignored"`) {
		t.Error("an unlisted reason became a label value")
	}
}

// httpapi reports exactly the values this package counts.
func TestEventLabelsMatchHTTPAPI(t *testing.T) {
	if !slices.Equal(rejectReasons, httpapi.RejectReasons) {
		t.Errorf("reasons %v, httpapi reports %v", rejectReasons, httpapi.RejectReasons)
	}
	if !slices.Equal(eventKinds, []string{httpapi.KindRender, httpapi.KindContent}) {
		t.Errorf("kinds %v", eventKinds)
	}
	if !slices.Equal(eventOutcomes, []string{httpapi.OutcomeRecorded, httpapi.OutcomeDuplicate, httpapi.OutcomeRobot, httpapi.OutcomeRejected}) {
		t.Errorf("outcomes %v", eventOutcomes)
	}
}
