package actors

// registry_ingest.go is the one ingest path: Submit publishes a request's
// log messages and waits for each event's verdict (recorded or duplicate)
// from the item's actor. Verdicts travel from the actor's apply to the
// waiting request through verdicts.go.

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// Submission is one log message to publish for item Key, and, once Submit
// returns, its outcome.
type Submission struct {
	Key   ItemID
	MsgID string // Nats-Msg-Id: a retried request that produces the same id inside the log's duplicate window is stored once
	Msg   Message

	// NoVerdict: the caller needs the item's state to hold the message, not
	// its verdicts (a user's message: the content's actor decides whether
	// its events count). Submit then also succeeds when the state reached
	// the message through a snapshot another instance wrote after applying
	// it, where the verdicts were decided there and are not known here.
	NoVerdict bool

	Counted   []bool // per event of Msg, in family order (families.go): counted, or dropped by the item's dedupe rule
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
		out, err := r.verdict(ctx, s.Key, ps[i].seq, ps[i].verdict, grace.Done(), s.NoVerdict)
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
func (r *Registry) verdict(ctx context.Context, k ItemID, seq uint64, ch chan []bool, grace <-chan struct{}, noVerdict bool) ([]bool, error) {
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
		if noVerdict {
			return nil, nil
		}
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

// verdictOrPanicked turns the nil verdicts of a message whose apply
// panicked (actor.recoverApply) into the request's error: the event is
// stored but was not counted.
func verdictOrPanicked(out []bool) ([]bool, error) {
	if out == nil {
		return nil, errPanicked
	}
	return out, nil
}
