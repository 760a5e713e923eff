package httpapi

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// countingRankings answers every ranking with one item whose value is the
// number of queries so far, so each recomputation is a change.
type countingRankings struct{ queries atomic.Int64 }

func (c *countingRankings) Top(_ context.Context, q actors.TopQuery, _ time.Time) (actors.TopList, error) {
	return actors.TopList{Kind: q.Kind, Metric: q.Metric.Name, Window: q.Window,
		Items: []actors.TopItem{{ID: "a", Value: float64(c.queries.Add(1))}}}, nil
}

// One watcher per question, shared by its subscribers: started by the
// first, fed to both, stopped when the last leaves; another question has
// its own. Shutdown waits for every watcher.
func TestTopWatchersShared(t *testing.T) {
	store := &countingRankings{}
	s := NewServer(Options{RequestTimeout: time.Second, Rankings: RankingOptions{Store: store}}, nil, nil)
	plays, _ := actors.LookupRankMetric("content", "plays")
	q := actors.TopQuery{Project: "p", Kind: "content", Metric: plays, Window: actors.Window1h, Limit: 10}
	got1, got2 := make(chan uint64, 100), make(chan uint64, 100)
	w1, stop1 := s.subscribeTop(q, func(seq uint64, _ []byte) { got1 <- seq })
	w2, stop2 := s.subscribeTop(q, func(seq uint64, _ []byte) { got2 <- seq })
	if w1 != w2 {
		t.Fatal("two subscribers of one question got two watchers")
	}
	other := q
	other.Window = actors.Window24h
	w3, stop3 := s.subscribeTop(other, func(uint64, []byte) {})
	if w3 == w1 {
		t.Fatal("another question shares the watcher")
	}
	if u, err := w1.current(context.Background()); err != nil || u.Seq != 1 {
		t.Fatalf("current: %+v %v", u, err)
	}
	// The first list may go out before the second subscriber joins (an
	// SSE stream starts from current, above); the next change, a second
	// later, reaches both.
	for _, ch := range []chan uint64{got1, got2} {
		for seq := uint64(0); seq != 2; {
			select {
			case seq = <-ch:
				if seq > 2 {
					t.Fatalf("a subscriber missed the list with seq 2 (got %d)", seq)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a subscriber got no second list")
			}
		}
	}
	stop1()
	stop1() // idempotent
	s.topHub.mu.Lock()
	n := len(s.topHub.watches)
	s.topHub.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d watchers after one of two subscribers left, want 2", n)
	}
	stop2()
	stop3()
	s.topHub.mu.Lock()
	n = len(s.topHub.watches)
	s.topHub.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d watchers after every subscriber left", n)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// blockingRankings is countingRankings whose queries after the first wait
// for release.
type blockingRankings struct {
	countingRankings
	release chan struct{}
}

func (b *blockingRankings) Top(ctx context.Context, q actors.TopQuery, now time.Time) (actors.TopList, error) {
	if b.queries.Load() > 0 {
		select {
		case <-b.release:
		case <-ctx.Done():
			return actors.TopList{}, ctx.Err()
		}
	}
	return b.countingRankings.Top(ctx, q, now)
}

// Past the TTL, a question gets its cached answer at once while one
// refresh runs behind it; the refresh's answer follows.
func TestTopStaleWhileRefreshing(t *testing.T) {
	store := &blockingRankings{release: make(chan struct{})}
	s := NewServer(Options{RequestTimeout: 10 * time.Second, Rankings: RankingOptions{Store: store, CacheTTL: 10 * time.Millisecond}}, nil, nil)
	plays, _ := actors.LookupRankMetric("content", "plays")
	q := actors.TopQuery{Project: "p", Kind: "content", Metric: plays, Window: actors.Window1h, Limit: 10}
	value := func() float64 {
		t.Helper()
		l, err := s.top(q)
		if err != nil || len(l.Items) != 1 {
			t.Fatalf("top: %+v %v", l, err)
		}
		return l.Items[0].Value
	}
	if v := value(); v != 1 {
		t.Fatalf("first answer %v", v)
	}
	time.Sleep(20 * time.Millisecond) // past the TTL
	for range 3 {
		if v := value(); v != 1 { // the refresh is blocked: the cached answer, at once
			t.Fatalf("answer while refreshing: %v", v)
		}
	}
	s.topCache.mu.Lock()
	refreshing := len(s.topCache.refreshing)
	s.topCache.mu.Unlock()
	if refreshing != 1 {
		t.Fatalf("%d refreshes behind three stale answers, want 1", refreshing)
	}
	close(store.release)
	deadline := time.Now().Add(5 * time.Second)
	for value() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the refreshed answer never came")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// rankedRankings answers every ranking with MaxTopLimit items in ranking
// order, and records the limits it was asked for.
type rankedRankings struct {
	countingRankings
	limits []int
}

func (r *rankedRankings) Top(_ context.Context, q actors.TopQuery, _ time.Time) (actors.TopList, error) {
	r.queries.Add(1)
	r.limits = append(r.limits, q.Limit)
	items := make([]actors.TopItem, q.Limit)
	for i := range items {
		items[i] = actors.TopItem{ID: fmt.Sprintf("i%03d", i), Value: float64(q.Limit - i)}
	}
	return actors.TopList{Kind: q.Kind, Metric: q.Metric.Name, Window: q.Window, Items: items}, nil
}

// Questions that differ only in their limit share one query at the largest
// limit, and each gets the first limit items of it.
func TestTopLimitsShareOneQuery(t *testing.T) {
	store := &rankedRankings{}
	s := NewServer(Options{RequestTimeout: time.Second, Rankings: RankingOptions{Store: store, CacheTTL: time.Minute}}, nil, nil)
	plays, _ := actors.LookupRankMetric("content", "plays")
	for _, n := range []int{3, 100, 1, 10} {
		q := actors.TopQuery{Project: "p", Kind: "content", Metric: plays, Window: actors.Window24h, Limit: n}
		l, err := s.top(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != n {
			t.Fatalf("limit %d: %d items", n, len(l.Items))
		}
		for i, it := range l.Items {
			if want := fmt.Sprintf("i%03d", i); it.ID != want {
				t.Fatalf("limit %d: item %d is %s, want %s", n, i, it.ID, want)
			}
		}
		_ = append(l.Items, actors.TopItem{ID: "appended"}) // must not reach the cached list
	}
	if n := store.queries.Load(); n != 1 || len(store.limits) != 1 || store.limits[0] != actors.MaxTopLimit {
		t.Fatalf("%d queries with limits %v, want one at %d", n, store.limits, actors.MaxTopLimit)
	}
	l, _ := s.top(actors.TopQuery{Project: "p", Kind: "content", Metric: plays, Window: actors.Window24h, Limit: actors.MaxTopLimit})
	if l.Items[3].ID != "i003" {
		t.Fatalf("an append to a shorter answer reached the cached list: %+v", l.Items[3])
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
