package actors

import "context"

// Outbox is what an item's applied events cause outside the item: webhook
// deliveries (transport/webhooks.Outbox implements it; Options.Outbox).
//
// The actor that applies a message hands its recorded events over, on
// whichever path applies it (a partition consumer's delivery, an
// activation's replay, a catch-up), and the snapshot round calls Flush
// before it writes any snapshot: a snapshot covering a message is written
// only once what the message caused is stored. So the deliveries of an
// event survive kill -9 of the instance that applied it: until Flush
// succeeds no snapshot covers the message, the partition is not
// acknowledged past it, and the replay after a restart hands it over again.
// A message applied twice (that replay, or a read-only actor of another
// instance) is handed over twice: the outbox stores each of its deliveries
// under a fixed id, so a repeat is stored once.
type Outbox interface {
	// Wants reports, without blocking, whether events of the project may
	// cause anything; an actor hands nothing over for a project it does
	// not want. It may say yes wrongly, never no wrongly.
	Wants(project string) bool
	// Recorded takes the events of m that item k applied, with their
	// verdicts (Message.Verdicts splits them per family), on the actor's
	// goroutine: it must not block. m and counted are read, never changed,
	// by both sides afterwards.
	Recorded(k ItemID, m *Message, counted []bool)
	// Flush returns nil once everything Recorded took before the call is
	// stored, or an error (then the round writes no snapshot and
	// acknowledges nothing, and tries again at the next round).
	Flush(ctx context.Context) error
}

// Verdicts splits the verdicts of m's events (in family order, as actors
// give them: Submission.Counted, Outbox.Recorded) into those of its render
// and its content events. A short or nil counted gives nil parts.
func (m *Message) Verdicts(counted []bool) (render, content []bool) {
	nr, nc := len(m.Render), len(m.Content)
	if len(counted) < nr+nc {
		return nil, nil
	}
	// famRender, then famContent: the families table's order.
	return counted[:nr:nr], counted[nr : nr+nc : nr+nc]
}
