package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
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

// Outbox turns recorded events into deliveries: one message of the webhook
// stream per subscribed endpoint, published with its Nats-Msg-Id (endpoint
// and event id), so a repeat is stored once. It implements actors.Outbox:
// the actor that applies an event hands it over with its verdict, so an
// event dropped by dedupe, or a robot's request (never published as an
// event), never fires, and the snapshot round's Flush makes every delivery
// durable before a snapshot covers its event (actors/outbox.go says why that
// survives kill -9).
//
// It keeps the actors fast: Wants and Recorded never block (the endpoint
// lookups and the publishes happen on Run's goroutine); a project's
// endpoints are cached for cacheTTL (a new or deleted endpoint takes effect
// within it), and a project without endpoints costs one map read per
// message once it has been looked up.
type Outbox struct {
	js     jetstream.JetStream
	st     EndpointLister
	logger *slog.Logger

	mu    sync.Mutex // guards cache
	cache map[string]cachedEndpoints

	qmu      sync.Mutex // guards the fields below
	queue    []recorded // taken by Recorded, not handled by Run yet
	stalled  []recorded // their project's endpoints could not be looked up yet
	inflight []inflight // publishes not known to be stored; Flush waits for them
	started  uint64     // Run's passes begun
	finished uint64     // the newest pass ended
	progress chan struct{}
	wake     chan struct{}

	published, failed atomic.Int64
}

type cachedEndpoints struct {
	list []actors.WebhookEndpoint
	at   time.Time
}

// recorded is one Recorded call.
type recorded struct {
	k       actors.ItemID
	m       *actors.Message
	counted []bool
}

// inflight is one delivery's message and, once sent, its acknowledgement.
type inflight struct {
	msg *nats.Msg
	fut jetstream.PubAckFuture // nil: not sent yet (the send failed)
}

const cacheTTL = 2 * time.Second

// resendPause spaces the sends of a refused delivery within one Flush.
const resendPause = 50 * time.Millisecond

// lookupWait bounds one endpoint lookup of Run: a slow Postgres delays
// deliveries, never the actors.
const lookupWait = 2 * time.Second

// NewOutbox publishes on nc. Run must run for Recorded's events to become
// deliveries, until the registry that calls Flush has stopped.
func NewOutbox(nc *nats.Conn, st EndpointLister, logger *slog.Logger) (*Outbox, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The timeout ends the wait for an acknowledgement lost with a
	// connection; Flush then sends the delivery again.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(10_000), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return nil, err
	}
	return &Outbox{
		js: js, st: st, logger: logger, cache: map[string]cachedEndpoints{},
		progress: make(chan struct{}), wake: make(chan struct{}, 1),
	}, nil
}

// Counts returns the deliveries queued and the publishes that failed (each
// is sent again until stored).
func (o *Outbox) Counts() (published, failed int64) { return o.published.Load(), o.failed.Load() }

// Wants reports whether project may have endpoints: yes unless a lookup
// younger than cacheTTL found none. Never blocks.
func (o *Outbox) Wants(project string) bool {
	o.mu.Lock()
	c, ok := o.cache[project]
	o.mu.Unlock()
	return !ok || time.Since(c.at) >= cacheTTL || len(c.list) > 0
}

// Recorded takes the events item k applied from m for Run. Never blocks:
// the queue grows while Run is behind (a lookup waiting on Postgres).
func (o *Outbox) Recorded(k actors.ItemID, m *actors.Message, counted []bool) {
	o.qmu.Lock()
	o.queue = append(o.queue, recorded{k: k, m: m, counted: counted})
	o.qmu.Unlock()
	o.signal()
}

func (o *Outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run turns what Recorded took into publishes until ctx ends; stalled
// events (their endpoints unknown: Postgres unreachable) are tried again
// every second.
func (o *Outbox) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-t.C:
		}
		o.qmu.Lock()
		batch := append(o.stalled, o.queue...)
		o.stalled, o.queue = nil, nil
		o.started++
		pass := o.started
		o.qmu.Unlock()
		var stalled []recorded
		var sent []inflight
		for _, rec := range batch {
			eps, ok := o.endpoints(ctx, rec.k.Project, time.Now())
			if !ok {
				stalled = append(stalled, rec)
				continue
			}
			sent = o.deliveries(sent, rec, eps)
		}
		o.qmu.Lock()
		o.stalled = append(o.stalled, stalled...)
		o.inflight = append(o.inflight, sent...)
		o.finished = pass
		close(o.progress)
		o.progress = make(chan struct{})
		o.qmu.Unlock()
	}
}

// Flush returns nil once every event Recorded took before the call has its
// deliveries stored in the webhook stream; a failed publish is sent again
// until it is stored or ctx ends. The snapshot round calls it.
func (o *Outbox) Flush(ctx context.Context) error {
	// A pass of Run begun after this call takes everything taken before
	// it, and tries the stalled events once more.
	o.qmu.Lock()
	begun := o.started
	o.qmu.Unlock()
	o.signal()
	for {
		o.qmu.Lock()
		finished, progress, stalled := o.finished, o.progress, len(o.stalled)
		o.qmu.Unlock()
		if finished > begun {
			if stalled > 0 {
				return fmt.Errorf("webhook endpoints of %d recorded messages not known yet", stalled)
			}
			break
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	o.qmu.Lock()
	fl := o.inflight
	o.inflight = nil
	o.qmu.Unlock()
	for i := 0; i < len(fl); i++ {
		p := &fl[i]
		if p.fut == nil {
			fut, err := o.js.PublishMsgAsync(p.msg)
			if err != nil {
				o.keep(fl[i:])
				return fmt.Errorf("webhook delivery not queued: %w", err)
			}
			p.fut = fut
		}
		select {
		case <-p.fut.Ok():
		case err := <-p.fut.Err():
			o.failed.Add(1)
			o.logger.Warn("webhook delivery not queued, sending again", "subject", p.msg.Subject, "err", err)
			p.fut = nil
			if perr := pause(ctx, resendPause); perr != nil {
				o.keep(fl[i:])
				return fmt.Errorf("webhook delivery not queued: %w", err)
			}
			i-- // send it again
		case <-ctx.Done():
			o.keep(fl[i:])
			return ctx.Err()
		}
	}
	return nil
}

// keep puts publishes back for the next Flush.
func (o *Outbox) keep(fl []inflight) {
	o.qmu.Lock()
	o.inflight = append(fl, o.inflight...)
	o.qmu.Unlock()
}

// endpoints returns project's endpoints, from the cache while it is fresh;
// false when they are not known (no answer and none cached).
func (o *Outbox) endpoints(ctx context.Context, project string, now time.Time) ([]actors.WebhookEndpoint, bool) {
	o.mu.Lock()
	c, ok := o.cache[project]
	o.mu.Unlock()
	if ok && now.Sub(c.at) < cacheTTL {
		return c.list, true
	}
	lctx, cancel := context.WithTimeout(ctx, lookupWait)
	list, err := o.st.ListWebhooks(lctx, project)
	cancel()
	if err != nil {
		o.logger.Warn("webhook endpoints lookup", "project", project, "err", err)
		return c.list, ok // the last known list, if any
	}
	o.mu.Lock()
	if len(o.cache) > 100_000 { // bounded: a burst of projects restarts the cache
		clear(o.cache)
	}
	o.cache[project] = cachedEndpoints{list: list, at: now}
	o.mu.Unlock()
	return list, true
}

// deliveries appends the publishes of rec's recorded events to the
// endpoints subscribed to their types.
func (o *Outbox) deliveries(sent []inflight, rec recorded, eps []actors.WebhookEndpoint) []inflight {
	if len(eps) == 0 {
		return sent
	}
	render, content := rec.m.Verdicts(rec.counted)
	for i, ev := range rec.m.Render {
		if i >= len(render) || !render[i] {
			continue
		}
		typ := "render." + string(ev.EventType)
		var data []byte
		for _, ep := range subscribed(eps, typ) {
			if data == nil {
				var err error
				if data, err = json.Marshal(renderData{RenderID: rec.k.Item, Event: ev}); err != nil {
					break // a RenderEvent always encodes
				}
			}
			sent = o.queue1(sent, Delivery{EndpointID: ep.ID, ID: ev.ID, Type: typ, Timestamp: ev.CreatedAt.Time, Data: data})
		}
	}
	for i, ev := range rec.m.Content {
		// A swipe's copy for the item left (Role set) is the same event
		// seen from the other item and does not fire again.
		if i >= len(content) || !content[i] || ev.Role != "" {
			continue
		}
		typ := "content." + string(ev.Type)
		var data []byte
		for _, ep := range subscribed(eps, typ) {
			if data == nil {
				var err error
				if data, err = json.Marshal(contentData{ContentID: rec.k.Item, Event: ev}); err != nil {
					break
				}
			}
			sent = o.queue1(sent, Delivery{EndpointID: ep.ID, ID: ev.ID, Type: typ, Timestamp: time.UnixMilli(ev.Recv).UTC(), Data: data})
		}
	}
	return sent
}

// subscribed returns the enabled endpoints of eps subscribed to typ
// (custom types cannot be subscribed to).
func subscribed(eps []actors.WebhookEndpoint, typ string) []actors.WebhookEndpoint {
	var out []actors.WebhookEndpoint
	for _, ep := range eps {
		if ep.DisabledAt == nil && slices.Contains(ep.EventTypes, typ) {
			out = append(out, ep)
		}
	}
	return out
}

// renderData is the data of a render.<eventType> delivery.
type renderData struct {
	RenderID string             `json:"renderId"`
	Event    actors.RenderEvent `json:"event"`
}

// contentData is the data of a content.<type> delivery.
type contentData struct {
	ContentID string              `json:"contentId"`
	Event     actors.ContentEvent `json:"event"`
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

// queue1 publishes one delivery without waiting; Flush waits.
func (o *Outbox) queue1(sent []inflight, dl Delivery) []inflight {
	b, err := json.Marshal(dl)
	if err != nil {
		return sent
	}
	msg := &nats.Msg{Subject: subjectPrefix + dl.EndpointID, Data: b, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, dl.EndpointID+":"+dl.ID)
	fut, err := o.js.PublishMsgAsync(msg)
	if err != nil {
		o.failed.Add(1)
		fut = nil // Flush sends it again
	}
	o.published.Add(1)
	return append(sent, inflight{msg: msg, fut: fut})
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
