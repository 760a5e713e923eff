package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/engagedhq/engaged/actors"
)

// Stream and consumer of deliveries. A delivery is a message of its own
// per (event, endpoint), so each endpoint's retries run apart.
const (
	StreamName    = "ENGAGED_WEBHOOKS"
	ConsumerName  = "webhooks"
	subjectPrefix = "engaged.webhooks."
)

// DefaultSchedule is the wait before each retry, after the first attempt:
// the schedule the Standard Webhooks guidance describes (immediately, then 5
// seconds, 5 minutes, 30 minutes, 2 hours, 5 hours, 10 hours, 10 hours).
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Store is what the dispatcher needs of the records store.
type Store interface {
	// Endpoint returns endpoint id with its signing keys; an error with
	// code not_found if it was deleted.
	Endpoint(ctx context.Context, id string) (Endpoint, error)
	// Attempts counts the attempts recorded for one delivery: the
	// original's (replay "") or one replay's.
	Attempts(ctx context.Context, endpointID, webhookID, replay string) (int, error)
	// Keep keeps an original delivery for replay before its first attempt;
	// keeping one already kept does nothing.
	Keep(ctx context.Context, dl Delivery) error
	// RecordAttempt keeps one attempt; a dead letter has Final set.
	RecordAttempt(ctx context.Context, a Attempt) error
	// Disable turns an endpoint off (a 410 answer).
	Disable(ctx context.Context, endpointID, reason string) error
}

// Attempt is one recorded attempt at one delivery.
type Attempt struct {
	EndpointID string    `json:"endpointId"`
	WebhookID  string    `json:"webhookId"`
	Type       string    `json:"type"`
	N          int       `json:"attempt"` // 1 for the first
	At         time.Time `json:"at"`
	Outcome    Outcome   `json:"outcome"`
	Status     int       `json:"status"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"durationMs"`
	// Final marks the dead letter: the last retry failed and nothing more
	// will be tried.
	Final bool `json:"final"`
	// Replay is the replay this attempt belongs to, "" for the original.
	Replay string `json:"replayId,omitempty"`
}

// Options configures a Dispatcher.
type Options struct {
	Schedule    []time.Duration // waits before each retry; nil = DefaultSchedule
	Timeout     time.Duration   // one attempt's limit, connect to last byte; 0 = 10s
	PerEndpoint int             // attempts in flight per endpoint; 0 = 4
	Workers     int             // attempts in flight in all; 0 = 32
	Replicas    int             // of the stream; 0 = 1
	// AckWait is how long a delivery an instance took may go unanswered
	// before JetStream gives it to another (the instance died); 0 =
	// Timeout + 20s, past any attempt.
	AckWait time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Dispatcher publishes deliveries to a durable JetStream stream and
// delivers them from a durable consumer: at least once, with the same
// webhook-id on every attempt, whichever instance runs it; a delivery that
// an instance was attempting when it died is redelivered by JetStream after
// the ack wait. Create with New, run with Run.
type Dispatcher struct {
	js     jetstream.JetStream
	st     Store
	client *http.Client
	o      Options
	cons   jetstream.Consumer

	mu   sync.Mutex     // guards busy
	busy map[string]int // attempts in flight per endpoint
}

// New creates (or updates) the stream and the durable consumer.
func New(ctx context.Context, js jetstream.JetStream, st Store, g *Guard, o Options) (*Dispatcher, error) {
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.PerEndpoint <= 0 {
		o.PerEndpoint = 4
	}
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.AckWait <= 0 {
		o.AckWait = o.Timeout + 20*time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "engaged webhook deliveries: engaged.webhooks.<endpoint>",
		Subjects:    []string{subjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		// Work queue: a delivery is gone once acknowledged (delivered,
		// dead-lettered or dropped); the attempts are in Postgres.
		Retention:  jetstream.WorkQueuePolicy,
		Replicas:   o.Replicas,
		Duplicates: 10 * time.Minute, // a republished delivery is stored once
	})
	if err != nil {
		return nil, fmt.Errorf("webhook stream: %w", err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   ConsumerName,
		AckPolicy: jetstream.AckExplicitPolicy,
		// Past the attempt's own limit: an instance killed mid-attempt
		// has its delivery redelivered after this long.
		AckWait:       o.AckWait,
		MaxDeliver:    -1, // the dispatcher dead-letters by its own count
		MaxAckPending: 10 * o.Workers,
	})
	if err != nil {
		return nil, fmt.Errorf("webhook consumer: %w", err)
	}
	return &Dispatcher{js: js, st: st, client: newClient(g, o.Timeout), o: o, cons: cons, busy: map[string]int{}}, nil
}

// Publish stores one delivery durably; a repeat of the same (endpoint,
// webhook-id) within the duplicate window is stored once.
func (d *Dispatcher) Publish(ctx context.Context, dl Delivery) error {
	b, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	_, err = d.js.Publish(ctx, subjectPrefix+dl.EndpointID, b, jetstream.WithMsgID(dl.EndpointID+":"+dl.ID))
	return err
}

// Run delivers until ctx ends, then waits for the attempts in flight.
func (d *Dispatcher) Run(ctx context.Context) error {
	sem := make(chan struct{}, d.o.Workers)
	var wg sync.WaitGroup
	defer d.client.CloseIdleConnections() // after the attempts: no keep-alive outlives Run
	defer wg.Wait()
	for ctx.Err() == nil {
		batch, err := d.cons.Fetch(d.o.Workers, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d.o.Logger.Warn("webhooks fetch", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for msg := range batch.Messages() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				// Unacknowledged: redelivered after the ack wait. The rest
				// of the batch is drained (it ends within FetchMaxWait) so
				// that the fetch's goroutine does not outlive Run.
				for range batch.Messages() {
				}
				return nil
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				d.handle(ctx, msg)
			}()
		}
	}
	return nil
}

// busyDelay is how long a delivery waits when its endpoint already has
// PerEndpoint attempts in flight; it is not an attempt.
const busyDelay = 500 * time.Millisecond

func (d *Dispatcher) take(ep string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy[ep] >= d.o.PerEndpoint {
		return false
	}
	d.busy[ep]++
	return true
}

func (d *Dispatcher) release(ep string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy[ep]--; d.busy[ep] <= 0 {
		delete(d.busy, ep)
	}
}

// handle makes one attempt at msg's delivery and acknowledges, retries
// later, or dead-letters it.
func (d *Dispatcher) handle(ctx context.Context, msg jetstream.Msg) {
	var dl Delivery
	if err := json.Unmarshal(msg.Data(), &dl); err != nil || dl.EndpointID == "" || dl.ID == "" {
		d.o.Logger.Error("webhooks: malformed delivery dropped", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	ep, err := d.st.Endpoint(ctx, dl.EndpointID)
	if err != nil {
		if isNotFound(err) {
			_ = msg.Ack() // the endpoint was deleted
			return
		}
		d.o.Logger.Warn("webhooks: endpoint lookup", "endpoint", dl.EndpointID, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if ep.Disabled {
		_ = msg.Ack()
		return
	}
	if !d.take(ep.ID) {
		_ = msg.NakWithDelay(busyDelay)
		return
	}
	defer d.release(ep.ID)
	n, err := d.st.Attempts(ctx, ep.ID, dl.ID, dl.Replay)
	if err != nil {
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if n == 0 && dl.Replay == "" {
		// Kept before the first attempt, so that whatever becomes of the
		// delivery it can be replayed (the stream forgets it once done).
		if err := d.st.Keep(ctx, dl); err != nil {
			d.o.Logger.Warn("webhooks: keep delivery", "endpoint", ep.ID, "err", err)
			_ = msg.NakWithDelay(time.Second)
			return
		}
	}
	now := d.o.Now()
	r := attempt(ctx, d.client, &ep, &dl, now)
	if ctx.Err() != nil {
		// Stopped mid-attempt: not the receiver's failure, so not an
		// attempt of the schedule. The delivery goes back to the stream.
		_ = msg.Nak()
		return
	}
	a := Attempt{EndpointID: ep.ID, WebhookID: dl.ID, Type: dl.Type, N: n + 1, At: now, Outcome: r.Outcome,
		Status: r.Status, Error: r.Err, DurationMS: r.Duration.Milliseconds(), Replay: dl.Replay}
	retry := r.Outcome == Failed || r.Outcome == Refused
	if retry && n >= len(d.o.Schedule) {
		a.Final, retry = true, false
	}
	if err := d.st.RecordAttempt(ctx, a); err != nil {
		// Without its record the count would not advance: try again
		// later rather than loop on an endpoint.
		d.o.Logger.Warn("webhooks: record attempt", "endpoint", ep.ID, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	switch {
	case r.Outcome == Gone:
		if err := d.st.Disable(ctx, ep.ID, r.Err); err != nil {
			d.o.Logger.Warn("webhooks: disable", "endpoint", ep.ID, "err", err)
		}
		_ = msg.Ack()
	case retry:
		_ = msg.NakWithDelay(max(jitter(d.o.Schedule[n]), r.RetryAfter))
	default:
		_ = msg.Ack()
	}
}

// jitter spreads retries over ±10 % so that an endpoint back from an
// outage is not hit by every delivery at once.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

func isNotFound(err error) bool { return actors.ErrorCode(err) == actors.ENotFound }
