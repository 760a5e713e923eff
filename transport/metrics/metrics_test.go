package metrics

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// The per-request cost of the metrics: one counter and one histogram
// observation under three labels.
func BenchmarkObserveRequest(b *testing.B) {
	m := New()
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
			slog.Duration("duration", 730*time.Microsecond), slog.String("key_id", "0193c2d0-0000-7000-8000-000000000001"))
	}
}
