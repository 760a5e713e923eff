package jetlog

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/engagedhq/engaged/actors"
)

// Deliverer takes decoded log messages; actors.Registry implements it.
// Deliver may block (a full mailbox) and ack must be called only once
// everything delivered up to that message is safely in a snapshot.
type Deliverer interface {
	Deliver(ctx context.Context, k actors.ItemID, d actors.Delivery, m *actors.Message, ack func()) error
	// Lost reports that a delivery of k's partition never reached k's
	// actor (its handling panicked), so the partition's next delivery must
	// not be taken as following this one.
	Lost(k actors.ItemID)
}

// ConsumerOptions configures the partition consumers.
type ConsumerOptions struct {
	// AckWait must comfortably exceed the snapshot interval: messages are
	// acknowledged only after the snapshot round that covers them.
	AckWait       time.Duration
	MaxAckPending int
	// PinnedTTL and PullExpiry set how fast a partition moves to another
	// instance when its owner stops pulling (ADR-42 pinned client). The
	// server defaults (minutes) are far too slow for failover.
	PinnedTTL  time.Duration
	PullExpiry time.Duration
	Logger     *slog.Logger
}

// priorityGroup is the pinned-client priority group every instance pulls in.
const priorityGroup = "engaged"

// Consumers runs one durable pull consumer per partition, each feeding the
// Deliverer. Every instance pulls on every partition; JetStream pins each
// partition to one instance at a time.
type Consumers struct {
	ctx    context.Context
	cancel context.CancelFunc
	ccs    []jetstream.ConsumeContext
	cons   []jetstream.Consumer // one per partition, for CaughtUp
	logger *slog.Logger
	parts  []partitionCounters // one per partition, for Stats
	panics atomic.Int64        // message handlers that panicked
}

// partitionCounters are one partition consumer's counters here. The
// handler writes them, Stats reads them from any goroutine.
type partitionCounters struct {
	delivered   atomic.Int64  // messages delivered to this instance
	acks        atomic.Int64  // AckAll calls made (each covers every earlier delivery)
	pending     atomic.Uint64 // the partition's messages not yet delivered, as of the newest delivery
	lastDeliver atomic.Uint64 // consumer sequence of the newest delivery
	lastAck     atomic.Uint64 // consumer sequence of the newest acknowledged delivery
	dispatched  atomic.Uint64 // consumer sequence of the newest delivery Deliver returned from
}

// PartitionStats is one partition consumer's progress on this instance.
type PartitionStats struct {
	Partition int
	Delivered int64  // messages delivered here since start
	Acks      int64  // acknowledgements sent (AckAll, after the snapshot round that covers them)
	Pending   uint64 // messages of the partition not delivered yet, as of the newest delivery here
	Unacked   uint64 // deliveries here not yet acknowledged (consumer sequences)
}

// Stats returns every partition consumer's counters. Safe for concurrent use.
func (c *Consumers) Stats() []PartitionStats {
	out := make([]PartitionStats, len(c.parts))
	for i := range c.parts {
		p := &c.parts[i]
		last, acked := p.lastDeliver.Load(), p.lastAck.Load()
		out[i] = PartitionStats{Partition: i, Delivered: p.delivered.Load(), Acks: p.acks.Load(), Pending: p.pending.Load()}
		if last > acked {
			out[i].Unacked = last - acked
		}
	}
	return out
}

// Panics returns how many log messages' handling panicked since start.
func (c *Consumers) Panics() int64 { return c.panics.Load() }

// StartConsumers creates (or updates) the durable consumers and starts
// pulling. Stop must be called.
func StartConsumers(ctx context.Context, l *Log, d Deliverer, o ConsumerOptions) (*Consumers, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Consumers{ctx: cctx, cancel: cancel, logger: o.Logger, parts: make([]partitionCounters, l.parts)}
	for part := 0; part < l.parts; part++ {
		var cons jetstream.Consumer
		err := untilAnswered(ctx, func(ctx context.Context) (err error) {
			cons, err = l.js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
				Durable:        "part-" + strconv.Itoa(part),
				Description:    "engaged partition consumer",
				FilterSubject:  subjectPrefix + strconv.Itoa(part) + ".>",
				DeliverPolicy:  jetstream.DeliverAllPolicy,
				AckPolicy:      jetstream.AckAllPolicy,
				AckWait:        o.AckWait,
				MaxAckPending:  o.MaxAckPending,
				MaxDeliver:     -1,
				PriorityPolicy: jetstream.PriorityPolicyPinned,
				PinnedTTL:      o.PinnedTTL,
				PriorityGroups: []string{priorityGroup},
			})
			return err
		})
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("consumer of partition %d: %w", part, err)
		}
		cc, err := cons.Consume(c.handle(d, &c.parts[part]), jetstream.PullPriorityGroup(priorityGroup),
			jetstream.PullExpiry(o.PullExpiry), jetstream.PullMaxMessages(1024),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				c.logger.Debug("partition consumer", "partition", part, "err", err)
			}))
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("consume partition %d: %w", part, err)
		}
		c.ccs = append(c.ccs, cc)
		c.cons = append(c.cons, cons)
	}
	return c, nil
}

// handle returns the handler of one partition's messages. A panic in it
// (decoding, or the Deliverer) is contained to that message: it is logged
// with its stack and counted, the consumer goes on, and the message is
// neither acknowledged nor refused by itself. Its item's actor did not get
// it, so the Deliverer is told (Lost): the partition's next delivery starts
// a new session, and actors catch up from the log, which holds the message,
// before applying anything after it. A later acknowledgement (AckAll) then
// covers it without losing it: it is in the log, and the item's next
// activation or catch-up applies it (an apply that panics too is the
// actor's to contain).
func (c *Consumers) handle(d Deliverer, pc *partitionCounters) jetstream.MessageHandler {
	return func(msg jetstream.Msg) {
		defer func() {
			if p := recover(); p != nil {
				c.panics.Add(1)
				c.logger.Error("panic in partition consumer", "subject", msg.Subject(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if _, k, ok := parseSubject(msg.Subject()); ok {
					d.Lost(k)
				}
			}
		}()
		md, err := msg.Metadata()
		if err != nil {
			c.logger.Error("message without metadata", "subject", msg.Subject(), "err", err)
			return
		}
		_, k, ok := parseSubject(msg.Subject())
		m, derr := actors.DecodeMessage(msg.Data())
		if !ok || derr != nil {
			// Never applied; delivered empty so its sequence is acknowledged
			// with the rest of the partition instead of coming back forever.
			c.logger.Error("undecodable log message skipped", "subject", msg.Subject(), "seq", md.Sequence.Stream, "err", derr)
			if !ok {
				return
			}
			m = &actors.Message{}
		}
		at := actors.Delivery{Seq: md.Sequence.Stream, ConsumerSeq: md.Sequence.Consumer, Pending: md.NumPending}
		pc.delivered.Add(1)
		pc.pending.Store(md.NumPending)
		pc.lastDeliver.Store(md.Sequence.Consumer)
		ack := func() {
			_ = msg.Ack()
			pc.acks.Add(1)
			pc.lastAck.Store(md.Sequence.Consumer)
		}
		if err := d.Deliver(c.ctx, k, at, m, ack); err != nil {
			// Stopping: the message stays unacknowledged and comes back.
			c.logger.Debug("deliver", "item", k.String(), "err", err)
			return
		}
		pc.dispatched.Store(md.Sequence.Consumer)
	}
}

// CaughtUp implements actors.LogPositions with one consumer info request:
// part is caught up here when the server has nothing pending for it, its
// newest delivery is the newest one Deliver returned from here, and no
// delivery older than this instance's acknowledgements waits for an ack
// elsewhere (a delivery to a former owner comes back here after AckWait).
// Safe for concurrent use.
//
// settled: nothing is pending or waiting for an ack, so every message
// stored before the call is covered by a written snapshot (messages are
// acknowledged only after the round that wrote them), wherever it was
// delivered: after a restart, before any new delivery, that is how an idle
// partition's asOf moves.
func (c *Consumers) CaughtUp(ctx context.Context, part int) (caught, settled bool, err error) {
	if part < 0 || part >= len(c.cons) {
		return false, false, fmt.Errorf("no consumer of partition %d", part)
	}
	info, err := c.cons[part].Info(ctx)
	if err != nil {
		return false, false, fmt.Errorf("consumer info of partition %d: %w", part, err)
	}
	pc := &c.parts[part]
	disp, acked := pc.dispatched.Load(), pc.lastAck.Load()
	settled = info.NumPending == 0 && info.NumAckPending == 0
	caught = info.NumPending == 0 && info.Delivered.Consumer == disp && disp > 0 &&
		uint64(info.NumAckPending) <= disp-min(acked, disp)
	return caught, settled, nil
}

// Stop stops pulling and waits until no handler runs.
func (c *Consumers) Stop() {
	c.cancel()
	for _, cc := range c.ccs {
		cc.Stop()
	}
	for _, cc := range c.ccs {
		<-cc.Closed()
	}
}
