package persist

import (
	"context"
	"testing"

	"github.com/engagedhq/engaged/actors"
)

// GetItems finds renders and content items of any project in one query,
// each under its own project; ids of another project, unknown ids and a
// project id that is no UUID are absent.
func TestGetItems(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	a, _ := s.CreateProject(ctx, "a")
	b, _ := s.CreateProject(ctx, "b")
	r, err := s.CreateRender(ctx, a.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateContent(ctx, b.ID, "cnt_1")
	if err != nil {
		t.Fatal(err)
	}
	keys := []actors.ItemID{
		{Project: a.ID, Item: r.ID}, {Project: b.ID, Item: "cnt_1"},
		{Project: b.ID, Item: r.ID}, {Project: a.ID, Item: "nope"}, {Project: "not-a-uuid", Item: r.ID},
	}
	got, err := s.GetItems(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[keys[0]].Kind != actors.RenderItem || got[keys[0]].ID != r.ID ||
		got[keys[1]].Kind != actors.ContentItem || got[keys[1]].ProjectID != c.ProjectID {
		t.Fatalf("GetItems = %+v", got)
	}
}
