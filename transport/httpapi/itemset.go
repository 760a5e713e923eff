package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// itemset.go: which items exist, so that a route that needs to know only
// that (an event, an engagement read, an SDK event's content id) asks no one.
// Without it the first event of an item this instance had not looked up
// waited for persist.Store.GetItem: issue 18's cold profile (first events of
// 250k renders) found 9 of 32 requests there, the last Postgres hop of a
// first event.
//
// The set is an accelerator, never the authority: a hit answers "exists";
// a miss takes the path of before (the item cache, then Postgres, then the
// unknown-id cache), and an item found there is added. So the set may lag
// (an item created a moment ago on another instance, or in a transaction
// that committed late) or stop growing (ENGAGED_ITEM_SET_MAX) and nothing
// changes but the cost. It must never hold an item that does not exist:
// items are never deleted (no statement deletes from items: a deleted
// project is a soft delete that authentication refuses first, and an
// erasure scrubs events, snapshots and webhook rows, never an item row), and
// a hash collision is ruled out by 128 bits of a keyed SHA-256 (itemSet.hash).

// Item set timing. The poll reads the items created since the previous
// read's start less itemSetOverlap: created_at is the creating transaction's
// start, and a transaction that commits up to that long after its start is
// still found (a later one is found by its first lookup, as before).
const (
	itemSetPoll        = time.Second
	itemSetOverlap     = 5 * time.Second
	itemSetReadTimeout = 10 * time.Second // one poll
	itemSetLoadTimeout = 10 * time.Minute // the first read, of every item (200k rows took 0.08-0.2 s here)
	itemSetBatch       = 1024             // hashes added under one lock while reading
)

// errItemSetFull ends a read once the set holds ENGAGED_ITEM_SET_MAX items.
var errItemSetFull = errors.New("item set full")

// itemHash is an item's key in the set: 16 bytes however long its ids.
type itemHash [16]byte

// itemSet is a set of the items of every project, as hashes. Safe for
// concurrent use; its reader is Server.RunItemSet.
type itemSet struct {
	key  [32]byte      // random per process: the hashes never leave it
	max  int           // entries at most; 0: no set (every lookup misses)
	poll time.Duration // itemSetPoll; shorter in tests

	mu     sync.RWMutex // guards hashes
	hashes map[itemHash]struct{}

	loaded       atomic.Bool // the first read of every item ended
	hits, misses atomic.Int64
}

func newItemSet(max int) *itemSet {
	s := &itemSet{max: max, poll: itemSetPoll}
	if max > 0 {
		s.hashes = map[itemHash]struct{}{}
		if _, err := rand.Read(s.key[:]); err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
	}
	return s
}

// hash keys an item: the first 16 bytes of SHA-256 over the process's key,
// kind, project and id. 128 bits, not 64: a collision would admit events for
// an item that does not exist. Keyed, so that the collision search a public
// hash allows offline (2^64 work for 128 bits, within reach of a large
// enough budget, with ids the attacker chooses) needs this process's key,
// which never leaves it. SHA-256 because it is in the standard library and
// cheap next to a query (has, hash included, took 183 ns without
// allocating on the development machine, which has SHA-NI). The input is
// unambiguous: the kind and the project (a UUID) hold no zero byte, and
// the id comes last.
func (s *itemSet) hash(kind, project, id string) itemHash {
	var buf [32 + 8 + 37 + actors.MaxIDLen]byte // stays on the stack for ids within the limit
	b := append(buf[:0], s.key[:]...)
	b = append(b, kind...)
	b = append(b, 0)
	b = append(b, project...)
	b = append(b, 0)
	b = append(b, id...)
	sum := sha256.Sum256(b)
	return itemHash(sum[:16])
}

// has reports whether the set holds item id of kind in project, counting
// hits and misses.
func (s *itemSet) has(kind, project, id string) bool {
	if s.max == 0 {
		return false
	}
	h := s.hash(kind, project, id)
	s.mu.RLock()
	_, ok := s.hashes[h]
	s.mu.RUnlock()
	if ok {
		s.hits.Add(1)
	} else {
		s.misses.Add(1)
	}
	return ok
}

// add adds an item that exists (found in Postgres, or just created), unless
// the set is full or off.
func (s *itemSet) add(kind, project, id string) {
	if s.max == 0 {
		return
	}
	s.addAll([]itemHash{s.hash(kind, project, id)})
}

// addAll adds hs; false if the set was full before all were in.
func (s *itemSet) addAll(hs []itemHash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hs {
		if len(s.hashes) >= s.max {
			if _, ok := s.hashes[h]; !ok {
				return false
			}
			continue
		}
		s.hashes[h] = struct{}{}
	}
	return true
}

func (s *itemSet) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.hashes)
}

// read adds the items created at or after since (zero: every item) and
// returns the store's clock as of the read's start.
func (s *itemSet) read(ctx context.Context, dir Directory, since time.Time) (time.Time, error) {
	batch := make([]itemHash, 0, itemSetBatch)
	asOf, err := dir.ItemKeys(ctx, since, func(kind, project, id string) error {
		batch = append(batch, s.hash(kind, project, id))
		if len(batch) < cap(batch) {
			return nil
		}
		full := !s.addAll(batch)
		batch = batch[:0]
		if full {
			return errItemSetFull
		}
		return nil
	})
	if err == nil && !s.addAll(batch) {
		err = errItemSetFull
	}
	return asOf, err
}

// RunItemSet fills the item set with every item in the store, then adds
// the items created since, once a second, until ctx ends; it returns at
// once when the set is off (Options.ItemSetMax 0), and when the set is full.
// The caller owns it: run it in a goroutine and wait for it after
// cancelling ctx, before closing the store. Nothing waits for the first
// read: until it ends, lookups take the path of before. A failed read (Postgres down) is
// logged once per outage and tried again each second; the hashes already in
// keep answering.
func (s *Server) RunItemSet(ctx context.Context) {
	set := s.set
	if set.max == 0 {
		return
	}
	var since time.Time // zero until the first read of every item ends
	failing := false
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		timeout, start := itemSetReadTimeout, time.Now()
		if since.IsZero() {
			timeout = itemSetLoadTimeout
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		asOf, err := set.read(rctx, s.dir, since)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errItemSetFull):
			s.logger.Warn("item set full: items past it are looked up in Postgres on first use (ENGAGED_ITEM_SET_MAX)", "entries", set.len())
			return
		case err != nil:
			if !failing {
				s.logger.Warn("item set: read items (tried again every second; lookups go to Postgres meanwhile)", "err", err)
			}
			failing = true
		default:
			if failing {
				s.logger.Info("item set: read items again")
			}
			failing = false
			if since.IsZero() {
				set.loaded.Store(true)
				s.logger.Info("item set loaded", "entries", set.len(), "ms", time.Since(start).Milliseconds())
			}
			since = asOf.Add(-itemSetOverlap)
		}
		t.Reset(set.poll)
	}
}

// exists reports whether item k of kind is registered: from the item set
// when it holds k, with no query, else through item (the item cache, then
// Postgres), which adds a registered item to the set.
func (s *Server) exists(ctx context.Context, k actors.ItemID, kind string) (bool, error) {
	if s.set.has(kind, k.Project, k.Item) {
		return true, nil
	}
	_, found, err := s.item(ctx, k, kind)
	return found, err
}

// itemSetStats is the set's part of /stats.
func (s *Server) itemSetStats() map[string]any {
	return map[string]any{
		"max": s.set.max, "entries": s.set.len(), "loaded": s.set.loaded.Load(),
		"hits": s.set.hits.Load(), "misses": s.set.misses.Load(),
	}
}
