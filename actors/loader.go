package actors

import (
	"context"
	"sync"
)

// loader batches the snapshot loads of concurrent activations: a burst of
// new items (a partition consumer delivering the first events of hundreds
// of them) costs a few queries instead of one each. It has no goroutine or
// timer of its own: a caller that finds no query out runs one, for every
// load waiting; callers that come meanwhile wait, and when that query
// returns the first of them runs the next, so batches grow with the load
// and each caller runs at most one.
type loader struct {
	store SnapshotStore

	mu      sync.Mutex // guards the fields below
	waiting []*load
	running bool // a query is out; waiting[0] runs the next
}

// maxBatch bounds one query's keys.
const maxBatch = 512

type load struct {
	key   ItemID
	snap  Snapshot
	found bool
	err   error
	lead  chan struct{} // closed when this caller is to run the next query
	done  chan struct{} // closed when snap, found and err are set
}

// load returns the newest snapshot of k. It waits for the query that
// covers k whatever ctx does, because its caller may be the one to run it;
// that query is bounded by activationTimeout.
func (l *loader) load(ctx context.Context, k ItemID) (Snapshot, bool, error) {
	req := &load{key: k, lead: make(chan struct{}), done: make(chan struct{})}
	l.mu.Lock()
	l.waiting = append(l.waiting, req)
	if !l.running {
		l.running = true
		close(req.lead)
	}
	l.mu.Unlock()
	select {
	case <-req.lead:
		l.query(ctx)
	case <-req.done:
	}
	<-req.done
	return req.snap, req.found, req.err
}

// query loads the snapshots of up to maxBatch waiting callers, this one
// first, and hands the next query to whoever waits then.
func (l *loader) query(ctx context.Context) {
	l.mu.Lock()
	batch := l.waiting[:min(len(l.waiting), maxBatch)]
	l.waiting = l.waiting[len(batch):]
	l.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), activationTimeout)
	defer cancel()
	keys := make([]ItemID, len(batch))
	for i, req := range batch {
		keys[i] = req.key
	}
	snaps, err := l.store.LoadSnapshots(ctx, keys)
	for _, req := range batch {
		req.snap, req.found = snaps[req.key]
		req.err = err
		close(req.done)
	}

	l.mu.Lock()
	if len(l.waiting) > 0 {
		close(l.waiting[0].lead)
	} else {
		l.running = false
	}
	l.mu.Unlock()
}
