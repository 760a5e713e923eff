package httpapi

// visitors.go computes a render event's unique-visitor id at the edge
// (issue 19, docs/SERIES.md): a keyed hash of (project, full client
// address, user agent) under the project's random salt of the UTC day,
// so no raw address goes into a sketch.

import (
	"context"
	"sync"
	"time"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/actors/uniques"
)

// VisitorSalts is the store of daily visitor salts (persist.Store).
type VisitorSalts interface {
	// VisitorSalt returns project's salt of now's UTC day, creating it on
	// first use; instances racing for it get the same one.
	VisitorSalt(ctx context.Context, project string, now time.Time) ([]byte, error)
}

// saltRetry is how long after a failed salt lookup a project's next request
// waits before asking Postgres again (it uses the newest cached salt
// meanwhile).
const saltRetry = time.Second

// saltCache keeps each project's salts of today and yesterday (UTC) in
// memory, so an event costs no query once the day's salt is known. It is
// owned by the Server and needs no janitor: every insert drops the entries
// of days before yesterday, which are then useless (a salt lives two days).
type saltCache struct {
	store VisitorSalts
	mu    sync.Mutex
	salts map[saltKey][]byte
	fails map[string]time.Time // project -> last failed lookup
}

type saltKey struct {
	project string
	day     int64 // Unix days
}

func newSaltCache(store VisitorSalts) *saltCache {
	return &saltCache{store: store, salts: map[saltKey][]byte{}, fails: map[string]time.Time{}}
}

// salt returns project's salt for now's UTC day. If Postgres cannot give it,
// it keeps serving the project's newest cached salt (yesterday's, at most)
// rather than fail the event; nil if there is none.
func (c *saltCache) salt(ctx context.Context, project string, now time.Time) []byte {
	day := now.UTC().Unix() / 86400
	k := saltKey{project, day}
	c.mu.Lock()
	s, ok := c.salts[k]
	failed, recent := c.fails[project]
	c.mu.Unlock()
	if ok {
		return s
	}
	if !recent || time.Since(failed) >= saltRetry {
		s, err := c.store.VisitorSalt(ctx, project, now)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err == nil {
			delete(c.fails, project)
			for old := range c.salts {
				if old.day < day-1 {
					delete(c.salts, old)
				}
			}
			c.salts[k] = s
			return s
		}
		c.fails[project] = time.Now()
		return c.salts[saltKey{project, day - 1}]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.salts[saltKey{project, day - 1}]
}

// fillVisitors sets the Visitor of each event of project that carries a
// client address and has none yet.
func (s *Server) fillVisitors(ctx context.Context, project string, evs []actors.RenderEvent) {
	if s.salts == nil {
		return
	}
	for i := range evs {
		ev := &evs[i]
		if ev.Visitor != 0 || ev.SourceIP == nil || *ev.SourceIP == "" {
			continue
		}
		salt := s.salts.salt(ctx, project, ev.CreatedAt.Time)
		if salt == nil {
			s.logger.Warn("no visitor salt: event not counted as a viewer", "project", project)
			continue
		}
		ua := ""
		if ev.UserAgent != nil {
			ua = *ev.UserAgent
		}
		ev.Visitor = uniques.VisitorID(salt, project, *ev.SourceIP, ua)
	}
}
