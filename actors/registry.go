package actors

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Registry.
type Options struct {
	Partitions       int           // P of the stream; picks each item's partition
	MailboxSize      int           // bounded mailbox per actor
	SnapshotInterval time.Duration // period of snapshot rounds
	IdleTimeout      time.Duration // an actor idle this long is passivated at the next round
	// MaxLive bounds live actors (0: no bound): past it, each round also
	// passivates the least recently active, so that a million items
	// touched in an hour cannot exhaust memory. Between rounds the count
	// may exceed it by the activations of one interval.
	MaxLive int
	Logger  *slog.Logger

	// Updates receives each item's summary after live events (nil: none).
	// UpdateInterval coalesces them per item: the first after a quiet
	// interval goes at once, then at most one per interval, and the last
	// state of a burst always goes out.
	Updates        UpdateSink
	UpdateInterval time.Duration

	// ObserveRound is called after each snapshot round with its duration,
	// the snapshots it encoded and their bytes (nil: nothing). It is the
	// metrics' port; Counters has the rest.
	ObserveRound func(d time.Duration, snapshots, bytes int)
}

// Registry keeps at most one live actor per item in this process, starts
// actors on first use, and runs the snapshot rounds that persist and
// passivate them.
//
// Lifecycle: NewRegistry, then Run in its own goroutine; Deliver, Read and
// Expect may be called concurrently from any goroutine while Run runs. Stop
// feeding it (consumers, HTTP) before cancelling Run's context: Run then
// writes a final snapshot of every actor and stops them all before it returns.
type Registry struct {
	opts   Options
	store  SnapshotStore
	log    Log
	logger *slog.Logger

	actorCtx    context.Context // parent of every actor goroutine
	stopActors  context.CancelFunc
	wg          sync.WaitGroup // actor goroutines
	verdicts    verdicts
	loader      loader
	panics      atomic.Int64 // panics contained to one item (actor.serve, actor.apply)
	roundNumber int          // owned by Run

	// Counters since start (Counters).
	activations, passivations, mailboxFull atomic.Int64

	mu    sync.Mutex // guards the fields below and actor.pending
	items map[ItemID]*actor
	dirty map[ItemID]struct{} // items with messages enqueued since their last snapshot
	acks  map[int]func()      // per partition: acknowledges everything delivered up to its newest message
	// epochs holds the partitions this instance owns: it claimed them (its
	// partition consumers delivered their events here) and no other
	// instance has claimed them since. Reads of items elsewhere catch up
	// from the log first (see actor.readyToRead).
	epochs   map[int]int64
	claiming map[int]bool // claims requested, not yet made
	claims   chan int     // partitions to claim, for claimLoop
	// sessions holds, per partition, the delivery session its consumer is
	// in here: deliveries whose consumer sequences follow one another
	// without a gap. A gap means the consumer delivered messages elsewhere
	// (the partition was pinned to another instance) or a new consumer
	// started, so actors must not assume they saw everything in between.
	sessions    map[int]*deliverySession
	lastSession uint64 // the newest session number handed out; sessions are never reused
}

// deliverySession is one unbroken run of a partition consumer's deliveries
// to this instance.
type deliverySession struct {
	id          uint64
	consumerSeq uint64 // consumer sequence of the last delivery
}

// NewRegistry returns a registry that loads snapshots from store and replays
// the log from log.
func NewRegistry(opts Options, store SnapshotStore, log Log) *Registry {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Registry{
		opts: opts, store: store, log: log, logger: opts.Logger, loader: loader{store: store},
		actorCtx: ctx, stopActors: cancel,
		epochs: map[int]int64{}, claiming: map[int]bool{}, claims: make(chan int, 1024),
		items: map[ItemID]*actor{}, dirty: map[ItemID]struct{}{}, acks: map[int]func(){},
		sessions: map[int]*deliverySession{},
	}
}

// owns reports whether this instance owns k's partition.
func (r *Registry) owns(k ItemID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.epochs[r.Partition(k)]
	return ok
}

// readSession returns the delivery session a read of k may rely on: the
// current one of k's partition if this instance owns it, else 0 (no
// consumer feeds k here; the read catches up from the log).
func (r *Registry) readSession(k ItemID) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	part := r.Partition(k)
	if _, owned := r.epochs[part]; !owned {
		return 0
	}
	if s := r.sessions[part]; s != nil {
		return s.id
	}
	return 0
}

// Partition returns the partition of k in this registry's stream.
func (r *Registry) Partition(k ItemID) int { return k.Partition(r.opts.Partitions) }

// acquire returns k's actor, starting it if needed, and counts the caller as
// pending so that the actor cannot passivate before release.
func (r *Registry) acquire(k ItemID) *actor {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.items[k]
	if !ok {
		a = &actor{key: k, part: r.Partition(k), reg: r, mailbox: make(chan *request, r.opts.MailboxSize)}
		a.lastActive.Store(time.Now().UnixNano())
		r.items[k] = a
		r.activations.Add(1)
	}
	a.pending++
	return a
}

func (r *Registry) release(a *actor) {
	r.mu.Lock()
	a.pending--
	r.mu.Unlock()
}

// passivate stops a if nobody is about to send to it and its mailbox is
// empty; otherwise a stays and is tried again at a later round. Once a is out
// of the map nobody can reach its mailbox, so the stop request cannot block.
func (r *Registry) passivate(a *actor) {
	r.mu.Lock()
	idle := a.pending == 0 && len(a.mailbox) == 0 && r.items[a.key] == a
	if idle {
		delete(r.items, a.key)
	}
	r.mu.Unlock()
	if idle {
		r.passivations.Add(1)
		a.mailbox <- &request{kind: reqStop}
		a.wake()
	}
}

// send puts req in a's mailbox, waiting while it is full (backpressure)
// until ctx ends.
func (r *Registry) send(ctx context.Context, k ItemID, req *request) (*actor, error) {
	if req.kind == reqRead { // see actor.readyToRead
		req.session = r.readSession(k)
	}
	a := r.acquire(k)
	defer r.release(a)
	select {
	case a.mailbox <- req:
		a.wake()
		return a, nil
	default:
		r.mailboxFull.Add(1)
	}
	select {
	case a.mailbox <- req:
		a.wake()
		return a, nil
	case <-ctx.Done():
		return nil, errBusy()
	}
}

// call sends req to k's actor and waits for its reply until ctx ends: the
// one way the registry asks an actor something. The error is the send's,
// the reply's, or errBusy.
func (r *Registry) call(ctx context.Context, k ItemID, req *request) (reply, *actor, error) {
	req.reply = make(chan reply, 1)
	a, err := r.send(ctx, k, req)
	if err != nil {
		return reply{}, nil, err
	}
	select {
	case rep := <-req.reply:
		return rep, a, rep.err
	case <-ctx.Done():
		return reply{}, a, errBusy()
	}
}

// ask runs read on k's actor goroutine, once the state is as new as the log
// (see actor.readyToRead), and returns what it read: every read of a
// family's state goes through it.
func ask[T any](ctx context.Context, r *Registry, k ItemID, read func(st *itemState, k ItemID, seq uint64) (T, error)) (T, error) {
	req := &request{kind: reqRead, fn: func(st *itemState, k ItemID, seq uint64) (any, error) { return read(st, k, seq) }}
	rep, _, err := r.call(ctx, k, req)
	if err != nil {
		var zero T
		return zero, err
	}
	return rep.value.(T), nil
}

// errBusy: a request waited for an actor until its context ended.
func errBusy() error {
	return &Error{Code: EUnavailable, Reason: ReasonActorBusy, Message: "item is busy", RetryAfter: time.Second}
}

// Delivery places a message a partition consumer delivered: its sequence
// in the stream, and the consumer's own delivery sequence, which counts
// every delivery of the consumer (to any instance, redeliveries included)
// one by one.
type Delivery struct {
	Seq         uint64
	ConsumerSeq uint64
	// Pending is how many messages of the partition the consumer holds
	// after this one: 0 means this is the partition's newest message.
	Pending uint64
}

// Deliver hands the log message d.Seq of item k to its actor. Each
// partition's consumer calls it from one goroutine, in delivery order. It
// blocks while the actor's mailbox is full, which slows the calling
// partition consumer instead of growing memory. ack acknowledges every
// message of the partition up to this one; the registry calls it once a
// snapshot round has persisted everything delivered before it.
func (r *Registry) Deliver(ctx context.Context, k ItemID, d Delivery, m *Message, ack func()) error {
	part := r.Partition(k)
	r.mu.Lock()
	s := r.sessions[part]
	if s == nil || d.ConsumerSeq != s.consumerSeq+1 {
		// The first delivery here, or deliveries went elsewhere since
		// the last one: a new session.
		r.lastSession++
		s = &deliverySession{id: r.lastSession}
		r.sessions[part] = s
	}
	s.consumerSeq = d.ConsumerSeq
	session := s.id
	r.mu.Unlock()
	if _, err := r.send(ctx, k, &request{kind: reqApply, seq: d.Seq, msg: m, session: session, newest: d.Pending == 0}); err != nil {
		r.mu.Lock()
		delete(r.sessions, part) // this message never reached its actor
		r.mu.Unlock()
		return err
	}
	// Marked dirty only after the enqueue, and the ack recorded after the
	// mark: a snapshot round that takes this ack has then also taken this
	// item's mark, and its snapshot request queues behind this message.
	r.mu.Lock()
	r.dirty[k] = struct{}{}
	r.acks[part] = ack
	r.requestClaimLocked(part)
	r.mu.Unlock()
	return nil
}

// Lost reports that a delivery of k's partition never reached k's actor (a
// consumer's handler panicked): the partition's next delivery starts a new
// session, so each actor catches up from the log before applying it.
func (r *Registry) Lost(k ItemID) {
	r.mu.Lock()
	delete(r.sessions, r.Partition(k))
	r.mu.Unlock()
}

// requestClaimLocked asks claimLoop to claim part unless this instance owns
// it or has asked already. A delivery means JetStream pinned part's consumer
// here, so the claim follows at once rather than at the next round.
func (r *Registry) requestClaimLocked(part int) {
	if _, owned := r.epochs[part]; owned || r.claiming[part] {
		return
	}
	select {
	case r.claims <- part:
		r.claiming[part] = true
	default: // full: the next delivery asks again
	}
}

// claimLoop makes the claims requested by deliveries. It is the only code
// that claims, so this instance never holds two epochs for one partition.
func (r *Registry) claimLoop(ctx context.Context) {
	for {
		select {
		case part := <-r.claims:
			epoch, err := r.store.ClaimPartition(ctx, part)
			r.mu.Lock()
			delete(r.claiming, part)
			if err == nil {
				r.epochs[part] = epoch
			}
			r.mu.Unlock()
			if err != nil {
				r.logger.Warn("claim partition", "partition", part, "err", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// Submission is one log message to publish for item Key, and, once Submit
// returns, its outcome.
type Submission struct {
	Key   ItemID
	MsgID string // Nats-Msg-Id: a retried request that produces the same id inside the log's duplicate window is stored once
	Msg   Message

	Counted   []bool // per event of Msg: counted, or dropped by the item's dedupe rule
	Duplicate bool   // the log held MsgID already: nothing new was stored, and there are no verdicts
}

// ownerGrace is how long Submit waits for this instance's own partition
// consumer to deliver a message before it catches the item up from the log
// itself: the partition may have moved to another instance meanwhile.
const ownerGrace = 500 * time.Millisecond

// Submit is the one ingest path: it publishes every submission's message,
// waits until the log stored all of them (one round trip however many items
// a request touches), and then gets each message's verdicts from the item's
// actor here, once that actor has applied the log through the message's own
// sequence. Where a partition consumer feeds the item to this instance, the
// delivery brings it there; otherwise, or if it does not come within
// ownerGrace, the actor catches up from the log through that sequence. An
// error means nothing can be said of the events: the client retries, and
// the dedupe rules make that safe.
func (r *Registry) Submit(ctx context.Context, subs ...*Submission) error {
	type pending struct {
		verdict chan []bool
		wait    func(context.Context) (uint64, bool, error)
		seq     uint64
	}
	ps := make([]pending, len(subs))
	for _, s := range subs {
		r.warm(s.Key)
	}
	for i, s := range subs {
		s.Msg.Ref = newRef()
		ps[i].verdict = r.verdicts.expect(s.Msg.Ref)
		defer r.verdicts.forget(s.Msg.Ref)
	}
	for i, s := range subs {
		payload, err := s.Msg.Encode()
		if err != nil {
			return err
		}
		if ps[i].wait, err = r.log.Publish(s.Key, s.MsgID, payload); err != nil {
			return err
		}
	}
	for i, s := range subs {
		seq, dup, err := ps[i].wait(ctx)
		if err != nil {
			return err
		}
		ps[i].seq, s.Duplicate = seq, dup
	}
	// One grace for the whole request; its channel stays closed once the
	// time is up, so every later item goes straight to catching up.
	grace, stopGrace := context.WithTimeout(ctx, ownerGrace)
	defer stopGrace()
	for i, s := range subs {
		if s.Duplicate {
			continue
		}
		out, err := r.verdict(ctx, s.Key, ps[i].seq, ps[i].verdict, grace.Done())
		if err != nil {
			return err
		}
		s.Counted = out
	}
	return nil
}

// warm starts activating k's actor, if it is not live, while the caller
// publishes: loading its snapshot then overlaps the publish instead of
// following the delivery. It never waits; with a full mailbox the actor is
// live anyway.
func (r *Registry) warm(k ItemID) {
	a := r.acquire(k)
	defer r.release(a)
	// The session is taken before the activation reads the log, so that an
	// owner's actor follows its consumer from there (see actor.handle).
	select {
	case a.mailbox <- &request{kind: reqWarm, session: r.readSession(k)}:
		a.wake()
	default:
	}
}

// verdict returns the verdicts of message seq of item k once k's actor has
// applied it. grace fires when an owner has waited long enough for its
// consumer's delivery.
func (r *Registry) verdict(ctx context.Context, k ItemID, seq uint64, ch chan []bool, grace <-chan struct{}) ([]bool, error) {
	notApplied := &Error{Code: EUnavailable, Reason: ReasonNotApplied, Message: "event stored but not applied yet", RetryAfter: time.Second}
	if r.owns(k) {
		select {
		case out := <-ch:
			return verdictOrPanicked(out)
		case <-grace:
		case <-ctx.Done():
			return nil, notApplied
		}
	}
	if _, _, err := r.call(ctx, k, &request{kind: reqSync, seq: seq}); err != nil {
		select {
		case out := <-ch:
			// The message itself was decided on the way (its apply may
			// have panicked, which is what failed the sync).
			return verdictOrPanicked(out)
		default:
		}
		if ctx.Err() != nil {
			return nil, notApplied
		}
		return nil, err
	}
	select {
	case out := <-ch:
		return verdictOrPanicked(out)
	default:
		// The actor's state reached seq through a snapshot another
		// instance wrote after applying the message: the event is
		// counted, but its verdict was decided there.
		return nil, notApplied
	}
}

// newRef returns a reference unique among messages in flight, which keys
// the verdicts of one published message.
func newRef() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// Counters are the registry's counts since start, for metrics.
type Counters struct {
	Live         int   // live actors now
	Activations  int64 // actors started
	Passivations int64 // actors stopped after a snapshot (idle, over MaxLive, final)
	MailboxFull  int64 // sends that found a mailbox full and waited (backpressure)
}

// Counters returns the registry's counters. Safe for concurrent use.
func (r *Registry) Counters() Counters {
	return Counters{
		Live: r.Live(), Activations: r.activations.Load(),
		Passivations: r.passivations.Load(), MailboxFull: r.mailboxFull.Load(),
	}
}

// Panics returns how many panics were contained to one item's actor since
// start: each was logged with its stack, answered its request with an
// internal error, and had the item's state rebuilt (see actor.apply).
func (r *Registry) Panics() int64 { return r.panics.Load() }

// Live returns the number of live actors.
func (r *Registry) Live() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items)
}

// Run runs snapshot rounds every SnapshotInterval until ctx ends, then writes
// a final snapshot of every live actor, stops them and returns. finalTimeout
// bounds the final round.
func (r *Registry) Run(ctx context.Context, finalTimeout time.Duration) error {
	t := time.NewTicker(r.opts.SnapshotInterval)
	defer t.Stop()
	claimCtx, stopClaims := context.WithCancel(context.Background())
	claimsDone := make(chan struct{})
	go func() { defer close(claimsDone); r.claimLoop(claimCtx) }()
	defer func() { stopClaims(); <-claimsDone }()
	for {
		select {
		case <-t.C:
			r.round(ctx, false)
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), finalTimeout)
			defer cancel()
			r.round(fctx, true)
			r.stopActors()
			r.wg.Wait()
			return nil
		}
	}
}

// round snapshots every dirty actor and passivates idle ones (all of them if
// final), writes the snapshots per partition under its epoch, and then
// acknowledges each partition whose writes all succeeded.
func (r *Registry) round(ctx context.Context, final bool) {
	start := time.Now()
	var snapshots, bytes int
	if r.opts.ObserveRound != nil {
		defer func() { r.opts.ObserveRound(time.Since(start), snapshots, bytes) }()
	}
	r.roundNumber++
	r.checkEpochs(ctx)
	now := time.Now().UnixNano()
	r.mu.Lock()
	acks := r.acks
	r.acks = map[int]func(){}
	keys := map[ItemID]bool{}   // item -> passivate after the snapshot
	delivered := map[int]bool{} // partitions whose consumer delivered here since the last round
	dirty := r.dirty
	for k := range dirty {
		keys[k] = false
		delivered[r.Partition(k)] = true
	}
	r.dirty = map[ItemID]struct{}{}
	live := make([]*actor, 0, len(r.items))
	for k, a := range r.items {
		if final || now-a.lastActive.Load() >= int64(r.opts.IdleTimeout) {
			keys[k] = true
		} else {
			live = append(live, a)
		}
	}
	r.mu.Unlock()
	for _, a := range r.overLimit(live) {
		keys[a.key] = true
	}

	failed := map[int]bool{}
	byPart := map[int][]Snapshot{}
	for k, passivate := range keys {
		part := r.Partition(k)
		rep, a, err := r.call(ctx, k, &request{kind: reqSnapshot})
		if err != nil {
			failed[part] = true
			if _, ok := dirty[k]; ok {
				r.markDirty(k) // try again; an idle, never-delivered item has nothing to write
			}
			r.logger.Warn("snapshot", "item", k.String(), "err", err)
			continue
		}
		if rep.seq > 0 { // nothing applied yet: nothing worth a row
			b, err := rep.state.encode()
			if err != nil {
				r.logger.Error("encode snapshot", "item", k.String(), "err", err)
				failed[part] = true
				r.markDirty(k)
				continue
			}
			byPart[part] = append(byPart[part], Snapshot{Key: k, Seq: rep.seq, State: b})
			snapshots, bytes = snapshots+1, bytes+len(b)
		}
		if passivate {
			// Safe before the write below: a new actor for k would load an
			// older snapshot and replay the log up to the same state.
			r.passivate(a)
		}
	}

	for part, snaps := range byPart {
		if err := r.save(ctx, part, snaps, delivered[part]); err != nil {
			failed[part] = true
			for _, s := range snaps {
				r.markDirty(s.Key)
			}
			if errors.Is(err, ErrFenced) {
				r.dropPartition(part)
			} else if !errors.Is(err, errNotClaimed) {
				r.logger.Warn("save snapshots", "partition", part, "err", err)
			}
		}
	}

	r.mu.Lock()
	for part, ack := range acks {
		if failed[part] {
			if _, newer := r.acks[part]; !newer {
				r.acks[part] = ack // try again next round
			}
			continue
		}
		ack()
	}
	r.mu.Unlock()
}

// overLimit returns the least recently active of live, the actors that
// stay after this round's idle passivations, beyond MaxLive.
func (r *Registry) overLimit(live []*actor) []*actor {
	excess := len(live) - r.opts.MaxLive
	if r.opts.MaxLive <= 0 || excess <= 0 {
		return nil
	}
	type entry struct {
		at int64 // read once: actors keep serving while the round runs
		a  *actor
	}
	es := make([]entry, len(live))
	for i, a := range live {
		es[i] = entry{a.lastActive.Load(), a}
	}
	slices.SortFunc(es, func(x, y entry) int { return cmp.Compare(x.at, y.at) })
	out := make([]*actor, excess)
	for i := range out {
		out[i] = es[i].a
	}
	return out
}

func (r *Registry) markDirty(k ItemID) {
	r.mu.Lock()
	r.dirty[k] = struct{}{}
	r.mu.Unlock()
}

// errNotClaimed: a partition delivered here whose claim is not made yet;
// its snapshots wait for the next round.
var errNotClaimed = errors.New("partition not claimed yet")

// save writes snaps of partition part under this instance's epoch. A
// partition neither owned nor delivered here only had read-only actors,
// whose state is the owner's to write.
func (r *Registry) save(ctx context.Context, part int, snaps []Snapshot, delivered bool) error {
	r.mu.Lock()
	epoch, ok := r.epochs[part]
	if !ok && delivered {
		r.requestClaimLocked(part)
	}
	r.mu.Unlock()
	switch {
	case !ok && delivered:
		return errNotClaimed
	case !ok:
		return nil
	}
	return r.store.SaveSnapshots(ctx, part, epoch, snaps)
}

// checkEpochs drops the partitions another instance has claimed since this
// one did: reads of their items catch up from the log until a consumer
// delivers them here again.
func (r *Registry) checkEpochs(ctx context.Context) {
	r.mu.Lock()
	n := len(r.epochs)
	r.mu.Unlock()
	if n == 0 {
		return
	}
	current, err := r.store.Epochs(ctx)
	if err != nil {
		r.logger.Warn("check partition epochs", "err", err)
		return
	}
	r.mu.Lock()
	var lost []int
	for part, epoch := range r.epochs {
		if current[part] != epoch {
			lost = append(lost, part)
		}
	}
	r.mu.Unlock()
	for _, part := range lost {
		r.dropPartition(part)
	}
}

// dropPartition gives up part: another instance claimed it since this one
// did, so its state is the one written from now on. This instance's actors
// of part stay live, as any instance's actors of partitions it does not own:
// their state is exact as of what they applied, reads catch them up from the
// log, and a delivery here again starts a new session, which catches them up
// first. Only what this instance would have written or acknowledged for
// part is forgotten. (Stopping them instead raced with requests already
// sent to them, which then waited out their timeouts.)
func (r *Registry) dropPartition(part int) {
	r.logger.Warn("partition taken over by another instance", "partition", part)
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.epochs, part)
	delete(r.sessions, part)
	for k := range r.dirty {
		if r.Partition(k) == part {
			delete(r.dirty, k)
		}
	}
	delete(r.acks, part)
}

// verdictOrPanicked turns the nil verdicts of a message whose apply
// panicked (actor.recoverApply) into the request's error: the event is
// stored but was not counted.
func verdictOrPanicked(out []bool) ([]bool, error) {
	if out == nil {
		return nil, errPanicked
	}
	return out, nil
}
