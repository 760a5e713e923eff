package persist

import (
	"context"
	"testing"

	"github.com/engagedhq/engaged/actors"
)

func TestShares(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	a, _ := s.CreateProject(ctx, "a")
	b, _ := s.CreateProject(ctx, "b")
	r, _ := s.CreateRender(ctx, a.ID, "https://example.com/doc.pdf")
	other, _ := s.CreateRender(ctx, a.ID, "")

	sh, err := s.CreateShare(ctx, a.ID, r.ID)
	if err != nil || !validUUID(sh.ID) || sh.ID[14] != '7' || sh.RevokedAt != nil || sh.RenderID != r.ID {
		t.Fatalf("CreateShare = %+v, %v (want a UUIDv7, not revoked)", sh, err)
	}
	for name, f := range map[string]func() error{
		"other project's render": func() error { _, err := s.CreateShare(ctx, b.ID, r.ID); return err },
		"unknown render":         func() error { _, err := s.CreateShare(ctx, a.ID, "01939c2c-0000-7000-8000-000000000000"); return err },
		"bad project id":         func() error { _, err := s.CreateShare(ctx, "x", r.ID); return err },
		"get via other render":   func() error { _, err := s.GetShare(ctx, a.ID, other.ID, sh.ID); return err },
		"revoke via other proj":  func() error { _, err := s.RevokeShare(ctx, b.ID, r.ID, sh.ID); return err },
		"revoke bad id":          func() error { _, err := s.RevokeShare(ctx, a.ID, r.ID, "nope"); return err },
		"public bad id":          func() error { _, err := s.PublicShare(ctx, "../x"); return err },
	} {
		if actors.ErrorCode(f()) != actors.ENotFound {
			t.Errorf("%s: want not_found", name)
		}
	}

	pub, err := s.PublicShare(ctx, sh.ID)
	if err != nil || pub.DocumentURL == nil || *pub.DocumentURL != "https://example.com/doc.pdf" || pub.ProjectID != a.ID {
		t.Fatalf("PublicShare = %+v, %v", pub, err)
	}

	rev, err := s.RevokeShare(ctx, a.ID, r.ID, sh.ID)
	if err != nil || rev.RevokedAt == nil || rev.RevokeRecorded {
		t.Fatalf("RevokeShare = %+v, %v", rev, err)
	}
	if err := s.MarkRevokeRecorded(ctx, sh.ID); err != nil {
		t.Fatal(err)
	}
	again, err := s.RevokeShare(ctx, a.ID, r.ID, sh.ID)
	if err != nil || !again.RevokedAt.Equal(*rev.RevokedAt) || !again.RevokeRecorded {
		t.Fatalf("revoke twice = %+v, %v (want the first revocation time, recorded)", again, err)
	}

	sh2, _ := s.CreateShare(ctx, a.ID, r.ID)
	list, err := s.ListShares(ctx, a.ID, r.ID)
	if err != nil || len(list) != 2 || list[0].ID != sh2.ID || list[1].ID != sh.ID {
		t.Fatalf("ListShares = %+v, %v (want newest first)", list, err)
	}
	if list, _ := s.ListShares(ctx, a.ID, other.ID); len(list) != 0 {
		t.Fatalf("other render's shares: %+v", list)
	}

	// A deleted project's shares look unknown from the public side.
	if err := s.DeleteProject(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PublicShare(ctx, sh2.ID); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("share of a deleted project: %v", err)
	}
	if _, err := s.ActiveRender(ctx, a.ID, r.ID); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("render of a deleted project: %v", err)
	}
}

func TestShareLimit(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	p, _ := s.CreateProject(ctx, "a")
	r, _ := s.CreateRender(ctx, p.ID, "")
	if _, err := s.pool.Exec(ctx, `INSERT INTO shares (id, project_id, render_id)
		SELECT gen_random_uuid(), $1, $2 FROM generate_series(1, $3)`, p.ID, r.ID, MaxSharesPerRender-1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateShare(ctx, p.ID, r.ID); err != nil {
		t.Fatalf("share %d: %v", MaxSharesPerRender, err)
	}
	if _, err := s.CreateShare(ctx, p.ID, r.ID); actors.ErrorCode(err) != actors.EConflict {
		t.Fatalf("share past the limit: %v", err)
	}
}

func TestEmailMessages(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	p, _ := s.CreateProject(ctx, "a")
	r, _ := s.CreateRender(ctx, p.ID, "")
	sh, _ := s.CreateShare(ctx, p.ID, r.ID)
	m, err := s.CreateEmailMessage(ctx, actors.EmailMessage{ID: newID(), ProjectID: p.ID, RenderID: r.ID, ShareID: &sh.ID, Recipient: "ada@example.com"})
	if err != nil || m.CreatedAt.IsZero() {
		t.Fatalf("CreateEmailMessage = %+v, %v", m, err)
	}
	got, err := s.PublicEmailMessage(ctx, m.ID)
	if err != nil || got.SentAt != nil || *got.ShareID != sh.ID || got.Recipient != "ada@example.com" || got.RenderID != r.ID {
		t.Fatalf("PublicEmailMessage = %+v, %v", got, err)
	}
	if _, err := s.MarkEmailSent(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.PublicEmailMessage(ctx, m.ID); got.SentAt == nil {
		t.Fatal("sent_at not set")
	}
	// A refused message and its never-handed-out share go away.
	if err := s.DeleteEmailMessage(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteShare(ctx, sh.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PublicEmailMessage(ctx, m.ID); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("deleted message: %v", err)
	}
	if _, err := s.PublicShare(ctx, sh.ID); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("deleted share: %v", err)
	}
}
