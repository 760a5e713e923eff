package httpapi

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// RateLimit is a token bucket: N requests per Per, in bursts of up to N.
// N == 0 means no limit.
type RateLimit struct {
	N   int
	Per time.Duration
}

// limiterSet keeps one token bucket per key (a client IP, a share), at most
// size of them. When full, the least recently used bucket is forgotten, so
// its key starts again with a full bucket: memory stays bounded at the cost
// of leniency toward a flood of distinct keys. A bucket idle for Per is full
// anyway, so forgetting it then changes nothing.
type limiterSet struct {
	limit RateLimit

	mu sync.Mutex // guards m
	m  *simplelru.LRU[string, *rate.Limiter]
}

func newLimiterSet(l RateLimit, size int) *limiterSet {
	m, _ := simplelru.NewLRU[string, *rate.Limiter](size, nil) // only fails for size <= 0
	return &limiterSet{limit: l, m: m}
}

// take spends one token of key's bucket and returns 0, or returns how long
// until a token is available and spends nothing.
func (s *limiterSet) take(key string, now time.Time) time.Duration {
	if s == nil || s.limit.N == 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lim, ok := s.m.Get(key)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(float64(s.limit.N)/s.limit.Per.Seconds()), s.limit.N)
		s.m.Add(key, lim)
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return s.limit.Per
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

func (s *limiterSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.Len()
}
