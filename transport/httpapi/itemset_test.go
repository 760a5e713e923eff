package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/persist"
	"github.com/engagedhq/engaged/persist/pgtest"
)

// The set answers for exactly what was added: another kind, project or id
// is a miss; past max it stops growing; at 0 it holds nothing.
func TestItemSet(t *testing.T) {
	const p1, p2 = "0193c2c3-0000-7000-8000-0000000000a1", "0193c2c3-0000-7000-8000-0000000000a2"
	s := newItemSet(3)
	s.add(actors.RenderItem, p1, "r1")
	s.add(actors.ContentItem, p1, "c1")
	s.add(actors.ContentItem, p1, "c1") // again: no second entry
	s.add(actors.RenderItem, p2, "r1")
	for _, tc := range []struct {
		kind, project, id string
		want              bool
	}{
		{actors.RenderItem, p1, "r1", true},
		{actors.ContentItem, p1, "c1", true},
		{actors.RenderItem, p2, "r1", true},
		{actors.ContentItem, p1, "r1", false}, // another kind
		{actors.RenderItem, p1, "c1", false},
		{actors.ContentItem, p2, "c1", false}, // another project
		{actors.RenderItem, p1, "r2", false},
		{actors.RenderItem, p1, "r1\x00", false},
	} {
		if got := s.has(tc.kind, tc.project, tc.id); got != tc.want {
			t.Errorf("has(%s, %s, %q) = %v, want %v", tc.kind, tc.project, tc.id, got, tc.want)
		}
	}
	if s.hits.Load() != 3 || s.misses.Load() != 5 {
		t.Errorf("hits %d misses %d, want 3 and 5", s.hits.Load(), s.misses.Load())
	}
	s.add(actors.RenderItem, p1, "r9") // the fourth: over max
	if s.has(actors.RenderItem, p1, "r9") || s.len() != 3 {
		t.Errorf("grew past max: %d entries", s.len())
	}
	if !s.addAll([]itemHash{s.hash(actors.RenderItem, p1, "r1")}) || s.addAll([]itemHash{s.hash(actors.RenderItem, p1, "r9")}) {
		t.Error("addAll when full: an entry already in is fine, a new one is refused")
	}
	// Another process's key gives other hashes.
	if other := newItemSet(3); other.hash(actors.RenderItem, p1, "r1") == s.hash(actors.RenderItem, p1, "r1") {
		t.Error("two sets share their hash key")
	}

	off := newItemSet(0)
	off.add(actors.RenderItem, p1, "r1")
	if off.has(actors.RenderItem, p1, "r1") || off.len() != 0 || off.misses.Load() != 0 {
		t.Error("a set with max 0 holds or counts something")
	}
}

// countingDir is the real store, counting the item lookups that reach it.
type countingDir struct {
	*persist.Store
	getItem atomic.Int64
}

func (d *countingDir) GetItem(ctx context.Context, projectID, id, kind string) (actors.Item, error) {
	d.getItem.Add(1)
	return d.Store.GetItem(ctx, projectID, id, kind)
}

// readEngine records submissions (each counted) and answers reads with an
// empty summary; the actors are not what these tests are about.
type readEngine struct {
	Engine
	mu   sync.Mutex
	subs int
}

func (e *readEngine) Submit(_ context.Context, subs ...*actors.Submission) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range subs {
		s.Counted = make([]bool, len(s.Msg.Render)+len(s.Msg.Content))
		for i := range s.Counted {
			s.Counted[i] = true
		}
	}
	e.subs += len(subs)
	return nil
}

func (*readEngine) ReadJSON(context.Context, actors.ItemID) ([]byte, error) { return []byte(`{}`), nil }

// Against a real Postgres: every item, however created (bulk in Postgres as
// engaged-bench does, before the server starts or while it runs), is in the
// set once read, and its events and reads then reach no GetItem; an unknown
// id still does, and is 404 in the error envelope; a row the route needs
// (GET /v1/renders/:id) is still read from Postgres; with the set off (0)
// every first lookup queries, as before.
func TestItemSetAnswersWithoutQuery(t *testing.T) {
	if _, err := pgtest.BinDir(); err != nil {
		t.Skip(err)
	}
	_, url := pgtest.NewCluster(t)
	ctx := context.Background()
	store, err := persist.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, err := store.CreateProject(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := store.CreateKey(ctx, p.ID, actors.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	renders, err := store.CreateRenders(ctx, p.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateContent(ctx, p.ID, "cnt_1"); err != nil {
		t.Fatal(err)
	}
	other, _ := store.CreateProject(ctx, "b")
	otherRenders, _ := store.CreateRenders(ctx, other.ID, 1) // counted in the set, never this key's

	dir := &countingDir{Store: store}
	s := NewServer(Options{MaxBodyBytes: 1 << 16, MaxMetadataBytes: 1024, RequestTimeout: 5 * time.Second, ItemSetMax: 100}, dir, &readEngine{})
	s.set.poll = 50 * time.Millisecond
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.RunItemSet(runCtx) }()
	defer func() {
		stop()
		<-done
		_ = s.Shutdown(context.Background())
	}()
	waitFor(t, func() error {
		if !s.set.loaded.Load() || s.set.len() != 4 {
			return fmt.Errorf("set loaded %v with %d entries, want 4", s.set.loaded.Load(), s.set.len())
		}
		return nil
	})
	// Created while the server runs, straight in Postgres: the poll adds it.
	late, err := store.CreateRenders(ctx, p.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	renders = append(renders, late...)
	waitFor(t, func() error {
		if n := s.set.len(); n != 5 {
			return fmt.Errorf("%d entries, want 5", n)
		}
		return nil
	})

	srv := s // the server call asks
	call := func(method, path, body string) (int, []byte) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for _, r := range renders {
		if st, b := call("POST", "/v1/renders/"+r+"/events", `{"eventType":"viewed"}`); st != 200 || string(b) != `{"recorded":true}` {
			t.Fatalf("event to render %s: %d %s", r, st, b)
		}
		if st, b := call("GET", "/v1/renders/"+r+"/engagement", ""); st != 200 {
			t.Fatalf("engagement of render %s: %d %s", r, st, b)
		}
	}
	if ok, err := s.contentExists(ctx, p.ID, "cnt_1"); !ok || err != nil {
		t.Fatalf("content cnt_1: %v %v", ok, err)
	}
	if n := dir.getItem.Load(); n != 0 {
		t.Fatalf("items in the set cost %d GetItem queries, want 0", n)
	}

	notFound := func(path string) {
		t.Helper()
		st, b := call("POST", path, `{"eventType":"viewed"}`)
		var env errorEnvelope
		if err := json.Unmarshal(b, &env); st != 404 || err != nil || env.Error.Code != actors.ENotFound || !strings.HasPrefix(env.Meta.RequestID, "req_") {
			t.Fatalf("%s: %d %s, want 404 not_found in the envelope", path, st, b)
		}
	}
	notFound("/v1/renders/" + uuid.Must(uuid.NewV7()).String() + "/events")
	notFound("/v1/renders/" + otherRenders[0] + "/events") // in the set, as another project's
	if n := dir.getItem.Load(); n != 2 {
		t.Fatalf("unknown ids: %d GetItem queries, want 2 (one each)", n)
	}
	if ok, err := s.contentExists(ctx, p.ID, "cnt_2"); ok || err != nil {
		t.Fatalf("unknown content: %v %v", ok, err)
	}
	// The render's row: from Postgres, the set cannot give it.
	if st, b := call("GET", "/v1/renders/"+renders[0], ""); st != 200 || !strings.Contains(string(b), `"documentUrl"`) {
		t.Fatalf("GET render: %d %s", st, b)
	}
	if n := dir.getItem.Load(); n != 4 {
		t.Fatalf("%d GetItem queries, want 4", n)
	}

	// Off: the first lookup of each item queries, as before the set.
	before := dir.getItem.Load()
	off := NewServer(Options{MaxBodyBytes: 1 << 16, MaxMetadataBytes: 1024, RequestTimeout: 5 * time.Second}, dir, &readEngine{})
	defer off.Shutdown(context.Background())
	off.RunItemSet(ctx) // returns at once
	srv = off
	if st, b := call("POST", "/v1/renders/"+renders[1]+"/events", `{"eventType":"viewed"}`); st != 200 {
		t.Fatalf("set off: %d %s", st, b)
	}
	notFound("/v1/renders/" + uuid.Must(uuid.NewV7()).String() + "/events")
	if n := dir.getItem.Load() - before; n != 2 {
		t.Fatalf("set off: %d GetItem queries, want 2", n)
	}
	if off.set.len() != 0 || off.set.misses.Load() != 0 {
		t.Fatal("set off holds or counts something")
	}
}

// An item the set lacks (not read yet, or created in a transaction that
// committed too late for the polls) is found through Postgres and added.
func TestItemSetAddsWhatPostgresFinds(t *testing.T) {
	const project = "0193c2c3-0000-7000-8000-0000000000a1"
	s := NewServer(Options{RequestTimeout: time.Second, ItemSetMax: 10}, fakeDir{}, nil)
	defer s.Shutdown(context.Background())
	k := actors.ItemID{Project: project, Item: "cnt_x"}
	if s.set.has(actors.ContentItem, project, k.Item) {
		t.Fatal("in the set before any lookup")
	}
	if ok, err := s.exists(context.Background(), k, actors.ContentItem); !ok || err != nil {
		t.Fatalf("exists: %v %v", ok, err)
	}
	if !s.set.has(actors.ContentItem, project, k.Item) {
		t.Fatal("an item found in Postgres is not in the set")
	}
	s.remember(actors.Item{ID: "cnt_y", ProjectID: project, Kind: actors.ContentItem})
	if !s.set.has(actors.ContentItem, project, "cnt_y") {
		t.Fatal("an item this instance created is not in the set")
	}
}

// flakyDir's reads of the items fail until up is set, then give one item.
type flakyDir struct {
	fakeDir
	up    atomic.Bool
	tries atomic.Int64
}

func (d *flakyDir) ItemKeys(_ context.Context, since time.Time, fn func(kind, projectID, id string) error) (time.Time, error) {
	d.tries.Add(1)
	if !d.up.Load() {
		return time.Time{}, &actors.Error{Code: actors.EUnavailable, Message: "database unavailable"}
	}
	return time.Now(), fn(actors.RenderItem, "p1", "r1")
}

// Postgres down at start: the reads fail, are tried again and logged once;
// once Postgres answers the set fills.
func TestItemSetRetriesQuietly(t *testing.T) {
	var log bytes.Buffer
	var mu sync.Mutex
	d := &flakyDir{}
	s := NewServer(Options{RequestTimeout: time.Second, ItemSetMax: 10,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil))}, d, nil)
	s.set.poll = 10 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.RunItemSet(ctx) }()
	defer func() {
		stop()
		<-done
		_ = s.Shutdown(context.Background())
	}()
	waitFor(t, func() error {
		if n := d.tries.Load(); n < 5 {
			return fmt.Errorf("%d tries", n)
		}
		return nil
	})
	d.up.Store(true)
	waitFor(t, func() error {
		if !s.set.has(actors.RenderItem, "p1", "r1") {
			return fmt.Errorf("not filled after %d tries", d.tries.Load())
		}
		return nil
	})
	// The log lines follow the read that filled the set.
	waitFor(t, func() error {
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(log.String(), `msg="item set: read items again"`) || !strings.Contains(log.String(), `msg="item set loaded"`) {
			return fmt.Errorf("no recovery in the log:\n%s", log.String())
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(log.String(), `msg="item set: read items (`); n != 1 {
		t.Fatalf("%d warnings for one outage, want 1:\n%s", n, log.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// waitFor polls f until it returns nil, for at most 10 s.
func waitFor(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
