package transport

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"engaged/actors"
)

// publishAck is PublishAsync followed by its wait, returning the whole
// PubAck: callers that reuse a Nats-Msg-Id on purpose (a repeated revoke, an
// internal publisher's retry) need to know that JetStream stored nothing new.
func (l *Log) publishAck(ctx context.Context, k actors.Key, msgID string, payload []byte) (*jetstream.PubAck, error) {
	m := nats.NewMsg(l.Subject(k))
	m.Data = payload
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	f, err := l.js.PublishMsgAsync(m)
	if err != nil {
		return nil, unavailable("event log is overloaded", err)
	}
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		return nil, unavailable("event log did not store the event", err)
	case <-ctx.Done():
		return nil, unavailable("event log did not answer in time", ctx.Err())
	}
}

// recordAll publishes evs as one log message of item k under msgID (its
// Nats-Msg-Id) and waits for the actor's verdict on each event. dup reports
// that JetStream already held a message with msgID inside its duplicate
// window: nothing new was stored and there is no verdict to wait for.
func (s *Server) recordAll(ctx context.Context, k actors.Key, msgID string, evs ...actors.RenderEvent) (recorded []bool, dup bool, err error) {
	payload, err := (&actors.Message{Render: evs}).Encode()
	if err != nil {
		return nil, false, err
	}
	waits := make([]func(context.Context) (bool, error), len(evs))
	for i := range evs {
		wait, done := s.engine.Expect(evs[i].ID)
		defer done()
		waits[i] = wait
	}
	ack, err := s.log.publishAck(ctx, k, msgID, payload)
	if err != nil {
		return nil, false, err
	}
	if ack.Duplicate {
		return nil, true, nil
	}
	recorded = make([]bool, len(evs))
	for i, wait := range waits {
		if recorded[i], err = wait(ctx); err != nil {
			return nil, false, err
		}
	}
	return recorded, false, nil
}
