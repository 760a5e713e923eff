package actors

import (
	"encoding/hex"
	"hash/fnv"
	"time"
)

// A fresh render is one no snapshot can exist for yet, so its activation
// skips the snapshot load (a Postgres round trip in the path of its first
// event; issue 18's cold profile: the batched load's latency grew from 2 to
// 15-30 ms in a run, and with it every first event). Render ids are UUIDv7s
// made when the render is created, so the id says when that was. Here it is
// fresh when:
//   - this instance owns its partition, and the render was created after
//     this instance began claiming it (plus freshMargin, for the clock of the
//     process that made the id): only the owner writes snapshots, and no
//     earlier owner can have written one of an item that did not exist yet;
//   - this process never wrote a snapshot of it (saved: it may have been
//     passivated since);
//   - it is younger than half the log's max age, so the log still holds
//     every message of it.
//
// The guess may be wrong only in a race (another instance claims the
// partition and writes the render's snapshot before this one notices): the
// activation then replays the render's whole log instead of the snapshot's
// tail, which gives the same state because the log still holds all of it.
// So a wrong guess costs time, never a count.

// freshMargin allows for the clock of the process that created the render.
const freshMargin = 2 * time.Second

// fresh reports whether m's item k may activate without a snapshot load.
func (r *Registry) fresh(k ItemID, m *Message) bool {
	if r.opts.LogMaxAge <= 0 || len(m.Render) == 0 || len(m.Content) > 0 {
		return false
	}
	created, ok := uuidV7Time(k.Item)
	now := time.Now()
	if !ok || created.After(now) || now.Sub(created) >= r.opts.LogMaxAge/2 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	part := r.Partition(k)
	if _, owned := r.epochs[part]; !owned {
		return false
	}
	if claimed, ok := r.claimedAt[part]; !ok || !created.After(claimed.Add(freshMargin)) {
		return false
	}
	_, saved := r.saved[itemHash(k)]
	return !saved
}

// noteSavedLocked records that this process wrote snaps of renders young
// enough to be fresh (r.mu held), and about once a minute forgets those
// grown too old to be: the set stays as large as one log age of renders,
// not every render this process ever wrote.
func (r *Registry) noteSavedLocked(snaps []Snapshot) {
	if r.opts.LogMaxAge <= 0 {
		return
	}
	now := time.Now()
	oldest := now.Add(-r.opts.LogMaxAge / 2).UnixMilli()
	for _, s := range snaps {
		if created, ok := uuidV7Time(s.Key.Item); ok && created.UnixMilli() >= oldest {
			r.saved[itemHash(s.Key)] = created.UnixMilli()
		}
	}
	if now.Sub(r.savedTrimmed) < time.Minute {
		return
	}
	r.savedTrimmed = now
	for h, created := range r.saved {
		if created < oldest {
			delete(r.saved, h)
		}
	}
}

// itemHash keys the saved set: 8 bytes per item instead of its ids. A
// collision only costs a snapshot load.
func itemHash(k ItemID) uint64 {
	h := fnv.New64a()
	h.Write([]byte(k.Project))
	h.Write([]byte{0})
	h.Write([]byte(k.Item))
	return h.Sum64()
}

// uuidV7Time returns the creation time in a canonical UUIDv7 string
// (its first 48 bits: milliseconds since the Unix epoch).
func uuidV7Time(id string) (time.Time, bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' || id[14] != '7' {
		return time.Time{}, false
	}
	var b [6]byte
	if _, err := hex.Decode(b[:4], []byte(id[0:8])); err != nil {
		return time.Time{}, false
	}
	if _, err := hex.Decode(b[4:], []byte(id[9:13])); err != nil {
		return time.Time{}, false
	}
	ms := int64(b[0])<<40 | int64(b[1])<<32 | int64(b[2])<<24 | int64(b[3])<<16 | int64(b[4])<<8 | int64(b[5])
	return time.UnixMilli(ms), true
}
