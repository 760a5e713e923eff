package actors

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// countingStore counts LoadSnapshots calls and the keys they carry.
type countingStore struct {
	*memStore
	mu           sync.Mutex
	calls, keys  int
	block, ready chan struct{} // the first call waits on block after closing ready
}

func (s *countingStore) LoadSnapshots(ctx context.Context, keys []ItemID) (map[ItemID]Snapshot, error) {
	s.mu.Lock()
	s.calls++
	s.keys += len(keys)
	first := s.calls == 1
	s.mu.Unlock()
	if first {
		close(s.ready)
		<-s.block
	}
	return s.memStore.LoadSnapshots(ctx, keys)
}

// Loads that arrive while a query is out share the next query, and every
// caller gets its own item's snapshot.
func TestLoaderBatchesConcurrentLoads(t *testing.T) {
	ms := newMemStore()
	for i := 0; i < 100; i++ {
		k := ItemID{Project: "p", Item: fmt.Sprintf("i%d", i)}
		ms.snaps[k] = Snapshot{Key: k, Seq: uint64(i + 1)}
	}
	s := &countingStore{memStore: ms, block: make(chan struct{}), ready: make(chan struct{})}
	l := &loader{store: s}
	var wg sync.WaitGroup
	check := func(i int) {
		defer wg.Done()
		snap, found, err := l.load(context.Background(), ItemID{Project: "p", Item: fmt.Sprintf("i%d", i)})
		if err != nil || !found || snap.Seq != uint64(i+1) {
			t.Errorf("item %d: %+v %v %v", i, snap, found, err)
		}
	}
	wg.Add(1)
	go check(0)
	<-s.ready // the first query is out
	for i := 1; i < 100; i++ {
		wg.Add(1)
		go check(i)
	}
	for {
		l.mu.Lock()
		n := len(l.waiting)
		l.mu.Unlock()
		if n == 99 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(s.block)
	wg.Wait()
	if s.calls != 2 || s.keys != 100 {
		t.Fatalf("%d queries for %d keys, want 2 for 100", s.calls, s.keys)
	}
	if _, found, _ := l.load(context.Background(), ItemID{Project: "p", Item: "none"}); found {
		t.Fatal("found a snapshot never written")
	}
}
