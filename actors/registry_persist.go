package actors

// registry_persist.go writes one item's snapshot on demand, outside the
// snapshot rounds: the log retention sweep needs a snapshot that covers a
// message before it removes it (docs/OPERATING.md, "Log retention"), and an
// erasure needs the scrubbed state written before it deletes the log
// messages it scrubbed (docs/PRIVACY.md).

import (
	"context"
	"errors"
	"time"
)

// Persist makes k's actor hold k's log at least through through, a
// sequence of a message of k (0: to the log's end as it is now), activating
// it if needed (the item may never have been activated since an ownership
// move or a restart), applies e's scrub to its state if e is not
// nil, and writes the state as k's snapshot under this instance's epoch of
// k's partition. It returns the snapshot's sequence, which is ≥ through
// when the log holds anything of k; 0 when k has nothing to write.
//
// A partition this instance does not own is claimed first: Persist then
// fails with an EUnavailable error, and a later call, once the claim is
// made, succeeds. Persist and the snapshot rounds are serialized (saveMu),
// so a round cannot write a copy of the state taken before the scrub over
// the scrubbed one.
func (r *Registry) Persist(ctx context.Context, k ItemID, through uint64, e *Erasure) (uint64, error) {
	// Bounded: the snapshot rounds wait for saveMu meanwhile.
	ctx, cancel := context.WithTimeout(ctx, 2*activationTimeout)
	defer cancel()
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	req := &request{kind: reqPersist, seq: through}
	if e != nil {
		req.fn = func(st *itemState, k ItemID, _ uint64) (any, error) { e.scrub(k, st); return nil, nil }
	}
	rep, a, err := r.call(ctx, k, req)
	if err != nil {
		return 0, err
	}
	if rep.seq == 0 {
		return 0, nil
	}
	b, err := rep.state.encode()
	if err != nil {
		return 0, err
	}
	// As a round does: what the applied messages caused is stored before
	// a snapshot covers them (outbox.go).
	if ob := r.opts.Outbox; ob != nil {
		if err := ob.Flush(ctx); err != nil {
			return 0, &Error{Code: EUnavailable, Reason: ReasonActorLoad, Message: "outbox not flushed", RetryAfter: time.Second}
		}
	}
	snaps := []Snapshot{{Key: k, Seq: rep.seq, State: b, Series: rep.rows}}
	part := r.Partition(k)
	if err := r.save(ctx, part, snaps, true); err != nil {
		if errors.Is(err, ErrFenced) {
			r.dropPartition(part, false) // as a round does: the next call claims it again
		}
		if errors.Is(err, errNotClaimed) || errors.Is(err, ErrFenced) {
			return 0, &Error{Code: EUnavailable, Reason: ReasonActorLoad, Message: "partition is being claimed", RetryAfter: time.Second}
		}
		return 0, err
	}
	r.mu.Lock()
	r.noteSavedLocked(snaps)
	r.mu.Unlock()
	if !rep.rows.empty() {
		r.markWritten(a, &snaps[0].Series)
	}
	return rep.seq, nil
}

// persist serves reqPersist: the state through r.seq, scrubbed by r.fn if
// set, copied for the snapshot.
//
//go:noinline
func (a *actor) persist(ctx context.Context, r *request) {
	if (r.seq == 0 || a.applied < r.seq) && !a.catchUpOrFail(ctx, r, r.seq) {
		return
	}
	if r.fn != nil {
		_, _ = r.fn(&a.state, a.key, a.applied)
	}
	r.reply <- reply{state: a.state.snapshot(), seq: a.applied, rows: a.state.pendingRows(time.Now().UnixMilli())}
}

// DropCopy discards the state of k's actor here if it is live and this
// instance does not own k's partition: a read-only copy, built from a
// snapshot and the log, of an item that an erasure scrubbed on its owner
// (Persist there). Its next request rebuilds it from the scrubbed snapshot
// and the log, whose erased messages are gone. An owned item's state is the
// one Persist scrubbed, and an item not live here has nothing to drop; so
// DropCopy never activates an actor. It waits for a full mailbox until ctx
// ends.
func (r *Registry) DropCopy(ctx context.Context, k ItemID) error {
	r.mu.Lock()
	_, live := r.items[k]
	_, owned := r.epochs[r.Partition(k)]
	r.mu.Unlock()
	if !live || owned {
		return nil
	}
	// If the actor passivated meanwhile, this starts one that discards
	// nothing it had: harmless.
	_, err := r.send(ctx, k, &request{kind: reqDiscard})
	return err
}
