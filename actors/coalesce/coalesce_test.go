package coalesce

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Calls that arrive while a query is out share the next query, and every
// caller gets its own key's value; a key the query does not find is not
// found, and a query's error reaches every caller of its batch.
func TestGroupBatchesConcurrentCalls(t *testing.T) {
	var mu sync.Mutex
	calls, keys := 0, 0
	block, ready := make(chan struct{}), make(chan struct{})
	fail := false
	g := New(512, time.Minute, func(ctx context.Context, ks []string) (map[string]int, error) {
		mu.Lock()
		calls++
		keys += len(ks)
		first, failing := calls == 1, fail
		mu.Unlock()
		if first {
			close(ready)
			<-block
		}
		if failing {
			return nil, errors.New("down")
		}
		out := map[string]int{}
		for _, k := range ks {
			var n int
			if _, err := fmt.Sscanf(k, "i%d", &n); err == nil {
				out[k] = n
			}
		}
		return out, nil
	})
	var wg sync.WaitGroup
	check := func(i int) {
		defer wg.Done()
		v, found, err := g.Get(context.Background(), fmt.Sprintf("i%d", i))
		if err != nil || !found || v != i {
			t.Errorf("key %d: %v %v %v", i, v, found, err)
		}
	}
	wg.Add(1)
	go check(0)
	<-ready // the first query is out
	for i := 1; i < 100; i++ {
		wg.Add(1)
		go check(i)
	}
	for {
		g.mu.Lock()
		n := len(g.waiting)
		g.mu.Unlock()
		if n == 99 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(block)
	wg.Wait()
	if calls != 2 || keys != 100 {
		t.Fatalf("%d queries for %d keys, want 2 for 100", calls, keys)
	}
	if _, found, err := g.Get(context.Background(), "none"); found || err != nil {
		t.Fatalf("a key never stored: found %v, err %v", found, err)
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	if _, _, err := g.Get(context.Background(), "i1"); err == nil {
		t.Fatal("the query's error did not reach its caller")
	}
}
