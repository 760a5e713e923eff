package httpapi

// top.go serves top-N per project (docs/RANKINGS.md): GET
// /v1/projects/:projectId/top. The answer is unwrapped, like the other
// project-wide answers (webhooks) and the render reads: a ranking spans
// both kinds, and the content routes' {"data","meta"} wrapper belongs to
// the SDK events API. Answers are cached per question for at most
// RankingOptions.CacheTTL, and concurrent misses of one question share one
// ranking (singleflight), so a ranking service asking thousands of times a
// second costs the Store (persist.TopIndex: a pass over the project's items
// in memory, a few milliseconds at 100k) one ranking per question per TTL
// per instance. Past the TTL and up to topStale, an answer is still given at
// once while one refresh runs behind it (its asOf says how fresh it is), so
// a question asked steadily never waits for a ranking.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/sync/singleflight"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// RankingStore answers top-N from the rows the snapshot rounds write, with
// the asOf of the rows it ranked; persist.TopIndex implements it.
type RankingStore interface {
	Top(ctx context.Context, q actors.TopQuery, now time.Time) (actors.TopList, error)
}

// RankingOptions configure top-N. Without a Store the route is 404.
type RankingOptions struct {
	Store    RankingStore
	CacheTTL time.Duration // how long an answer is reused; 0: every request asks the Store
	// Publish sends a watched ranking's changes on NATS (TopSubject;
	// topstream.go); nil: streams only.
	Publish func(subject string, payload []byte)
}

// topCache holds recent answers per question; entries older than the TTL
// are replaced on the next miss and the map is swept when it grows, so it
// holds at most the questions asked within about one TTL.
type topCache struct {
	ttl        time.Duration
	group      singleflight.Group
	mu         sync.Mutex // guards m and refreshing
	m          map[actors.TopQuery]topEntry
	refreshing map[actors.TopQuery]bool
	wg         sync.WaitGroup // refreshes behind stale answers; Shutdown waits
}

// topStale is how old a cached answer may be and still be given while a
// refresh runs: past it, the asker waits for the query.
const topStale = 5 * time.Second

type topEntry struct {
	at   time.Time
	list actors.TopList
}

const topCacheSweep = 4096 // entries past which a miss sweeps stale ones

// get returns q's cached answer if it is younger than topStale, and
// whether it is past the TTL and no refresh of it runs yet (the caller
// then starts one: refreshing is set for it).
func (tc *topCache) get(q actors.TopQuery, now time.Time) (l actors.TopList, ok, refresh bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	e, ok := tc.m[q]
	age := now.Sub(e.at)
	if !ok || age >= max(tc.ttl, topStale) {
		return actors.TopList{}, false, false
	}
	if age >= tc.ttl && !tc.refreshing[q] {
		if tc.refreshing == nil {
			tc.refreshing = map[actors.TopQuery]bool{}
		}
		tc.refreshing[q] = true
		refresh = true
	}
	return e.list, true, refresh
}

func (tc *topCache) put(q actors.TopQuery, now time.Time, l actors.TopList) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.m == nil {
		tc.m = map[actors.TopQuery]topEntry{}
	}
	if len(tc.m) >= topCacheSweep {
		for k, e := range tc.m {
			if now.Sub(e.at) >= tc.ttl {
				delete(tc.m, k)
			}
		}
	}
	tc.m[q] = topEntry{at: now, list: l}
}

// getTop serves GET /v1/projects/:projectId/top.
func (s *Server) getTop(c *fiber.Ctx) error {
	q, err := s.topQuery(c)
	if err != nil {
		return err
	}
	l, err := s.top(q)
	if err != nil {
		return err
	}
	return c.JSON(l)
}

// topQuery checks the key's project and decodes the query: another
// project's id is 404 (as another project's item), bad parameters 400.
func (s *Server) topQuery(c *fiber.Ctx) (actors.TopQuery, error) {
	if s.opts.Rankings.Store == nil {
		return actors.TopQuery{}, actors.Errorf(actors.ENotFound, "no such route")
	}
	project := principal(c).ProjectID
	if c.Params("projectId") != project {
		return actors.TopQuery{}, actors.Errorf(actors.ENotFound, "no such project")
	}
	// Cloned: Fiber reuses the request's buffers, and queries are map keys
	// of the cache and the watchers.
	q := func(name string) string { return strings.Clone(c.Query(name)) }
	return wire.TopQuery(project, q("kind"), q("metric"), q("window"), q("limit"), q("minPlays"))
}

// top answers q from the cache or from one shared query. It takes no
// context: the query is shared by every asker, so it is bounded by its own
// (queryTop), not by the first asker's request.
//
// Questions that differ only in their limit share one answer: a ranking's
// order is total (value descending, then id ascending), so the top n is
// the first n of the top MaxTopLimit. A feed asking for 10 and a
// dashboard asking for 50 cost one query, not two.
func (s *Server) top(q actors.TopQuery) (actors.TopList, error) {
	n := q.Limit
	q.Limit = actors.MaxTopLimit
	l, err := s.topAll(q)
	if err != nil {
		return actors.TopList{}, err
	}
	if len(l.Items) > n {
		l.Items = l.Items[:n:n] // the cached list is shared: cap it so no append can reach it
	}
	return l, nil
}

// topAll answers q, a question at the largest limit, from the cache or
// from one shared query.
func (s *Server) topAll(q actors.TopQuery) (actors.TopList, error) {
	l, ok, refresh := s.topCache.get(q, time.Now())
	if refresh {
		tc := &s.topCache
		tc.wg.Add(1)
		go func() {
			defer tc.wg.Done()
			_, _ = s.queryTop(q)
			tc.mu.Lock()
			delete(tc.refreshing, q)
			tc.mu.Unlock()
		}()
	}
	if ok {
		return l, nil
	}
	return s.queryTop(q)
}

// queryTop answers q with one ranking shared by every concurrent asker,
// and caches the answer.
func (s *Server) queryTop(q actors.TopQuery) (actors.TopList, error) {
	key := fmt.Sprintf("%s|%s|%s|%s|%d|%d", q.Project, q.Kind, q.Metric.Name, q.Window, q.Limit, q.MinPlays)
	v, err, _ := s.topCache.group.Do(key, func() (any, error) {
		// Detached from the first asker's request: the others wait on it.
		qctx, cancel := context.WithTimeout(s.baseCtx, s.opts.RequestTimeout)
		defer cancel()
		l, err := s.opts.Rankings.Store.Top(qctx, q, s.now())
		if err != nil {
			return nil, err
		}
		s.topCache.put(q, time.Now(), l)
		return l, nil
	})
	if err != nil {
		return actors.TopList{}, err
	}
	return v.(actors.TopList), nil
}
