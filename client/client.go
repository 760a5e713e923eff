// Package client is the Go client of engaged's HTTP API, for server-side
// senders: Track queues SDK events that one background goroutine sends in
// batches with retries, typed calls read engagement and follow the
// server-sent event streams, and Admin calls the operator's admin API.
// It needs nothing but the standard library and a UUID package.
package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Rejection is an event the server refused, and why: Err.Status is 200
// for a rejected result in a batch reply, else the status of the whole
// request's error answer.
type Rejection struct {
	Event Event
	Err   *Error
}

// Client sends SDK events and reads engagement for one project, with one
// key. It is safe for concurrent use. Create it with New and stop it with
// Close, which owns and ends its one background goroutine.
type Client struct {
	conn
	opts settings

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
// "https://engaged.example.com") with apiKey (pk_… to send events only,
// sk_… for everything), and starts its sending goroutine. It returns an
// error, and starts nothing, when baseURL is not an http(s) URL, the key
// is not an engaged API key, or an option is out of range.
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	if !strings.HasPrefix(apiKey, "pk_") && !strings.HasPrefix(apiKey, "sk_") {
		return nil, errors.New("engaged: the API key must start with pk_ or sk_")
	}
	cn, s, err := newConn(baseURL, apiKey, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		conn: cn, opts: s,
		progress: make(chan struct{}),
		kick:     make(chan struct{}, 1), flush: make(chan struct{}, 1), closing: make(chan struct{}),
		sendCtx: ctx, cancelSend: cancel, exited: make(chan struct{}),
	}
	go c.loop()
	return c, nil
}

// Track queues one event and returns at once; the background goroutine
// sends it within the batch interval (sooner when a batch is full),
// retrying until it is delivered or rejected. It fills in EventID and
// Timestamp when empty. It returns ErrQueueFull when WithMaxQueue events
// are held (the event is not queued: the caller decides whether to drop it or
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
	if len(c.queue)+c.inFlight >= c.opts.maxQueue {
		c.mu.Unlock()
		return ErrQueueFull
	}
	c.queue = append(c.queue, ev)
	c.tracked++
	full := len(c.queue) >= c.opts.batchSize
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
		return fmt.Errorf("engaged: %d events not delivered: %w", n, ctx.Err())
	}
	return nil
}

// loop is the client's one goroutine: it sends full batches as soon as
// they are full, everything queued when the oldest batch has waited
// the batch interval or a Flush asks, and everything left on Close.
func (c *Client) loop() {
	defer close(c.exited)
	timer := time.NewTimer(c.opts.batchInterval)
	defer timer.Stop()
	for {
		select {
		case <-c.kick:
			c.sendAll(false)
		case <-c.flush:
			c.sendAll(true)
		case <-timer.C:
			c.sendAll(true)
			timer.Reset(c.opts.batchInterval)
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
		if n == 0 || (!all && n < c.opts.batchSize) {
			c.mu.Unlock()
			return
		}
		k := min(n, c.opts.batchSize)
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
