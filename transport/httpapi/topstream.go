package httpapi

// topstream.go serves GET /v1/projects/:projectId/top/stream: a ranking as
// server-sent events, sent when its items change, at most once a second
// (docs/RANKINGS.md). One watcher per question per instance computes it for
// all its subscribers, and publishes each change on NATS too
// (RankingOptions.Publish).

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// TopStreamInterval is how often a watched ranking is recomputed (from the
// answer cache, so at most one query per question per TTL).
const TopStreamInterval = time.Second

// TopSubject is the NATS subject of a ranking's changes:
// engaged.top.<project>.<kind>.<metric>.<window>.<limit>.<minPlays>
// (minPlays 0 for counters).
func TopSubject(q actors.TopQuery) string {
	return "engaged.top." + q.Project + "." + q.Kind + "." + q.Metric.Name + "." + q.Window + "." +
		strconv.Itoa(q.Limit) + "." + strconv.FormatInt(q.MinPlays, 10)
}

// topHub owns the watchers: one goroutine per watched question, started by
// its first subscriber and stopped when the last one leaves (or at
// Shutdown, through baseCtx); wait waits for them.
type topHub struct {
	mu      sync.Mutex // guards watches
	watches map[actors.TopQuery]*topWatch
	wg      sync.WaitGroup
}

type topWatch struct {
	stop  context.CancelFunc
	ready chan struct{} // closed after the first computation

	mu      sync.Mutex // guards the fields below
	subs    map[int]func(uint64, []byte)
	next    int
	seq     uint64 // of payload; 1 for the first
	payload []byte
	items   []byte // the items of payload, to tell a change
	err     error  // of the first computation, if it failed
}

// subscribe adds fn to q's watcher, starting it if needed.
func (s *Server) subscribeTop(q actors.TopQuery, fn func(uint64, []byte)) (*topWatch, func()) {
	h := &s.topHub
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watches == nil {
		h.watches = map[actors.TopQuery]*topWatch{}
	}
	w := h.watches[q]
	if w == nil {
		ctx, cancel := context.WithCancel(s.baseCtx)
		w = &topWatch{stop: cancel, ready: make(chan struct{}), subs: map[int]func(uint64, []byte){}}
		h.watches[q] = w
		h.wg.Add(1)
		go func() { defer h.wg.Done(); s.watchTop(ctx, q, w) }()
	}
	w.mu.Lock()
	id := w.next
	w.next++
	w.subs[id] = fn
	w.mu.Unlock()
	var once sync.Once
	return w, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			w.mu.Lock()
			delete(w.subs, id)
			last := len(w.subs) == 0
			w.mu.Unlock()
			if last && h.watches[q] == w {
				delete(h.watches, q)
				w.stop()
			}
		})
	}
}

// watchTop recomputes q every TopStreamInterval until ctx ends, and hands
// each changed list to the subscribers and to NATS.
func (s *Server) watchTop(ctx context.Context, q actors.TopQuery, w *topWatch) {
	t := time.NewTicker(TopStreamInterval)
	defer t.Stop()
	first := true
	for {
		l, err := s.top(q)
		switch {
		case err != nil && first:
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
		case err != nil:
			s.logger.Warn("top stream", "project", q.Project, "metric", q.Metric.Name, "err", err)
		default:
			s.publishTop(q, w, l)
		}
		if first {
			close(w.ready)
			first = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// publishTop sends l if its items differ from the last list sent: a new
// asOf alone is no change.
func (s *Server) publishTop(q actors.TopQuery, w *topWatch, l actors.TopList) {
	items, _ := json.Marshal(l.Items)
	payload, _ := json.Marshal(l)
	w.mu.Lock()
	if w.seq > 0 && bytes.Equal(items, w.items) {
		w.mu.Unlock()
		return
	}
	w.seq++
	w.items, w.payload, w.err = items, payload, nil
	seq := w.seq
	subs := make([]func(uint64, []byte), 0, len(w.subs))
	for _, fn := range w.subs {
		subs = append(subs, fn)
	}
	w.mu.Unlock()
	for _, fn := range subs {
		fn(seq, payload)
	}
	if p := s.opts.Rankings.Publish; p != nil {
		p(TopSubject(q), payload)
	}
}

// current waits for the watcher's first computation and returns its list.
func (w *topWatch) current(ctx context.Context) (actors.Update, error) {
	select {
	case <-w.ready:
	case <-ctx.Done():
		return actors.Update{}, &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonDatabase, Message: "ranking not ready", RetryAfter: time.Second}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seq == 0 {
		if w.err != nil {
			return actors.Update{}, w.err
		}
		return actors.Update{}, &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonDatabase, Message: "ranking not ready", RetryAfter: time.Second}
	}
	return actors.Update{Seq: w.seq, Payload: w.payload}, nil
}

// streamTop serves GET /v1/projects/:projectId/top/stream with the query
// of GET …/top.
func (s *Server) streamTop(c *fiber.Ctx) error {
	q, err := s.topQuery(c)
	if err != nil {
		return err
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	_, secret, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	secret = strings.Clone(strings.TrimSpace(secret))
	project := q.Project
	check := func() bool {
		p, err := s.lookupKey(secret)
		switch actors.ErrorCode(err) {
		case actors.EUnauthorized, actors.EForbidden:
			return false
		}
		return err != nil || p.ProjectID == project
	}
	var w *topWatch
	subscribe := func(_ context.Context, fn func(uint64, []byte)) (func(), error) {
		var stop func()
		w, stop = s.subscribeTop(q, fn)
		return stop, nil
	}
	current := func(ctx context.Context) (actors.Update, error) { return w.current(ctx) }
	return s.streams.OpenFeed(ctx, c, principal(c).KeyID, requestID(c), subscribe, current, check)
}
