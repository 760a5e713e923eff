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

type requestKind uint8

const (
	reqApply    requestKind = iota // apply a log message (from a partition consumer)
	reqRead                        // reply with the render summary
	reqSnapshot                    // reply with a snapshot of the state
	reqStop                        // stop; sent only once the actor is out of the registry
	reqCurrent                     // reply with the summary as an Update (live streams start from it)
)

type request struct {
	kind  requestKind
	seq   uint64
	msg   *Message
	reply chan reply // capacity 1, so a departed caller never blocks the actor

	itemKind string // reqCurrent: which summary
}

type reply struct {
	render RenderSummary
	snap   Snapshot
	update Update
	err    error
}

// actor owns one item's state. Its goroutine (run) is the only code that
// reads or writes the fields below the line.
type actor struct {
	key     Key
	part    int
	reg     *Registry
	mailbox chan *request

	pending    int          // senders between acquire and release; guarded by reg.mu
	lastActive atomic.Int64 // unix nanos of the last request, read by the snapshot round

	// owned by run
	ready   bool   // snapshot loaded and log replayed
	applied uint64 // log sequence of the last message applied
	state   itemState
	upd     updater // live updates
}

func (a *actor) run(ctx context.Context) {
	defer a.reg.wg.Done()
	defer a.stopUpdates()
	for {
		select {
		case r := <-a.mailbox:
			a.lastActive.Store(time.Now().UnixNano())
			if stop := a.handle(ctx, r); stop {
				return
			}
		case <-a.upd.due: // nil unless a trailing update is pending
			a.trailingUpdate()
		case <-ctx.Done():
			return
		}
	}
}

// handle serves one request and reports whether the actor has stopped.
func (a *actor) handle(ctx context.Context, r *request) bool {
	if r.kind == reqStop {
		return true
	}
	if !a.ready {
		// Activation is retried on every request until it succeeds: an
		// apply that arrives while Postgres is down is dropped here, stays
		// unacknowledged in the log and is replayed by the next activation.
		if err := a.activate(ctx); err != nil {
			if r.reply != nil {
				r.reply <- reply{err: err}
			}
			return false
		}
	}
	switch r.kind {
	case reqApply:
		a.apply(r.seq, r.msg, true)
		a.liveApplied(r.seq)
	case reqRead:
		r.reply <- reply{render: a.renderState().summary()}
	case reqSnapshot:
		b, err := a.state.encode()
		if err != nil {
			r.reply <- reply{err: fmt.Errorf("encode snapshot %s: %w", a.key, err)}
			return false
		}
		r.reply <- reply{snap: Snapshot{Key: a.key, Seq: a.applied, State: b}}
	case reqCurrent:
		u, err := a.encodeUpdate(r.itemKind)
		r.reply <- reply{update: u, err: err}
	}
	return false
}

// activate loads the newest snapshot and replays the item's log after it.
func (a *actor) activate(ctx context.Context) error {
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
	_ = live // live updates are published by handle (liveApplied), which also sees messages a replay applied
}

func (a *actor) renderState() *renderState {
	if a.state.render == nil {
		a.state.render = newRenderState()
	}
	return a.state.render
}
