package transport

import (
	"context"

	"engaged/actors"
)

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
	ack, err := s.log.Publish(ctx, k, msgID, payload)
	if err != nil {
		return nil, false, err
	}
	if ack.Duplicate {
		return nil, true, nil
	}
	if err := s.engine.CatchUp(ctx, k); err != nil {
		return nil, false, err
	}
	recorded = make([]bool, len(evs))
	for i, wait := range waits {
		if recorded[i], err = wait(ctx); err != nil {
			return nil, false, err
		}
	}
	return recorded, false, nil
}
