package actors

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wantSink is an UpdateSink whose interest the test switches, recording what
// it is given.
type wantSink struct {
	wanted atomic.Bool
	mu     sync.Mutex // guards got
	got    []Update
}

func (s *wantSink) Wanted(ItemID) bool { return s.wanted.Load() }

func (s *wantSink) Publish(_ ItemID, u Update) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, u)
}

func (s *wantSink) updates() []Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Update(nil), s.got...)
}

// An update nobody wants is not published; once somebody listens, the next
// change publishes the whole state, including the changes nobody saw.
func TestUpdatesOnlyWhenWanted(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	sink := &wantSink{}
	in := startRegistryWith(t, l, s, Options{Partitions: 1, MailboxSize: 64, SnapshotInterval: time.Hour,
		IdleTimeout: time.Hour, Updates: sink, UpdateInterval: 0})
	k := ItemID{Project: "p", Item: "r"}

	in.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.1")), 1)
	in.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.2")), 2)
	if got := in.viewed(t, k); got != 2 { // the actor has applied both
		t.Fatalf("viewed = %d, want 2", got)
	}
	if got := sink.updates(); len(got) != 0 {
		t.Fatalf("%d updates published with nobody listening", len(got))
	}

	sink.wanted.Store(true)
	in.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.3")), 3)
	waitFor(t, "the update", func() bool { return len(sink.updates()) == 1 })
	u := sink.updates()[0]
	var sum RenderSummary
	if err := json.Unmarshal(u.Payload, &sum); err != nil {
		t.Fatal(err)
	}
	if u.Seq != 3 || sum.Counts.Viewed != 3 {
		t.Fatalf("update seq %d viewed %d, want 3 and 3", u.Seq, sum.Counts.Viewed)
	}

	sink.wanted.Store(false)
	in.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.4")), 4)
	if got := in.viewed(t, k); got != 4 {
		t.Fatalf("viewed = %d, want 4", got)
	}
	if got := sink.updates(); len(got) != 1 {
		t.Fatalf("%d updates, want still 1 after the listener left", len(got))
	}
}
