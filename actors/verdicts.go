package actors

import (
	"sync"
	"sync/atomic"
)

// verdicts connects a request that published a log message to the actor
// that applies it: Submit registers the message's reference (Message.Ref)
// before publishing, and the actor delivers the outcome of each of the
// message's events after applying it, on whichever code path applies it (a
// partition consumer's delivery, an activation, a catch-up). The map is
// empty most of the time a replay runs, so the atomic count keeps the
// actor's path lock-free then.
type verdicts struct {
	n  atomic.Int64
	mu sync.Mutex // guards m
	m  map[string]chan []bool
}

func (v *verdicts) expect(ref string) chan []bool {
	ch := make(chan []bool, 1)
	v.mu.Lock()
	if v.m == nil {
		v.m = make(map[string]chan []bool)
	}
	v.m[ref] = ch
	v.mu.Unlock()
	v.n.Add(1)
	return ch
}

func (v *verdicts) forget(ref string) {
	v.mu.Lock()
	if _, ok := v.m[ref]; ok {
		delete(v.m, ref)
		v.n.Add(-1)
	}
	v.mu.Unlock()
}

// waiting reports whether a request waits for the verdicts of message ref.
func (v *verdicts) waiting(ref string) bool {
	if ref == "" || v.n.Load() == 0 {
		return false
	}
	v.mu.Lock()
	_, ok := v.m[ref]
	v.mu.Unlock()
	return ok
}

func (v *verdicts) deliver(ref string, out []bool) {
	v.mu.Lock()
	ch, ok := v.m[ref]
	v.mu.Unlock()
	if ok {
		select {
		case ch <- out:
		default: // a redelivery after the first verdict; the first one stands
		}
	}
}
