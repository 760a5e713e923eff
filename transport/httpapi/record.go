package httpapi

import (
	"context"
	"errors"

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
		s.countEvents(KindRender, OutcomeDuplicate, "", len(evs))
		return make([]bool, len(evs)), true, nil
	}
	var counted, robots int
	for i, c := range sub.Counted {
		switch {
		case c:
			counted++
		case evs[i].Bot:
			robots++
		}
	}
	s.countEvents(KindRender, OutcomeRecorded, "", counted)
	s.countEvents(KindRender, OutcomeRobot, "", robots)
	s.countEvents(KindRender, OutcomeDuplicate, "", len(evs)-counted-robots)
	return sub.Counted, false, nil
}

// Event verdicts as Options.ObserveEvents reports them: the family, the
// outcome, and for a rejected event a reason from a fixed set (the metrics
// label stays bounded, and a reworded message changes nothing).
const (
	KindRender  = "render"
	KindContent = "content"

	OutcomeRecorded  = "recorded"  // stored and counted
	OutcomeDuplicate = "duplicate" // stored before (dedupe, a retried message): not counted again
	OutcomeRobot     = "robot"     // a robot's request (docs/PRIVACY.md): stored, counted in botViews only
	OutcomeRejected  = "rejected"  // refused: not stored

	RejectInvalid      = "invalid"       // does not match the schema (or is not JSON)
	RejectTooOld       = "too_old"       // an SDK event more than 24 hours old
	RejectUnknownItem  = "unknown_item"  // no such render or content item in the key's project
	RejectContentLimit = "content_limit" // autoCreateContent: the project's item cap is reached
	RejectRateLimited  = "rate_limited"  // autoCreateContent: the project's creation rate is spent
	RejectOther        = "other"
)

// RejectReasons is the fixed set of reasons ObserveEvents reports.
var RejectReasons = []string{RejectInvalid, RejectTooOld, RejectUnknownItem, RejectContentLimit, RejectRateLimited, RejectOther}

// rejectReason names why an event was refused, by the error's code alone.
func rejectReason(err error) string {
	var e *actors.Error
	if !errors.As(err, &e) {
		return RejectOther
	}
	switch e.Code {
	case actors.EInvalid, actors.EInvalidJSON:
		return RejectInvalid
	case actors.ETooOld:
		return RejectTooOld
	case actors.ENotFound:
		return RejectUnknownItem
	case actors.EContentLimit:
		return RejectContentLimit
	case actors.ERateLimited:
		return RejectRateLimited
	}
	return RejectOther
}

// countEvents reports n events with one verdict to Options.ObserveEvents.
func (s *Server) countEvents(kind, outcome, reason string, n int) {
	if n > 0 && s.opts.ObserveEvents != nil {
		s.opts.ObserveEvents(kind, outcome, reason, n)
	}
}
