package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// UpdateSink receives an item's live updates. Publish is called on the item's
// actor goroutine, so it must not block on subscribers (core NATS publish
// buffers and returns). It may keep u.Payload: every update is a fresh slice.
type UpdateSink interface {
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

// contentUpdate is the update payload of an SDK content item.
type contentUpdate struct {
	Seq uint64 `json:"seq"`
	ContentSummary
}

// liveKind is the item kind whose summary a's live updates carry. An item
// holds state of one family only: the HTTP edge sends render events and
// reads only to renders, and SDK events and reads only to content items.
func (a *actor) liveKind() string {
	switch {
	case a.state.render != nil:
		return RenderItem
	case a.state.content != nil:
		return ContentItem
	}
	return ""
}

// encodeUpdate encodes the summary of the given kind as of a.applied.
func (a *actor) encodeUpdate(kind string) (Update, error) {
	var (
		b   []byte
		err error
	)
	switch kind {
	case RenderItem:
		b = a.renderState().appendJSON(nil, a.applied, true)
	case ContentItem:
		b, err = a.encodeContentUpdate()
	default:
		return Update{}, fmt.Errorf("no live summary for item kind %q", kind)
	}
	if err != nil {
		return Update{}, fmt.Errorf("encode update %s: %w", a.key, err)
	}
	return Update{Seq: a.applied, Payload: b}, nil
}

// encodeContentUpdate is encodeUpdate's content case, in a frame of its own:
// a ContentSummary is a few hundred bytes, and the actor's frames stay small
// (see handle).
//
//go:noinline
func (a *actor) encodeContentUpdate() ([]byte, error) {
	return json.Marshal(&contentUpdate{Seq: a.applied, ContentSummary: a.contentState().summary(a.key.Item)})
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
	kind := a.liveKind()
	if kind == "" {
		return // no family state yet: nothing a subscriber could read
	}
	u, err := a.encodeUpdate(kind)
	if err != nil {
		a.reg.logger.Warn("live update", "item", a.key.String(), "err", err)
		return
	}
	a.reg.opts.Updates.Publish(a.key, u)
	a.upd.pubSeq, a.upd.lastPub = u.Seq, now
}

// Current returns item k's current summary of the given kind (RenderItem or
// ContentItem) in the same encoding and with the same Seq as its live
// updates, so a subscriber can start from it and skip updates at or below its
// Seq.
func (r *Registry) Current(ctx context.Context, k ItemID, kind string) (Update, error) {
	req := &request{kind: reqCurrent, itemKind: kind, reply: make(chan reply, 1)}
	if _, err := r.send(ctx, k, req); err != nil {
		return Update{}, err
	}
	select {
	case rep := <-req.reply:
		return rep.update, rep.err
	case <-ctx.Done():
		return Update{}, &Error{Code: EUnavailable, Message: "item is busy", RetryAfter: time.Second}
	}
}
