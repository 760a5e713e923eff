// Package coalesce batches the concurrent lookups of one kind into few
// queries: a burst of callers each asking for one key (the snapshots of
// items activating at once)
// costs a few round trips instead of one each. Only worth it for a query
// whose cost grows slowly with its keys: item lookups batched this way
// (unnest join, or = ANY lists) were planned as scans and cut first events
// from 3,400 to 360-800/s, so they stay one indexed query each.
//
// A Group has no goroutine or timer of its own. A caller that finds no
// query out runs one, for every key waiting; callers that come meanwhile
// wait, and when that query returns the first of them runs the next, so
// batches grow with the load, a lone caller pays no delay, and each caller
// runs at most one query.
package coalesce

import (
	"context"
	"sync"
	"time"
)

// Group coalesces calls of Fetch. The zero value is not usable; see New.
type Group[K comparable, V any] struct {
	fetch   func(ctx context.Context, keys []K) (map[K]V, error)
	max     int
	timeout time.Duration

	mu      sync.Mutex // guards the fields below
	waiting []*call[K, V]
	running bool // a query is out; waiting[0] runs the next
}

type call[K comparable, V any] struct {
	key   K
	val   V
	found bool
	err   error
	lead  chan struct{} // closed when this caller is to run the next query
	done  chan struct{} // closed when val, found and err are set
}

// New returns a Group whose queries fetch up to max keys at a time (a key
// may repeat in one batch) and return the values found, each query bounded
// by timeout whatever its caller's context does: other callers wait for it.
func New[K comparable, V any](max int, timeout time.Duration, fetch func(ctx context.Context, keys []K) (map[K]V, error)) *Group[K, V] {
	return &Group[K, V]{fetch: fetch, max: max, timeout: timeout}
}

// Get returns k's value, whether the query found it, or the query's error.
// It waits for the query that covers k whatever ctx does, because its
// caller may be the one to run it.
func (g *Group[K, V]) Get(ctx context.Context, k K) (V, bool, error) {
	c := &call[K, V]{key: k, lead: make(chan struct{}), done: make(chan struct{})}
	g.mu.Lock()
	g.waiting = append(g.waiting, c)
	if !g.running {
		g.running = true
		close(c.lead)
	}
	g.mu.Unlock()
	select {
	case <-c.lead:
		g.query(ctx)
	case <-c.done:
	}
	<-c.done
	return c.val, c.found, c.err
}

// query fetches the keys of up to max waiting callers, this one first, and
// hands the next query to whoever waits then.
func (g *Group[K, V]) query(ctx context.Context) {
	g.mu.Lock()
	batch := g.waiting[:min(len(g.waiting), g.max)]
	g.waiting = g.waiting[len(batch):]
	g.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
	defer cancel()
	keys := make([]K, len(batch))
	for i, c := range batch {
		keys[i] = c.key
	}
	vals, err := g.fetch(ctx, keys)
	for _, c := range batch {
		c.val, c.found = vals[c.key]
		c.err = err
		close(c.done)
	}

	g.mu.Lock()
	if len(g.waiting) > 0 {
		close(g.waiting[0].lead)
	} else {
		g.running = false
	}
	g.mu.Unlock()
}
