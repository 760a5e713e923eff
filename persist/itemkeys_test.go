package persist

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// ItemKeys reads every item, of both kinds and every project, however it
// was created; from a read's asOf on, only the items created after that
// read began.
func TestItemKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	a, _ := s.CreateProject(ctx, "a")
	b, _ := s.CreateProject(ctx, "b")
	var before []string
	add := func(list *[]string, kind, project, id string) {
		*list = append(*list, kind+" "+project+" "+id)
	}
	r, err := s.CreateRender(ctx, a.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	add(&before, actors.RenderItem, a.ID, r.ID)
	if _, err := s.CreateContent(ctx, b.ID, "cnt_b1"); err != nil {
		t.Fatal(err)
	}
	add(&before, actors.ContentItem, b.ID, "cnt_b1")
	ids, err := s.CreateRenders(ctx, b.ID, 3) // as engaged-bench sets up a key space
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		add(&before, actors.RenderItem, b.ID, id)
	}
	read := func(since time.Time) ([]string, time.Time) {
		t.Helper()
		var got []string
		asOf, err := s.ItemKeys(ctx, since, func(kind, project, id string) error {
			add(&got, kind, project, id)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got, asOf
	}
	slices.Sort(before)
	got, asOf := read(time.Time{})
	if !slices.Equal(got, before) {
		t.Fatalf("every item: got\n%v\nwant\n%v", got, before)
	}

	var after []string
	if _, err := s.CreateContent(ctx, a.ID, "cnt_a1"); err != nil {
		t.Fatal(err)
	}
	add(&after, actors.ContentItem, a.ID, "cnt_a1")
	r2, err := s.CreateRender(ctx, b.ID, "https://example.com/")
	if err != nil {
		t.Fatal(err)
	}
	add(&after, actors.RenderItem, b.ID, r2.ID)
	slices.Sort(after)
	if got, _ := read(asOf); !slices.Equal(got, after) {
		t.Fatalf("since the first read: got\n%v\nwant\n%v", got, after)
	}
	all := slices.Sorted(slices.Values(append(before, after...)))
	if got, _ := read(time.Time{}); !slices.Equal(got, all) {
		t.Fatalf("every item again: got\n%v\nwant\n%v", got, all)
	}
	if got, _ := read(asOf.Add(-time.Hour)); !slices.Equal(got, all) {
		t.Fatalf("since an hour before the first read: got\n%v\nwant\n%v", got, all)
	}

	// fn's error ends the read and comes back as it is.
	stop := errors.New("stop")
	n := 0
	if _, err := s.ItemKeys(ctx, time.Time{}, func(string, string, string) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("fn's error: %v after %d rows", err, n)
	}
}
