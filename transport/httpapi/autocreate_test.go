package httpapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// autoDir is a directory where "known" is registered, "render" is a
// render's id (never created as content), "full_…" ids meet the project's
// cap, and any other id is created; it records the creations.
type autoDir struct {
	fakeDir
	mu      sync.Mutex
	created []string
}

func (*autoDir) GetItem(_ context.Context, projectID, id, kind string) (actors.Item, error) {
	if id == "known" {
		return actors.Item{ID: id, ProjectID: projectID, Kind: kind}, nil
	}
	return actors.Item{}, actors.Errorf(actors.ENotFound, "not found")
}

func (d *autoDir) AutoCreateContent(_ context.Context, projectID, id string, maxItems int) (actors.Item, error) {
	switch {
	case id == "render":
		return actors.Item{}, actors.Errorf(actors.ENotFound, "a render's id")
	case len(id) > 5 && id[:5] == "full_":
		return actors.Item{}, actors.Errorf(actors.EContentLimit, "at the cap of %d", maxItems)
	}
	d.mu.Lock()
	d.created = append(d.created, id)
	d.mu.Unlock()
	return actors.Item{ID: id, ProjectID: projectID, Kind: actors.ContentItem}, nil
}

// With autoCreateContent on, unknown ids are tried in request order, each
// try spending a token of the rate's bucket (also one refused at the cap or
// for a render's id), until the bucket is empty; an event's code is its most
// final reason (unknown before the cap before the rate); off, nothing is
// tried.
func TestRejectUnknownContentAutoCreate(t *testing.T) {
	events := []string{
		`{"event":"like","contentId":"known"}`,
		`{"event":"like","contentId":"new1"}`,
		`{"event":"like","contentId":"new2"}`,
		`{"event":"like","contentId":"full_1"}`, // at the cap
		`{"event":"like","contentId":"render"}`, // never content; the bucket (4) is empty after it
		`{"event":"like","contentId":"new3"}`,
		`{"event":"swipe","contentId":"render","data":{"fromContentId":"new4","watchTime":1}}`, // unknown beats rate
		`{"event":"swipe","contentId":"new5","data":{"fromContentId":"full_1","watchTime":1}}`, // cap beats rate
		`{"event":"like","contentId":"new1"}`,                                                  // created above
	}
	want := []actors.Code{"", "", "", actors.EContentLimit, actors.EInvalid, actors.ERateLimited, actors.EInvalid, actors.EContentLimit, ""}
	for _, on := range []bool{true, false} {
		dir := &autoDir{}
		s := NewServer(Options{AutoCreate: AutoCreateOptions{MaxItems: 10, Rate: RateLimit{N: 4, Per: time.Hour}}}, dir, nil)
		parsed := make([]actors.ParsedContentEvent, len(events))
		for i, ev := range events {
			if parsed[i] = wire.ParseContentEvent([]byte(ev), wire.ParseOptions{ReceivedAt: time.Now()}); parsed[i].Err != nil {
				t.Fatalf("event %d: %v", i, parsed[i].Err)
			}
		}
		if _, err := s.rejectUnknownContent(context.Background(), actors.Principal{ProjectID: "p1", AutoCreateContent: on}, parsed); err != nil {
			t.Fatal(err)
		}
		for i, ev := range parsed {
			var got actors.Code
			if ev.Err != nil {
				got = ev.Err.Code
			}
			w := want[i]
			if !on && i > 0 {
				w = actors.EInvalid
			}
			if got != w {
				t.Errorf("on=%v: event %d %s: %q, want %q", on, i, events[i], got, w)
			}
		}
		if wantCreated := []string{"new1", "new2"}; on && (len(dir.created) != 2 || dir.created[0] != wantCreated[0] || dir.created[1] != wantCreated[1]) {
			t.Errorf("created %v, want %v", dir.created, wantCreated)
		}
		if !on && len(dir.created) != 0 {
			t.Errorf("off: created %v", dir.created)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
