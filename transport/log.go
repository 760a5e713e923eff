// Package transport holds the edges of engaged: the Fiber HTTP API, and NATS
// (the JetStream event log, publishing, the per-partition consumers that feed
// the actors, and the embedded server).
package transport

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"engaged/actors"
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
}

// Log is the JetStream event log. It implements actors.Log. Safe for
// concurrent use.
type Log struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	parts  int
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
	if s, err := js.Stream(ctx, StreamName); err == nil {
		if got := s.CachedInfo().Config.Metadata["engaged.partitions"]; got != "" && got != want {
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
	stream, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StreamName, err)
	}
	return &Log{js: js, stream: stream, parts: o.Partitions}, nil
}

// Subject returns the event subject of item k.
func (l *Log) Subject(k actors.Key) string {
	return subjectPrefix + strconv.Itoa(k.Partition(l.parts)) + "." + k.Project + "." + k.Item
}

// parseSubject is the inverse of Subject.
func parseSubject(s string) (part int, k actors.Key, ok bool) {
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
	return part, actors.Key{Project: f[1], Item: f[2]}, true
}

// PublishAsync stores payload on k's subject. msgID becomes Nats-Msg-Id, so
// a retried publish is stored once. The returned wait blocks until JetStream
// has stored the message or failed; its PubAck carries the sequence, and
// Duplicate when JetStream already held msgID (nothing new was stored).
// Callers publish several messages and then wait on each, so a request
// costs one round trip however many items it touches.
func (l *Log) PublishAsync(k actors.Key, msgID string, payload []byte) (wait func(ctx context.Context) (*jetstream.PubAck, error), err error) {
	m := nats.NewMsg(l.Subject(k))
	m.Data = payload
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	f, err := l.js.PublishMsgAsync(m)
	if err != nil {
		return nil, unavailable("event log is overloaded", err)
	}
	return func(ctx context.Context) (*jetstream.PubAck, error) {
		select {
		case ack := <-f.Ok():
			return ack, nil
		case err := <-f.Err():
			return nil, unavailable("event log did not store the event", err)
		case <-ctx.Done():
			return nil, unavailable("event log did not answer in time", ctx.Err())
		}
	}, nil
}

// Publish is PublishAsync followed by its wait.
func (l *Log) Publish(ctx context.Context, k actors.Key, msgID string, payload []byte) (*jetstream.PubAck, error) {
	wait, err := l.PublishAsync(k, msgID, payload)
	if err != nil {
		return nil, err
	}
	return wait(ctx)
}

func unavailable(msg string, cause error) error {
	_ = cause // the cause is for logs; clients see the code and Retry-After
	return &actors.Error{Code: actors.EUnavailable, Message: msg, RetryAfter: time.Second}
}

// Replay calls fn for every message on k's subject after afterSeq, in order,
// up to the last message stored when Replay started.
func (l *Log) Replay(ctx context.Context, k actors.Key, afterSeq uint64, fn func(seq uint64, m *actors.Message)) error {
	subj := l.Subject(k)
	last, err := l.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("last message of %s: %w", subj, err)
	}
	if last.Sequence <= afterSeq {
		return nil
	}
	oc, err := l.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    afterSeq + 1,
		// A backstop only: the consumer is deleted when the replay ends.
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("replay %s: %w", subj, err)
	}
	defer func() {
		if info := oc.CachedInfo(); info != nil {
			_ = l.stream.DeleteConsumer(context.WithoutCancel(ctx), info.Name)
		}
	}()
	for {
		batch, err := oc.Fetch(256, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return fmt.Errorf("replay %s: %w", subj, err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("replay %s: %w", subj, err)
			}
			if m, err := actors.DecodeMessage(msg.Data()); err == nil {
				fn(md.Sequence.Stream, m)
			}
			if md.Sequence.Stream >= last.Sequence {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("replay %s: %w", subj, err)
		}
		if n == 0 {
			return fmt.Errorf("replay %s: log ended at an earlier sequence than %d", subj, last.Sequence)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
