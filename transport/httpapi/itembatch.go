package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// itemBatcher batches the item lookups of concurrent requests that missed
// the item cache: a burst of first events on new items costs a few queries
// instead of one each (issue 18's first-touch profile: half the requests
// waited for a Postgres connection to look their item up). Like the actors'
// snapshot loader it has no goroutine or timer of its own: a caller that
// finds no query out runs one for every lookup waiting; callers that come
// meanwhile wait, and the first of them runs the next.
type itemBatcher struct {
	get     func(ctx context.Context, keys []actors.ItemID) (map[actors.ItemID]actors.Item, error)
	timeout time.Duration // bounds a query, which other callers wait for

	mu      sync.Mutex // guards the fields below
	waiting []*itemLookup
	running bool
}

// maxItemBatch bounds one query's keys.
const maxItemBatch = 512

type itemLookup struct {
	key   actors.ItemID
	it    actors.Item
	found bool
	err   error
	lead  chan struct{} // closed when this caller is to run the next query
	done  chan struct{} // closed when it, found and err are set
}

// lookup returns item k, or found false if none is registered. It waits for
// the query that covers k whatever ctx does, because its caller may be the
// one to run it; the query is bounded by b.timeout, not by the runner's ctx.
func (b *itemBatcher) lookup(ctx context.Context, k actors.ItemID) (actors.Item, bool, error) {
	req := &itemLookup{key: k, lead: make(chan struct{}), done: make(chan struct{})}
	b.mu.Lock()
	b.waiting = append(b.waiting, req)
	if !b.running {
		b.running = true
		close(req.lead)
	}
	b.mu.Unlock()
	select {
	case <-req.lead:
		b.query(ctx)
	case <-req.done:
	}
	<-req.done
	return req.it, req.found, req.err
}

func (b *itemBatcher) query(ctx context.Context) {
	b.mu.Lock()
	batch := b.waiting[:min(len(b.waiting), maxItemBatch)]
	b.waiting = b.waiting[len(batch):]
	b.mu.Unlock()

	keys := make([]actors.ItemID, len(batch))
	for i, req := range batch {
		keys[i] = req.key
	}
	timeout := b.timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	items, err := b.get(ctx, keys)
	cancel()
	for _, req := range batch {
		req.it, req.found = items[req.key]
		req.err = err
		close(req.done)
	}

	b.mu.Lock()
	if len(b.waiting) > 0 {
		close(b.waiting[0].lead)
	} else {
		b.running = false
	}
	b.mu.Unlock()
}
