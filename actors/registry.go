package actors

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Options configures a Registry.
type Options struct {
	Partitions       int           // P of the stream; picks each item's partition
	MailboxSize      int           // bounded mailbox per actor
	SnapshotInterval time.Duration // period of snapshot rounds
	IdleTimeout      time.Duration // an actor idle this long is passivated at the next round
	Logger           *slog.Logger

	// Updates receives each item's summary after live events (nil: none).
	// UpdateInterval coalesces them per item: the first after a quiet
	// interval goes at once, then at most one per interval, and the last
	// state of a burst always goes out.
	Updates        UpdateSink
	UpdateInterval time.Duration
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
	roundNumber int // owned by Run

	mu    sync.Mutex // guards the fields below and actor.pending
	items map[Key]*actor
	dirty map[Key]struct{} // items with messages enqueued since their last snapshot
	acks  map[int]func()   // per partition: acknowledges everything delivered up to its newest message
	// epochs holds the partitions this instance owns: it claimed them (its
	// partition consumers delivered their events here) and no other
	// instance has claimed them since. Reads of items elsewhere catch up
	// from the log first (see CatchUp).
	epochs   map[int]int64
	claiming map[int]bool // claims requested, not yet made
	claims   chan int     // partitions to claim, for claimLoop
}

// NewRegistry returns a registry that loads snapshots from store and replays
// the log from log.
func NewRegistry(opts Options, store SnapshotStore, log Log) *Registry {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Registry{
		opts: opts, store: store, log: log, logger: opts.Logger,
		actorCtx: ctx, stopActors: cancel,
		epochs: map[int]int64{}, claiming: map[int]bool{}, claims: make(chan int, 1024),
		items: map[Key]*actor{}, dirty: map[Key]struct{}{}, acks: map[int]func(){},
	}
}

// owns reports whether this instance owns k's partition.
func (r *Registry) owns(k Key) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.epochs[r.Partition(k)]
	return ok
}

// CatchUp makes k's actor apply k's log up to now, unless this instance owns
// k's partition, whose consumer delivers every event here anyway. With
// several instances, a request served by one that does not own the item
// publishes its event and then calls CatchUp, so that the verdict (Expect)
// still comes from an actor that applied the log in order; the same
// deterministic rules make it the owner's verdict too.
func (r *Registry) CatchUp(ctx context.Context, k Key) error {
	if r.owns(k) {
		return nil
	}
	_, err := r.send(ctx, k, &request{kind: reqCatchUp})
	return err
}

// Partition returns the partition of k in this registry's stream.
func (r *Registry) Partition(k Key) int { return k.Partition(r.opts.Partitions) }

// acquire returns k's actor, starting it if needed, and counts the caller as
// pending so that the actor cannot passivate before release.
func (r *Registry) acquire(k Key) *actor {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.items[k]
	if !ok {
		a = &actor{key: k, part: r.Partition(k), reg: r, mailbox: make(chan *request, r.opts.MailboxSize)}
		a.lastActive.Store(time.Now().UnixNano())
		r.items[k] = a
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
		a.mailbox <- &request{kind: reqStop}
		a.wake()
	}
}

// send puts req in a's mailbox, waiting while it is full (backpressure)
// until ctx ends.
func (r *Registry) send(ctx context.Context, k Key, req *request) (*actor, error) {
	switch req.kind {
	case reqApply, reqSnapshot, reqStop, reqCatchUp:
	default: // a read: from the log itself where no consumer feeds this instance
		req.catchUp = !r.owns(k)
	}
	a := r.acquire(k)
	defer r.release(a)
	select {
	case a.mailbox <- req:
		a.wake()
		return a, nil
	case <-ctx.Done():
		return nil, &Error{Code: EUnavailable, Message: "item is busy", RetryAfter: time.Second}
	}
}

// Deliver hands the log message seq of item k to its actor. It blocks while
// the actor's mailbox is full, which slows the calling partition consumer
// instead of growing memory. ack acknowledges every message of partition
// part up to this one; the registry calls it once a snapshot round has
// persisted everything delivered before it.
func (r *Registry) Deliver(ctx context.Context, k Key, seq uint64, m *Message, ack func()) error {
	if _, err := r.send(ctx, k, &request{kind: reqApply, seq: seq, msg: m}); err != nil {
		return err
	}
	// Marked dirty only after the enqueue, and the ack recorded after the
	// mark: a snapshot round that takes this ack has then also taken this
	// item's mark, and its snapshot request queues behind this message.
	part := r.Partition(k)
	r.mu.Lock()
	r.dirty[k] = struct{}{}
	r.acks[part] = ack
	r.requestClaimLocked(part)
	r.mu.Unlock()
	return nil
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

// ReadJSON returns the render summary of item k as the JSON body of
// GET /v1/renders/:id/engagement, encoded by the actor from its cached
// event encodings.
func (r *Registry) ReadJSON(ctx context.Context, k Key) ([]byte, error) {
	req := &request{kind: reqReadJSON, reply: make(chan reply, 1)}
	if _, err := r.send(ctx, k, req); err != nil {
		return nil, err
	}
	select {
	case rep := <-req.reply:
		return rep.update.Payload, rep.err
	case <-ctx.Done():
		return nil, &Error{Code: EUnavailable, Message: "item is busy", RetryAfter: time.Second}
	}
}

// ReadContent returns the SDK event summary of item k as its actor sees it
// now.
func (r *Registry) ReadContent(ctx context.Context, k Key) (VideoSummary, error) {
	req := &request{kind: reqVideo, reply: make(chan reply, 1)}
	if _, err := r.send(ctx, k, req); err != nil {
		return VideoSummary{}, err
	}
	select {
	case rep := <-req.reply:
		if rep.err != nil {
			return VideoSummary{}, rep.err
		}
		return *rep.video, nil
	case <-ctx.Done():
		return VideoSummary{}, &Error{Code: EUnavailable, Message: "item is busy", RetryAfter: time.Second}
	}
}

// Expect registers interest in the outcome of event id before it is
// published. wait returns true if the event was recorded, false if the
// dedupe rule dropped it; done must be called when the caller stops waiting.
func (r *Registry) Expect(id string) (wait func(ctx context.Context) (bool, error), done func()) {
	ch := r.verdicts.expect(id)
	wait = func(ctx context.Context) (bool, error) {
		select {
		case v := <-ch:
			return v, nil
		case <-ctx.Done():
			return false, &Error{Code: EUnavailable, Message: "event stored but not applied yet", RetryAfter: time.Second}
		}
	}
	return wait, func() { r.verdicts.forget(id) }
}

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
	r.roundNumber++
	r.checkEpochs(ctx)
	now := time.Now().UnixNano()
	r.mu.Lock()
	acks := r.acks
	r.acks = map[int]func(){}
	keys := map[Key]bool{}      // item -> passivate after the snapshot
	delivered := map[int]bool{} // partitions whose consumer delivered here since the last round
	dirty := r.dirty
	for k := range dirty {
		keys[k] = false
		delivered[r.Partition(k)] = true
	}
	r.dirty = map[Key]struct{}{}
	for k, a := range r.items {
		if final || now-a.lastActive.Load() >= int64(r.opts.IdleTimeout) {
			keys[k] = true
		}
	}
	r.mu.Unlock()

	failed := map[int]bool{}
	byPart := map[int][]Snapshot{}
	for k, passivate := range keys {
		part := r.Partition(k)
		req := &request{kind: reqSnapshot, reply: make(chan reply, 1)}
		a, err := r.send(ctx, k, req)
		var rep reply
		if err == nil {
			select {
			case rep = <-req.reply:
				err = rep.err
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		if err != nil {
			failed[part] = true
			if _, ok := dirty[k]; ok {
				r.markDirty(k) // try again; an idle, never-delivered item has nothing to write
			}
			r.logger.Warn("snapshot", "item", k.String(), "err", err)
			continue
		}
		if rep.seq > 0 { // nothing applied yet: nothing worth a row
			b, err := json.Marshal(rep.state)
			if err != nil {
				r.logger.Error("encode snapshot", "item", k.String(), "err", err)
				failed[part] = true
				r.markDirty(k)
				continue
			}
			byPart[part] = append(byPart[part], Snapshot{Key: k, Seq: rep.seq, State: b})
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

func (r *Registry) markDirty(k Key) {
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
// one did: their actors are stopped, and reads of their items catch up from
// the log until a consumer delivers them here again.
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

// dropPartition stops every actor of part without a snapshot: another
// instance owns part now and its state wins.
func (r *Registry) dropPartition(part int) {
	r.logger.Warn("partition taken over by another instance; dropping its actors", "partition", part)
	r.mu.Lock()
	delete(r.epochs, part)
	var drop []*actor
	for k, a := range r.items {
		if a.part == part {
			drop = append(drop, a)
			delete(r.items, k)
		}
	}
	for k := range r.dirty {
		if r.Partition(k) == part {
			delete(r.dirty, k)
		}
	}
	delete(r.acks, part)
	r.mu.Unlock()
	for _, a := range drop {
		select {
		case a.mailbox <- &request{kind: reqStop}:
			a.wake()
		default:
			// Mailbox full: the actor is out of the map already, so nothing
			// new reaches it, and it stops with the registry.
		}
	}
}
