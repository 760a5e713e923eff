package httpapi

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// Lookups that arrive while a query is out share the next query; each
// caller gets its own item, and an id with no item is not found.
func TestItemLookupsShareQueries(t *testing.T) {
	var (
		mu      sync.Mutex
		queries int
		keys    int
	)
	first, release := make(chan struct{}), make(chan struct{})
	b := &itemBatcher{timeout: time.Second, get: func(_ context.Context, ks []actors.ItemID) (map[actors.ItemID]actors.Item, error) {
		mu.Lock()
		queries++
		keys += len(ks)
		n := queries
		mu.Unlock()
		if n == 1 {
			close(first)
			<-release
		}
		out := map[actors.ItemID]actors.Item{}
		for _, k := range ks {
			if k.Item != "none" {
				out[k] = actors.Item{ID: k.Item, ProjectID: k.Project, Kind: actors.RenderItem}
			}
		}
		return out, nil
	}}
	var wg sync.WaitGroup
	check := func(i int) {
		defer wg.Done()
		id := fmt.Sprintf("r%d", i)
		it, found, err := b.lookup(context.Background(), actors.ItemID{Project: "p", Item: id})
		if err != nil || !found || it.ID != id {
			t.Errorf("item %d: %+v %v %v", i, it, found, err)
		}
	}
	wg.Add(1)
	go check(0)
	<-first
	for i := 1; i < 50; i++ {
		wg.Add(1)
		go check(i)
	}
	for {
		b.mu.Lock()
		n := len(b.waiting)
		b.mu.Unlock()
		if n == 49 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if queries != 2 || keys != 50 {
		t.Fatalf("%d queries for %d keys, want 2 for 50", queries, keys)
	}
	if _, found, err := b.lookup(context.Background(), actors.ItemID{Project: "p", Item: "none"}); found || err != nil {
		t.Fatalf("unknown id: found %v, err %v", found, err)
	}
}
