package actors

import (
	"encoding/binary"
	"errors"
)

// SDK eventId dedupe, per item.
//
// An item remembers the eventIds it counted for ContentDedupeWindowMS on the
// server's receive clock (the Recv stamped into the log, never the clock at
// apply time), so a retry is counted once for at least 24 hours, across
// restarts: the remembered ids are part of the snapshot. Memory is bounded
// by ContentDedupeCapacity ids per item: past it, the oldest id is forgotten
// early, and a retry of that id would be counted again. Measured: about 45 B
// per id in memory (16 B in the ring, the rest in the hash index), so a full
// item holds about 3 MB; its snapshot packs about 11 B per id, 0.7 MB (it was 0.9 MB
// as base64 in the JSON snapshots).
const (
	ContentDedupeWindowMS = 25 * 60 * 60 * 1000 // 24 h, plus an hour for clocks of other instances
	ContentDedupeCapacity = 1 << 16
)

var errBadSnapshot = errors.New("malformed snapshot")

// idDedupe is a set of id hashes in arrival order, oldest first.
type idDedupe struct {
	capacity int
	// ids indexes the ring's hashes once it has held more than
	// smallDedupe; until then a lookup scans the ring. Most items hold a
	// handful of ids, and a map of a few entries costs more than they do.
	ids      map[uint64]struct{}
	ring     []dedupeEntry // circular; ring[start] is the oldest of n entries
	start, n int
	maxRecv  int64 // newest Recv seen: the clock that expires entries
}

type dedupeEntry struct {
	h  uint64
	at int64
}

// smallDedupe is how many ids a scan of the ring checks before a hash
// index is built. BenchmarkDedupeSmall, 10 ids: a retry is found in 14 ns
// by the scan (20 ns with the map), and the set takes 320 B instead of 697.
const smallDedupe = 32

func newIDDedupe(capacity int) *idDedupe {
	return &idDedupe{capacity: capacity}
}

// has reports whether hash h is remembered.
func (d *idDedupe) has(h uint64) bool {
	if d.ids != nil {
		_, ok := d.ids[h]
		return ok
	}
	for i := 0; i < d.n; i++ {
		if d.ring[(d.start+i)%len(d.ring)].h == h {
			return true
		}
	}
	return false
}

// hashID is 64-bit FNV-1a: stable across processes and versions (the
// hashes live in snapshots), and a new id is mistaken for one of 65,536
// remembered ones with probability about 2¹⁶/2⁶⁴ ≈ 4·10⁻¹⁵. Not SHA-256:
// ids are not secrets here, and SHA-256 was 4% of batch ingest CPU.
func hashID(id string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime
	}
	return h
}

// seen reports whether id was remembered, and remembers it if not. recv is
// the event's server receive time.
func (d *idDedupe) seen(id string, recv int64) bool {
	if recv > d.maxRecv {
		d.maxRecv = recv
	}
	// Arrival order follows Recv closely, so the window expires from the
	// front; an entry stamped out of order merely lives a little longer.
	for d.n > 0 && d.maxRecv-d.ring[d.start].at >= ContentDedupeWindowMS {
		d.pop()
	}
	h := hashID(id)
	if d.has(h) {
		return true
	}
	if d.n == d.capacity {
		d.pop()
	}
	d.push(dedupeEntry{h, recv})
	return false
}

func (d *idDedupe) pop() {
	if d.ids != nil {
		delete(d.ids, d.ring[d.start].h)
	}
	d.start = (d.start + 1) % len(d.ring)
	d.n--
}

func (d *idDedupe) push(e dedupeEntry) {
	if d.n == len(d.ring) {
		// Grow by doubling up to the capacity, so a quiet item stays small.
		grown := make([]dedupeEntry, min(d.capacity, max(4, 2*len(d.ring))))
		for i := 0; i < d.n; i++ {
			grown[i] = d.ring[(d.start+i)%len(d.ring)]
		}
		d.ring, d.start = grown, 0
	}
	d.ring[(d.start+d.n)%len(d.ring)] = e
	d.n++
	switch {
	case d.ids != nil:
		d.ids[e.h] = struct{}{}
	case d.n > smallDedupe:
		d.ids = make(map[uint64]struct{}, 2*d.n)
		for i := 0; i < d.n; i++ {
			d.ids[d.ring[(d.start+i)%len(d.ring)].h] = struct{}{}
		}
	}
}

// dedupeSnapshot packs the entries oldest first: 8 bytes of hash and a
// uvarint of MaxRecv − at (ms) each, about 12 bytes per id.
type dedupeSnapshot struct {
	MaxRecv int64  `json:"maxRecv"`
	Entries []byte `json:"entries"`
}

func (d *idDedupe) snapshot() dedupeSnapshot {
	out := dedupeSnapshot{MaxRecv: d.maxRecv, Entries: make([]byte, 0, d.n*12)}
	for i := 0; i < d.n; i++ {
		e := d.ring[(d.start+i)%len(d.ring)]
		out.Entries = binary.BigEndian.AppendUint64(out.Entries, e.h)
		out.Entries = binary.AppendUvarint(out.Entries, uint64(d.maxRecv-e.at))
	}
	return out
}

func restoreIDDedupe(capacity int, s dedupeSnapshot) (*idDedupe, error) {
	d := newIDDedupe(capacity)
	d.maxRecv = s.MaxRecv
	b := s.Entries
	for len(b) > 0 {
		if len(b) < 9 || d.n == capacity {
			return nil, errBadSnapshot
		}
		h := binary.BigEndian.Uint64(b)
		age, k := binary.Uvarint(b[8:])
		if k <= 0 {
			return nil, errBadSnapshot
		}
		b = b[8+k:]
		if d.has(h) {
			return nil, errBadSnapshot
		}
		d.push(dedupeEntry{h, s.MaxRecv - int64(age)})
	}
	return d, nil
}
