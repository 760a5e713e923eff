package actors

// registry.go is the Registry's core: its options and fields, and the one
// way a caller reaches an actor (acquire, send, call, ask). What it does
// with them is in registry_ingest.go, registry_rounds.go and
// registry_ownership.go.

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Registry.
type Options struct {
	Partitions       int           // P of the stream; picks each item's partition
	MailboxSize      int           // bounded mailbox per actor
	SnapshotInterval time.Duration // period of snapshot rounds
	IdleTimeout      time.Duration // an actor idle this long is passivated at the next round
	// MaxLive bounds live actors (0: no bound): past it, each round also
	// passivates the least recently active, so that a million items
	// touched in an hour cannot exhaust memory. Between rounds the count
	// may exceed it by the activations of one interval.
	MaxLive int
	Logger  *slog.Logger

	// Updates receives each item's summary after live events (nil: none).
	// UpdateInterval coalesces them per item: the first after a quiet
	// interval goes at once, then at most one per interval, and the last
	// state of a burst always goes out.
	Updates        UpdateSink
	UpdateInterval time.Duration

	// ObserveRound is called after each snapshot round with its duration,
	// the snapshots it encoded and their bytes (nil: nothing). It is the
	// metrics' port; Counters has the rest.
	ObserveRound func(d time.Duration, snapshots, bytes int)

	// Outbox takes the recorded events of every applied message, and each
	// round flushes it before writing snapshots (outbox.go). Nil: none.
	Outbox Outbox
	// AsOf keeps how fresh each partition's rows are (asof.go; nil: not
	// recorded). It also needs SetLogPositions.
	AsOf AsOfStore
}

// Registry keeps at most one live actor per item in this process, starts
// actors on first use, and runs the snapshot rounds that persist and
// passivate them.
//
// Lifecycle: NewRegistry, then Run in its own goroutine; Deliver, Lost,
// Submit and the reads (reads.go) may be called concurrently from any
// goroutine while Run runs. Stop
// feeding it (consumers, HTTP) before cancelling Run's context: Run then
// writes a final snapshot of every actor and stops them all before it returns.
type Registry struct {
	opts   Options
	store  SnapshotStore
	log    Log
	logger *slog.Logger

	actorCtx    context.Context // parent of every actor goroutine
	stopActors  context.CancelFunc
	wg          sync.WaitGroup // actor goroutines
	verdicts    verdicts
	loader      loader
	panics      atomic.Int64 // panics contained to one item (actor.serve, actor.apply)
	roundNumber int          // owned by Run
	// saveMu serializes snapshot rounds and Persist: a round must not
	// write a copy of a state taken before Persist scrubbed it.
	saveMu sync.Mutex

	// Counters since start (Counters).
	activations, passivations, mailboxFull atomic.Int64

	mu    sync.Mutex // guards the fields below and actor.pending
	items map[ItemID]*actor
	dirty map[ItemID]struct{} // items with messages enqueued since their last snapshot
	acks  map[int]func()      // per partition: acknowledges everything delivered up to its newest message
	// epochs holds the partitions this instance owns: it claimed them (its
	// partition consumers delivered their events here) and no other
	// instance has claimed them since. Reads of items elsewhere catch up
	// from the log first (see actor.readyToRead).
	epochs map[int]int64
	// known holds, per partition in epochs, the items that have a
	// snapshot, so that the others activate without a load (known.go).
	known      map[int]*knownSet
	claiming   map[int]bool // claims requested, not yet made
	claims     chan int     // partitions to claim, for claimLoop
	knownLoads chan int     // partitions whose known set to load again, for claimLoop
	// sessions holds, per partition, the delivery session its consumer is
	// in here: deliveries whose consumer sequences follow one another
	// without a gap. A gap means the consumer delivered messages elsewhere
	// (the partition was pinned to another instance) or a new consumer
	// started, so actors must not assume they saw everything in between.
	sessions    map[int]*deliverySession
	lastSession uint64 // the newest session number handed out; sessions are never reused

	positions atomic.Pointer[LogPositions] // SetLogPositions; read by the rounds
}

// NewRegistry returns a registry that loads snapshots from store and replays
// the log from log.
func NewRegistry(opts Options, store SnapshotStore, log Log) *Registry {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Registry{
		opts: opts, store: store, log: log, logger: opts.Logger, loader: newLoader(store),
		actorCtx: ctx, stopActors: cancel,
		epochs: map[int]int64{}, known: map[int]*knownSet{},
		claiming: map[int]bool{}, claims: make(chan int, 1024), knownLoads: make(chan int, 1024),
		items: map[ItemID]*actor{}, dirty: map[ItemID]struct{}{}, acks: map[int]func(){},
		sessions: map[int]*deliverySession{},
	}
}

// Partition returns the partition of k in this registry's stream.
func (r *Registry) Partition(k ItemID) int { return k.Partition(r.opts.Partitions) }

// acquire returns k's actor, starting it if needed, and counts the caller as
// pending so that the actor cannot passivate before release.
func (r *Registry) acquire(k ItemID) *actor {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.items[k]
	if !ok {
		a = &actor{key: k, part: r.Partition(k), reg: r, mailbox: make(chan *request, r.opts.MailboxSize)}
		a.lastActive.Store(time.Now().UnixNano())
		r.items[k] = a
		r.activations.Add(1)
	}
	a.pending++
	return a
}

func (r *Registry) release(a *actor) {
	r.mu.Lock()
	a.pending--
	r.mu.Unlock()
}

// send puts req in a's mailbox, waiting while it is full (backpressure)
// until ctx ends.
func (r *Registry) send(ctx context.Context, k ItemID, req *request) (*actor, error) {
	if req.kind == reqRead { // see actor.readyToRead
		req.session = r.readSession(k)
	}
	a := r.acquire(k)
	defer r.release(a)
	select {
	case a.mailbox <- req:
		a.wake()
		return a, nil
	default:
		r.mailboxFull.Add(1)
	}
	select {
	case a.mailbox <- req:
		a.wake()
		return a, nil
	case <-ctx.Done():
		return nil, errBusy()
	}
}

// call sends req to k's actor and waits for its reply until ctx ends: the
// one way the registry asks an actor something. The error is the send's,
// the reply's, or errBusy.
func (r *Registry) call(ctx context.Context, k ItemID, req *request) (reply, *actor, error) {
	req.reply = make(chan reply, 1)
	a, err := r.send(ctx, k, req)
	if err != nil {
		return reply{}, nil, err
	}
	select {
	case rep := <-req.reply:
		return rep, a, rep.err
	case <-ctx.Done():
		return reply{}, a, errBusy()
	}
}

// ask runs read on k's actor goroutine, once the state is as new as the log
// (see actor.readyToRead), and returns what it read: every read of a
// family's state goes through it.
func ask[T any](ctx context.Context, r *Registry, k ItemID, read func(st *itemState, k ItemID, seq uint64) (T, error)) (T, error) {
	req := &request{kind: reqRead, fn: func(st *itemState, k ItemID, seq uint64) (any, error) { return read(st, k, seq) }}
	rep, _, err := r.call(ctx, k, req)
	if err != nil {
		var zero T
		return zero, err
	}
	return rep.value.(T), nil
}

// errBusy: a request waited for an actor until its context ended.
func errBusy() error {
	return &Error{Code: EUnavailable, Reason: ReasonActorBusy, Message: "item is busy", RetryAfter: time.Second}
}

// Counters are the registry's counts since start, for metrics.
type Counters struct {
	Live         int   // live actors now
	Activations  int64 // actors started
	Passivations int64 // actors stopped after a snapshot (idle, over MaxLive, final)
	MailboxFull  int64 // sends that found a mailbox full and waited (backpressure)
}

// Counters returns the registry's counters. Safe for concurrent use.
func (r *Registry) Counters() Counters {
	return Counters{
		Live: r.Live(), Activations: r.activations.Load(),
		Passivations: r.passivations.Load(), MailboxFull: r.mailboxFull.Load(),
	}
}

// Panics returns how many panics were contained to one item's actor since
// start: each was logged with its stack, answered its request with an
// internal error, and had the item's state rebuilt (see actor.apply).
func (r *Registry) Panics() int64 { return r.panics.Load() }

// Live returns the number of live actors.
func (r *Registry) Live() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items)
}
