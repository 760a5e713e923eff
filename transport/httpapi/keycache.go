package httpapi

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/engagedhq/engaged/actors"
)

// The key and item caches keep the data plane running while Postgres is
// down: an instance serves the keys and items it has seen from their last
// good answer. Neither starts a goroutine (expiry is checked on lookup), so
// there is nothing to stop.

// keyRefresh is how long a key's answer is used before the next request
// asks Postgres again. Revocation does not wait for it: every change to a
// key or its project is published on NATS and drops the cached answers on
// every instance at once (ForgetKeys). It only bounds how long a change
// that missed that message (an instance disconnected from NATS at the
// time) takes to be seen while Postgres is up.
const keyRefresh = 10 * time.Second

// keyRetry is how long, after Postgres failed to answer, requests keep
// using the last good answer before one of them tries again: a Postgres
// outage costs one failed query per key per keyRetry, not one per request.
const keyRetry = time.Second

// keyAnswer is Postgres's last definitive answer for a secret: its
// principal, or EUnauthorized or EForbidden.
type keyAnswer struct {
	p   actors.Principal
	err error
	due time.Time // when a request next asks Postgres; guarded by keyCache.mu
}

// keyCache holds the key answers, bounded, least recently used out first.
type keyCache struct {
	mu      sync.Mutex
	entries *lru.Cache[string, *keyAnswer]
	// gen counts ForgetKeys calls: a lookup that started before one does
	// not store its answer, which may predate the change.
	gen uint64
}

func newKeyCache(size int) *keyCache {
	c, err := lru.New[string, *keyAnswer](size)
	if err != nil {
		panic(err) // size is a positive constant
	}
	return &keyCache{entries: c}
}

// get returns the cached answer for secret and whether the caller is to ask
// Postgres now: when the answer is missing, or due and no other request is
// asking already (the caller then holds the next try for keyRetry). gen is
// the generation to pass to put.
func (c *keyCache) get(secret string, now time.Time) (a *keyAnswer, ask bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.entries.Get(secret)
	if !ok {
		return nil, true, c.gen
	}
	if now.Before(a.due) {
		return a, false, c.gen
	}
	a.due = now.Add(keyRetry)
	return a, true, c.gen
}

// put stores Postgres's definitive answer unless a ForgetKeys came since gen.
func (c *keyCache) put(secret string, a *keyAnswer, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.entries.Add(secret, a)
	}
}

// forget drops the answers of key keyID, or of every key of projectID (a
// project deleted or its origins changed); either may be empty.
func (c *keyCache) forget(keyID, projectID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, secret := range c.entries.Keys() {
		a, ok := c.entries.Peek(secret)
		if ok && ((keyID != "" && a.p.KeyID == keyID) || (projectID != "" && a.p.ProjectID == projectID) || a.err != nil) {
			// Refusals hold no key id: dropping them costs a query each.
			c.entries.Remove(secret)
		}
	}
}

// itemCache remembers item lookups: items found, for good (an item never
// changes once created), and ids that named no item, for unknownTTL, so
// that a client retrying an unknown id costs no query each time.
type itemCache struct {
	items   *lru.Cache[string, actors.Item]
	unknown *lru.Cache[string, time.Time] // id -> when it was found unknown
}

func newItemCache(size int) *itemCache {
	items, err := lru.New[string, actors.Item](size)
	if err != nil {
		panic(err)
	}
	unknown, err := lru.New[string, time.Time](size)
	if err != nil {
		panic(err)
	}
	return &itemCache{items: items, unknown: unknown}
}

// get returns the cached item of key, and known false when key is
// remembered as naming no item; cached false when neither is remembered.
func (c *itemCache) get(key string, now time.Time) (it actors.Item, known, cached bool) {
	if it, ok := c.items.Get(key); ok {
		return it, true, true
	}
	if at, ok := c.unknown.Get(key); ok {
		if now.Sub(at) < unknownTTL {
			return actors.Item{}, false, true
		}
		c.unknown.Remove(key)
	}
	return actors.Item{}, false, false
}

func (c *itemCache) add(key string, it actors.Item) {
	c.unknown.Remove(key)
	c.items.Add(key, it)
}

func (c *itemCache) addUnknown(key string, now time.Time) { c.unknown.Add(key, now) }
