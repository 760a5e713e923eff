package actors

// asof.go records how fresh the series rows in Postgres are, for top-N
// (docs/RANKINGS.md): each snapshot round notes, per partition, a time T
// such that every message of the partition stored in the log before T was
// applied by the actors whose state the round wrote, and writes T once the
// round's snapshots (and their series rows) are committed. A ranking's
// asOf is the minimum over all partitions.

import (
	"context"
	"time"
)

// LogPositions tells the snapshot round how far the log of a partition was
// delivered here; jetlog.Consumers implements it.
type LogPositions interface {
	// CaughtUp reports whether every message of part stored before the call
	// began was handed to Deliver here and Deliver returned (so it is
	// queued in its actor's mailbox, ahead of any later snapshot request);
	// settled, whether every message of part stored before the call is
	// already covered by a written snapshot, wherever it was applied
	// (nothing pending, nothing waiting for an acknowledgement).
	CaughtUp(ctx context.Context, part int) (caught, settled bool, err error)
}

// AsOfStore keeps the partitions' asOf times; persist.Store implements it.
type AsOfStore interface {
	// SaveAsOf raises each mark's partition's time to At (never lowers
	// it), if Epoch is still the partition's epoch; a mark with Epoch 0 is
	// of a settled partition, true whoever owns it, written unfenced.
	SaveAsOf(ctx context.Context, marks []AsOfMark) error
}

// AsOfMark is one partition's asOf as one round established it.
type AsOfMark struct {
	Part  int
	Epoch int64 // the writer's epoch; 0 for a settled partition
	At    time.Time
}

// SetLogPositions gives the snapshot rounds the log positions they need to
// record asOf times (the consumers start after the registry, so it is not
// an Option). Without it, or without Options.AsOf, no asOf is recorded.
func (r *Registry) SetLogPositions(p LogPositions) {
	r.positions.Store(&p)
}

// captureMarks runs at the start of a round, before it takes the dirty
// items: for each partition owned here whose log was delivered up to the
// moment of the check, a fenced mark of that moment, and for each settled
// partition (everything in the log is in written snapshots) an unfenced
// one. One consumer info request per partition.
func (r *Registry) captureMarks(ctx context.Context) []AsOfMark {
	pp := r.positions.Load()
	if pp == nil || r.opts.AsOf == nil {
		return nil
	}
	// Bounded: a log that does not answer must not hold the round (its
	// snapshots matter more); partitions not checked get no mark.
	ctx, cancel := context.WithTimeout(ctx, captureTimeout)
	defer cancel()
	var marks []AsOfMark
	for part := range r.opts.Partitions {
		at := time.Now()
		caught, settled, err := (*pp).CaughtUp(ctx, part)
		if err != nil {
			continue // no mark this round: the partition's asOf stands still
		}
		r.mu.Lock()
		epoch, owned := r.epochs[part]
		r.mu.Unlock()
		switch {
		case settled:
			marks = append(marks, AsOfMark{Part: part, At: at})
		case caught && owned:
			marks = append(marks, AsOfMark{Part: part, Epoch: epoch, At: at})
		}
	}
	return marks
}

// captureTimeout bounds a round's consumer checks, all partitions together.
const captureTimeout = 2 * time.Second

// saveMarks writes the marks of the partitions whose snapshots this round
// all wrote (after their transactions committed: a reader that sees the
// time sees the rows).
func (r *Registry) saveMarks(ctx context.Context, marks []AsOfMark, failed map[int]bool) {
	out := marks[:0]
	for _, m := range marks {
		if !failed[m.Part] {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return
	}
	if err := r.opts.AsOf.SaveAsOf(ctx, out); err != nil {
		r.logger.Warn("save asOf", "err", err)
	}
}
