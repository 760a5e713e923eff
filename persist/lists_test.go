package persist

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/persist/pgtest"
)

// Pages cover a list exactly once, in creation order, and a project's list
// holds only its own items.
func TestListPages(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	a, _ := s.CreateProject(ctx, "a")
	b, _ := s.CreateProject(ctx, "b")
	var want []string
	for range 7 {
		r, err := s.CreateRender(ctx, a.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r.ID)
	}
	if _, err := s.CreateRender(ctx, b.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateContent(ctx, a.ID, "cnt_1"); err != nil {
		t.Fatal(err)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		list, next, err := s.ListItems(ctx, a.ID, actors.RenderItem, actors.Page{Limit: 3, Cursor: cursor})
		if err != nil || pages > 3 {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, it := range list {
			got = append(got, it.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	contents, _, err := s.ListItems(ctx, a.ID, actors.ContentItem, actors.Page{})
	if err != nil || len(contents) != 1 || contents[0].ID != "cnt_1" {
		t.Fatalf("contents %+v, %v", contents, err)
	}
	for _, p := range []actors.Page{{Limit: -1}, {Limit: actors.MaxLimit + 1}, {Cursor: "!!"}} {
		if _, _, err := s.ListItems(ctx, a.ID, actors.RenderItem, p); actors.ErrorCode(err) != actors.EInvalid {
			t.Fatalf("page %+v: %v, want invalid", p, err)
		}
	}
	if _, _, err := s.ListItems(ctx, "01939c2c-0000-7000-8000-000000000001", actors.RenderItem, actors.Page{}); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("missing project: %v", err)
	}
}

// A key list shows revocation and never a secret; deleted projects leave
// the project list.
func TestListKeysAndProjects(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	a, _ := s.CreateProject(ctx, "a")
	b, _ := s.CreateProject(ctx, "b")
	k1, _, _ := s.CreateKey(ctx, a.ID, actors.SecretKey)
	k2, _, _ := s.CreateKey(ctx, a.ID, actors.PublishableKey)
	if _, _, err := s.CreateKey(ctx, b.ID, actors.SecretKey); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, k1.ID); err != nil {
		t.Fatal(err)
	}
	keys, _, err := s.ListKeys(ctx, a.ID, actors.Page{})
	if err != nil || len(keys) != 2 || keys[0].ID != k1.ID || keys[1].ID != k2.ID {
		t.Fatalf("keys %+v, %v", keys, err)
	}
	if keys[0].RevokedAt == nil || keys[1].RevokedAt != nil || keys[1].Kind != actors.PublishableKey || keys[1].Prefix != k2.Prefix {
		t.Fatalf("keys %+v", keys)
	}
	if err := s.DeleteProject(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	projects, next, err := s.ListProjects(ctx, actors.Page{})
	if err != nil || len(projects) != 1 || projects[0].ID != a.ID || next != "" {
		t.Fatalf("projects %+v %q %v", projects, next, err)
	}
	if _, _, err := s.ListKeys(ctx, b.ID, actors.Page{}); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("deleted project's keys: %v", err)
	}
	if _, err := s.CreateProject(ctx, ""); actors.ErrorCode(err) != actors.EInvalid {
		t.Fatalf("empty name: %v", err)
	}
	if _, err := s.CreateRender(ctx, a.ID, "ftp://x/y"); actors.ErrorCode(err) != actors.EInvalid {
		t.Fatalf("ftp document URL: %v", err)
	}
}

// BenchmarkListRendersDeepPage reads one page of 100 renders from the
// middle of a project holding a million: an index range scan from the
// cursor, not a scan of everything before it. It shows that a page costs
// the same at any depth.
func BenchmarkListRendersDeepPage(b *testing.B) {
	ctx := context.Background()
	url := pgtest.NewDatabase(b)
	s, err := Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p, _ := s.CreateProject(ctx, "big")
	other, _ := s.CreateProject(ctx, "other")
	var mid string
	for i := range 10 {
		ids, err := s.CreateRenders(ctx, p.ID, 100_000)
		if err != nil {
			b.Fatal(err)
		}
		if i == 5 {
			mid = ids[0]
		}
		if _, err := s.CreateRenders(ctx, other.ID, 10_000); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE items`); err != nil {
		b.Fatal(err)
	}
	cursor := base64.RawURLEncoding.EncodeToString([]byte(mid))
	b.ResetTimer()
	for b.Loop() {
		list, next, err := s.ListItems(ctx, p.ID, actors.RenderItem, actors.Page{Limit: 100, Cursor: cursor})
		if err != nil || len(list) != 100 || next == "" {
			b.Fatalf("%d renders, next %q, %v", len(list), next, err)
		}
	}
}
