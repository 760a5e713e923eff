// actor.go is one item's actor: its mailbox loop, activation (snapshot and
// log replay), and the application of log messages to its families' state,
// with the containment of panics to the item.

package actors

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// SnapshotStore keeps item snapshots and partition epochs (the fence that
// keeps a deposed partition owner from overwriting a newer owner's work).
type SnapshotStore interface {
	// LoadSnapshots returns the newest snapshot of each of keys that has
	// one (one round trip for a burst of activations; see loader).
	LoadSnapshots(ctx context.Context, keys []ItemID) (map[ItemID]Snapshot, error)
	// Epochs returns every partition's current epoch.
	Epochs(ctx context.Context) (map[int]int64, error)
	// ClaimPartition bumps part's epoch and returns the new one.
	ClaimPartition(ctx context.Context, part int) (epoch int64, err error)
	// SaveSnapshots writes snaps, all of partition part, if epoch is still
	// part's current epoch; otherwise it writes nothing and returns ErrFenced.
	// A snapshot older than the stored one (lower Seq) is ignored.
	SaveSnapshots(ctx context.Context, part int, epoch int64, snaps []Snapshot) error
	// SnapshotKeys returns every item of partition part that has a
	// snapshot. It may return more (rows whose partition the store does
	// not know; the caller filters), never fewer: an item it leaves out
	// activates without a snapshot load (known.go).
	SnapshotKeys(ctx context.Context, part int) ([]ItemID, error)
}

// ErrFenced means another instance claimed the partition since this one did.
var ErrFenced = errors.New("partition fenced by a newer owner")

// Log is the event log as the actors need it: publishing an item's
// messages, and reading them back in order.
type Log interface {
	// Publish stores payload on k's subject under msgID: equal ids inside
	// the log's duplicate window are stored once. It does not wait; wait
	// blocks until the log stored the message and returns its sequence, or
	// reports dup when msgID was stored before (nothing new was stored).
	Publish(k ItemID, msgID string, payload []byte) (wait func(ctx context.Context) (seq uint64, dup bool, err error), err error)
	// Replay calls fn, in order, for every message on k's subject after
	// after: through through, a sequence the log stored (Replay returns nil
	// only once it got there, asking a replica that has not caught up yet
	// again until ctx ends), or, with through 0, to the subject's end as the
	// log shows it now.
	Replay(ctx context.Context, k ItemID, after, through uint64, fn func(seq uint64, m *Message)) error
}

// activationTimeout bounds loading a snapshot and replaying the log after it.
const activationTimeout = 30 * time.Second

type requestKind uint8

const (
	reqApply    requestKind = iota // apply a log message (from a partition consumer)
	reqRead                        // reply with what fn reads from the state (see ask)
	reqSnapshot                    // reply with a snapshot of the state
	reqStop                        // stop; sent only once the actor is out of the registry
	reqSync                        // apply the item's log through seq, then reply (see Registry.Submit)
	reqWarm                        // activate if not yet (no reply; see Registry.Submit)
	reqMarked                      // rows of the series were written (no reply; see Registry.markWritten)
	reqPersist                     // apply the log through seq, scrub with fn if set, reply with a snapshot (Registry.Persist)
	reqDiscard                     // drop the state: the next request rebuilds it from the snapshot and the log (Registry.DropCopy)
)

// readFunc reads an item's state on its actor goroutine: the state holds
// the item's log through seq. It may create a family's empty state (see
// itemState.get), and must copy whatever it returns.
type readFunc func(st *itemState, k ItemID, seq uint64) (any, error)

type request struct {
	kind requestKind
	seq  uint64 // reqApply: the message's sequence; reqSync: apply the log through it
	msg  *Message
	// session is a delivery session of the item's partition (see
	// Registry.Deliver). reqApply: the one the message came in; the actor
	// applies it directly only if its own state is continuous with it.
	// reqRead and reqWarm: the current one if this instance owns the
	// partition, else 0.
	session uint64
	// newest (reqApply): the message is its partition's newest, so the log
	// holds nothing of this item after it either.
	newest bool
	reply  chan reply // capacity 1, so a departed caller never blocks the actor
	// fn (reqRead) answers from the state, which must then be as new as
	// the log (see actor.readyToRead).
	fn readFunc
	// rows (reqMarked): the series rows a snapshot round wrote.
	rows *SeriesRows
}

type reply struct {
	state *stateSnapshot // for reqSnapshot, encoded by the caller
	seq   uint64         // for reqSnapshot
	rows  SeriesRows     // for reqSnapshot: closed series rows to write with it
	value any            // for reqRead: what its fn returned
	err   error
}

// actor owns one item's state. Its goroutine (run; at most one at a time,
// started by wake) is the only code that reads or writes the fields below
// the line.
type actor struct {
	key     ItemID
	part    int
	reg     *Registry
	mailbox chan *request

	pending    int          // senders between acquire and release; guarded by reg.mu
	lastActive atomic.Int64 // unix nanos of the last request, read by the snapshot round
	running    atomic.Bool  // a goroutine runs the actor; see run and wake

	// owned by run
	ready   bool   // snapshot loaded and log replayed
	applied uint64 // log sequence of the last message applied; the state holds every message of the item up to it
	// session is the delivery session of the item's partition that the
	// state is continuous with: every message of the item after applied
	// comes to this actor in that session. 0: none (the state came from a
	// replay only), so the next delivery catches up from the log first.
	session uint64
	state   itemState
	upd     updater // live updates
	// broken: an apply panicked, so the state may hold part of a message;
	// handle discards it and the next request rebuilds it (see recoverApply).
	broken bool
	// poison holds the sequences whose apply panicked; a rebuild skips
	// them. It outlives discarded state, not passivation (a later
	// activation panics once more and skips the message again).
	poison map[uint64]struct{}
}

// run serves the mailbox until it is empty and no trailing update is due,
// and then exits: an idle actor has no goroutine, only its state, and the
// next request starts one again (wake). At most one goroutine runs an actor
// at a time, handing the state on through running, so the actor still has
// one owner; an idle million costs their state, not a million stacks.
func (a *actor) run(ctx context.Context) {
	defer a.reg.wg.Done()
	for {
		select {
		case r := <-a.mailbox:
			if a.serve(ctx, r) {
				return
			}
			continue
		default:
		}
		if a.upd.due == nil {
			// A sender that enqueues after this store starts a new
			// goroutine (wake); one that saw running still true left its
			// request for this one, which finds it here.
			a.running.Store(false)
			if len(a.mailbox) == 0 || !a.running.CompareAndSwap(false, true) {
				return
			}
			continue
		}
		select {
		case r := <-a.mailbox:
			if a.serve(ctx, r) {
				return
			}
		case <-a.upd.due:
			a.trailingUpdate()
		case <-ctx.Done():
			a.stopUpdates()
			return
		}
	}
}

// serve handles one request and reports whether the actor stopped for good.
// A panic while handling it is contained to this item: it is logged and
// counted (Registry.Panics), the request gets an internal error, and the
// state is discarded, to be rebuilt from the snapshot and the log by the
// next request, because a panic may have left it half-changed.
func (a *actor) serve(ctx context.Context, r *request) (stopped bool) {
	a.lastActive.Store(time.Now().UnixNano())
	defer func() {
		if p := recover(); p != nil {
			a.reg.panicked(a.key, "request", p)
			a.discard()
			if r.reply != nil {
				select {
				case r.reply <- reply{err: errPanicked}:
				default: // it was answered before the panic
				}
			}
			stopped = false
		}
	}()
	if a.handle(ctx, r) {
		a.stopUpdates()
		return true
	}
	return false
}

// errLogUnavailable: an item's log could not be read to build its state.
func errLogUnavailable() error {
	return &Error{Code: EUnavailable, Reason: ReasonActorLoad, Message: "item log is unavailable", RetryAfter: time.Second}
}

// errPanicked answers a request whose handling panicked.
var errPanicked = &Error{Code: EInternal, Message: "internal error"}

// discard drops the state; the next request activates the actor again.
func (a *actor) discard() {
	a.state, a.ready, a.applied, a.session, a.broken = itemState{}, false, 0, 0, false
}

// wake starts the actor's goroutine unless one is running. Every enqueue
// into the mailbox is followed by a wake.
func (a *actor) wake() {
	if a.running.CompareAndSwap(false, true) {
		a.reg.wg.Add(1)
		go a.run(a.reg.actorCtx)
	}
}

// handle serves one request and reports whether the actor has stopped.
//
// Each case calls a separate non-inlined method so that handle's own frame
// stays small and an actor's goroutine fits the runtime's initial 2 KiB
// stack: starting one (wake) then costs no stack growth.
func (a *actor) handle(ctx context.Context, r *request) bool {
	if r.kind == reqStop {
		return true
	}
	if r.kind == reqMarked {
		// Bookkeeping of the state this actor holds; a state not loaded
		// (discarded since) restores with those rows taken as written.
		if a.ready {
			a.state.markPersisted(*r.rows)
		}
		return false
	}
	if r.kind == reqDiscard {
		a.discard()
		return false
	}
	activated := !a.ready
	if activated && !a.activateOrFail(ctx, r) {
		return false
	}
	if r.kind == reqRead && !a.readyToRead(ctx, r, activated) {
		return false
	}
	if r.kind == reqWarm && activated {
		// Read to the log's end after the session began: the session
		// delivers whatever follows, so the coming delivery applies
		// without another catch-up.
		a.session = r.session
	}
	switch r.kind {
	case reqApply:
		a.deliver(ctx, r)
	case reqSync:
		a.sync(ctx, r)
	case reqRead:
		a.read(r)
	case reqSnapshot:
		a.snapshot(r)
	case reqPersist:
		a.persist(ctx, r)
	}
	if a.broken {
		a.discard()
	}
	return false
}

// deliver applies a message from a partition consumer. The actor applies it
// directly only when its state is continuous with the message's delivery
// session; otherwise messages of this item may lie between applied and
// r.seq (delivered to another instance, or before this session began), and
// it catches up from the log through r.seq instead. Skipping that gap is how
// acknowledged events were once lost when a partition moved.
//
//go:noinline
func (a *actor) deliver(ctx context.Context, r *request) {
	switch {
	case r.seq <= a.applied:
		// The state holds it already (an activation or catch-up read it);
		// the session delivers everything after it.
		a.session = r.session
	case a.session != r.session:
		if !a.catchUpOrFail(ctx, r, r.seq) {
			// Not applied: the state stays exact as of applied, the
			// session stays unknown, and the next delivery tries again.
			return
		}
		a.session = r.session
	default:
		a.apply(r.seq, r.msg)
	}
	if a.broken {
		return // no update from a state about to be discarded
	}
	a.liveApplied(r.seq)
}

// readyToRead makes the state as new as a read needs and reports whether it
// is. Where a delivery session feeds the item here and the state is
// continuous with it, the state is as new as the consumer; otherwise (no
// consumer here, or the state predates the session: built as a non-owner,
// or before the partition came back) it catches up to the log's end first,
// and then follows the session. An activation has just read to the end.
//
//go:noinline
func (a *actor) readyToRead(ctx context.Context, r *request, activated bool) bool {
	if r.session != 0 && r.session == a.session {
		return true
	}
	if !activated && !a.catchUpOrFail(ctx, r, 0) {
		return false
	}
	a.session = r.session
	return true
}

// sync makes the state hold the log at least through r.seq and replies; the
// verdicts of the messages it applies go to their waiting requests on the
// way.
//
//go:noinline
func (a *actor) sync(ctx context.Context, r *request) {
	if a.applied < r.seq && !a.catchUpOrFail(ctx, r, r.seq) {
		return
	}
	r.reply <- reply{}
}

// activateOrFail activates the actor and reports whether it is ready; if
// not, the request gets the error. Activation is retried on every request
// until it succeeds: an apply that arrives while Postgres is down is dropped
// here, stays unacknowledged in the log and is replayed by the next
// activation.
//
//go:noinline
func (a *actor) activateOrFail(ctx context.Context, r *request) bool {
	// Activation runs on a short-lived goroutine while this one waits: its
	// deep pgx and NATS calls would otherwise grow this goroutine's stack
	// for good.
	done := make(chan error, 1)
	// A delivery of the partition's newest message needs the log only
	// through it: for a new item, one direct get, the message itself.
	// Anything else reads to the end: a consumer behind the log (after a
	// restart it starts over from its acknowledged floor) must not leave
	// reads behind it.
	var through uint64
	if r.kind == reqApply && r.newest {
		through = r.seq
	}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				a.reg.panicked(a.key, "activation", p)
				a.discard() // this goroutine owns the actor until done is sent
				done <- errPanicked
			}
		}()
		done <- a.activate(ctx, through)
	}()
	if err := <-done; err != nil {
		if r.reply != nil {
			r.reply <- reply{err: err}
		}
		return false
	}
	return true
}

// catchUpOrFail applies the log after a.applied through through (0: to its
// end); on failure the request gets the error, because an answer from
// behind the log would be wrong.
//
//go:noinline
func (a *actor) catchUpOrFail(ctx context.Context, r *request, through uint64) bool {
	ctx, cancel := context.WithTimeout(ctx, activationTimeout)
	defer cancel()
	err := a.reg.log.Replay(ctx, a.key, a.applied, through, a.apply)
	if err == nil && a.broken {
		// An apply panicked: rebuild the state now, without that message.
		a.discard()
		err = a.activate(ctx, through)
	}
	if err != nil {
		a.reg.logger.Warn("catch up", "item", a.key.String(), "err", err)
		if r.reply != nil {
			r.reply <- reply{err: errLogUnavailable()}
		}
		return false
	}
	return true
}

//go:noinline
func (a *actor) read(r *request) {
	v, err := r.fn(&a.state, a.key, a.applied)
	r.reply <- reply{value: v, err: err}
}

//go:noinline
func (a *actor) snapshot(r *request) {
	// The series rows are taken in the same step as the state copy: the
	// round writes them with this snapshot, in one transaction.
	r.reply <- reply{state: a.state.snapshot(), seq: a.applied, rows: a.state.pendingRows(time.Now().UnixMilli())}
}

// activate loads the newest snapshot and replays the item's log after it
// through through (0: to its end). If an apply panics on the way, it starts
// over once, skipping that message (see apply).
func (a *actor) activate(ctx context.Context, through uint64) error {
	err := a.activateOnce(ctx, through)
	if a.broken {
		a.discard()
		err = a.activateOnce(ctx, through)
		if a.broken {
			a.discard()
			return &Error{Code: EUnavailable, Reason: ReasonActorLoad, Message: "item state is being rebuilt", RetryAfter: time.Second}
		}
	}
	return err
}

func (a *actor) activateOnce(ctx context.Context, through uint64) error {
	// Bounded: a hung Postgres or NATS must not hold this actor, and the
	// partition consumer feeding it, forever; the next request retries.
	ctx, cancel := context.WithTimeout(ctx, activationTimeout)
	defer cancel()
	var (
		snap  Snapshot
		found bool
		err   error
	)
	if !a.reg.unsaved(a.key) { // else no snapshot exists, and the log holds all of the item (known.go)
		if snap, found, err = a.reg.loader.load(ctx, a.key); err != nil {
			return &Error{Code: EUnavailable, Reason: ReasonActorLoad, Message: "item state is unavailable", RetryAfter: time.Second}
		}
	}
	a.state, a.applied, a.session = itemState{}, 0, 0
	if found {
		if a.state, err = restoreState(snap.State); err != nil {
			return fmt.Errorf("restore snapshot %s: %w", a.key, err)
		}
		a.applied = snap.Seq
	}
	// Replayed messages publish nothing: a live message after them publishes
	// the state they built (see liveApplied).
	a.upd.pubSeq = a.applied
	err = a.reg.log.Replay(ctx, a.key, a.applied, through, a.apply)
	if err != nil {
		a.reg.logger.Warn("replay failed", "item", a.key.String(), "err", err)
		return errLogUnavailable()
	}
	a.ready = true
	return nil
}

// apply applies the log message seq, the next one of this item after
// applied: callers make sure nothing of the item lies between (a replay
// reads every message of the item in order; deliver checks its session). A
// sequence at or below applied (a redelivery, or a message a replay already
// covered) is skipped. Verdicts go to waiting requests, also during a
// replay, because the request that published an event may be waiting while
// its item activates or catches up.
//
// A message whose apply panics is skipped for good: it is logged and
// counted, its request gets an internal error (not a verdict), and the
// state, which may hold part of it, is discarded and rebuilt from the
// snapshot and the log without it (poison). So the state stays exactly
// "every message up to applied but the skipped ones", and a message that
// panics every time (a bug that its content triggers) cannot wedge its
// item or its partition: the rebuild succeeds, the snapshot round writes
// the item, and the consumer acknowledges the partition past it. Counting
// it later would need the fix and a replay from before it.
func (a *actor) apply(seq uint64, m *Message) {
	if seq <= a.applied {
		return
	}
	a.applied = seq
	if _, bad := a.poison[seq]; bad {
		a.reg.verdicts.deliver(m.Ref, nil)
		return
	}
	defer a.recoverApply(seq, m)
	a.applyEvents(m)
}

// recoverApply is apply's deferred guard; see apply.
func (a *actor) recoverApply(seq uint64, m *Message) {
	p := recover()
	if p == nil {
		return
	}
	a.reg.panicked(a.key, fmt.Sprintf("apply of log message %d", seq), p)
	if a.poison == nil {
		a.poison = map[uint64]struct{}{}
	}
	a.poison[seq] = struct{}{}
	a.broken = true
	a.reg.verdicts.deliver(m.Ref, nil) // nil: not applied (Registry.verdict)
}

// applyEvents applies m to every family it has events of, and sends their
// verdicts (recorded, or a duplicate), in family order, to the request
// waiting for them, if any, and to the outbox (outbox.go).
func (a *actor) applyEvents(m *Message) {
	if testHookApply != nil {
		testHookApply(a.key, m)
	}
	waiting := a.reg.verdicts.waiting(m.Ref)
	ob := a.reg.opts.Outbox
	hand := ob != nil && len(m.Render)+len(m.Content) > 0 && ob.Wants(a.key.Project)
	out := a.state.applyEvents(m, waiting || hand)
	if waiting {
		a.reg.verdicts.deliver(m.Ref, out)
	}
	if hand {
		ob.Recorded(a.key, m, out)
	}
}

// testHookApply, set only by this package's tests before any actor runs,
// sees every message an actor applies; the panic tests make it panic.
var testHookApply func(k ItemID, m *Message)

// panicked logs a panic contained to item k, with its stack, and counts it.
func (r *Registry) panicked(k ItemID, what string, p any) {
	r.panics.Add(1)
	r.logger.Error("panic in actor", "item", k.String(), "during", what, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
}
