package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/config"
	"github.com/engagedhq/engaged/persist"
	"github.com/engagedhq/engaged/transport/httpapi"
	"github.com/engagedhq/engaged/transport/webhooks"
)

// webhookStore adapts the records store to the dispatcher's port.
type webhookStore struct{ *persist.Store }

func (s webhookStore) Endpoint(ctx context.Context, id string) (webhooks.Endpoint, error) {
	w, err := s.Webhook(ctx, "", id)
	if err != nil {
		return webhooks.Endpoint{}, err
	}
	ep := webhooks.Endpoint{ID: w.ID, ProjectID: w.ProjectID, URL: w.URL, Disabled: w.DisabledAt != nil}
	for _, sec := range []string{w.Secret, w.PreviousSecret} {
		if sec == "" || (sec == w.PreviousSecret && (w.PreviousUntil == nil || time.Now().After(*w.PreviousUntil))) {
			continue
		}
		if k, err := webhooks.ParseSecret(sec); err == nil {
			ep.Keys = append(ep.Keys, k)
		}
	}
	return ep, nil
}

func (s webhookStore) Attempts(ctx context.Context, endpointID, webhookID, replay string) (int, error) {
	return s.CountWebhookAttempts(ctx, endpointID, webhookID, replay)
}

func (s webhookStore) Keep(ctx context.Context, dl webhooks.Delivery) error {
	return s.KeepWebhookDelivery(ctx, actors.WebhookDelivery{EndpointID: dl.EndpointID, WebhookID: dl.ID, Type: dl.Type, Timestamp: dl.Timestamp, Data: dl.Data})
}

func (s webhookStore) RecordAttempt(ctx context.Context, a webhooks.Attempt) error {
	var msg *string
	if a.Error != "" {
		msg = &a.Error
	}
	return s.RecordWebhookAttempt(ctx, actors.WebhookAttempt{
		EndpointID: a.EndpointID, WebhookID: a.WebhookID, Type: a.Type, N: a.N, At: a.At, Outcome: string(a.Outcome),
		Status: a.Status, Error: msg, DurationMS: a.DurationMS, Final: a.Final, ReplayID: a.Replay,
	})
}

func (s webhookStore) Disable(ctx context.Context, endpointID, reason string) error {
	return s.DisableWebhook(ctx, endpointID, reason)
}

// webhookService is the webhook dispatcher of one process (the outbox,
// which makes deliveries, is the registry's: serve.go).
type webhookService struct {
	stop context.CancelFunc
	done chan error
}

// startWebhooks creates the webhook stream and its durable consumer and
// starts delivering; Stop ends delivery (attempts in flight finish or are
// redelivered later by JetStream).
func startWebhooks(ctx context.Context, cfg config.Config, nc *nats.Conn, store *persist.Store, out *webhooks.Outbox, logger *slog.Logger) (*webhookService, httpapi.WebhookOptions, error) {
	guard, err := webhooks.NewGuard(cfg.WebhookAllowHosts)
	if err != nil {
		return nil, httpapi.WebhookOptions{}, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, httpapi.WebhookOptions{}, err
	}
	d, err := webhooks.New(ctx, js, webhookStore{store}, guard, webhooks.Options{
		Schedule: cfg.WebhookRetrySchedule, Timeout: cfg.WebhookTimeout, Replicas: cfg.StreamReplicas, Logger: logger,
	})
	if err != nil {
		return nil, httpapi.WebhookOptions{}, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	w := &webhookService{stop: stop, done: make(chan error, 1)}
	go func() { w.done <- d.Run(runCtx) }()
	opts := httpapi.WebhookOptions{
		Store: store,
		CheckURL: func(ctx context.Context, raw string) error {
			_, err := guard.CheckURL(ctx, raw)
			return err
		},
		NewSecret: webhooks.NewSecret,
		Test: func(ctx context.Context, ep actors.WebhookEndpoint) (string, error) {
			id := "msg_" + uuid.Must(uuid.NewV7()).String()
			return id, out.Test(ctx, ep, id, time.Now())
		},
		Replay: func(ctx context.Context, ep actors.WebhookEndpoint, from, to time.Time) (any, error) {
			return out.Replay(ctx, store, ep, "rpl_"+uuid.Must(uuid.NewV7()).String(), from, to)
		},
	}
	return w, opts, nil
}

// Stop ends delivery and waits for the attempts in flight; queued
// deliveries stay in the stream.
func (w *webhookService) Stop() {
	w.stop()
	<-w.done
}
