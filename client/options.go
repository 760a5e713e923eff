package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// settings are what the options set; New and NewAdmin check them.
type settings struct {
	batchSize     int
	batchInterval time.Duration
	maxQueue      int
	httpClient    *http.Client
	timeout       time.Duration
	minBackoff    time.Duration
	maxBackoff    time.Duration
	userAgent     string
	onError       func(Rejection)
}

func defaults() settings {
	return settings{
		batchSize:     10,
		batchInterval: 5 * time.Second,
		maxQueue:      10000,
		timeout:       30 * time.Second,
		minBackoff:    200 * time.Millisecond,
		maxBackoff:    30 * time.Second,
		userAgent:     "engaged-go-client",
	}
}

// An Option changes one setting of New or NewAdmin. Options that concern
// only sending (batching, queue, backoff, WithOnError) are ignored by NewAdmin.
type Option func(*settings)

// WithHTTPClient sends every request through hc (its Transport, cookies,
// proxies). Its own Timeout, if any, is dropped for streams, which last as
// long as their context. Default: a client of its own with
// http.DefaultTransport.
func WithHTTPClient(hc *http.Client) Option { return func(s *settings) { s.httpClient = hc } }

// WithTimeout bounds each request other than a stream (each attempt, for
// queued events). Default 30 s.
func WithTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithBatching sets how many events go in one request (1 to 100, the
// server's limit; default 10) and how long a queued event may wait for a
// fuller batch (default 5 s).
func WithBatching(size int, interval time.Duration) Option {
	return func(s *settings) { s.batchSize, s.batchInterval = size, interval }
}

// WithMaxQueue bounds the events held in memory, queued or being sent;
// Track returns ErrQueueFull beyond it rather than grow without bound while
// the server is unreachable. Default 10000.
func WithMaxQueue(n int) Option { return func(s *settings) { s.maxQueue = n } }

// WithBackoff sets the first retry wait (doubled per attempt, with full
// jitter; default 200 ms) and the longest one without a Retry-After
// (default 30 s).
func WithBackoff(min, max time.Duration) Option {
	return func(s *settings) { s.minBackoff, s.maxBackoff = min, max }
}

// WithUserAgent sets the User-Agent header of every request. Default
// "engaged-go-client".
func WithUserAgent(ua string) Option { return func(s *settings) { s.userAgent = ua } }

// WithOnError is told about events the server rejected (status rejected in
// a batch reply, or a 4xx other than 429 for the whole request). They are
// dropped: sending them again would fail again. f runs on the client's
// goroutine, so it should return quickly. Default: dropped silently.
func WithOnError(f func(Rejection)) Option { return func(s *settings) { s.onError = f } }

// check reports the first bad setting, naming its option.
func (s *settings) check() error {
	switch {
	case s.batchSize < 1 || s.batchSize > 100:
		return fmt.Errorf("WithBatching: size %d is not between 1 and 100", s.batchSize)
	case s.batchInterval <= 0:
		return fmt.Errorf("WithBatching: interval %v is not positive", s.batchInterval)
	case s.maxQueue < 1:
		return fmt.Errorf("WithMaxQueue: %d is not positive", s.maxQueue)
	case s.timeout <= 0:
		return fmt.Errorf("WithTimeout: %v is not positive", s.timeout)
	case s.minBackoff <= 0 || s.maxBackoff < s.minBackoff:
		return fmt.Errorf("WithBackoff: want 0 < min <= max, have %v and %v", s.minBackoff, s.maxBackoff)
	case !headerSafe(s.userAgent):
		return errors.New("WithUserAgent: control characters in the user agent")
	}
	return nil
}

// checkBase accepts the base URL of a server, http(s)://host[:port][/path],
// and returns it without a trailing slash.
func checkBase(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("base URL %q is not an http(s) URL without query", baseURL)
	}
	return strings.TrimRight(baseURL, "/"), nil
}

func headerSafe(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}
