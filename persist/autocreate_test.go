package persist

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/engagedhq/engaged/actors"
)

// AutoCreateContent registers content only for a project with the setting
// on, never past the cap even when many creations race, returns an item
// that exists already, and refuses a render's id.
func TestAutoCreateContent(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	p, _ := s.CreateProject(ctx, "a")
	_, secret, err := s.CreateKey(ctx, p.ID, actors.PublishableKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AutoCreateContent(ctx, p.ID, "cnt_a", 10); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("setting off: %v, want not_found", err)
	}
	if on, err := s.SetAutoCreateContent(ctx, p.ID, true); err != nil || !on {
		t.Fatalf("SetAutoCreateContent: %v %v", on, err)
	}
	if got, err := s.Authenticate(ctx, secret); err != nil || !got.AutoCreateContent {
		t.Fatalf("principal after turning it on: %+v, %v", got, err)
	}
	r, err := s.CreateRender(ctx, p.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AutoCreateContent(ctx, p.ID, r.ID, 10); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("a render's id: %v, want not_found", err)
	}
	it, err := s.AutoCreateContent(ctx, p.ID, "cnt_a", 10)
	if err != nil || it.ID != "cnt_a" || it.Kind != actors.ContentItem || it.ProjectID != p.ID || it.CreatedAt.IsZero() {
		t.Fatalf("created %+v, %v", it, err)
	}
	if again, err := s.AutoCreateContent(ctx, p.ID, "cnt_a", 2); err != nil || again.CreatedAt != it.CreatedAt {
		t.Fatalf("existing item at the cap: %+v, %v", again, err)
	}

	// 20 racing creations with room for 8 more (2 items held, cap 10).
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.AutoCreateContent(ctx, p.ID, fmt.Sprintf("cnt_r%d", i), 10) })
	}
	wg.Wait()
	created, limited := 0, 0
	for _, err := range errs {
		switch actors.ErrorCode(err) {
		case actors.EContentLimit:
			limited++
		default:
			if err != nil {
				t.Fatal(err)
			}
			created++
		}
	}
	items, _, err := s.ListItems(ctx, p.ID, actors.ContentItem, actors.Page{Limit: 100})
	if err != nil || created != 8 || limited != 12 || len(items) != 9 {
		t.Fatalf("created %d, limited %d, %d content items (%v), want 8, 12, 9", created, limited, len(items), err)
	}

	if on, err := s.SetAutoCreateContent(ctx, p.ID, false); err != nil || on {
		t.Fatalf("off: %v %v", on, err)
	}
	if _, err := s.AutoCreateContent(ctx, p.ID, "cnt_b", 100); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("setting off again: %v", err)
	}
	if _, err := s.SetAutoCreateContent(ctx, newID(), true); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("unknown project: %v", err)
	}
	list, _, err := s.ListProjects(ctx, actors.Page{})
	if err != nil || len(list) != 1 || list[0].AutoCreateContent {
		t.Fatalf("listed %+v, %v", list, err)
	}
}
