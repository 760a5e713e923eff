// Package client is the Go client of engaged's HTTP API, for server-side
// senders: Track queues SDK events that one background goroutine sends in
// batches with retries, and typed calls read engagement and follow the
// server-sent event streams.
package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Options configures a Client. Zero values take the defaults in brackets.
type Options struct {
	BatchSize     int           // events per request, at most 100 [10]
	BatchInterval time.Duration // how long an event may wait for a fuller batch [5s]
	// MaxQueue bounds the events held in memory, queued or being sent;
	// Track returns ErrQueueFull beyond it rather than grow without bound
	// while the server is unreachable [10000].
	MaxQueue   int
	HTTPClient *http.Client  // [a client with a 30 s timeout]; streams use a copy without the timeout
	MinBackoff time.Duration // first retry wait [200ms]; doubled per attempt, with full jitter
	MaxBackoff time.Duration // longest retry wait without a Retry-After [30s]
	// OnError is told about events the server rejected (status rejected in
	// a batch reply, or a 4xx other than 429 for the whole request). They
	// are dropped: sending them again would fail again. It runs on the
	// client's goroutine, so it should return quickly. nil: dropped silently.
	OnError func(Rejection)
}

// Rejection is an event the server refused, and why.
type Rejection struct {
	Event   Event
	Status  int    // the HTTP status: 200 for a rejected result in a batch reply
	Code    string // invalid_request, too_old, unauthorized, …
	Message string
	Issues  *Issues
}

// ErrQueueFull is returned by Track when MaxQueue events are waiting.
var ErrQueueFull = errors.New("client: queue full")

// ErrClosed is returned by Track and Flush after Close.
var ErrClosed = errors.New("client: closed")

// Error is an error answer of the API: its status and the envelope's
// code, message and field issues.
type Error struct {
	Status     int
	Code       string
	Message    string
	Issues     *Issues
	RequestID  string
	RetryAfter time.Duration // from Retry-After on 429 and 503
}

func (e *Error) Error() string {
	return fmt.Sprintf("engaged: %d %s: %s", e.Status, e.Code, e.Message)
}

// Client talks to one engaged service with one key. Create it with New and
// stop it with Close, which owns and ends its one background goroutine.
type Client struct {
	base   string
	key    string
	opts   Options
	http   *http.Client
	stream *http.Client

	mu       sync.Mutex
	queue    []Event // waiting, in Track order
	inFlight int     // taken by the loop, not yet delivered or dropped
	tracked  uint64  // events ever queued
	done     uint64  // events delivered or dropped, in Track order
	progress chan struct{}
	closed   bool

	kick    chan struct{} // a full batch is queued
	flush   chan struct{} // Flush waits: send everything queued
	closing chan struct{} // closed by Close: send what is left, then stop
	// sendCtx bounds every request and backoff; Close cancels it when its
	// own context ends before the queue is empty.
	sendCtx    context.Context
	cancelSend context.CancelFunc
	exited     chan struct{}
}

// New returns a client for the service at baseURL (e.g.
// "https://engaged.example.com") with apiKey (pk_… for events only, sk_…
// for everything), and starts its sending goroutine.
func New(baseURL, apiKey string, o Options) *Client {
	if o.BatchSize <= 0 {
		o.BatchSize = 10
	}
	o.BatchSize = min(o.BatchSize, 100) // the server's batch limit
	if o.BatchInterval <= 0 {
		o.BatchInterval = 5 * time.Second
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 10000
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	sc := *hc
	sc.Timeout = 0 // a stream lasts as long as its context
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		base: strings.TrimRight(baseURL, "/"), key: apiKey, opts: o, http: hc, stream: &sc,
		progress: make(chan struct{}),
		kick:     make(chan struct{}, 1), flush: make(chan struct{}, 1), closing: make(chan struct{}),
		sendCtx: ctx, cancelSend: cancel, exited: make(chan struct{}),
	}
	go c.loop()
	return c
}

// Track queues one event and returns at once; the background goroutine
// sends it within BatchInterval (sooner when BatchSize events are queued),
// retrying until it is delivered or rejected. It fills in EventID and
// Timestamp when empty. It returns ErrQueueFull when MaxQueue events are
// held (the event is not queued: the caller decides whether to drop it or
// wait and try again), ErrClosed after Close, or ctx's error. ev.Data is
// encoded later, on the client's goroutine: do not change it after Track.
func (c *Client) Track(ctx context.Context, ev Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ev.EventID == "" {
		ev.EventID = "evt_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
	}
	if ev.Timestamp.IsZero() {
		ev.Timestamp = time.Now()
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if len(c.queue)+c.inFlight >= c.opts.MaxQueue {
		c.mu.Unlock()
		return ErrQueueFull
	}
	c.queue = append(c.queue, ev)
	c.tracked++
	full := len(c.queue) >= c.opts.BatchSize
	c.mu.Unlock()
	if full {
		c.wake()
	}
	return nil
}

// Queued is the number of events tracked and not yet delivered or dropped.
func (c *Client) Queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) + c.inFlight
}

func (c *Client) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Flush sends every event tracked before the call and waits until each is
// delivered or dropped, or ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.mu.Unlock()
	return c.waitFor(ctx)
}

func (c *Client) waitFor(ctx context.Context) error {
	c.mu.Lock()
	target := c.tracked
	c.mu.Unlock()
	for {
		c.mu.Lock()
		if c.done >= target {
			c.mu.Unlock()
			return nil
		}
		ch := c.progress
		c.mu.Unlock()
		select {
		case c.flush <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.exited:
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.done >= target {
				return nil
			}
			return ErrClosed
		}
	}
}

// Close stops accepting events, sends what is queued (retrying as usual)
// and stops the background goroutine. If ctx ends first, the send in
// progress is abandoned and Close returns an error naming how many events
// were not delivered; they are lost. Close is safe to call more than once.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.closing)
	}
	c.mu.Unlock()
	select {
	case <-c.exited:
	case <-ctx.Done():
		c.cancelSend()
		<-c.exited
	}
	c.cancelSend()
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.queue) + c.inFlight; n > 0 {
		return fmt.Errorf("client: %d events not delivered: %w", n, ctx.Err())
	}
	return nil
}

// loop is the client's one goroutine: it sends full batches as soon as
// they are full, everything queued when the oldest batch has waited
// BatchInterval or a Flush asks, and everything left on Close.
func (c *Client) loop() {
	defer close(c.exited)
	timer := time.NewTimer(c.opts.BatchInterval)
	defer timer.Stop()
	for {
		select {
		case <-c.kick:
			c.sendAll(false)
		case <-c.flush:
			c.sendAll(true)
		case <-timer.C:
			c.sendAll(true)
			timer.Reset(c.opts.BatchInterval)
		case <-c.closing:
			c.sendAll(true)
			return
		}
	}
}

// sendAll sends queued events batch by batch: all of them, or only full
// batches. It stops early only when Close abandons sending.
func (c *Client) sendAll(all bool) {
	for {
		c.mu.Lock()
		n := len(c.queue)
		if n == 0 || (!all && n < c.opts.BatchSize) {
			c.mu.Unlock()
			return
		}
		k := min(n, c.opts.BatchSize)
		batch := append([]Event(nil), c.queue[:k]...)
		c.queue = c.queue[k:]
		c.inFlight += k
		c.mu.Unlock()

		abandoned := c.deliver(batch)

		c.mu.Lock()
		c.inFlight -= k
		if abandoned { // by Close: put them back, to be reported as lost
			c.queue = append(batch, c.queue...)
			c.mu.Unlock()
			return
		}
		c.done += uint64(k)
		close(c.progress)
		c.progress = make(chan struct{})
		c.mu.Unlock()
	}
}
