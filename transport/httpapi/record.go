package httpapi

import (
	"context"

	"github.com/engagedhq/engaged/actors"
)

// recordAll publishes evs as one log message of item k under msgID (its
// Nats-Msg-Id) through the one ingest path (actors.Registry.Submit) and
// returns the verdict of each event. dup reports that JetStream already
// held a message with msgID inside its duplicate window: nothing new was
// stored, the verdicts went to that earlier try, and recorded is all false.
func (s *Server) recordAll(ctx context.Context, k actors.ItemID, msgID string, evs ...actors.RenderEvent) (recorded []bool, dup bool, err error) {
	s.fillVisitors(ctx, k.Project, evs)
	sub := &actors.Submission{Key: k, MsgID: msgID, Msg: actors.Message{Render: evs}}
	if err := s.engine.Submit(ctx, sub); err != nil {
		return nil, false, err
	}
	if sub.Duplicate {
		return make([]bool, len(evs)), true, nil
	}
	return sub.Counted, false, nil
}
