package persist

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// An erasure request is stored pending, leased to one claimer at a time,
// records its progress, and once finished keeps no identifier; the records
// step scrubs the recipient and the webhook bodies that hold a needle,
// with their attempts, in its own project only.
func TestErasures(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	p, _ := s.CreateProject(ctx, "a")
	other, _ := s.CreateProject(ctx, "b")
	e, err := s.CreateErasure(ctx, actors.ErasureRequest{ID: newID(), ProjectID: p.ID, Kind: actors.EraseEmail, Identifier: "ada@example.com"})
	if err != nil || e.Status != "pending" {
		t.Fatalf("create: %+v %v", e, err)
	}
	if _, err := s.CreateErasure(ctx, actors.ErasureRequest{ID: newID(), ProjectID: p.ID, Kind: "name", Identifier: "x"}); err == nil {
		t.Fatal("an unknown kind was stored")
	}
	if _, err := s.Erasure(ctx, other.ID, e.ID); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("another project's erasure: %v", err)
	}
	c, ok, err := s.ClaimErasure(ctx)
	if err != nil || !ok || c.ID != e.ID || c.Status != "running" || c.Identifier != "ada@example.com" {
		t.Fatalf("claim: %+v %v %v", c, ok, err)
	}
	if _, ok, _ := s.ClaimErasure(ctx); ok {
		t.Fatal("a leased erasure was claimed twice")
	}
	c.Needles, c.ThroughSeq, c.Step, c.ItemsTotal, c.ItemsDone, c.MessagesDeleted = []string{"ada@example.com", "m1"}, 42, "log", 3, 1, 2
	if err := s.ErasureProgress(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.Erasure(ctx, p.ID, e.ID)
	if err != nil || got.Step != "log" || got.ItemsTotal != 3 || got.ItemsDone != 1 || got.MessagesDeleted != 2 || got.ThroughSeq != 42 || len(got.Needles) != 2 {
		t.Fatalf("progress: %+v %v", got, err)
	}

	r, _ := s.CreateRender(ctx, p.ID, "")
	sh, _ := s.CreateShare(ctx, p.ID, r.ID)
	m, err := s.CreateEmailMessage(ctx, actors.EmailMessage{ID: newID(), ProjectID: p.ID, RenderID: r.ID, ShareID: &sh.ID, Recipient: "Ada@Example.com"})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := s.EmailMessageIDs(ctx, p.ID, "ada@example.com")
	if err != nil || len(ids) != 1 || ids[0] != m.ID {
		t.Fatalf("message ids: %v %v", ids, err)
	}
	keepBody := []byte(`{"to":"bob@example.com"}`)
	for _, pr := range []string{p.ID, other.ID} {
		w, err := s.CreateWebhook(ctx, actors.WebhookEndpoint{ProjectID: pr, URL: "https://hooks.example/x", EventTypes: []string{"render.email_sent"}, Secret: "whsec_x"})
		if err != nil {
			t.Fatal(err)
		}
		for id, body := range map[string][]byte{"d1": []byte(`{"metadata":{"to":"ada@example.com"}}`), "d2": []byte(`{"messageId":"` + m.ID + `"}`), "d3": keepBody} {
			if err := s.KeepWebhookDelivery(ctx, actors.WebhookDelivery{EndpointID: w.ID, WebhookID: id, Type: "render.email_sent", Timestamp: time.Now(), Data: body}); err != nil {
				t.Fatal(err)
			}
			if err := s.RecordWebhookAttempt(ctx, actors.WebhookAttempt{EndpointID: w.ID, WebhookID: id, Type: "render.email_sent", N: 1, At: time.Now(), Outcome: "delivered", Status: 200}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.EraseRecords(ctx, p.ID, ids, []string{"ada@example.com", m.ID}); err != nil {
		t.Fatal(err)
	}
	var rows []string
	r2, _ := s.pool.Query(ctx, `SELECT w.project_id::text || ' ' || d.webhook_id || ' ' || (SELECT count(*) FROM webhook_attempts a WHERE a.endpoint_id = d.endpoint_id AND a.webhook_id = d.webhook_id)
		FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id ORDER BY 1`)
	for r2.Next() {
		var row string
		r2.Scan(&row)
		rows = append(rows, strings.Replace(strings.Replace(row, p.ID, "p", 1), other.ID, "other", 1))
	}
	r2.Close()
	want := "[other d1 1 other d2 1 other d3 1 p d3 1]"
	slices.Sort(rows)
	if got := "[" + strings.Join(rows, " ") + "]"; got != want {
		t.Fatalf("webhook rows left: %s, want %s", got, want)
	}
	var recipient string
	s.pool.QueryRow(ctx, `SELECT recipient FROM email_messages WHERE id = $1`, m.ID).Scan(&recipient)
	if recipient != ErasedRecipient {
		t.Fatalf("recipient %q", recipient)
	}

	// Snapshots that hold a needle, this project's only.
	snap := func(pr, item, state string) {
		if _, err := s.pool.Exec(ctx, `INSERT INTO snapshots (project_id, item_id, seq, state) VALUES ($1, $2, 1, $3)`, pr, item, []byte(state)); err != nil {
			t.Fatal(err)
		}
	}
	snap(p.ID, "r1", "\xc2...ada@example.com...")
	snap(p.ID, "r2", "\xc2...bob@example.com...")
	snap(other.ID, "r3", "\xc2...ada@example.com...")
	if items, err := s.SnapshotItems(ctx, p.ID, []string{"ada@example.com", ""}); err != nil || len(items) != 1 || items[0] != "r1" {
		t.Fatalf("snapshot items: %v %v", items, err)
	}

	if err := s.FinishErasure(ctx, e.ID, nil); err != nil {
		t.Fatal(err)
	}
	got, err = s.Erasure(ctx, p.ID, e.ID)
	if err != nil || got.Status != "done" || got.Identifier != "" || len(got.Needles) != 0 || got.FinishedAt == nil {
		t.Fatalf("finished: %+v %v", got, err)
	}
	var n int
	s.pool.QueryRow(ctx, `SELECT count(*) FROM erasures WHERE identifier_hash <> '' AND identifier IS NULL AND needles IS NULL`).Scan(&n)
	if n != 1 {
		t.Fatal("a finished erasure keeps its identifier")
	}
	if _, ok, _ := s.ClaimErasure(ctx); ok {
		t.Fatal("a finished erasure was claimed")
	}
}
