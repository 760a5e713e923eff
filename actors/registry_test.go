package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The registry's lifecycle rules against small in-memory ports: activation,
// catch-up, delivery sessions, Submit's verdicts, passivation and fencing.
// The same rules run against real JetStream and Postgres in cmd/engaged.

// memLog is an in-memory Log: one stream, one subject per item.
type memLog struct {
	mu   sync.Mutex // guards the fields below
	msgs []memMsg   // msgs[i] has sequence i+1
	ids  map[string]uint64
}

type memMsg struct {
	key     ItemID
	payload []byte
}

func newMemLog() *memLog { return &memLog{ids: map[string]uint64{}} }

func (l *memLog) Publish(k ItemID, msgID string, payload []byte) (func(context.Context) (uint64, bool, error), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq, ok := l.ids[msgID]; ok {
		return func(context.Context) (uint64, bool, error) { return seq, true, nil }, nil
	}
	l.msgs = append(l.msgs, memMsg{key: k, payload: payload})
	seq := uint64(len(l.msgs))
	l.ids[msgID] = seq
	return func(context.Context) (uint64, bool, error) { return seq, false, nil }, nil
}

// append stores m on k's subject as if another instance published it and
// returns its sequence.
func (l *memLog) append(t *testing.T, k ItemID, m Message) uint64 {
	t.Helper()
	m.Ref = newRef()
	b, _ := m.Encode()
	wait, _ := l.Publish(k, m.Ref, b)
	seq, _, _ := wait(context.Background())
	return seq
}

func (l *memLog) message(t *testing.T, seq uint64) (ItemID, *Message) {
	t.Helper()
	l.mu.Lock()
	mm := l.msgs[seq-1]
	l.mu.Unlock()
	m, err := DecodeMessage(mm.payload)
	if err != nil {
		t.Fatal(err)
	}
	return mm.key, m
}

func (l *memLog) Replay(ctx context.Context, k ItemID, after, through uint64, fn func(uint64, *Message)) error {
	l.mu.Lock()
	msgs := l.msgs
	l.mu.Unlock()
	if through > uint64(len(msgs)) {
		return fmt.Errorf("sequence %d not stored", through)
	}
	if through == 0 {
		through = uint64(len(msgs))
	}
	for seq := after + 1; seq <= through; seq++ {
		if msgs[seq-1].key != k {
			continue
		}
		m, err := DecodeMessage(msgs[seq-1].payload)
		if err != nil {
			return err
		}
		fn(seq, m)
	}
	return nil
}

// memStore is an in-memory SnapshotStore shared by the "instances" of a test.
type memStore struct {
	mu     sync.Mutex // guards the fields below
	snaps  map[ItemID]Snapshot
	epochs map[int]int64
	saves  int
	rows   []SeriesRows // the series rows of each write, in order
}

func newMemStore() *memStore { return &memStore{snaps: map[ItemID]Snapshot{}, epochs: map[int]int64{}} }

func (s *memStore) LoadSnapshots(_ context.Context, keys []ItemID) (map[ItemID]Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[ItemID]Snapshot{}
	for _, k := range keys {
		if snap, ok := s.snaps[k]; ok {
			out[k] = snap
		}
	}
	return out, nil
}

func (s *memStore) SnapshotKeys(_ context.Context, part int) ([]ItemID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ItemID
	for k := range s.snaps { // every partition's: the registry filters, as with rows of unknown partition
		out = append(out, k)
	}
	return out, nil
}

func (s *memStore) saveCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

func (s *memStore) Epochs(context.Context) (map[int]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]int64{}
	for p, e := range s.epochs {
		out[p] = e
	}
	return out, nil
}

func (s *memStore) ClaimPartition(_ context.Context, part int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epochs[part]++
	return s.epochs[part], nil
}

func (s *memStore) SaveSnapshots(_ context.Context, part int, epoch int64, snaps []Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epochs[part] != epoch {
		return ErrFenced
	}
	for _, snap := range snaps {
		if len(snap.Series.Hours)+len(snap.Series.Days) > 0 {
			s.rows = append(s.rows, snap.Series)
		}
		if old, ok := s.snaps[snap.Key]; !ok || old.Seq <= snap.Seq { // equal: an erasure's scrub (Registry.Persist)
			s.snaps[snap.Key] = snap
			s.saves++
		}
	}
	return nil
}

// instance is one registry over the shared log and store, with Run going.
type instance struct {
	*Registry
	stop func()
}

func startRegistry(t *testing.T, l *memLog, s *memStore, idle time.Duration) *instance {
	t.Helper()
	return startRegistryWith(t, l, s, Options{Partitions: 1, MailboxSize: 64, SnapshotInterval: time.Hour, IdleTimeout: idle})
}

func startRegistryWith(t *testing.T, l *memLog, s *memStore, o Options) *instance {
	t.Helper()
	r := NewRegistry(o, s, l)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx, 5*time.Second) }()
	in := &instance{Registry: r}
	var once sync.Once
	in.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(in.stop)
	return in
}

// deliver hands message seq to r as its partition consumer would, with the
// consumer's delivery sequence cseq.
func (in *instance) deliver(t *testing.T, l *memLog, seq, cseq uint64) {
	t.Helper()
	k, m := l.message(t, seq)
	if err := in.Deliver(context.Background(), k, Delivery{Seq: seq, ConsumerSeq: cseq}, m, func() {}); err != nil {
		t.Fatal(err)
	}
}

func (in *instance) viewed(t *testing.T, k ItemID) int64 {
	t.Helper()
	b, err := in.ReadJSON(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	var sum RenderSummary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	return sum.Counts.Viewed
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !f(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func viewedFrom(ip string) Message {
	return Message{Render: []RenderEvent{ev("", Viewed, "", ip, 0)}}
}

// An actor never applies a delivered message past a gap in its item's log:
// here it was built from the log while another instance owned the
// partition, and messages of its item went to that instance before the
// partition moved here. It catches up from the log instead of skipping them.
func TestDeliveryAfterOwnershipMoveCatchesUp(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	k := ItemID{Project: "p", Item: "r"}
	l.append(t, k, viewedFrom("10.0.0.1"))
	a := startRegistry(t, l, s, time.Hour)
	if got := a.viewed(t, k); got != 1 { // a non-owner: the read catches up from the log
		t.Fatalf("viewed = %d before the move, want 1", got)
	}
	// Two events the other owner consumed, then the partition moves here
	// and its consumer delivers the next one.
	l.append(t, k, viewedFrom("10.0.0.2"))
	l.append(t, k, viewedFrom("10.0.0.3"))
	a.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.4")), 40)
	waitFor(t, "the claim", func() bool { return a.owns(k) })
	if got := a.viewed(t, k); got != 4 {
		t.Fatalf("viewed = %d after the move, want 4 (the gap skipped)", got)
	}
	// Deliveries that follow one another apply directly; a jump in the
	// consumer sequence (deliveries went elsewhere) catches up again.
	a.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.5")), 41)
	l.append(t, k, viewedFrom("10.0.0.6")) // delivered elsewhere as 42
	a.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.7")), 43)
	if got := a.viewed(t, k); got != 7 {
		t.Fatalf("viewed = %d after a session gap, want 7", got)
	}
	// The partition leaves and comes back without another delivery of
	// this item: a read still sees what the other owner took meanwhile.
	l.append(t, k, viewedFrom("10.0.0.8")) // delivered elsewhere as 44
	other := ItemID{Project: "p", Item: "other"}
	a.deliver(t, l, l.append(t, other, viewedFrom("10.0.0.1")), 45)
	if got := a.viewed(t, k); got != 8 {
		t.Fatalf("viewed = %d after the partition came back, want 8", got)
	}
	// The snapshot written by the new owner is exact, so an instance that
	// starts from it counts the same.
	a.stop()
	b := startRegistry(t, l, s, time.Hour)
	if got := b.viewed(t, k); got != 8 {
		t.Fatalf("viewed = %d after a restart, want 8", got)
	}
}

// Submit decides a request's verdicts from the log position of its own
// message: on an instance that owns nothing, the actor catches up through
// that sequence; dedupe holds across messages other instances published.
func TestSubmitVerdicts(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	k := ItemID{Project: "p", Item: "r"}
	r := startRegistry(t, l, s, time.Hour)
	l.append(t, k, viewedFrom("10.0.0.1")) // another instance's
	submit := func(msgID, ip string) *Submission {
		t.Helper()
		sub := &Submission{Key: k, MsgID: msgID, Msg: viewedFrom(ip)}
		sub.Msg.Render[0].ID = msgID
		if err := r.Submit(context.Background(), sub); err != nil {
			t.Fatal(err)
		}
		return sub
	}
	for _, tc := range []struct {
		name, msgID, ip string
		counted, dup    bool
	}{
		{"new viewer", "e1", "10.0.0.2", true, false},
		{"same viewer as another instance's event", "e2", "10.0.0.1", false, false},
		{"retried publish", "e1", "10.0.0.2", false, true},
	} {
		sub := submit(tc.msgID, tc.ip)
		if sub.Duplicate != tc.dup || (!tc.dup && sub.Counted[0] != tc.counted) {
			t.Errorf("%s: counted %v duplicate %v, want %v %v", tc.name, sub.Counted, sub.Duplicate, tc.counted, tc.dup)
		}
	}
	if got := r.viewed(t, k); got != 2 {
		t.Fatalf("viewed = %d, want 2", got)
	}
}

// Idle actors are snapshotted and passivated; a new activation starts from
// the snapshot and replays only what follows it.
func TestPassivateAndReactivate(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	k := ItemID{Project: "p", Item: "r"}
	r := startRegistry(t, l, s, time.Nanosecond)
	for i := 1; i <= 3; i++ {
		r.deliver(t, l, l.append(t, k, viewedFrom(fmt.Sprintf("10.0.0.%d", i))), uint64(i))
	}
	waitFor(t, "the claim", func() bool { return r.owns(k) })
	// Deliver only enqueues: read through the actor so that it has served
	// the three messages before the round reads its clock (else its last
	// activity can postdate the round's, and it is not idle yet: this
	// failed about 1 run in 150 on a loaded machine).
	if got := r.viewed(t, k); got != 3 {
		t.Fatalf("viewed = %d before the round, want 3", got)
	}
	r.round(context.Background(), false)
	if r.Live() != 0 {
		t.Fatalf("%d live actors after an idle round, want 0", r.Live())
	}
	snaps, _ := s.LoadSnapshots(context.Background(), []ItemID{k})
	if snap, ok := snaps[k]; !ok || snap.Seq != 3 {
		t.Fatalf("snapshot %+v found %v, want seq 3", snap, ok)
	}
	l.append(t, k, viewedFrom("10.0.0.4"))
	if got := r.viewed(t, k); got != 4 { // the snapshot (3) and the log after it
		t.Fatalf("viewed = %d, want 4", got)
	}
	r.deliver(t, l, 4, 4) // the consumer's delivery of what the activation replayed
	if got := r.viewed(t, k); got != 4 {
		t.Fatalf("viewed = %d after the delivery, want 4", got)
	}
}

// An instance whose partition another instance claimed gives it up at the
// next round without writing: the newer owner's snapshots win. Its actors
// stay, exact, and reads catch them up from the log. (The consumer
// delivered here since the last round, so it then claims the partition
// back under a newer epoch: TestDeposedOwnerWithDeliveriesClaimsAgain.)
func TestFencedOwnerDropsItsActors(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	k := ItemID{Project: "p", Item: "r"}
	r := startRegistry(t, l, s, time.Hour)
	r.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.1")), 1)
	waitFor(t, "the claim", func() bool { return r.owns(k) })
	if _, err := s.ClaimPartition(context.Background(), 0); err != nil { // another instance
		t.Fatal(err)
	}
	r.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.2")), 2)
	saves := s.saveCount()
	r.mu.Lock()
	deposed := r.epochs[0]
	r.mu.Unlock()
	r.round(context.Background(), false)
	if s.saveCount() != saves {
		t.Fatal("a fenced owner wrote a snapshot")
	}
	r.mu.Lock()
	epoch, owned := r.epochs[0]
	r.mu.Unlock()
	if owned && epoch == deposed {
		t.Fatal("the partition is still owned under the deposed epoch after the round")
	}
	l.append(t, k, viewedFrom("10.0.0.3")) // the new owner's
	if got := r.viewed(t, k); got != 3 {
		t.Fatalf("viewed = %d, want 3", got)
	}
}

// Past MaxLive, a round passivates the least recently active actors, after
// writing their snapshots; what they counted comes back on the next read.
func TestMaxLivePassivatesLeastRecentlyUsed(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	r := startRegistryWith(t, l, s, Options{Partitions: 1, MailboxSize: 64, SnapshotInterval: time.Hour, IdleTimeout: time.Hour, MaxLive: 2})
	items := make([]ItemID, 5)
	for i := range items {
		items[i] = ItemID{Project: "p", Item: fmt.Sprintf("r%d", i)}
		r.deliver(t, l, l.append(t, items[i], viewedFrom("10.0.0.1")), uint64(i+1))
	}
	waitFor(t, "the claim", func() bool { return r.owns(items[0]) })
	for _, k := range items[3:] { // the two used last
		time.Sleep(2 * time.Millisecond)
		r.viewed(t, k)
	}
	r.round(context.Background(), false)
	if r.Live() != 2 {
		t.Fatalf("%d live actors after the round, want 2", r.Live())
	}
	r.mu.Lock()
	for _, k := range items[3:] {
		if r.items[k] == nil {
			t.Errorf("%v, among the most recently used, was passivated", k)
		}
	}
	r.mu.Unlock()
	for _, k := range items {
		if got := r.viewed(t, k); got != 1 {
			t.Fatalf("%v: viewed = %d after passivation, want 1", k, got)
		}
	}
}

// An owner whose consumer does not deliver (the partition moved meanwhile)
// catches up from the log after one grace for the whole request, for every
// item of it, instead of waiting out the request's deadline.
func TestSubmitOwnerWithoutDeliveryCatchesUp(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	r := startRegistry(t, l, s, time.Hour)
	first := ItemID{Project: "p", Item: "a"}
	r.deliver(t, l, l.append(t, first, viewedFrom("10.0.0.1")), 1)
	waitFor(t, "the claim", func() bool { return r.owns(first) })
	for _, item := range []string{"b", "c"} {
		r.viewed(t, ItemID{Project: "p", Item: item}) // live already: Submit's warm does nothing
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*ownerGrace)
	defer cancel()
	subs := []*Submission{
		{Key: ItemID{Project: "p", Item: "b"}, MsgID: "m1", Msg: viewedFrom("10.0.0.2")},
		{Key: ItemID{Project: "p", Item: "c"}, MsgID: "m2", Msg: viewedFrom("10.0.0.3")},
	}
	if err := r.Submit(ctx, subs...); err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		if len(sub.Counted) != 1 || !sub.Counted[0] {
			t.Fatalf("%v: counted %v", sub.Key, sub.Counted)
		}
	}
}

// A deposed instance whose partition consumer delivered to it since its
// last round claims the partition back at once; one with no such delivery
// does not. Without the claim, an instance that claimed in between would
// keep the epoch and answer reads from a delivery session the consumer had
// left (TestPartitionMovesCountExactly once saw 77 of 79 events that way,
// for the whole 10 s it waited).
func TestDeposedOwnerWithDeliveriesClaimsAgain(t *testing.T) {
	ctx := context.Background()
	l, s := newMemLog(), newMemStore()
	k := ItemID{Project: "p", Item: "r"}
	a := startRegistry(t, l, s, time.Hour)
	a.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.1")), 1)
	waitFor(t, "the claim", func() bool { return a.owns(k) })
	a.round(ctx, false) // the delivery is written and acknowledged
	epoch := func() int64 { e, _ := s.Epochs(ctx); return e[0] }
	mine := func() int64 { a.mu.Lock(); defer a.mu.Unlock(); return a.epochs[0] }

	// Another instance claims the partition, and no delivery comes here
	// since: the round drops it and claims nothing.
	if _, err := s.ClaimPartition(ctx, 0); err != nil {
		t.Fatal(err)
	}
	a.round(ctx, false)
	a.mu.Lock()
	_, owned := a.epochs[0]
	claiming := a.claiming[0]
	a.mu.Unlock()
	if owned || claiming {
		t.Fatalf("deposed with nothing delivered since: owned %v, claiming %v", owned, claiming)
	}

	// It claims again on its next delivery, as before; another instance
	// claims once more, and the consumer delivers here again before this
	// instance's round: the round drops the partition and claims it back.
	a.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.2")), 3)
	waitFor(t, "the claim on a delivery", func() bool { return a.owns(k) && mine() == epoch() })
	a.round(ctx, false)
	if _, err := s.ClaimPartition(ctx, 0); err != nil {
		t.Fatal(err)
	}
	a.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.3")), 5)
	deposedAt := epoch()
	a.round(ctx, false)
	waitFor(t, "the claim back", func() bool { return a.owns(k) && mine() == epoch() && epoch() > deposedAt })
}
