// Package jetlog is the event log on NATS JetStream: the ENGAGED stream,
// publishing and replaying an item's messages, and the per-partition
// consumers that feed the actors. It also starts the embedded nats-server
// and connects to NATS, embedded or external.
package jetlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engagedhq/engaged/actors"
)

// StreamName is the JetStream stream that is the log of every event.
const StreamName = "ENGAGED"

// subjectPrefix is the prefix of every event subject:
// engaged.events.<part>.<project>.<item>.
const subjectPrefix = "engaged.events."

// LogOptions configures the stream.
type LogOptions struct {
	Partitions int
	MaxAge     time.Duration
	MaxBytes   int64 // -1 = unlimited
	Replicas   int
	// DuplicateWindow is how long JetStream remembers Nats-Msg-Id values: the
	// horizon of publish retries, not of client retries (those are deduped by
	// the actors).
	DuplicateWindow time.Duration
	// MaxPending bounds unacknowledged async publishes per connection; past it
	// a publish fails fast and the request answers 503.
	MaxPending int
	// ObservePublish is called once per publish with the time from the
	// publish to JetStream's answer and the error, if it failed (nil:
	// nothing). It is the metrics' port.
	ObservePublish func(d time.Duration, err error)
}

// Log is the JetStream event log. It implements actors.Log. Safe for
// concurrent use.
type Log struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	parts   int
	observe func(time.Duration, error)
}

var _ actors.Log = (*Log)(nil)

// OpenLog creates or updates the ENGAGED stream. The partition count is
// recorded in the stream's metadata, and opening with another count fails:
// it would move items to other subjects.
func OpenLog(ctx context.Context, nc *nats.Conn, o LogOptions) (*Log, error) {
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = 2 * time.Minute
	}
	if o.MaxPending == 0 {
		o.MaxPending = 16384
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(o.MaxPending),
		jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	want := strconv.Itoa(o.Partitions)
	var existing jetstream.Stream
	err = untilAnswered(ctx, func(ctx context.Context) (err error) {
		existing, err = js.Stream(ctx, StreamName)
		return err
	})
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		return nil, fmt.Errorf("look up stream %s: %w", StreamName, err)
	default:
		if got := existing.CachedInfo().Config.Metadata["engaged.partitions"]; got != "" && got != want {
			return nil, fmt.Errorf("ENGAGED_PARTITIONS is %s but stream %s was created with %s partitions", want, StreamName, got)
		}
	}
	cfg := jetstream.StreamConfig{
		Name:        StreamName,
		Description: "engaged event log: engaged.events.<part>.<project>.<item>",
		Subjects:    []string{subjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		// Limits, never interest or work-queue: recovery replays the log.
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      o.MaxAge,
		MaxBytes:    o.MaxBytes,
		MaxMsgs:     -1,
		Discard:     jetstream.DiscardNew, // a full log refuses writes (503) rather than dropping unsnapshotted events
		Replicas:    o.Replicas,
		Duplicates:  o.DuplicateWindow,
		AllowDirect: true,
		Metadata:    map[string]string{"engaged.partitions": want},
	}
	var stream jetstream.Stream
	err = untilAnswered(ctx, func(ctx context.Context) (err error) {
		stream, err = js.CreateOrUpdateStream(ctx, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StreamName, err)
	}
	observe := o.ObservePublish
	if observe == nil {
		observe = func(time.Duration, error) {}
	}
	return &Log{js: js, stream: stream, parts: o.Partitions, observe: observe}, nil
}

// Subject returns the event subject of item k.
func (l *Log) Subject(k actors.ItemID) string {
	return subjectPrefix + strconv.Itoa(k.Partition(l.parts)) + "." + k.Project + "." + k.Item
}

// parseSubject is the inverse of Subject.
func parseSubject(s string) (part int, k actors.ItemID, ok bool) {
	rest, found := strings.CutPrefix(s, subjectPrefix)
	if !found {
		return 0, k, false
	}
	f := strings.Split(rest, ".")
	if len(f) != 3 {
		return 0, k, false
	}
	part, err := strconv.Atoi(f[0])
	if err != nil || !actors.ValidID(f[1]) || !actors.ValidID(f[2]) {
		return 0, k, false
	}
	return part, actors.ItemID{Project: f[1], Item: f[2]}, true
}

// republishAfter is how long a publish waits for its PubAck before it is
// sent again with the same Nats-Msg-Id. A replica that is not the stream
// leader drops a publish without answering, so while a new leader is
// elected (the servers' Raft election takes 4–9 s) or after the leader's
// node died with the publish in flight, no error and no ack ever comes: the
// publish must be sent again, and the first resend after the election is
// stored. The duplicate window makes a resend of a stored message harmless.
// Short enough to bring writes back well within 2 s of an election; long
// enough that a busy but healthy leader (acks in milliseconds) is seldom
// asked twice.
const republishAfter = 500 * time.Millisecond

// Publish stores payload on k's subject. msgID becomes Nats-Msg-Id, so a
// retried publish is stored once. The returned wait blocks until JetStream
// has stored the message or failed, and returns its sequence, or dup when
// JetStream already held msgID (nothing new was stored). Callers publish
// several messages and then wait on each, so a request costs one round trip
// however many items it touches.
//
// wait sends the message again every republishAfter until an ack, a
// JetStream refusal or the end of ctx: only a PubAck is ever taken for
// stored.
func (l *Log) Publish(k actors.ItemID, msgID string, payload []byte) (wait func(ctx context.Context) (seq uint64, dup bool, err error), err error) {
	m := nats.NewMsg(l.Subject(k))
	m.Data = payload
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	start := time.Now()
	f, err := l.js.PublishMsgAsync(m)
	if err != nil {
		err = unavailable("event log is overloaded", err)
		l.observe(time.Since(start), err)
		return nil, err
	}
	return func(ctx context.Context) (uint64, bool, error) {
		t := time.NewTimer(republishAfter)
		defer t.Stop()
		ok, failed := f.Ok(), f.Err()
		resent := false
		for {
			select {
			case ack := <-ok:
				if ack.Duplicate && resent {
					// Maybe our own earlier send, stored with its ack
					// lost, or another request's message with this id.
					seq, dup, err := l.ownDuplicate(ctx, ack.Sequence, payload)
					l.observe(time.Since(start), err)
					return seq, dup, err
				}
				l.observe(time.Since(start), nil)
				return ack.Sequence, ack.Duplicate, nil
			case err := <-failed:
				if refused(err) {
					// JetStream answered no (a full log, a missing
					// stream): sending again would get the same answer.
					err = unavailable("event log did not store the event", err)
					l.observe(time.Since(start), err)
					return 0, false, err
				}
				// No responders, a timeout, a cut connection, JetStream
				// unavailable for now: the next send may find a leader.
				ok, failed = nil, nil
			case <-t.C:
				if nf, err := l.js.PublishMsgAsync(m); err == nil {
					ok, failed, resent = nf.Ok(), nf.Err(), true
				}
				t.Reset(republishAfter)
			case <-ctx.Done():
				err := unavailable("event log did not answer in time", ctx.Err())
				l.observe(time.Since(start), err)
				return 0, false, err
			}
		}
	}, nil
}

// ownDuplicate resolves a duplicate ack to a resent publish: the message
// stored at seq is this publish's own when it holds the same payload (the
// payload carries a ref unique to the publish), and then the publish
// stored it, nothing was a duplicate.
func (l *Log) ownDuplicate(ctx context.Context, seq uint64, payload []byte) (uint64, bool, error) {
	for {
		msg, err := l.getMsg(ctx, seq, "")
		if err == nil {
			return seq, !bytes.Equal(msg.Data, payload), nil
		}
		// A replica that answers the direct get may not hold seq yet.
		if err := pause(ctx, replayRetry); err != nil {
			return 0, false, unavailable("event log did not answer in time", err)
		}
	}
}

// refused reports an answer from JetStream that asking again would not
// change: an API error other than 503 (JetStream unavailable for now), and
// the one 503 that is not about now: the store refused the message, as a
// full log (ENGAGED_STREAM_MAX_BYTES) does with every publish until space is
// freed. Resending that would hold each request for its whole deadline. No
// answer at all (a timeout, no responders, a cut connection) may change.
func refused(err error) bool {
	jerr, ok := errors.AsType[jetstream.JetStreamError](err)
	if !ok || jerr.APIError() == nil {
		return false
	}
	a := jerr.APIError()
	return a.Code != 503 || a.ErrorCode == errStoreFailed
}

// errStoreFailed is nats-server's JSStreamStoreFailedF: storing the message
// failed (maximum bytes or messages exceeded, with discard new), code 503.
const errStoreFailed jetstream.ErrorCode = 10077

// startupWait bounds how long start-up asks JetStream again for its stream
// and consumers. On a cluster the API has no answer while the servers elect
// a meta leader (a node restarted or lost: 4–9 s); an instance started
// meanwhile waits for it instead of exiting.
const startupWait = time.Minute

// apiAttempt bounds one JetStream API call: at start-up, and when a read
// creates its consumer (readFrom).
const apiAttempt = 5 * time.Second

// untilAnswered calls f until it succeeds, JetStream refuses, ctx ends or
// startupWait has passed, and returns f's last error.
func untilAnswered(ctx context.Context, f func(ctx context.Context) error) error {
	deadline := time.Now().Add(startupWait)
	for {
		actx, cancel := context.WithTimeout(ctx, apiAttempt)
		err := f(actx)
		cancel()
		if err == nil || refused(err) || time.Now().After(deadline) {
			return err
		}
		if pause(ctx, 250*time.Millisecond) != nil {
			return err
		}
	}
}

// unavailable is the client's 503 with the cause wrapped beside it: clients
// see the code, message and Retry-After; the log line of the 503 shows the
// cause.
func unavailable(msg string, cause error) error {
	return fmt.Errorf("%w (%w)", &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonLog, Message: msg, RetryAfter: time.Second}, cause)
}

// directReplay is how many messages Replay reads one by one with direct
// gets before it makes a consumer for the rest. Most items have a handful
// of messages after their snapshot; a direct get is one round trip, a
// consumer three (create, fetch, delete).
const directReplay = 16

// replayRetry is the pause before asking again for a message the log
// acknowledged but the replica that answered does not hold yet.
const replayRetry = 20 * time.Millisecond

// directGetWait bounds one direct get. A replica may leave a direct get
// unanswered (seen while a restarted node of a cluster caught up: actors
// waited on one for the whole of their context, so their items answered
// nothing for tens of seconds); asked again, another replica answers.
const directGetWait = time.Second

// getMsg is a direct get of the first message of subj at or after seq
// (subj empty: the message seq), bounded by directGetWait.
func (l *Log) getMsg(ctx context.Context, seq uint64, subj string) (*jetstream.RawStreamMsg, error) {
	ctx, cancel := context.WithTimeout(ctx, directGetWait)
	defer cancel()
	if subj == "" {
		return l.stream.GetMsg(ctx, seq)
	}
	return l.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
}

// Replay calls fn for every message on k's subject after after, in order
// (see actors.Log): through through, or with through 0 to the subject's end
// as the answering replica holds it. An answer that falls short of through
// (a replica behind the leader, a consumer that lost its responder) is asked
// again until ctx ends; it is never taken for the end of the log.
func (l *Log) Replay(ctx context.Context, k actors.ItemID, after, through uint64, fn func(seq uint64, m *actors.Message)) error {
	subj := l.Subject(k)
	for n := 0; through == 0 || after < through; n++ {
		if n == directReplay {
			return l.replayConsumer(ctx, subj, after, through, fn)
		}
		msg, err := l.getMsg(ctx, after+1, subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) && through == 0 {
			return nil
		}
		if err != nil {
			if err := pause(ctx, replayRetry); err != nil {
				return fmt.Errorf("replay %s after %d: %w", subj, after, err)
			}
			continue
		}
		if through > 0 && msg.Sequence > through {
			return nil // nothing of the subject in (after, through]
		}
		apply(fn, msg.Sequence, msg.Data)
		after = msg.Sequence
	}
	return nil
}

// replayConsumer is Replay with an ordered consumer, for a long tail.
func (l *Log) replayConsumer(ctx context.Context, subj string, after, through uint64, fn func(seq uint64, m *actors.Message)) error {
	if through == 0 {
		// A target, so that a consumer that answers empty before it is
		// ready is asked again rather than taken for the end.
		for {
			gctx, cancel := context.WithTimeout(ctx, directGetWait)
			last, err := l.stream.GetLastMsgForSubject(gctx, subj)
			cancel()
			if err == nil {
				through = last.Sequence
				break
			}
			if perr := pause(ctx, replayRetry); perr != nil {
				return fmt.Errorf("last message of %s: %w", subj, err)
			}
		}
	}
	for {
		next, err := l.consume(ctx, subj, after, through, fn)
		if err == nil && next >= through {
			return nil
		}
		if next > after {
			after = next
			continue
		}
		if err == nil {
			err = fmt.Errorf("log holds nothing after %d yet", after)
		}
		if perr := pause(ctx, replayRetry); perr != nil {
			return fmt.Errorf("replay %s through %d: %w (last: %v)", subj, through, perr, err)
		}
	}
}

// consume reads subj from after+1 through through (readFrom) and returns
// the sequence it got to.
func (l *Log) consume(ctx context.Context, subj string, after, through uint64, fn func(seq uint64, m *actors.Message)) (uint64, error) {
	err := l.readFrom(ctx, subj, after+1, false, replayBatch, func(msg jetstream.Msg, md *jetstream.MsgMetadata) bool {
		if md.Sequence.Stream > through {
			after = through
			return false
		}
		apply(fn, md.Sequence.Stream, msg.Data())
		after = md.Sequence.Stream
		return after < through
	})
	return after, err
}

// replayBatch is a replay's fetch size: most items have a short tail.
const replayBatch = 256

// readFrom reads the messages of filter from stream sequence start on, in
// order, with one ephemeral pull consumer, batchSize per fetch, and calls fn with each until fn
// returns false or what the stream holds now is read.
//
// Not jetstream's ordered consumer: its every Fetch re-creates the server's
// consumer in a retry loop that ignores the caller's context (nats.go
// orderedConsumer.reset, unbounded attempts with a backoff up to 10 s).
// While a stream leader was being replaced that held an actor's catch-up,
// and so every read of the item, far past activationTimeout: TestCluster saw
// one content item answer 503 "item is busy" for 20 s. Here every call is
// bounded by ctx or by the fetch's own expiry, and the ordered consumer's
// one check is kept: the consumer's delivery sequence must run 1, 2, 3 …;
// on a gap readFrom returns an error after the messages before it, and the
// caller reads again from there.
func (l *Log) readFrom(ctx context.Context, filter string, start uint64, headersOnly bool, batchSize int, fn func(msg jetstream.Msg, md *jetstream.MsgMetadata) bool) error {
	// One attempt at most apiAttempt, not the caller's whole context: a
	// consumer is created through the JetStream meta leader, and a request
	// sent while it is being replaced (a node killed) is never answered.
	// TestCluster saw a catch-up wait there for its whole activationTimeout,
	// and every read of the item answer "item is busy" meanwhile; the callers
	// try again (replayConsumer, the scans), and the next attempt reaches
	// the new leader.
	cctx, cancel := context.WithTimeout(ctx, apiAttempt)
	defer cancel()
	cons, err := l.stream.CreateConsumer(cctx, jetstream.ConsumerConfig{
		FilterSubject: filter,
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   start,
		AckPolicy:     jetstream.AckNonePolicy,
		HeadersOnly:   headersOnly,
		// One replica in memory: the consumer lives for one read, and a
		// lost one is simply made again (as the ordered consumer's are).
		Replicas:      1,
		MemoryStorage: true,
		// A backstop only: the consumer is deleted when the read ends.
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiAttempt)
		defer cancel()
		_ = l.stream.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	var delivered uint64 // the consumer's delivery sequence of the last message
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// No wait: what the stream holds now comes at once, and the
		// fetch ends with it instead of lingering until a timeout.
		batch, err := cons.FetchNoWait(batchSize)
		if err != nil {
			return err
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				return err
			}
			if md.Sequence.Consumer != delivered+1 {
				return fmt.Errorf("read %s: delivery %d after %d", filter, md.Sequence.Consumer, delivered)
			}
			delivered = md.Sequence.Consumer
			if !fn(msg, md) {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// apply decodes one log message for fn. An undecodable message (none is
// ever published) is passed on empty, so its sequence still counts as read.
func apply(fn func(seq uint64, m *actors.Message), seq uint64, data []byte) {
	m, err := actors.DecodeMessage(data)
	if err != nil {
		m = &actors.Message{}
	}
	fn(seq, m)
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
