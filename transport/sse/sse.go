// Package sse serves server-sent event streams of an item's live summaries
// on connections hijacked from Fiber. It bounds how many are open (per
// process and per key), keeps at most one pending summary per stream, drops
// a client that stops reading, and ends them all at shutdown.
package sse

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// Subscriber is where the streams get live updates from (live.Updates).
type Subscriber interface {
	// Subscribe calls fn for every update of item k until stop is called,
	// and returns once updates published after it will reach fn. fn must
	// not block.
	Subscribe(ctx context.Context, k actors.ItemID, fn func(seq uint64, payload []byte)) (stop func(), err error)
}

// Options bounds the server-sent event streams.
type Options struct {
	Updates     Subscriber    // where updates come from; nil: streams answer 503
	MaxStreams  int           // open streams per process; one more gets 503
	MaxPerKey   int           // open streams per API key; one more gets 503; 0 = no limit
	MaxLifetime time.Duration // a stream is closed after this long; the client reconnects
	Heartbeat   time.Duration // comment-line interval; the key is checked again at each one
	Logger      *slog.Logger  // where a stream's panic is reported; nil = discarded
}

const (
	// streamWriteTimeout bounds one write to a stream's client. A client
	// that does not read for this long is dropped.
	streamWriteTimeout = 10 * time.Second
	// streamHandoff bounds the time between the handler returning and
	// fasthttp handing the connection over; it always does, at once, unless
	// the connection broke in between.
	streamHandoff = 10 * time.Second
	// streamRetryMS is the reconnect delay suggested to EventSource clients.
	streamRetryMS = 1000
)

// Streams tracks the open SSE streams of an HTTP server so that their
// number is bounded and its shutdown can end them: a stream runs on a
// hijacked connection, which fasthttp's own shutdown neither waits for nor
// closes. Safe for concurrent use.
type Streams struct {
	opts Options

	panics atomic.Int64 // streams ended by a panic in their writer

	mu      sync.Mutex // guards the fields below
	closing bool
	open    map[*stream]struct{}
	perKey  map[string]int // open streams by key id; no entry for zero
	wg      sync.WaitGroup // one per entry of open

	dropped atomic.Int64 // clients dropped for falling behind (Dropped)
}

// Count returns the number of open streams.
func (ss *Streams) Count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.open)
}

// Dropped returns how many clients were dropped for falling behind.
func (ss *Streams) Dropped() int64 { return ss.dropped.Load() }

// New returns a set of streams with none open.
func New(o Options) *Streams {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Streams{opts: o, open: map[*stream]struct{}{}, perKey: map[string]int{}}
}

// Panics returns how many streams ended because their writer panicked. Such
// a panic ends that stream only (its client reconnects); it is logged with
// its stack.
func (ss *Streams) Panics() int64 { return ss.panics.Load() }

// reserve takes a slot for a new stream of keyID, or fails with 503 when
// the server is at MaxStreams, the key at MaxPerKey, or the server is
// shutting down.
func (ss *Streams) reserve(keyID string) (*stream, error) {
	if ss.opts.Updates == nil {
		return nil, &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonLiveUpdates, Message: "live updates are not enabled", RetryAfter: time.Minute}
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closing {
		return nil, &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonShuttingDown, Message: "server is shutting down", RetryAfter: time.Second}
	}
	if len(ss.open) >= ss.opts.MaxStreams {
		return nil, &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonStreamLimit, Message: "too many open streams on this server", RetryAfter: 5 * time.Second}
	}
	// Without a per-key bound one key (a leaked one, or a loop opening
	// streams) could take every slot of the process.
	if ss.opts.MaxPerKey > 0 && ss.perKey[keyID] >= ss.opts.MaxPerKey {
		return nil, &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonStreamLimit, Message: fmt.Sprintf("too many open streams for this key (at most %d)", ss.opts.MaxPerKey), RetryAfter: 5 * time.Second}
	}
	st := &stream{ss: ss, keyID: keyID, wake: make(chan struct{}, 1), done: make(chan struct{})}
	ss.open[st] = struct{}{}
	ss.perKey[keyID]++
	ss.wg.Add(1)
	return st, nil
}

// Close refuses new streams and ends the open ones; their goroutines
// finish on their own, Wait waits for them.
func (ss *Streams) Close() {
	ss.mu.Lock()
	ss.closing = true
	all := make([]*stream, 0, len(ss.open))
	for st := range ss.open {
		all = append(all, st)
	}
	ss.mu.Unlock()
	for _, st := range all {
		st.kill()
	}
}

// Wait blocks until every stream has finished or ctx ends.
func (ss *Streams) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { ss.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type streamUpdate struct {
	seq     uint64
	payload []byte
}

// stream is one SSE client. Three goroutines touch it: the subscription's
// callback (keeps the newest update, never blocks), serve (the only writer
// to the connection) and watchClient (notices a client that went away).
//
// Every update is the item's whole summary, so a stream keeps only the
// newest one not yet written (pending): a client that reads slowly skips
// updates instead of queueing them, and a stalled one holds at most one
// pending summary (a render's can be ~200 KB) besides the one being
// written, until its write times out and it is dropped.
type stream struct {
	ss    *Streams
	keyID string
	wake  chan struct{} // capacity 1: pending was set
	stop  func()        // ends the subscription; set before the stream is served
	done  chan struct{} // closed by kill

	mu      sync.Mutex    // guards the fields below
	pending *streamUpdate // the newest update not yet taken by serve
	conn    net.Conn      // set by claim
	killed  bool
	claimed bool
	handoff *time.Timer // abandons the stream if the connection is never handed over

	finished sync.Once
}

// deliver is the subscription callback: it replaces the pending update by
// a newer one and wakes serve.
func (st *stream) deliver(seq uint64, payload []byte) {
	st.mu.Lock()
	if st.pending == nil || seq > st.pending.seq {
		st.pending = &streamUpdate{seq, payload}
	}
	st.mu.Unlock()
	select {
	case st.wake <- struct{}{}:
	default: // serve has a wake-up coming already
	}
}

// take returns the pending update, if any, and clears it.
func (st *stream) take() *streamUpdate {
	st.mu.Lock()
	defer st.mu.Unlock()
	u := st.pending
	st.pending = nil
	return u
}

// kill ends the stream: closing the connection unblocks a write in progress.
// What the socket still holds is delivered before the end of the stream.
func (st *stream) kill() { st.end(false) }

// drop ends the stream of a client that stopped reading with a reset: the
// backlog in the socket is stale (the client will get the whole current
// summary when it reconnects), and a client that does not read would keep
// it in kernel memory for a long time.
func (st *stream) drop() { st.end(true) }

func (st *stream) end(reset bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.killed {
		return
	}
	st.killed = true
	if reset {
		st.ss.dropped.Add(1)
	}
	close(st.done)
	if st.conn != nil {
		if tc, ok := tcpConn(st.conn); ok && reset {
			_ = tc.SetLinger(0)
		}
		st.conn.Close()
	}
}

// claim gives conn to the stream; false if it was killed or abandoned first.
func (st *stream) claim(conn net.Conn) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.handoff != nil {
		st.handoff.Stop()
	}
	if st.killed {
		return false
	}
	st.claimed, st.conn = true, conn
	return true
}

// abandon releases a stream whose connection never arrived.
func (st *stream) abandon() {
	st.mu.Lock()
	claimed := st.claimed
	st.mu.Unlock()
	if !claimed {
		st.kill()
		st.finish()
	}
}

// finish releases the subscription and the slot, once.
func (st *stream) finish() {
	st.finished.Do(func() {
		st.kill()
		if st.stop != nil {
			st.stop()
		}
		st.ss.mu.Lock()
		delete(st.ss.open, st)
		if st.ss.perKey[st.keyID]--; st.ss.perKey[st.keyID] <= 0 {
			delete(st.ss.perKey, st.keyID)
		}
		st.ss.mu.Unlock()
		st.ss.wg.Done()
	})
}

// watchClient reads until the client closes the connection (an SSE client
// sends nothing after its request), so a closed tab frees its slot at once
// instead of at the next write.
func (st *stream) watchClient(conn net.Conn) {
	var buf [512]byte
	for {
		if _, err := conn.Read(buf[:]); err != nil {
			st.kill()
			return
		}
	}
}

// Open turns the request into a server-sent event stream of item k's
// summaries: the current one first (from current, read once the
// subscription is in place), then one per live update, each with id = the
// log sequence it reflects. Updates are whole summaries, so a reconnecting
// client (Last-Event-ID) needs nothing replayed: the current summary it gets
// first supersedes everything it missed. keyValid is asked at every
// heartbeat whether the caller's key still works; keyID names the key for
// the per-key limit; reqID is the response's X-Request-Id.
//
// Errors before the first byte (too many streams, no updates, current's
// error) are returned for Fiber's error handler. After that the connection
// is hijacked from fasthttp, whose write timeout would otherwise end every
// stream after 30 s, and the stream writes the response itself.
func (ss *Streams) Open(ctx context.Context, c *fiber.Ctx, k actors.ItemID, keyID, reqID string,
	current func(context.Context) (actors.Update, error), keyValid func() bool) error {
	subscribe := func(ctx context.Context, fn func(uint64, []byte)) (func(), error) {
		return ss.opts.Updates.Subscribe(ctx, k, fn)
	}
	return ss.OpenFeed(ctx, c, keyID, reqID, subscribe, current, keyValid)
}

// OpenFeed is Open for any feed of payloads with increasing sequence
// numbers, not only an item's updates: subscribe must call fn for every
// payload published after it returns, until stop (fn must not block);
// current gives the payload the stream starts with. Streams of every feed
// share the bounds, the heartbeats and the slow-client policy.
func (ss *Streams) OpenFeed(ctx context.Context, c *fiber.Ctx, keyID, reqID string,
	subscribe func(ctx context.Context, fn func(seq uint64, payload []byte)) (stop func(), err error),
	current func(context.Context) (actors.Update, error), keyValid func() bool) error {
	if c.Method() == fiber.MethodHead {
		c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
		return nil
	}
	st, err := ss.reserve(keyID)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			st.finish()
		}
	}()
	// Subscribe before reading the current summary, so that no update
	// falls between the two; Subscribe returns once the server has the
	// subscription (updates may come from another connection in external
	// mode).
	if st.stop, err = subscribe(ctx, st.deliver); err != nil {
		return &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonLiveUpdates, Message: "live updates are unavailable", RetryAfter: time.Second}
	}
	first, err := current(ctx)
	if err != nil {
		return err
	}
	st.mu.Lock()
	st.handoff = time.AfterFunc(streamHandoff, st.abandon)
	st.mu.Unlock()
	c.Context().HijackSetNoResponse(true)
	c.Context().Hijack(func(conn net.Conn) { st.serve(conn, reqID, first, keyValid) })
	ok = true
	return nil
}

// serve writes the stream until the lifetime ends, the key stops working,
// the client leaves or stops reading, or the server shuts down. It runs on
// fasthttp's hijack goroutine, which closes conn when serve returns. A panic
// in it ends this stream only: it is logged and counted (Panics), the slot
// and subscription are released, and the client reconnects.
func (st *stream) serve(conn net.Conn, reqID string, first actors.Update, keyValid func() bool) {
	defer st.finish()
	defer func() {
		if r := recover(); r != nil {
			st.ss.panics.Add(1)
			st.ss.opts.Logger.Error("panic in SSE stream", "request_id", reqID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	// fasthttp's hijacked conn ignores Close (it closes the connection after
	// serve); kill needs the real one to unblock a write or read.
	raw := conn
	if u, ok := conn.(interface{ UnsafeConn() net.Conn }); ok {
		raw = u.UnsafeConn()
	}
	if !st.claim(raw) {
		return
	}
	watching := make(chan struct{})
	go func() { defer close(watching); st.watchClient(conn) }()
	defer func() { st.kill(); <-watching }()

	b := make([]byte, 0, 512+len(first.Payload))
	b = append(b, "HTTP/1.1 200 OK\r\n"+
		"Content-Type: text/event-stream; charset=utf-8\r\n"+
		"Cache-Control: no-cache, no-store\r\n"+
		"Connection: close\r\n"+
		"X-Accel-Buffering: no\r\n"+
		"X-Request-Id: "...)
	b = append(b, reqID...)
	b = append(b, "\r\n\r\nretry: "...)
	b = strconv.AppendInt(b, streamRetryMS, 10)
	b = append(b, '\n')
	b = appendSSEEvent(b, first.Seq, first.Payload)
	if writeStream(conn, b) != nil {
		return
	}
	last := first.Seq

	hb := time.NewTicker(st.ss.opts.Heartbeat)
	defer hb.Stop()
	life := time.NewTimer(st.ss.opts.MaxLifetime)
	defer life.Stop()
	for {
		select {
		case <-st.wake:
			u := st.take()
			if u == nil || u.seq <= last {
				continue // already in the summary sent before it
			}
			last = u.seq
			if writeStream(conn, appendSSEEvent(b[:0], u.seq, u.payload)) != nil {
				st.drop()
				return
			}
		case <-hb.C:
			if !keyValid() {
				return
			}
			if writeStream(conn, []byte(": heartbeat\n\n")) != nil {
				return
			}
		case <-life.C:
			return
		case <-st.done:
			return
		}
	}
}

func appendSSEEvent(b []byte, seq uint64, payload []byte) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, "\ndata: "...)
	b = append(b, payload...) // one line: encoding/json escapes newlines
	return append(b, "\n\n"...)
}

func writeStream(conn net.Conn, b []byte) error {
	if err := conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil {
		return err
	}
	_, err := conn.Write(b)
	return err
}

// tcpConn finds the TCP connection under conn, which the HTTP server may have
// wrapped (a wrapper offers NetConn, as tls.Conn does).
func tcpConn(conn net.Conn) (*net.TCPConn, bool) {
	for {
		switch c := conn.(type) {
		case *net.TCPConn:
			return c, true
		case interface{ NetConn() net.Conn }:
			conn = c.NetConn()
		default:
			return nil, false
		}
	}
}
