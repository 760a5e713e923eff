package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
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

// A render created after this instance claimed its partition activates
// without a snapshot load, and counts exactly; once this process wrote its
// snapshot (and passivated it), or for a render older than the claim, the
// activation loads.
func TestFreshRenderActivatesWithoutLoad(t *testing.T) {
	ms := newMemStore()
	s := &countingStore{memStore: ms}
	l := newMemLog()
	first := ItemID{Project: "p", Item: "first"}
	r := NewRegistry(Options{Partitions: 1, MailboxSize: 64, SnapshotInterval: time.Hour, IdleTimeout: time.Nanosecond, LogMaxAge: time.Hour}, s, l)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx, 5*time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	deliver := func(seq, cseq uint64) {
		t.Helper()
		k, m := l.message(t, seq)
		if err := r.Deliver(context.Background(), k, Delivery{Seq: seq, ConsumerSeq: cseq}, m, func() {}); err != nil {
			t.Fatal(err)
		}
	}
	viewed := func(k ItemID) int64 { t.Helper(); return (&instance{Registry: r}).viewed(t, k) }
	// The claim: a delivery of an earlier item.
	deliver(l.append(t, first, viewedFrom("10.0.0.1")), 1)
	waitFor(t, "the claim", func() bool { return r.owns(first) })
	r.mu.Lock()
	r.claimedAt[0] = time.Now().Add(-time.Minute) // claimed a minute ago: new renders are past the margin
	r.mu.Unlock()
	loads := func() int { s.mu.Lock(); defer s.mu.Unlock(); return s.keys }
	submit := func(k ItemID, i int) {
		t.Helper()
		sub := &Submission{Key: k, MsgID: fmt.Sprintf("%s-%d", k.Item, i), Msg: viewedFrom(fmt.Sprintf("10.1.0.%d", i))}
		if err := r.Submit(context.Background(), sub); err != nil { // the verdict comes from a catch-up after ownerGrace
			t.Fatal(err)
		}
	}
	fresh := ItemID{Project: "p", Item: uuid.Must(uuid.NewV7()).String()}
	before := loads()
	if !r.fresh(fresh, &Message{Render: viewedFrom("x").Render}) {
		t.Fatal("a render created after the claim is not fresh")
	}
	submit(fresh, 1)
	if got := loads(); got != before {
		t.Fatalf("%d snapshot loads for a fresh render, want none", got-before)
	}
	if got := viewed(fresh); got != 1 {
		t.Fatalf("viewed = %d, want 1", got)
	}
	// Snapshotted and passivated by this process: the next activation loads.
	r.round(context.Background(), false)
	if r.fresh(fresh, &Message{Render: viewedFrom("x").Render}) {
		t.Fatal("a render this process saved is still fresh")
	}
	before = loads()
	submit(fresh, 2)
	if got := loads(); got == before {
		t.Fatal("no snapshot load for a render this process saved")
	}
	if got := viewed(fresh); got != 2 {
		t.Fatalf("viewed = %d, want 2", got)
	}
	// Content items, non-UUIDv7 ids and renders older than the claim are never fresh.
	for _, tc := range []struct {
		k ItemID
		m *Message
	}{
		{ItemID{Project: "p", Item: "cnt_1"}, &Message{Render: viewedFrom("x").Render}},
		{ItemID{Project: "p", Item: uuid.Must(uuid.NewRandom()).String()}, &Message{Render: viewedFrom("x").Render}},
		{ItemID{Project: "p", Item: uuid.Must(uuid.NewV7()).String()}, &Message{Content: []ContentEvent{{}}}},
	} {
		if r.fresh(tc.k, tc.m) {
			t.Errorf("%s is fresh", tc.k)
		}
	}
	r.mu.Lock()
	r.claimedAt[0] = time.Now().Add(time.Minute)
	r.mu.Unlock()
	if r.fresh(ItemID{Project: "p", Item: uuid.Must(uuid.NewV7()).String()}, &Message{Render: viewedFrom("x").Render}) {
		t.Error("a render older than the claim is fresh")
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
