package actors

import (
	"fmt"
	"time"
)

// UpdateSink receives an item's live updates. Both methods are called on the
// item's actor goroutine, so they must not block on subscribers (core NATS
// publish buffers and returns). Publish may keep u.Payload: every update is a
// fresh slice.
//
// Wanted says whether an update of k could reach anybody now. Most items have
// no live reader, and encoding their summary after every change was the
// largest cost the updates added to ingest; an actor asks first and skips the
// encoding when nobody listens. A sink that cannot tell returns true. A
// reader must subscribe before it reads the state it starts from (the SSE
// streams do): an update skipped before the subscription is then covered by
// that read.
type UpdateSink interface {
	Wanted(k ItemID) bool
	Publish(k ItemID, u Update)
}

// Update is an item's summary as of log sequence Seq, encoded as the JSON that
// update subscribers see: the item's engagement read (for a render, the body
// of GET /v1/renders/:id/engagement; for an SDK content item, the "data" of
// GET /v1/contents/:id/engagement) with "seq" added.
type Update struct {
	Seq     uint64
	Payload []byte
}

// updater is the part of an actor that turns applied events into coalesced
// updates. Only the actor goroutine touches it.
//
// Updates are throttled per item with a leading and a trailing edge: the first
// live event after a quiet interval is published at once (event-to-visible
// latency is one publish), later ones at most once per UpdateInterval, and a
// timer publishes whatever the last interval left unpublished, so a burst
// always ends with an update of the exact final state. The timer is read by
// the actor's own select loop: it never blocks anybody, and it dies with the
// actor.
type updater struct {
	pubSeq  uint64      // log sequence of the newest state published (or restored from a snapshot)
	lastPub time.Time   // when it was published
	timer   *time.Timer // trailing edge; created on first use
	due     <-chan time.Time
}

// encodeUpdate encodes family fam's live summary of item k as of seq.
func encodeUpdate(st *itemState, fam int, k ItemID, seq uint64) (Update, error) {
	b, err := st.get(fam).update(k, seq)
	if err != nil {
		return Update{}, fmt.Errorf("encode update %s: %w", k, err)
	}
	return Update{Seq: seq, Payload: b}, nil
}

// liveApplied runs after the live log message seq was handled. seq may have
// been applied by an activation replay that this very message (or a read)
// triggered; it still has to be published, because no update carried it. A
// redelivery of a message that an earlier update covered publishes nothing.
func (a *actor) liveApplied(seq uint64) {
	if a.reg.opts.Updates == nil || seq <= a.upd.pubSeq || a.upd.due != nil {
		return // no sink, nothing new, or the trailing edge will carry it
	}
	now := time.Now()
	if wait := a.upd.lastPub.Add(a.reg.opts.UpdateInterval).Sub(now); wait > 0 {
		if a.upd.timer == nil {
			a.upd.timer = time.NewTimer(wait)
		} else {
			a.upd.timer.Reset(wait)
		}
		a.upd.due = a.upd.timer.C
		return
	}
	a.publishUpdate(now)
}

// trailingUpdate runs when the trailing-edge timer fires.
func (a *actor) trailingUpdate() {
	a.upd.due = nil
	if a.applied > a.upd.pubSeq {
		a.publishUpdate(time.Now())
	}
}

// stopUpdates publishes a pending trailing update, so that passivation or
// shutdown inside an interval does not swallow a burst's final state, and
// stops the timer.
func (a *actor) stopUpdates() {
	if a.upd.due != nil {
		a.upd.timer.Stop()
		a.trailingUpdate()
	}
}

// publishUpdate encodes and publishes the current summary. It only reads
// the state, so a panic in it (encoding, or the sink) costs this update
// only: it is logged and counted like any actor panic, and the next change
// publishes the whole state again. It runs inside and outside serve (the
// trailing-edge timer), hence its own guard.
func (a *actor) publishUpdate(now time.Time) {
	defer func() {
		if p := recover(); p != nil {
			a.reg.panicked(a.key, "live update", p)
		}
	}()
	fam := a.state.live()
	if fam < 0 {
		return // no family state yet: nothing a subscriber could read
	}
	if !a.reg.opts.Updates.Wanted(a.key) {
		// Nobody listens: this state counts as published, so the throttle
		// goes on as if it were, and a reader that subscribes now gets the
		// next change's update (within one UpdateInterval).
		a.upd.pubSeq, a.upd.lastPub = a.applied, now
		return
	}
	u, err := encodeUpdate(&a.state, fam, a.key, a.applied)
	if err != nil {
		a.reg.logger.Warn("live update", "item", a.key.String(), "err", err)
		return
	}
	a.reg.opts.Updates.Publish(a.key, u)
	a.upd.pubSeq, a.upd.lastPub = u.Seq, now
}
