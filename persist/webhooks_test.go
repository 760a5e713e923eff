package persist

import (
	"context"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

func TestWebhookEndpoints(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	p, _ := s.CreateProject(ctx, "a")
	other, _ := s.CreateProject(ctx, "b")
	w, err := s.CreateWebhook(ctx, actors.WebhookEndpoint{ProjectID: p.ID, URL: "https://hooks.example/x", EventTypes: []string{"render.viewed"}, Secret: "whsec_one"})
	if err != nil || w.ID == "" || w.Secret != "whsec_one" || w.PreviousSecret != "" {
		t.Fatalf("create: %+v, %v", w, err)
	}
	if _, err := s.Webhook(ctx, other.ID, w.ID); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("another project's endpoint: %v", err)
	}
	if got, err := s.Webhook(ctx, "", w.ID); err != nil || got.URL != w.URL {
		t.Fatalf("dispatcher lookup: %+v, %v", got, err)
	}
	targets, err := s.WebhookTargets(ctx, p.ID, "render.viewed")
	if err != nil || len(targets) != 1 {
		t.Fatalf("targets: %v, %v", targets, err)
	}
	if targets, _ := s.WebhookTargets(ctx, p.ID, "render.printed"); len(targets) != 0 {
		t.Fatalf("unsubscribed type: %v", targets)
	}
	r, err := s.RotateWebhookSecret(ctx, p.ID, w.ID, "whsec_two", time.Hour)
	if err != nil || r.Secret != "whsec_two" || r.PreviousSecret != "whsec_one" || r.PreviousUntil == nil || time.Until(*r.PreviousUntil) < 50*time.Minute {
		t.Fatalf("rotate: %+v, %v", r, err)
	}
	msg := "HTTP 500"
	for i := 1; i <= 2; i++ {
		if err := s.RecordWebhookAttempt(ctx, actors.WebhookAttempt{EndpointID: w.ID, WebhookID: "evt1", Type: "render.viewed", N: i, At: time.Now(), Outcome: "failed", Status: 500, Error: &msg}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.CountWebhookAttempts(ctx, w.ID, "evt1", ""); err != nil || n != 2 {
		t.Fatalf("count: %d, %v", n, err)
	}
	if l, err := s.WebhookAttempts(ctx, p.ID, w.ID, 10); err != nil || len(l) != 2 || l[0].N != 2 {
		t.Fatalf("attempts newest first: %+v, %v", l, err)
	}
	if err := s.DisableWebhook(ctx, w.ID, "410"); err != nil {
		t.Fatal(err)
	}
	if targets, _ := s.WebhookTargets(ctx, p.ID, "render.viewed"); len(targets) != 0 {
		t.Fatalf("a disabled endpoint is a target: %v", targets)
	}
	if err := s.DeleteWebhook(ctx, p.ID, w.ID); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.ListWebhooks(ctx, p.ID); len(l) != 0 {
		t.Fatalf("deleted endpoint listed: %v", l)
	}
	for i := 0; i < actors.MaxWebhooksPerProject; i++ {
		if _, err := s.CreateWebhook(ctx, actors.WebhookEndpoint{ProjectID: p.ID, URL: "https://hooks.example/x", EventTypes: []string{"render.viewed"}, Secret: "whsec_x"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateWebhook(ctx, actors.WebhookEndpoint{ProjectID: p.ID, URL: "https://hooks.example/x", EventTypes: []string{"render.viewed"}, Secret: "whsec_x"}); actors.ErrorCode(err) != actors.EConflict {
		t.Fatalf("past the bound: %v", err)
	}
}

// Kept deliveries: a repeat keeps the first, a range is [from, to) oldest
// first, and attempts of a replay are counted apart from the original's.
func TestWebhookDeliveriesKept(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	p, _ := s.CreateProject(ctx, "a")
	w, err := s.CreateWebhook(ctx, actors.WebhookEndpoint{ProjectID: p.ID, URL: "https://hooks.example/x", EventTypes: []string{"render.viewed"}, Secret: "whsec_one"})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for _, id := range []string{"evt2", "evt0", "evt1", "evt3"} {
		n := int(id[3] - '0')
		// 999.6 µs past the minute: Postgres would round it up to the
		// next millisecond; kept truncated, the body's millisecond holds.
		ts := base.Add(time.Duration(n)*time.Minute + 999_999_600*time.Nanosecond - 999*time.Millisecond)
		if err := s.KeepWebhookDelivery(ctx, actors.WebhookDelivery{EndpointID: w.ID, WebhookID: id, Type: "render.viewed", Timestamp: ts, Data: []byte(`{"n":` + id[3:] + `}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.KeepWebhookDelivery(ctx, actors.WebhookDelivery{EndpointID: w.ID, WebhookID: "evt1", Type: "render.viewed", Timestamp: base, Data: []byte(`{"changed":true}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.WebhookDeliveries(ctx, w.ID, base.Add(time.Minute), base.Add(3*time.Minute), 10)
	if err != nil || len(got) != 2 || got[0].WebhookID != "evt1" || got[1].WebhookID != "evt2" || string(got[0].Data) != `{"n":1}` {
		t.Fatalf("range: %+v, %v", got, err)
	}
	if ms := got[0].Timestamp.Truncate(time.Millisecond); !ms.Equal(base.Add(time.Minute)) {
		t.Fatalf("timestamp %s moved to another millisecond", got[0].Timestamp)
	}
	if got, _ := s.WebhookDeliveries(ctx, w.ID, base, base.Add(time.Hour), 3); len(got) != 3 || got[0].WebhookID != "evt0" {
		t.Fatalf("limit: %+v", got)
	}
	if err := s.RecordWebhookAttempt(ctx, actors.WebhookAttempt{EndpointID: w.ID, WebhookID: "evt1", Type: "render.viewed", N: 1, At: time.Now(), Outcome: "delivered", Status: 200}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordWebhookAttempt(ctx, actors.WebhookAttempt{EndpointID: w.ID, WebhookID: "evt1", Type: "render.viewed", N: 1, At: time.Now(), Outcome: "delivered", Status: 200, ReplayID: "rpl_1"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountWebhookAttempts(ctx, w.ID, "evt1", "rpl_1"); n != 1 {
		t.Fatalf("replay attempts %d, want 1", n)
	}
	if n, _ := s.CountWebhookAttempts(ctx, w.ID, "evt1", ""); n != 1 {
		t.Fatalf("original attempts %d, want 1", n)
	}
	if l, _ := s.WebhookAttempts(ctx, p.ID, w.ID, 10); len(l) != 2 || l[0].ReplayID != "rpl_1" || l[1].ReplayID != "" {
		t.Fatalf("attempts: %+v", l)
	}

	// Retention: an attempt older than the cut goes, the rest stays; a
	// cut after everything, in batches of one, leaves nothing.
	if err := s.RecordWebhookAttempt(ctx, actors.WebhookAttempt{EndpointID: w.ID, WebhookID: "evt0", Type: "render.viewed", N: 1, At: time.Now().Add(-48 * time.Hour), Outcome: "delivered", Status: 200}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneWebhookHistory(ctx, time.Now().Add(-24*time.Hour), 1); err != nil || n != 1 {
		t.Fatalf("pruned %d rows (%v), want the old attempt", n, err)
	}
	if n, _ := s.CountWebhookAttempts(ctx, w.ID, "evt1", ""); n != 1 {
		t.Fatalf("a recent attempt was pruned")
	}
	if n, err := s.PruneWebhookHistory(ctx, time.Now().Add(time.Minute), 1); err != nil || n != 4+2 {
		t.Fatalf("pruned %d rows (%v), want 4 deliveries and 2 attempts", n, err)
	}
	if got, _ := s.WebhookDeliveries(ctx, w.ID, base, base.Add(time.Hour), 10); len(got) != 0 {
		t.Fatalf("kept after pruning: %+v", got)
	}
}
