package live

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/nats-io/nats.go"
)

// KeySubject carries changes to API keys and projects (core NATS, JSON
// KeyChange): a key revoked, a project deleted, a project's allowed origins
// changed. Every instance drops its cached answers for the keys concerned
// on receipt, so a change takes effect everywhere within the message's
// delivery instead of a cache lifetime, and a key revoked just before a
// Postgres outage cannot come back from a cache during it.
const KeySubject = "engaged.keys.changed"

// KeyChange names what changed: one key (KeyID) or every key of a project
// (ProjectID).
type KeyChange struct {
	KeyID     string `json:"keyId,omitempty"`
	ProjectID string `json:"projectId,omitempty"`
}

// PublishKeyChange publishes c and waits until the server has it (a flush
// bounded by ctx, which must have a deadline), so that a caller that returns has told every instance
// connected to the cluster.
func PublishKeyChange(ctx context.Context, nc *nats.Conn, c KeyChange) error {
	return publishNotice(ctx, nc, KeySubject, c)
}

// SubscribeKeyChanges calls fn for every KeyChange published until the
// returned stop is called (or nc closes). It returns once the server has
// the subscription (a flush bounded by ctx, which must have a deadline). fn runs on the subscription's
// goroutine, which nats.go owns and ends with the subscription.
func SubscribeKeyChanges(ctx context.Context, nc *nats.Conn, logger *slog.Logger, fn func(KeyChange)) (stop func(), err error) {
	return subscribeNotices(ctx, nc, KeySubject, logger, func(c KeyChange) bool { return c.KeyID != "" || c.ProjectID != "" }, fn)
}

// ErasedSubject carries the items an erasure scrubbed (core NATS, JSON
// Erased): every instance drops its read-only copies of them
// (actors.Registry.DropCopy), which still hold what the erasure removed
// from the owner's state, the snapshot and the log.
const ErasedSubject = "engaged.items.erased"

// Erased names the items of one project an erasure scrubbed.
type Erased struct {
	ProjectID string   `json:"projectId"`
	Items     []string `json:"items"`
}

// PublishErased publishes e and waits until the server has it, as
// PublishKeyChange does.
func PublishErased(ctx context.Context, nc *nats.Conn, e Erased) error {
	return publishNotice(ctx, nc, ErasedSubject, e)
}

// SubscribeErased calls fn for every Erased published until the returned
// stop is called, as SubscribeKeyChanges does.
func SubscribeErased(ctx context.Context, nc *nats.Conn, logger *slog.Logger, fn func(Erased)) (stop func(), err error) {
	return subscribeNotices(ctx, nc, ErasedSubject, logger, func(e Erased) bool { return e.ProjectID != "" }, fn)
}

// publishNotice publishes v as JSON on subject and flushes, bounded by ctx.
func publishNotice(ctx context.Context, nc *nats.Conn, subject string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := nc.Publish(subject, b); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return nil
}

// subscribeNotices subscribes fn to subject's JSON messages that decode as
// T and pass valid (others are logged and dropped; a panic in fn is
// contained and logged), and flushes, bounded by ctx.
func subscribeNotices[T any](ctx context.Context, nc *nats.Conn, subject string, logger *slog.Logger, valid func(T) bool, fn func(T)) (stop func(), err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		defer func() {
			if p := recover(); p != nil {
				logger.Error("panic in subscriber", "subject", subject, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		var v T
		if err := json.Unmarshal(m.Data, &v); err != nil || !valid(v) {
			logger.Warn("notice ignored: malformed", "subject", subject, "data", string(m.Data))
			return
		}
		fn(v)
	})
	if err != nil {
		return nil, err
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
