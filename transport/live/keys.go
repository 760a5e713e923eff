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
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := nc.Publish(KeySubject, b); err != nil {
		return fmt.Errorf("publish key change: %w", err)
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("publish key change: %w", err)
	}
	return nil
}

// SubscribeKeyChanges calls fn for every KeyChange published until the
// returned stop is called (or nc closes). It returns once the server has
// the subscription (a flush bounded by ctx, which must have a deadline). fn runs on the subscription's
// goroutine, which nats.go owns and ends with the subscription.
func SubscribeKeyChanges(ctx context.Context, nc *nats.Conn, logger *slog.Logger, fn func(KeyChange)) (stop func(), err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sub, err := nc.Subscribe(KeySubject, func(m *nats.Msg) {
		defer func() {
			if p := recover(); p != nil {
				logger.Error("panic in key-change subscriber", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		var c KeyChange
		if err := json.Unmarshal(m.Data, &c); err != nil || (c.KeyID == "" && c.ProjectID == "") {
			logger.Warn("key change ignored: not a KeyChange", "data", string(m.Data))
			return
		}
		fn(c)
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
