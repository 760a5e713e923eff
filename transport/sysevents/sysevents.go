// Package sysevents records the system events (email_sent, share_created,
// share_revoked) that trusted services inside the deployment publish on core
// NATS. It validates each message, submits the valid ones through the one
// ingest path, and answers publishers that ask.
package sysevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// Subject is the core NATS subject on which trusted services inside the
// deployment record system events (email_sent, share_created,
// share_revoked) for a render. The README documents the JSON schema. Every
// instance subscribes in the queue group queue, so each message is handled
// once.
const Subject = "engaged.system.events"

const (
	queue   = "engaged"
	workers = 4   // messages handled at once per instance
	buffer  = 256 // messages waiting per instance; past it NATS drops (slow consumer)
)

// Submitter is the one ingest path of events (actors.Registry): Submit
// publishes each submission's message and fills in its verdicts.
type Submitter interface {
	Submit(ctx context.Context, subs ...*actors.Submission) error
}

// Renders finds a render that may take events (persist.Store).
type Renders interface {
	ActiveRender(ctx context.Context, projectID, renderID string) (actors.Item, error)
}

// Options configures the subscriber.
type Options struct {
	MaxBytes         int              // a longer message is rejected, as an HTTP body over the limit is
	MaxMetadataBytes int              // bound of a message's compacted metadata
	Timeout          time.Duration    // bounds the handling of one message, as of one HTTP request
	Now              func() time.Time // the clock of event times; nil = time.Now
	Logger           *slog.Logger
}

// Subscriber consumes Subject: it validates each message and
// republishes valid ones onto the log, with the message's id as Nats-Msg-Id
// (so a publisher's retry is stored once). Invalid messages are logged,
// counted (/stats) and never applied. A message with a reply subject gets
// an answer: {"ok":true,"recorded":bool} or {"ok":true,"duplicate":true}, or
// {"ok":false,"error":{"code","message","issues"?}}.
//
// Core NATS delivers at most once: a publisher that needs to know its event
// was stored uses request-reply and retries with the same id on timeout.
type Subscriber struct {
	opts    Options
	renders Renders
	engine  Submitter
	logger  *slog.Logger

	sub  *nats.Subscription
	ch   chan *nats.Msg
	quit chan struct{}
	wg   sync.WaitGroup // workers
	once sync.Once

	// Counters for /stats (Counts).
	accepted  atomic.Int64 // events stored
	duplicate atomic.Int64 // events JetStream already had
	rejected  atomic.Int64 // invalid messages, never applied
	failed    atomic.Int64 // valid messages that could not be stored (retry)
	panics    atomic.Int64 // messages whose handling panicked (also counted as failed)
}

// Panics returns how many messages' handling panicked since start. Such a
// panic is contained to its message: it is logged with its stack, counted
// as failed, answered internal (if asked), and the worker goes on.
func (se *Subscriber) Panics() int64 { return se.panics.Load() }

// New returns a subscriber that checks each event's render with renders and
// records the event through engine. Start starts it.
func New(o Options, renders Renders, engine Submitter) *Subscriber {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Subscriber{
		opts: o, renders: renders, engine: engine, logger: o.Logger,
		ch: make(chan *nats.Msg, buffer), quit: make(chan struct{}),
	}
}

// Start subscribes to Subject on nc and starts the workers. Stop must be
// called, before the actors and NATS stop.
func (se *Subscriber) Start(nc *nats.Conn) error {
	sub, err := nc.ChanQueueSubscribe(Subject, queue, se.ch)
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", Subject, err)
	}
	se.sub = sub
	for i := 0; i < workers; i++ {
		se.wg.Add(1)
		go se.work()
	}
	return nil
}

// Stop unsubscribes, lets each worker finish the message in hand and waits
// for them. Messages still buffered are dropped unanswered; their
// publishers time out and retry. Stop is idempotent.
func (se *Subscriber) Stop() {
	se.once.Do(func() {
		if se.sub != nil { // Start failed or never ran
			_ = se.sub.Unsubscribe()
		}
		close(se.quit)
		se.wg.Wait()
	})
}

// Counts returns the counters of messages handled since start.
func (se *Subscriber) Counts() (accepted, duplicate, rejected, failed int64) {
	return se.accepted.Load(), se.duplicate.Load(), se.rejected.Load(), se.failed.Load()
}

func (se *Subscriber) work() {
	defer se.wg.Done()
	for {
		select {
		case <-se.quit:
			return
		case m := <-se.ch:
			se.handle(m)
		}
	}
}

// systemReply is the answer to a message with a reply subject; its error is
// shaped like the HTTP API's.
type systemReply struct {
	OK        bool        `json:"ok"`
	Recorded  *bool       `json:"recorded,omitempty"`
	Duplicate bool        `json:"duplicate,omitempty"`
	Error     *replyError `json:"error,omitempty"`
}

type replyError struct {
	Code    actors.Code    `json:"code"`
	Message string         `json:"message"`
	Issues  *actors.Issues `json:"issues,omitempty"`
}

func (se *Subscriber) handle(m *nats.Msg) {
	reply := func(r systemReply) {
		if m.Reply == "" {
			return
		}
		b, _ := json.Marshal(r)
		_ = m.Respond(b)
	}
	fail := func(err error) {
		var e *actors.Error
		if !errors.As(err, &e) {
			e = &actors.Error{Code: actors.EInternal, Message: "internal error"}
		}
		switch e.Code {
		case actors.EUnavailable, actors.EInternal:
			se.failed.Add(1)
			se.logger.Warn("system event not stored", "err", err)
		default:
			se.rejected.Add(1)
			se.logger.Warn("system event rejected", "code", e.Code, "err", e.Message, "issues", e.Issues)
		}
		reply(systemReply{Error: &replyError{Code: e.Code, Message: e.Message, Issues: e.Issues}})
	}
	defer func() {
		if p := recover(); p != nil {
			se.panics.Add(1)
			se.failed.Add(1)
			se.logger.Error("panic in system-events subscriber", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			reply(systemReply{Error: &replyError{Code: actors.EInternal, Message: "internal error"}})
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), se.opts.Timeout)
	defer cancel()
	k, ev, err := se.parse(ctx, m.Data)
	if err != nil {
		fail(err)
		return
	}
	// One message per event, under the event's id: a publisher's retry
	// is the same Nats-Msg-Id.
	sub := &actors.Submission{Key: k, MsgID: ev.ID, Msg: actors.Message{Render: []actors.RenderEvent{ev}}}
	if err := se.engine.Submit(ctx, sub); err != nil {
		fail(err)
		return
	}
	if sub.Duplicate {
		se.duplicate.Add(1)
		reply(systemReply{OK: true, Duplicate: true})
		return
	}
	se.accepted.Add(1)
	reply(systemReply{OK: true, Recorded: &sub.Counted[0]})
}

// parse validates one message of Subject against the documented schema and
// checks that its project and render exist.
func (se *Subscriber) parse(ctx context.Context, b []byte) (actors.ItemID, actors.RenderEvent, error) {
	var ev actors.RenderEvent
	if len(b) > se.opts.MaxBytes {
		return actors.ItemID{}, ev, actors.Errorf(actors.ETooLarge, "message exceeds %d bytes", se.opts.MaxBytes)
	}
	m, err := wire.DecodeSystemEvent(b, se.opts.MaxMetadataBytes)
	if err != nil {
		return actors.ItemID{}, ev, err
	}
	ev.ID, ev.EventType, ev.Metadata = m.ID, m.Type, m.Metadata
	project, render, share := m.Project, m.Render, m.ShareID
	if _, err := se.renders.ActiveRender(ctx, project, render); err != nil {
		if actors.ErrorCode(err) == actors.ENotFound {
			return actors.ItemID{}, ev, actors.Errorf(actors.ENotFound, "no render %s in project %s", render, project)
		}
		return actors.ItemID{}, ev, err
	}
	ev.ActorKind = actors.System
	if share != "" {
		ev.ShareID = &share
	}
	ev.CreatedAt = actors.NewTime(se.opts.Now())
	return actors.ItemID{Project: project, Item: render}, ev, nil
}
