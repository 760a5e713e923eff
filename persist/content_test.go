package persist

import (
	"context"
	"strings"
	"testing"

	"github.com/engagedhq/engaged/actors"
)

func TestCreateContent(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	p, _ := s.CreateProject(ctx, "a")
	other, _ := s.CreateProject(ctx, "b")
	it, err := s.CreateContent(ctx, p.ID, "cnt_abc123")
	if err != nil || it.ID != "cnt_abc123" || it.Kind != actors.ContentItem || it.ProjectID != p.ID {
		t.Fatalf("CreateContent = %+v, %v", it, err)
	}
	if got, err := s.GetItem(ctx, p.ID, "cnt_abc123", actors.ContentItem); err != nil || got.ID != it.ID {
		t.Fatalf("GetItem = %+v, %v", got, err)
	}
	if _, err := s.GetItem(ctx, p.ID, "cnt_abc123", actors.RenderItem); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("content found as a render: %v", err)
	}
	if _, err := s.CreateContent(ctx, p.ID, "cnt_abc123"); actors.ErrorCode(err) != actors.EConflict {
		t.Fatalf("second create: %v", err)
	}
	// Ids are per project.
	if _, err := s.CreateContent(ctx, other.ID, "cnt_abc123"); err != nil {
		t.Fatalf("same id in another project: %v", err)
	}
	gen, err := s.CreateContent(ctx, p.ID, "")
	if err != nil || !strings.HasPrefix(gen.ID, "cnt_") || !actors.ValidID(gen.ID) {
		t.Fatalf("generated id %q, %v", gen.ID, err)
	}
	for _, bad := range []string{"a.b", "a b", ">", strings.Repeat("x", actors.MaxIDLen+1)} {
		if _, err := s.CreateContent(ctx, p.ID, bad); actors.ErrorCode(err) != actors.EInvalid {
			t.Errorf("id %q: %v", bad, err)
		}
	}
	if _, err := s.CreateContent(ctx, "0193c2c3-0000-7000-8000-000000000000", "x"); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("unknown project: %v", err)
	}
}
