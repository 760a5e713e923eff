package actors

// registry_ownership.go tracks which partitions this instance owns and how
// their deliveries arrive: Deliver and Lost keep the delivery sessions that
// tell an actor whether its state is continuous with its consumer, and the
// claims and epochs fence a deposed owner's writes.

import (
	"context"
)

// deliverySession is one unbroken run of a partition consumer's deliveries
// to this instance.
type deliverySession struct {
	id          uint64
	consumerSeq uint64 // consumer sequence of the last delivery
}

// owns reports whether this instance owns k's partition.
func (r *Registry) owns(k ItemID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.epochs[r.Partition(k)]
	return ok
}

// readSession returns the delivery session a read of k may rely on: the
// current one of k's partition if this instance owns it, else 0 (no
// consumer feeds k here; the read catches up from the log).
func (r *Registry) readSession(k ItemID) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	part := r.Partition(k)
	if _, owned := r.epochs[part]; !owned {
		return 0
	}
	if s := r.sessions[part]; s != nil {
		return s.id
	}
	return 0
}

// Delivery places a message a partition consumer delivered: its sequence
// in the stream, and the consumer's own delivery sequence, which counts
// every delivery of the consumer (to any instance, redeliveries included)
// one by one.
type Delivery struct {
	Seq         uint64
	ConsumerSeq uint64
	// Pending is how many messages of the partition the consumer holds
	// after this one: 0 means this is the partition's newest message.
	Pending uint64
}

// Deliver hands the log message d.Seq of item k to its actor. Each
// partition's consumer calls it from one goroutine, in delivery order. It
// blocks while the actor's mailbox is full, which slows the calling
// partition consumer instead of growing memory. ack acknowledges every
// message of the partition up to this one; the registry calls it once a
// snapshot round has persisted everything delivered before it.
func (r *Registry) Deliver(ctx context.Context, k ItemID, d Delivery, m *Message, ack func()) error {
	part := r.Partition(k)
	r.mu.Lock()
	s := r.sessions[part]
	if s == nil || d.ConsumerSeq != s.consumerSeq+1 {
		// The first delivery here, or deliveries went elsewhere since
		// the last one: a new session.
		r.lastSession++
		s = &deliverySession{id: r.lastSession}
		r.sessions[part] = s
	}
	s.consumerSeq = d.ConsumerSeq
	session := s.id
	r.mu.Unlock()
	if _, err := r.send(ctx, k, &request{kind: reqApply, seq: d.Seq, msg: m, session: session, newest: d.Pending == 0}); err != nil {
		r.mu.Lock()
		delete(r.sessions, part) // this message never reached its actor
		r.mu.Unlock()
		return err
	}
	// Marked dirty only after the enqueue, and the ack recorded after the
	// mark: a snapshot round that takes this ack has then also taken this
	// item's mark, and its snapshot request queues behind this message.
	r.mu.Lock()
	r.dirty[k] = struct{}{}
	r.acks[part] = ack
	r.requestClaimLocked(part)
	r.mu.Unlock()
	return nil
}

// Lost reports that a delivery of k's partition never reached k's actor (a
// consumer's handler panicked): the partition's next delivery starts a new
// session, so each actor catches up from the log before applying it.
func (r *Registry) Lost(k ItemID) {
	r.mu.Lock()
	delete(r.sessions, r.Partition(k))
	r.mu.Unlock()
}

// requestClaimLocked asks claimLoop to claim part unless this instance owns
// it or has asked already. A delivery means JetStream pinned part's consumer
// here, so the claim follows at once rather than at the next round.
func (r *Registry) requestClaimLocked(part int) {
	if _, owned := r.epochs[part]; owned || r.claiming[part] {
		return
	}
	select {
	case r.claims <- part:
		r.claiming[part] = true
	default: // full: the next delivery asks again
	}
}

// claimLoop makes the claims requested by deliveries. It is the only code
// that claims, so this instance never holds two epochs for one partition.
func (r *Registry) claimLoop(ctx context.Context) {
	for {
		select {
		case part := <-r.claims:
			epoch, err := r.store.ClaimPartition(ctx, part)
			r.mu.Lock()
			delete(r.claiming, part)
			if err == nil {
				r.epochs[part] = epoch
				// Its snapshots from now on are this instance's: the set
				// takes them as they are written, and the load below the
				// ones written before the claim (known.go).
				r.known[part] = &knownSet{loading: true, hashes: map[uint64]struct{}{}}
			}
			r.mu.Unlock()
			if err != nil {
				r.logger.Warn("claim partition", "partition", part, "err", err)
				continue
			}
			r.loadKnown(ctx, part)
		case part := <-r.knownLoads:
			r.loadKnown(ctx, part)
		case <-ctx.Done():
			return
		}
	}
}

// checkEpochs drops the partitions another instance has claimed since this
// one did: reads of their items catch up from the log until a consumer
// delivers them here again.
func (r *Registry) checkEpochs(ctx context.Context) {
	r.mu.Lock()
	n := len(r.epochs)
	r.mu.Unlock()
	if n == 0 {
		return
	}
	current, err := r.store.Epochs(ctx)
	if err != nil {
		r.logger.Warn("check partition epochs", "err", err)
		return
	}
	r.mu.Lock()
	var lost []int
	for part, epoch := range r.epochs {
		if current[part] != epoch {
			lost = append(lost, part)
		}
	}
	r.mu.Unlock()
	for _, part := range lost {
		r.dropPartition(part, false)
	}
}

// dropPartition gives up part: another instance claimed it since this one
// did, so its state is the one written from now on. This instance's actors
// of part stay live, as any instance's actors of partitions it does not own:
// their state is exact as of what they applied, reads catch them up from the
// log, and a delivery here again starts a new session, which catches them up
// first. Only what this instance would have written or acknowledged for
// part is forgotten. (Stopping them instead raced with requests already
// sent to them, which then waited out their timeouts.)
//
// If part's consumer delivered here since the last round (delivered, or a
// delivery still waiting for its acknowledgement), this instance claims it
// again at once. The consumer may have come back here before this instance
// saw that it had been deposed, so those deliveries asked for no claim; and
// if no delivery follows (the load stopped), nothing else would: the other
// instance would keep the epoch and go on answering reads from a delivery
// session the consumer has left, short of the messages delivered here, until
// they were redelivered. The claim moves the epoch here, so the other
// instance drops the partition at its next round and its reads catch up
// from the log; if the consumer has moved on again, its next deliveries
// claim it where they land.
func (r *Registry) dropPartition(part int, delivered bool) {
	r.logger.Warn("partition taken over by another instance", "partition", part)
	r.mu.Lock()
	defer r.mu.Unlock()
	_, pending := r.acks[part]
	delete(r.epochs, part)
	delete(r.known, part)
	delete(r.sessions, part)
	for k := range r.dirty {
		if r.Partition(k) == part {
			delete(r.dirty, k)
		}
	}
	delete(r.acks, part)
	if delivered || pending {
		r.requestClaimLocked(part)
	}
}
