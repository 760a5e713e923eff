package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingStore counts the keys LoadSnapshots was asked for.
type countingStore struct {
	*memStore
	mu   sync.Mutex
	keys int
}

func (s *countingStore) LoadSnapshots(ctx context.Context, keys []ItemID) (map[ItemID]Snapshot, error) {
	s.mu.Lock()
	s.keys += len(keys)
	s.mu.Unlock()
	return s.memStore.LoadSnapshots(ctx, keys)
}

// An item without a snapshot activates without a snapshot load once its
// partition's known set is in, whatever its family, and counts exactly; an
// item saved before the claim (by an earlier owner) or by this process
// loads its snapshot.
func TestUnsavedItemActivatesWithoutLoad(t *testing.T) {
	s := &countingStore{memStore: newMemStore()}
	l := newMemLog()
	o := Options{Partitions: 1, MailboxSize: 64, SnapshotInterval: time.Hour, IdleTimeout: time.Nanosecond}
	earlier := ItemID{Project: "p", Item: "earlier"}
	// An earlier owner saves earlier's snapshot and stops.
	a := startRegistryWith(t, l, s.memStore, o)
	a.deliver(t, l, l.append(t, earlier, viewedFrom("10.9.0.1")), 1)
	waitFor(t, "the first claim", func() bool { return a.owns(earlier) })
	a.round(context.Background(), false)
	a.stop()

	b := &instance{Registry: NewRegistry(o, s, l)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx, 5*time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	b.deliver(t, l, l.append(t, ItemID{Project: "p", Item: "first"}, viewedFrom("10.0.0.1")), 1)
	waitFor(t, "the claim and its known set", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		ks := b.known[0]
		return ks != nil && ks.loaded
	})
	loads := func() int { s.mu.Lock(); defer s.mu.Unlock(); return s.keys }
	submit := func(k ItemID, i int) {
		t.Helper()
		sub := &Submission{Key: k, MsgID: fmt.Sprintf("%s-%d", k.Item, i), Msg: viewedFrom(fmt.Sprintf("10.1.0.%d", i))}
		if err := b.Submit(context.Background(), sub); err != nil { // the verdict comes from a catch-up after ownerGrace
			t.Fatal(err)
		}
	}
	fresh := ItemID{Project: "p", Item: "fresh"}
	if !b.unsaved(fresh) || b.unsaved(earlier) {
		t.Fatalf("unsaved: fresh %v, earlier %v; want true, false", b.unsaved(fresh), b.unsaved(earlier))
	}
	before := loads()
	submit(fresh, 1)
	if got := loads(); got != before {
		t.Fatalf("%d snapshot loads for an item without a snapshot, want none", got-before)
	}
	if got := b.viewed(t, fresh); got != 1 {
		t.Fatalf("viewed = %d, want 1", got)
	}
	// Saved by the earlier owner: the activation loads it.
	before = loads()
	if got := b.viewed(t, earlier); got != 1 {
		t.Fatalf("earlier viewed = %d, want 1", got)
	}
	if got := loads(); got == before {
		t.Fatal("no snapshot load for an item an earlier owner saved")
	}
	// Saved (and passivated) by this process: the next activation loads.
	b.round(context.Background(), false)
	if b.unsaved(fresh) {
		t.Fatal("an item this process saved is still unsaved")
	}
	before = loads()
	submit(fresh, 2)
	if got := loads(); got == before {
		t.Fatal("no snapshot load for an item this process saved")
	}
	if got := b.viewed(t, fresh); got != 2 {
		t.Fatalf("viewed = %d, want 2", got)
	}
	// Another instance claims the partition: this one forgets the set, and
	// its activations load again.
	if _, err := s.ClaimPartition(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	b.round(context.Background(), false)
	if b.unsaved(ItemID{Project: "p", Item: "other"}) {
		t.Fatal("an item of a partition this instance lost counts as unsaved")
	}
}

// failingStore refuses snapshot writes while down, as Postgres in an outage.
type failingStore struct {
	*memStore
	down atomic.Bool
}

func (s *failingStore) SaveSnapshots(ctx context.Context, part int, epoch int64, snaps []Snapshot) error {
	if s.down.Load() {
		return errors.New("database unavailable")
	}
	return s.memStore.SaveSnapshots(ctx, part, epoch, snaps)
}

// An idle actor whose snapshot cannot be written stays live (its item keeps
// being served without Postgres) and is passivated once the write succeeds.
func TestIdleActorStaysWhileSnapshotsFail(t *testing.T) {
	l, s := newMemLog(), &failingStore{memStore: newMemStore()}
	k := ItemID{Project: "p", Item: "r"}
	r := NewRegistry(Options{Partitions: 1, MailboxSize: 64, SnapshotInterval: time.Hour, IdleTimeout: time.Nanosecond}, s, l)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx, 5*time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	in := &instance{Registry: r}
	in.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.1")), 1)
	waitFor(t, "the claim", func() bool { return r.owns(k) })
	s.down.Store(true)
	r.round(context.Background(), false)
	if r.Live() != 1 {
		t.Fatalf("%d live actors after a failed write, want 1", r.Live())
	}
	if got := in.viewed(t, k); got != 1 {
		t.Fatalf("viewed = %d, want 1", got)
	}
	s.down.Store(false)
	r.round(context.Background(), false)
	if r.Live() != 0 {
		t.Fatalf("%d live actors after the write succeeded, want 0", r.Live())
	}
}
