package jetlog

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"engaged/actors"
)

// Deliverer takes decoded log messages; actors.Registry implements it.
// Deliver may block (a full mailbox) and ack must be called only once
// everything delivered up to that message is safely in a snapshot.
type Deliverer interface {
	Deliver(ctx context.Context, k actors.ItemID, d actors.Delivery, m *actors.Message, ack func()) error
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
	logger *slog.Logger
}

// StartConsumers creates (or updates) the durable consumers and starts
// pulling. Stop must be called.
func StartConsumers(ctx context.Context, l *Log, d Deliverer, o ConsumerOptions) (*Consumers, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Consumers{ctx: cctx, cancel: cancel, logger: o.Logger}
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
		cc, err := cons.Consume(c.handle(d), jetstream.PullPriorityGroup(priorityGroup),
			jetstream.PullExpiry(o.PullExpiry), jetstream.PullMaxMessages(1024),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				c.logger.Debug("partition consumer", "partition", part, "err", err)
			}))
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("consume partition %d: %w", part, err)
		}
		c.ccs = append(c.ccs, cc)
	}
	return c, nil
}

func (c *Consumers) handle(d Deliverer) jetstream.MessageHandler {
	return func(msg jetstream.Msg) {
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
		if err := d.Deliver(c.ctx, k, at, m, func() { _ = msg.Ack() }); err != nil {
			// Stopping: the message stays unacknowledged and comes back.
			c.logger.Debug("deliver", "item", k.String(), "err", err)
		}
	}
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
