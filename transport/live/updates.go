// Package live carries the actors' live updates over core NATS: each item's
// current summary, published on its own subject after every change. The SSE
// streams of every instance subscribe to it.
package live

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/engagedhq/engaged/actors"
)

// updatePrefix starts every live update subject:
// engaged.updates.<project>.<item>. Project and item ids are validated
// ([A-Za-z0-9_-]) before they reach a subject, so `engaged.updates.<project>.>`
// is exactly one project's items.
const updatePrefix = "engaged.updates."

// SeqHeader carries an update's log sequence, so that a subscriber (the SSE
// streams) can order and skip updates without decoding the payload.
const SeqHeader = "Engaged-Seq"

// UpdateSubject returns the core NATS subject of item k's live updates.
func UpdateSubject(k actors.ItemID) string { return updatePrefix + k.Project + "." + k.Item }

// Updates publishes the actors' live updates on core NATS and subscribes the
// SSE streams to them. It implements actors.UpdateSink. Safe for concurrent use.
//
// Updates are core NATS messages, not JetStream: they are a view of state that
// the log already holds, a subscriber that misses one gets the complete state
// in the next, and nothing waits for an acknowledgement.
type Updates struct {
	nc       *nats.Conn
	logger   *slog.Logger
	interest func(subject string) bool // nil: every update is wanted

	failures atomic.Int64 // publishes that failed, e.g. while NATS reconnects with a full buffer
	panics   atomic.Int64 // subscription callbacks that panicked
	lastWarn atomic.Int64 // unix nanos of the last failure logged
}

var _ actors.UpdateSink = (*Updates)(nil)

// NewUpdates publishes and subscribes on nc. interest, when not nil, says
// whether the NATS server nc is connected to has a subscriber for a subject
// (for the embedded server: its account's SubscriptionInterest, which counts
// every client of that server, in-process or not). Updates nobody subscribes
// to are then not encoded at all (Wanted). nil means every update is wanted:
// a client of an external NATS cannot see the cluster's interest.
func NewUpdates(nc *nats.Conn, logger *slog.Logger, interest func(subject string) bool) *Updates {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Updates{nc: nc, logger: logger, interest: interest}
}

// Wanted reports whether an update of k has a subscriber now.
func (u *Updates) Wanted(k actors.ItemID) bool {
	return u.interest == nil || u.interest(UpdateSubject(k))
}

// Publish sends u on k's update subject. It runs on actor goroutines and never
// waits: nats.Conn buffers the message (also while reconnecting, up to its
// reconnect buffer), and a failure drops this update only; the item's next
// update carries the complete state again.
func (u *Updates) Publish(k actors.ItemID, up actors.Update) {
	m := &nats.Msg{
		Subject: UpdateSubject(k),
		Header:  nats.Header{SeqHeader: []string{strconv.FormatUint(up.Seq, 10)}},
		Data:    up.Payload,
	}
	if err := u.nc.PublishMsg(m); err != nil {
		u.failures.Add(1)
		now := time.Now().UnixNano()
		if last := u.lastWarn.Load(); now-last > int64(10*time.Second) && u.lastWarn.CompareAndSwap(last, now) {
			u.logger.Warn("live update not published", "item", k.String(), "err", err, "failures", u.failures.Load())
		}
	}
}

// Panics returns how many updates a subscriber's callback panicked on. Such
// a panic is contained to that update: it is logged with its stack, and the
// subscription (and every other) goes on with the next update, which
// carries the whole state again.
func (u *Updates) Panics() int64 { return u.panics.Load() }

// Failures returns how many updates could not be published.
func (u *Updates) Failures() int64 { return u.failures.Load() }

// Subscribe calls fn for every update of item k until stop is called. It
// returns once the server has the subscription (a flush), so an update
// published after that, from any connection, reaches fn; ctx bounds that
// flush and must have a deadline. fn runs on the subscription's own
// goroutine and must not block: a slow SSE client must never hold up
// another's updates.
func (u *Updates) Subscribe(ctx context.Context, k actors.ItemID, fn func(seq uint64, payload []byte)) (stop func(), err error) {
	sub, err := u.nc.Subscribe(UpdateSubject(k), func(m *nats.Msg) {
		// nats.go does not recover its callbacks: without this a panic
		// here would end the process.
		defer func() {
			if p := recover(); p != nil {
				u.panics.Add(1)
				u.logger.Error("panic in live-update subscriber", "subject", m.Subject, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		seq, err := strconv.ParseUint(m.Header.Get(SeqHeader), 10, 64)
		if err != nil {
			return // not ours
		}
		fn(seq, m.Data)
	})
	if err != nil {
		return nil, err
	}
	if err := u.nc.FlushWithContext(ctx); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
