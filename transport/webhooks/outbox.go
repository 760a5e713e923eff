package webhooks

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engagedhq/engaged/actors"
)

// EndpointLister is what the outbox needs of the records store: a
// project's endpoints (persist.Store.ListWebhooks).
type EndpointLister interface {
	ListWebhooks(ctx context.Context, projectID string) ([]actors.WebhookEndpoint, error)
}

// Outbox turns recorded events into deliveries: one message of the
// webhook stream per subscribed endpoint, published with its Nats-Msg-Id so
// a repeat is stored once. It is called with an event only once the actor's
// verdict says the event was recorded, so an event dropped by dedupe, or a
// robot's request (never published as an event), never fires.
//
// It keeps ingest fast: a project's endpoints are cached for cacheTTL (a new
// or deleted endpoint takes effect within it), a project without endpoints
// costs one map read, and the publish is asynchronous: the request does not
// wait for the webhook stream's acknowledgement. Publish errors are logged
// and counted (Failed).
type Outbox struct {
	js     jetstream.JetStream
	st     EndpointLister
	logger *slog.Logger

	mu    sync.Mutex // guards cache
	cache map[string]cachedEndpoints

	published, failed atomic.Int64
}

type cachedEndpoints struct {
	list []actors.WebhookEndpoint
	at   time.Time
}

const cacheTTL = 2 * time.Second

// NewOutbox publishes on nc, whose own JetStream context reports
// asynchronous publish errors to the outbox.
func NewOutbox(nc *nats.Conn, st EndpointLister, logger *slog.Logger) (*Outbox, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := &Outbox{st: st, logger: logger, cache: map[string]cachedEndpoints{}}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
		o.failed.Add(1)
		o.logger.Warn("webhook delivery not queued", "subject", m.Subject, "err", err)
	}), jetstream.WithPublishAsyncMaxPending(10_000))
	if err != nil {
		return nil, err
	}
	o.js = js
	return o, nil
}

// Counts returns the deliveries queued and the ones whose publish failed.
func (o *Outbox) Counts() (published, failed int64) { return o.published.Load(), o.failed.Load() }

func (o *Outbox) endpoints(ctx context.Context, project string, now time.Time) []actors.WebhookEndpoint {
	o.mu.Lock()
	c, ok := o.cache[project]
	o.mu.Unlock()
	if ok && now.Sub(c.at) < cacheTTL {
		return c.list
	}
	list, err := o.st.ListWebhooks(ctx, project)
	if err != nil {
		o.logger.Warn("webhook endpoints lookup", "project", project, "err", err)
		return c.list // the last known list, if any
	}
	o.mu.Lock()
	if len(o.cache) > 100_000 { // bounded: a burst of projects restarts the cache
		clear(o.cache)
	}
	o.cache[project] = cachedEndpoints{list: list, at: now}
	o.mu.Unlock()
	return list
}

// renderData is the data of a render.<eventType> delivery.
type renderData struct {
	RenderID string             `json:"renderId"`
	Event    actors.RenderEvent `json:"event"`
}

// RenderRecorded queues the deliveries of render events of item k that the
// actor recorded (recorded[i] is evs[i]'s verdict).
func (o *Outbox) RenderRecorded(ctx context.Context, k actors.ItemID, evs []actors.RenderEvent, recorded []bool) {
	var eps []actors.WebhookEndpoint
	for i := range evs {
		if i >= len(recorded) || !recorded[i] {
			continue
		}
		if eps == nil {
			if eps = o.endpoints(ctx, k.Project, time.Now()); len(eps) == 0 {
				return
			}
		}
		typ := "render." + string(evs[i].EventType)
		data, err := json.Marshal(renderData{RenderID: k.Item, Event: evs[i]})
		if err != nil {
			continue // a RenderEvent always encodes
		}
		for _, ep := range eps {
			if ep.DisabledAt != nil || !slices.Contains(ep.EventTypes, typ) {
				continue
			}
			o.queue(Delivery{EndpointID: ep.ID, ID: evs[i].ID, Type: typ, Timestamp: evs[i].CreatedAt.Time, Data: data})
		}
	}
}

// contentData is the data of a content.<type> delivery.
type contentData struct {
	ContentID string              `json:"contentId"`
	Event     actors.ContentEvent `json:"event"`
}

// ContentRecorded queues the deliveries of SDK events of item k that the
// actor recorded. A swipe's copy for the item left (Role set) is the same
// event seen from the other item and does not fire again; custom types
// cannot be subscribed to.
func (o *Outbox) ContentRecorded(ctx context.Context, k actors.ItemID, evs []actors.ContentEvent, recorded []bool) {
	var eps []actors.WebhookEndpoint
	for i := range evs {
		if i >= len(recorded) || !recorded[i] || evs[i].Role != "" {
			continue
		}
		if eps == nil {
			if eps = o.endpoints(ctx, k.Project, time.Now()); len(eps) == 0 {
				return
			}
		}
		typ := "content." + string(evs[i].Type)
		var data []byte
		for _, ep := range eps {
			if ep.DisabledAt != nil || !slices.Contains(ep.EventTypes, typ) {
				continue
			}
			if data == nil {
				var err error
				if data, err = json.Marshal(contentData{ContentID: k.Item, Event: evs[i]}); err != nil {
					break
				}
			}
			o.queue(Delivery{EndpointID: ep.ID, ID: evs[i].ID, Type: typ, Timestamp: time.UnixMilli(evs[i].Recv).UTC(), Data: data})
		}
	}
}

// Test queues a webhook.test delivery to ep and returns its webhook-id;
// it waits for the stream's acknowledgement, since the caller answers 202.
func (o *Outbox) Test(ctx context.Context, ep actors.WebhookEndpoint, id string, now time.Time) error {
	b, err := json.Marshal(Delivery{EndpointID: ep.ID, ID: id, Type: "webhook.test", Timestamp: now, Data: json.RawMessage(`{"test":true}`)})
	if err != nil {
		return err
	}
	_, err = o.js.Publish(ctx, subjectPrefix+ep.ID, b, jetstream.WithMsgID(ep.ID+":"+id))
	if err != nil {
		return &actors.Error{Code: actors.EUnavailable, Message: "could not queue the test delivery", RetryAfter: time.Second}
	}
	return nil
}

func (o *Outbox) queue(dl Delivery) {
	b, err := json.Marshal(dl)
	if err != nil {
		return
	}
	if _, err := o.js.PublishAsync(subjectPrefix+dl.EndpointID, b, jetstream.WithMsgID(dl.EndpointID+":"+dl.ID)); err != nil {
		o.failed.Add(1)
		o.logger.Warn("webhook delivery not queued", "endpoint", dl.EndpointID, "webhook_id", dl.ID, "err", err)
		return
	}
	o.published.Add(1)
}

// Flush waits until every queued delivery is acknowledged or ctx ends.
func (o *Outbox) Flush(ctx context.Context) {
	select {
	case <-o.js.PublishAsyncComplete():
	case <-ctx.Done():
	}
}
