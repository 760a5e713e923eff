package actors

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memOutbox counts, per event id, the recorded render events actors hand
// over; its Flush fails while failing is set.
type memOutbox struct {
	mu      sync.Mutex
	got     map[string]int
	failing atomic.Bool
	flushes atomic.Int64
}

func newMemOutbox() *memOutbox { return &memOutbox{got: map[string]int{}} }

func (o *memOutbox) Wants(string) bool { return true }

func (o *memOutbox) Recorded(_ ItemID, m *Message, counted []bool) {
	render, _ := m.Verdicts(counted)
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, ev := range m.Render {
		if render[i] {
			o.got[ev.ID]++
		}
	}
}

func (o *memOutbox) Flush(context.Context) error {
	o.flushes.Add(1)
	if o.failing.Load() {
		return errors.New("webhook stream unavailable")
	}
	return nil
}

func (o *memOutbox) count(id string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.got[id]
}

// While the outbox cannot store what an applied message caused, no snapshot
// covers the message: an instance that dies then (here: stops with its
// final round failing too) leaves the message to be replayed, and the
// replay hands its recorded events over again. An event the dedupe dropped
// is never handed over.
func TestOutboxHoldsSnapshotsBack(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	k := ItemID{Project: "p", Item: "r"}
	ob := newMemOutbox()
	ob.failing.Store(true)
	opts := Options{Partitions: 1, MailboxSize: 64, SnapshotInterval: 10 * time.Millisecond, IdleTimeout: time.Hour, Outbox: ob}
	a := startRegistryWith(t, l, s, opts)
	first, again := viewedFrom("10.0.0.1"), viewedFrom("10.0.0.1")
	first.Render[0].ID, again.Render[0].ID = "e1", "e2"
	a.deliver(t, l, l.append(t, k, first), 1)
	a.deliver(t, l, l.append(t, k, again), 2)
	waitFor(t, "the claim", func() bool { return a.owns(k) })
	waitFor(t, "three rounds", func() bool { return ob.flushes.Load() >= 3 })
	if ob.count("e1") != 1 || ob.count("e2") != 0 {
		t.Fatalf("handed over e1 %d times, e2 %d times; want 1, 0", ob.count("e1"), ob.count("e2"))
	}
	a.stop()
	if n := s.saveCount(); n != 0 {
		t.Fatalf("%d snapshots written while the outbox failed", n)
	}

	ob2 := newMemOutbox()
	opts.Outbox = ob2
	b := startRegistryWith(t, l, s, opts)
	b.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.2")), 3)
	if got := b.viewed(t, k); got != 2 {
		t.Fatalf("viewed = %d after the restart, want 2", got)
	}
	if ob2.count("e1") != 1 || ob2.count("e2") != 0 {
		t.Fatalf("the replay handed over e1 %d times, e2 %d times; want 1, 0", ob2.count("e1"), ob2.count("e2"))
	}
	waitFor(t, "a snapshot once the outbox stores again", func() bool { return s.saveCount() > 0 })
}
