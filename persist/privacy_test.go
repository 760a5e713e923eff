package persist

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/engagedhq/engaged/actors"
)

// A project's ipCapture defaults to full, is checked when set, and reaches
// every lookup the edge reads it from: the key's principal, the public
// share and the e-mail message behind a pixel, and the project list.
func TestIPCapture(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	p, err := s.CreateProject(ctx, "a")
	if err != nil || p.IPCapture != actors.IPFull {
		t.Fatalf("new project: %+v, %v", p, err)
	}
	_, secret, err := s.CreateKey(ctx, p.ID, actors.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.CreateRender(ctx, p.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	sh, err := s.CreateShare(ctx, p.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.CreateEmailMessage(ctx, actors.EmailMessage{ID: newID(), ProjectID: p.ID, RenderID: r.ID, ShareID: &sh.ID, Recipient: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	seen := func() []actors.IPCapture {
		t.Helper()
		pr, err := s.Authenticate(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := s.PublicShare(ctx, sh.ID)
		if err != nil {
			t.Fatal(err)
		}
		pm, err := s.PublicEmailMessage(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		list, _, err := s.ListProjects(ctx, actors.Page{})
		if err != nil || len(list) != 1 {
			t.Fatalf("list: %+v, %v", list, err)
		}
		return []actors.IPCapture{pr.IPCapture, ps.IPCapture, pm.IPCapture, list[0].IPCapture}
	}
	for i, got := range seen() {
		if got != actors.IPFull {
			t.Fatalf("lookup %d of a new project: %q", i, got)
		}
	}
	for _, want := range []actors.IPCapture{actors.IPTruncated, actors.IPNone, actors.IPFull} {
		got, err := s.SetIPCapture(ctx, p.ID, want)
		if err != nil || got != want {
			t.Fatalf("SetIPCapture(%s) = %q, %v", want, got, err)
		}
		for i, got := range seen() {
			if got != want {
				t.Fatalf("lookup %d after %s: %q", i, want, got)
			}
		}
	}
	if _, err := s.SetIPCapture(ctx, p.ID, "partial"); actors.ErrorCode(err) != actors.EInvalid {
		t.Fatalf("bad mode: %v", err)
	}
	if _, err := s.SetIPCapture(ctx, newID(), actors.IPNone); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("unknown project: %v", err)
	}
}

// Every embedded migration has a version of its own (see migrate).
func TestMigrationVersionsUnique(t *testing.T) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, n := range names {
		v, _, _ := strings.Cut(strings.TrimPrefix(n, "migrations/"), "_")
		if other, ok := seen[v]; ok {
			t.Errorf("%s and %s share version %s", other, n, v)
		}
		seen[v] = n
	}
}
