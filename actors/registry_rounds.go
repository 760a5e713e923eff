package actors

// registry_rounds.go runs the snapshot rounds: every SnapshotInterval, Run
// snapshots the actors that applied messages, writes them per partition
// under its epoch, acknowledges what was written, and passivates the idle
// actors and those over MaxLive. At shutdown a final round writes and stops
// them all.

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"
)

// Run runs snapshot rounds every SnapshotInterval until ctx ends, then writes
// a final snapshot of every live actor, stops them and returns. finalTimeout
// bounds the final round.
func (r *Registry) Run(ctx context.Context, finalTimeout time.Duration) error {
	t := time.NewTicker(r.opts.SnapshotInterval)
	defer t.Stop()
	claimCtx, stopClaims := context.WithCancel(context.Background())
	claimsDone := make(chan struct{})
	go func() { defer close(claimsDone); r.claimLoop(claimCtx) }()
	defer func() { stopClaims(); <-claimsDone }()
	for {
		select {
		case <-t.C:
			r.round(ctx, false)
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), finalTimeout)
			defer cancel()
			r.round(fctx, true)
			r.stopActors()
			r.wg.Wait()
			return nil
		}
	}
}

// round snapshots every dirty actor and passivates idle ones (all of them if
// final), flushes the outbox, writes the snapshots per partition under its
// epoch, and then acknowledges each partition whose writes all succeeded.
func (r *Registry) round(ctx context.Context, final bool) {
	start := time.Now()
	var snapshots, bytes int
	if r.opts.ObserveRound != nil {
		defer func() { r.opts.ObserveRound(time.Since(start), snapshots, bytes) }()
	}
	r.saveMu.Lock() // see Registry.Persist
	defer r.saveMu.Unlock()
	r.roundNumber++
	r.checkEpochs(ctx)
	marks := r.captureMarks(ctx) // before the dirty items are taken: asof.go
	now := time.Now().UnixNano()
	r.mu.Lock()
	r.retryKnownLocked()
	acks := r.acks
	r.acks = map[int]func(){}
	keys := map[ItemID]bool{}   // item -> passivate after the snapshot
	delivered := map[int]bool{} // partitions whose consumer delivered here since the last round
	dirty := r.dirty
	for k := range dirty {
		keys[k] = false
		delivered[r.Partition(k)] = true
	}
	r.dirty = map[ItemID]struct{}{}
	live := make([]*actor, 0, len(r.items))
	for k, a := range r.items {
		if final || now-a.lastActive.Load() >= int64(r.opts.IdleTimeout) {
			keys[k] = true
		} else {
			live = append(live, a)
		}
	}
	r.mu.Unlock()
	for _, a := range r.overLimit(live) {
		keys[a.key] = true
	}

	failed := map[int]bool{}
	byPart := map[int][]Snapshot{}
	var idle []*actor              // to passivate once their partition's snapshots are written
	written := map[ItemID]*actor{} // live actors whose snapshot carries series rows
	for k, passivate := range keys {
		part := r.Partition(k)
		rep, a, err := r.call(ctx, k, &request{kind: reqSnapshot})
		if err != nil {
			failed[part] = true
			if _, ok := dirty[k]; ok {
				r.markDirty(k) // try again; an idle, never-delivered item has nothing to write
			}
			r.logger.Warn("snapshot", "item", k.String(), "err", err)
			continue
		}
		if rep.seq > 0 { // nothing applied yet: nothing worth a row
			b, err := rep.state.encode()
			if err != nil {
				r.logger.Error("encode snapshot", "item", k.String(), "err", err)
				failed[part] = true
				r.markDirty(k)
				continue
			}
			byPart[part] = append(byPart[part], Snapshot{Key: k, Seq: rep.seq, State: b, Series: rep.rows})
			if !rep.rows.empty() && !passivate {
				written[k] = a
			}
			snapshots, bytes = snapshots+1, bytes+len(b)
		}
		if passivate {
			idle = append(idle, a)
		}
	}

	// What the applied messages caused is stored before a snapshot covers
	// them (outbox.go); until it is, nothing is written or acknowledged.
	if ob := r.opts.Outbox; ob != nil {
		if err := ob.Flush(ctx); err != nil {
			r.logger.Warn("outbox not flushed: no snapshot written this round", "err", err)
			for part, snaps := range byPart {
				failed[part] = true
				for _, s := range snaps {
					r.markDirty(s.Key)
				}
			}
			for part := range acks {
				failed[part] = true
			}
			byPart = nil
		}
	}

	for part, snaps := range byPart {
		err := r.save(ctx, part, snaps, delivered[part])
		if err == nil {
			r.mu.Lock()
			r.noteSavedLocked(snaps)
			r.mu.Unlock()
		}
		if err != nil {
			failed[part] = true
			for _, s := range snaps {
				r.markDirty(s.Key)
			}
			if errors.Is(err, ErrFenced) {
				r.dropPartition(part, delivered[part])
			} else if !errors.Is(err, errNotClaimed) {
				r.logger.Warn("save snapshots", "partition", part, "err", err)
			}
			continue
		}
		for i := range snaps {
			if a := written[snaps[i].Key]; a != nil {
				r.markWritten(a, &snaps[i].Series)
			}
		}
	}

	r.saveMarks(ctx, marks, failed)

	// Passivated only once written: while Postgres is down an actor stays
	// live (its item keeps being served from memory) instead of needing a
	// snapshot load to come back (docs/OPERATING-POSTGRES.md). The final
	// round stops every actor anyway.
	for _, a := range idle {
		if final || !failed[a.part] {
			r.passivate(a)
		}
	}

	r.mu.Lock()
	for part, ack := range acks {
		if failed[part] {
			if _, newer := r.acks[part]; !newer {
				r.acks[part] = ack // try again next round
			}
			continue
		}
		ack()
	}
	r.mu.Unlock()
}

// overLimit returns the least recently active of live, the actors that
// stay after this round's idle passivations, beyond MaxLive.
func (r *Registry) overLimit(live []*actor) []*actor {
	excess := len(live) - r.opts.MaxLive
	if r.opts.MaxLive <= 0 || excess <= 0 {
		return nil
	}
	type entry struct {
		at int64 // read once: actors keep serving while the round runs
		a  *actor
	}
	es := make([]entry, len(live))
	for i, a := range live {
		es[i] = entry{a.lastActive.Load(), a}
	}
	slices.SortFunc(es, func(x, y entry) int { return cmp.Compare(x.at, y.at) })
	out := make([]*actor, excess)
	for i := range out {
		out[i] = es[i].a
	}
	return out
}

// passivate stops a if nobody is about to send to it and its mailbox is
// empty; otherwise a stays and is tried again at a later round. Once a is out
// of the map nobody can reach its mailbox, so the stop request cannot block.
func (r *Registry) passivate(a *actor) {
	r.mu.Lock()
	idle := a.pending == 0 && len(a.mailbox) == 0 && r.items[a.key] == a
	if idle {
		delete(r.items, a.key)
	}
	r.mu.Unlock()
	if idle {
		r.passivations.Add(1)
		a.mailbox <- &request{kind: reqStop}
		a.wake()
	}
}

// markWritten tells a, if it is still the live actor of its item, that the
// series rows it handed the round are written. It never blocks and never
// activates an actor: a dropped notice leaves the rows pending, and the
// next round writes the same absolute values again.
func (r *Registry) markWritten(a *actor, rows *SeriesRows) {
	r.mu.Lock()
	live := r.items[a.key] == a
	if live {
		a.pending++
	}
	r.mu.Unlock()
	if !live {
		return
	}
	defer r.release(a)
	select {
	case a.mailbox <- &request{kind: reqMarked, rows: rows}:
		a.wake()
	default:
	}
}

func (r *Registry) markDirty(k ItemID) {
	r.mu.Lock()
	r.dirty[k] = struct{}{}
	r.mu.Unlock()
}

// errNotClaimed: a partition delivered here whose claim is not made yet;
// its snapshots wait for the next round.
var errNotClaimed = errors.New("partition not claimed yet")

// save writes snaps of partition part under this instance's epoch. A
// partition neither owned nor delivered here only had read-only actors,
// whose state is the owner's to write.
func (r *Registry) save(ctx context.Context, part int, snaps []Snapshot, delivered bool) error {
	r.mu.Lock()
	epoch, ok := r.epochs[part]
	if !ok && delivered {
		r.requestClaimLocked(part)
	}
	r.mu.Unlock()
	switch {
	case !ok && delivered:
		return errNotClaimed
	case !ok:
		return nil
	}
	return r.store.SaveSnapshots(ctx, part, epoch, snaps)
}
