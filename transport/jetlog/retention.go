package jetlog

// retention.go is what the log retention sweep and the erasure job need of
// the log beyond publish and replay: finding the messages older than an age
// or holding an identifier, purging an item's subject up to a sequence, and
// deleting single messages securely (their bytes overwritten on disk).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/engagedhq/engaged/actors"
)

// LastSeq returns the sequence of the newest message in the log (0: none).
func (l *Log) LastSeq(ctx context.Context) (uint64, error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("log info: %w", err)
	}
	return info.State.LastSeq, nil
}

// scan reads the messages of filter from the log's first through through
// (readFrom; headers only if headersOnly) and calls fn for each until fn
// returns false. A read that stops on an error after some progress goes on
// from there, as replayConsumer does.
func (l *Log) scan(ctx context.Context, filter string, through uint64, headersOnly bool, fn func(seq uint64, k actors.ItemID, at time.Time, data []byte) bool) error {
	var next uint64 = 1 // before the stream's first: the read starts at its first
	stopped := false
	for next <= through && !stopped {
		from := next
		err := l.readFrom(ctx, filter, from, headersOnly, scanBatch, func(msg jetstream.Msg, md *jetstream.MsgMetadata) bool {
			seq := md.Sequence.Stream
			if seq > through {
				stopped = true
				return false
			}
			next = seq + 1
			if _, k, ok := parseSubject(msg.Subject()); ok && !fn(seq, k, md.Timestamp, msg.Data()) {
				stopped = true
				return false
			}
			return seq < through
		})
		if err != nil && next == from {
			return fmt.Errorf("scan %s: %w", filter, err)
		}
		if err == nil {
			return nil // through reached, fn said stop, or the log's end
		}
	}
	return nil
}

// scanBatch is a scan's fetch size: 4096 read 20 % faster than 512
// (BenchmarkFind), and a scan is the only reader of its consumer.
const scanBatch = 4096

// OlderThan returns, per item, the newest sequence of its messages stored
// before before, reading the log from its start (headers only) and
// stopping at the first message stored at or after before. After a sweep
// has purged them, the log's start is the oldest message not yet covered,
// so each sweep reads little more than what it removes.
func (l *Log) OlderThan(ctx context.Context, before time.Time) (map[actors.ItemID]uint64, error) {
	last, err := l.LastSeq(ctx)
	if err != nil {
		return nil, err
	}
	out := map[actors.ItemID]uint64{}
	err = l.scan(ctx, subjectPrefix+">", last, true, func(seq uint64, k actors.ItemID, at time.Time, _ []byte) bool {
		if !at.Before(before) {
			return false
		}
		out[k] = seq
		return true
	})
	return out, err
}

// Find calls fn with every message of project's items, through through,
// whose payload match accepts.
func (l *Log) Find(ctx context.Context, project string, through uint64, match func([]byte) bool, fn func(k actors.ItemID, seq uint64)) error {
	return l.scan(ctx, subjectPrefix+"*."+project+".*", through, false, func(seq uint64, k actors.ItemID, _ time.Time, data []byte) bool {
		if match(data) {
			fn(k, seq)
		}
		return true
	})
}

// Purge removes k's messages up to and including through. Callers make sure
// a snapshot of k covers them (actors.Registry.Persist).
func (l *Log) Purge(ctx context.Context, k actors.ItemID, through uint64) error {
	err := l.stream.Purge(ctx, jetstream.WithPurgeSubject(l.Subject(k)), jetstream.WithPurgeSequence(through+1))
	if err != nil {
		return fmt.Errorf("purge %s through %d: %w", k, through, err)
	}
	return nil
}

// SecureDelete removes message seq and overwrites its bytes in the store
// (an erasure's log messages; docs/PRIVACY.md). A message already gone is
// no error: an erasure resumed after a crash deletes again.
func (l *Log) SecureDelete(ctx context.Context, seq uint64) error {
	if err := l.stream.SecureDeleteMsg(ctx, seq); err != nil && !isNoMsg(err) {
		return fmt.Errorf("secure delete %d: %w", seq, err)
	}
	return nil
}

// isNoMsg reports JetStream's answer to a delete of a sequence it does
// not hold (deleted already, or purged). The client passes that answer on
// as text only (jetstream.ErrMsgDeleteUnsuccessful and the API error's
// string), so the error code is read from the text; a direct API error is
// read as such.
func isNoMsg(err error) bool {
	if jerr, ok := errors.AsType[jetstream.JetStreamError](err); ok && jerr.APIError() != nil {
		code := jerr.APIError().ErrorCode
		return code == jetstream.JSErrCodeMessageNotFound || code == errSequenceNotFound
	}
	if !errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, fmt.Sprintf("err_code=%d", errSequenceNotFound)) ||
		strings.Contains(msg, fmt.Sprintf("err_code=%d", jetstream.JSErrCodeMessageNotFound))
}

// errSequenceNotFound is nats-server's JSSequenceNotFoundErrF, the answer
// to a delete of a sequence the stream no longer holds.
const errSequenceNotFound jetstream.ErrorCode = 10043
