package actors

import (
	"context"
	"hash/fnv"
)

// known.go: which items of an owned partition have a snapshot, so that an
// item without one activates without a snapshot load. Most events of a wide
// key space activate an item (its first event, or the first after
// passivation or eviction), and the load was the Postgres round trip in
// their path: issue 18's cold profile saw the batched load's latency grow
// from 2 to 15-30 ms in a run, and a user's first event (issue 20) waited
// on it behind two dozen others.
//
// The owner of a partition knows exactly which of its items have a
// snapshot: only the owner writes them (SaveSnapshots is fenced by the
// partition's epoch, and a claim waits for a write under the old epoch to
// end), so the keys loaded just after the claim, plus the snapshots this
// instance writes from then on, are all there are. An item outside that
// set has no snapshot, so its log still holds all of it (the log keeps a
// message until a snapshot covers it, docs/OPERATING.md "Log retention"),
// and a replay of its whole log gives the state a load would have started
// from. Until the keys are loaded, and for partitions this instance does
// not own (read-only copies), every activation loads as before.
//
// A wrong answer can only go one way: a hash collision, an erasure that
// deleted a snapshot, or a key of a row written before the store recorded
// partitions makes an item look saved, and that costs a load, never a count.

// knownSet holds the hashes of one owned partition's items that have a
// snapshot. Guarded by Registry.mu.
type knownSet struct {
	loaded  bool // the store's keys are in; until then every activation loads
	loading bool // a load is queued or running (claimLoop)
	hashes  map[uint64]struct{}
}

// unsaved reports whether k has no snapshot: its activation may skip the
// load and replay its whole log.
func (r *Registry) unsaved(k ItemID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ks := r.known[r.Partition(k)]
	if ks == nil || !ks.loaded {
		return false
	}
	_, saved := ks.hashes[itemHash(k)]
	return !saved
}

// noteSavedLocked adds the snaps just written to their partition's set
// (r.mu held). A write that lands before the set's load is in the load's
// answer or here; both are kept.
func (r *Registry) noteSavedLocked(snaps []Snapshot) {
	for _, s := range snaps {
		if ks := r.known[r.Partition(s.Key)]; ks != nil {
			ks.hashes[itemHash(s.Key)] = struct{}{}
		}
	}
}

// loadKnown loads part's snapshot keys into its set, if this instance
// still owns part under the set it was asked for. Called by claimLoop only.
func (r *Registry) loadKnown(ctx context.Context, part int) {
	r.mu.Lock()
	ks := r.known[part]
	r.mu.Unlock()
	if ks == nil {
		return
	}
	// Bounded: claimLoop waits for it, and a claim must not wait on a hung
	// Postgres for long (a failed load is retried by the next round).
	ctx, cancel := context.WithTimeout(ctx, activationTimeout)
	keys, err := r.store.SnapshotKeys(ctx, part)
	cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	ks.loading = false
	if err != nil {
		r.logger.Warn("load snapshot keys (activations load until the next round retries)", "partition", part, "err", err)
		return
	}
	if r.known[part] != ks { // dropped (and maybe claimed again) meanwhile
		return
	}
	for _, k := range keys {
		if r.Partition(k) == part {
			ks.hashes[itemHash(k)] = struct{}{}
		}
	}
	ks.loaded = true
}

// retryKnownLocked asks claimLoop again for the sets whose load failed
// (r.mu held; called by each round).
func (r *Registry) retryKnownLocked() {
	for part, ks := range r.known {
		if ks.loaded || ks.loading {
			continue
		}
		select {
		case r.knownLoads <- part:
			ks.loading = true
		default: // full: the next round asks again
		}
	}
}

// itemHash keys the known sets: 8 bytes per item instead of its ids (about
// 38 B per entry with the map's overhead, so ~38 MB per million snapshotted
// items of the owned partitions). A collision only costs a snapshot load.
func itemHash(k ItemID) uint64 {
	h := fnv.New64a()
	h.Write([]byte(k.Project))
	h.Write([]byte{0})
	h.Write([]byte(k.Item))
	return h.Sum64()
}
