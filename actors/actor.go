// Package actors is the domain of engaged: event types and their rules, the
// per-item state, the actor goroutine that owns that state, the registry that
// activates and passivates actors, and the snapshot rounds that persist them.
//
// It imports no adapter. It declares the two things it needs from the
// outside, a SnapshotStore (persist implements it) and a Log (transport
// implements it); cmd/engaged wires them together.
package actors

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// SnapshotStore keeps item snapshots and partition epochs (the fence that
// keeps a deposed partition owner from overwriting a newer owner's work).
type SnapshotStore interface {
	LoadSnapshot(ctx context.Context, k Key) (snap Snapshot, found bool, err error)
	// Epochs returns every partition's current epoch.
	Epochs(ctx context.Context) (map[int]int64, error)
	// ClaimPartition bumps part's epoch and returns the new one.
	ClaimPartition(ctx context.Context, part int) (epoch int64, err error)
	// SaveSnapshots writes snaps, all of partition part, if epoch is still
	// part's current epoch; otherwise it writes nothing and returns ErrFenced.
	// A snapshot older than the stored one (lower Seq) is ignored.
	SaveSnapshots(ctx context.Context, part int, epoch int64, snaps []Snapshot) error
}

// ErrFenced means another instance claimed the partition since this one did.
var ErrFenced = errors.New("partition fenced by a newer owner")

// Log is the event log as the actors need it: the item's own messages after
// a sequence, in order.
type Log interface {
	Replay(ctx context.Context, k Key, afterSeq uint64, fn func(seq uint64, m *Message)) error
}

// activationTimeout bounds loading a snapshot and replaying the log after it.
const activationTimeout = 30 * time.Second

type requestKind uint8

const (
	reqApply    requestKind = iota // apply a log message (from a partition consumer)
	reqReadJSON                    // reply with the render summary as JSON
	reqSnapshot                    // reply with a snapshot of the state
	reqStop                        // stop; sent only once the actor is out of the registry
	reqShares                      // reply with the render's per-share counts
	reqVideo                       // reply with the SDK event summary
	reqCurrent                     // reply with the summary as an Update (live streams start from it)
	reqCatchUp                     // apply the item's log up to now (no reply; see Registry.CatchUp)
)

type request struct {
	kind  requestKind
	seq   uint64
	msg   *Message
	reply chan reply // capacity 1, so a departed caller never blocks the actor
	// catchUp: apply the log up to now before answering, because no
	// partition consumer delivers this item's events to this instance.
	catchUp bool

	itemKind string // reqCurrent: which summary
}

type reply struct {
	state  *stateSnapshot         // for reqSnapshot, encoded by the caller
	seq    uint64                 // for reqSnapshot
	shares map[string]ShareCounts // for reqShares
	video  *VideoSummary          // for reqVideo
	update Update                 // for reqCurrent and reqReadJSON
	err    error
}

// actor owns one item's state. Its goroutine (run; at most one at a time,
// started by wake) is the only code that reads or writes the fields below
// the line.
type actor struct {
	key     Key
	part    int
	reg     *Registry
	mailbox chan *request

	pending    int          // senders between acquire and release; guarded by reg.mu
	lastActive atomic.Int64 // unix nanos of the last request, read by the snapshot round
	running    atomic.Bool  // a goroutine runs the actor; see run and wake

	// owned by run
	ready   bool   // snapshot loaded and log replayed
	applied uint64 // log sequence of the last message applied
	state   itemState
	upd     updater // live updates
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
func (a *actor) serve(ctx context.Context, r *request) bool {
	a.lastActive.Store(time.Now().UnixNano())
	if a.handle(ctx, r) {
		a.stopUpdates()
		return true
	}
	return false
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
	activated := !a.ready
	if activated && !a.activateOrFail(ctx, r) {
		return false
	}
	// Activation has just replayed the log to its end.
	if (r.catchUp || r.kind == reqCatchUp) && !activated && !a.catchUpOrFail(ctx, r) {
		return false
	}
	switch r.kind {
	case reqApply:
		a.apply(r.seq, r.msg, true)
		a.liveApplied(r.seq)
	case reqReadJSON:
		a.readJSON(r)
	case reqShares:
		a.shares(r)
	case reqVideo:
		a.video(r)
	case reqSnapshot:
		a.snapshot(r)
	case reqCurrent:
		a.current(r)
	}
	return false
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
	go func() { done <- a.activate(ctx) }()
	if err := <-done; err != nil {
		if r.reply != nil {
			r.reply <- reply{err: err}
		}
		return false
	}
	return true
}

//go:noinline
func (a *actor) video(r *request) {
	sum := a.videoState().summary(a.key.Item)
	r.reply <- reply{video: &sum}
}

// catchUpOrFail applies the log after a.applied; on failure the request
// gets the error, because an answer from behind the log would be wrong.
//
//go:noinline
func (a *actor) catchUpOrFail(ctx context.Context, r *request) bool {
	ctx, cancel := context.WithTimeout(ctx, activationTimeout)
	defer cancel()
	err := a.reg.log.Replay(ctx, a.key, a.applied, func(seq uint64, m *Message) { a.apply(seq, m, false) })
	if err != nil {
		a.reg.logger.Warn("catch up", "item", a.key.String(), "err", err)
		if r.reply != nil {
			r.reply <- reply{err: &Error{Code: EUnavailable, Message: "item log is unavailable", RetryAfter: time.Second}}
		}
		return false
	}
	return true
}

//go:noinline
func (a *actor) readJSON(r *request) {
	var u Update
	if a.state.render == nil {
		e := emptyRenderSummary()
		u.Payload = e.AppendJSON(nil)
	} else {
		u.Payload = a.state.render.appendJSON(nil, 0, false)
	}
	r.reply <- reply{update: u}
}

//go:noinline
func (a *actor) shares(r *request) {
	r.reply <- reply{shares: a.renderState().shareCounts()}
}

//go:noinline
func (a *actor) current(r *request) {
	u, err := a.encodeUpdate(r.itemKind)
	r.reply <- reply{update: u, err: err}
}

//go:noinline
func (a *actor) snapshot(r *request) {
	r.reply <- reply{state: a.state.snapshot(), seq: a.applied}
}

// activate loads the newest snapshot and replays the item's log after it.
func (a *actor) activate(ctx context.Context) error {
	// Bounded: a hung Postgres or NATS must not hold this actor, and the
	// partition consumer feeding it, forever; the next request retries.
	ctx, cancel := context.WithTimeout(ctx, activationTimeout)
	defer cancel()
	snap, found, err := a.reg.store.LoadSnapshot(ctx, a.key)
	if err != nil {
		return &Error{Code: EUnavailable, Message: "item state is unavailable", RetryAfter: time.Second}
	}
	a.state, a.applied = itemState{}, 0
	if found {
		if a.state, err = restoreState(snap.State); err != nil {
			return fmt.Errorf("restore snapshot %s: %w", a.key, err)
		}
		a.applied = snap.Seq
	}
	// Replayed messages publish nothing: a live message after them publishes
	// the state they built (see liveApplied).
	a.upd.pubSeq = a.applied
	err = a.reg.log.Replay(ctx, a.key, a.applied, func(seq uint64, m *Message) { a.apply(seq, m, false) })
	if err != nil {
		a.reg.logger.Warn("replay failed", "item", a.key.String(), "err", err)
		return &Error{Code: EUnavailable, Message: "item log is unavailable", RetryAfter: time.Second}
	}
	a.ready = true
	return nil
}

// apply applies one log message once: a sequence at or below the last
// applied one (a redelivery, or a message already covered by the replay) is
// skipped. Verdicts go to waiting requests, also during a replay, because
// the request that published an event may be waiting while its item
// activates.
func (a *actor) apply(seq uint64, m *Message, live bool) {
	if seq <= a.applied {
		return
	}
	a.applied = seq
	if len(m.Render) > 0 {
		rs := a.renderState()
		for i := range m.Render {
			recorded := rs.apply(m.Render[i])
			a.reg.verdicts.deliver(m.Render[i].ID, recorded)
		}
	}
	if len(m.Video) > 0 {
		a.applyVideo(m)
	}
	_ = live // live updates are published by handle (liveApplied), which also sees messages a replay applied
}

func (a *actor) renderState() *renderState {
	if a.state.render == nil {
		a.state.render = newRenderState()
	}
	return a.state.render
}
