package actors

import (
	"sync"
	"sync/atomic"
)

// verdicts connects a request that published an event to the actor that
// applies it: the request registers the event id before publishing, the actor
// delivers the outcome after applying. The map is empty most of the time a
// replay runs, so the atomic count keeps the actor's path lock-free then.
type verdicts struct {
	n  atomic.Int64
	mu sync.Mutex // guards m
	m  map[string]chan bool
}

func (v *verdicts) expect(id string) chan bool {
	ch := make(chan bool, 1)
	v.mu.Lock()
	if v.m == nil {
		v.m = make(map[string]chan bool)
	}
	v.m[id] = ch
	v.mu.Unlock()
	v.n.Add(1)
	return ch
}

func (v *verdicts) forget(id string) {
	v.mu.Lock()
	if _, ok := v.m[id]; ok {
		delete(v.m, id)
		v.n.Add(-1)
	}
	v.mu.Unlock()
}

func (v *verdicts) deliver(id string, recorded bool) {
	if v.n.Load() == 0 {
		return
	}
	v.mu.Lock()
	ch, ok := v.m[id]
	v.mu.Unlock()
	if ok {
		select {
		case ch <- recorded:
		default: // a redelivery after the first verdict; the first one stands
		}
	}
}
