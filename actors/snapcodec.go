package actors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
)

// The bodies of the render and content families' snapshot sections (the
// envelope around them is snapshot.go's), version 1:
//
//	render   = counts varint(linkOpens) varint(maxAt)
//	           uvarint(n) bytes(event JSON){n}            recent, newest first, as the API shows them
//	           uvarint(n) (str(key) varint(maxAt − at)){n}  dedupe, least recently used first
//	           uvarint(n) (str(id) counts flags){n}       shares, least recently active first
//	counts   = varint × 7: viewed downloaded printed email_opened email_sent share_created share_revoked
//	flags    = octet: 0x01 created | 0x02 revoked
//	content  = pairs(counts by type name) pairs(custom) varint(total) varint(loops) f64(watchTime)
//	           uvarint(n) (uvarint(bin) varint(count)){n} varint(startupSum) varint(stallMs)
//	           pairs(errors) pairs(platforms) varint(swipesOut) varint(lastAt)
//	           varint(dedupe maxRecv) bytes(dedupe entries, packed as in dedupeSnapshot)
//	pairs    = uvarint(n) (str(key) varint(value)){n}, keys in increasing order
//
// Version 2 (issue 19) appends to each body the family's components
// (familyseries.go):
//
//	components = bytes(series encoding, or empty) uvarint(n) bytes(sketch encoding, or empty){n}
//
// str, bytes, renderEvent and f64 are those of codec.go. Keys are sorted so
// that equal states encode to equal bytes.

var errNonFinite = errors.New("snapshot: watch time is not a finite number")

// sizeHint is a little over the encoded size, so that encoding allocates
// once (an event's strings, a user agent among them, take ~200 B).
func (s *renderSnapshot) sizeHint() int {
	n := 96 + 96*len(s.Shares) + s.Comps.size()
	for _, enc := range s.RecentJSON {
		n += 4 + len(enc)
	}
	for i := range s.Dedupe {
		n += 12 + len(s.Dedupe[i].K)
	}
	return n
}

func (c *contentSnapshot) sizeHint() int {
	return 256 + c.Comps.size() + len(c.Dedupe.Entries) + 8*len(c.Startup) + 24*(len(c.Custom)+len(c.Errors)+len(c.Platforms))
}

func (s *renderSnapshot) appendBinary(b []byte) ([]byte, error) {
	b = appendRenderCounts(b, &s.Counts)
	b = binary.AppendVarint(b, s.LinkOpens)
	b = binary.AppendVarint(b, s.MaxAt)
	b = binary.AppendUvarint(b, uint64(len(s.RecentJSON)))
	for _, enc := range s.RecentJSON {
		b = appendBytes(b, enc)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Dedupe)))
	for _, d := range s.Dedupe {
		b = appendStr(b, d.K)
		// The distance from maxAt (a few minutes at most) is shorter than
		// the time; two's complement makes it exact for any pair.
		b = binary.AppendVarint(b, s.MaxAt-d.At)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Shares)))
	for i := range s.Shares {
		sh := &s.Shares[i]
		b = appendStr(b, sh.ID)
		b = appendRenderCounts(b, &sh.Counts)
		var flags byte
		if sh.Created {
			flags |= 1
		}
		if sh.Revoked {
			flags |= 2
		}
		b = append(b, flags)
	}
	b = binary.AppendVarint(b, s.BotViews) // version 2
	return s.Comps.appendBinary(b), nil
}

// renderCountFields is how many counts the format holds; an eighth event
// type needs a new version.
const renderCountFields = 7

func appendRenderCounts(b []byte, c *RenderCounts) []byte {
	for i := range renderCountFields {
		b = binary.AppendVarint(b, *c.field(i))
	}
	return b
}

func (s *contentSnapshot) appendBinary(b []byte) ([]byte, error) {
	if math.IsNaN(s.WatchTime) || math.IsInf(s.WatchTime, 0) {
		return nil, errNonFinite
	}
	b = appendPairs(b, s.Counts)
	b = appendPairs(b, s.Custom)
	b = binary.AppendVarint(b, s.Total)
	b = binary.AppendVarint(b, s.Loops)
	b = appendF64(b, s.WatchTime)
	b = binary.AppendUvarint(b, uint64(len(s.Startup)))
	for _, h := range s.Startup {
		b = binary.AppendUvarint(b, uint64(h.I))
		b = binary.AppendVarint(b, h.N)
	}
	b = binary.AppendVarint(b, s.StartupSum)
	b = binary.AppendVarint(b, s.StallMS)
	b = appendPairs(b, s.Errors)
	b = appendPairs(b, s.Platforms)
	b = binary.AppendVarint(b, s.SwipesOut)
	b = binary.AppendVarint(b, s.LastAt)
	b = binary.AppendVarint(b, s.Dedupe.MaxRecv)
	b = appendBytes(b, s.Dedupe.Entries)
	return s.Comps.appendBinary(b), nil
}

func appendPairs(b []byte, m map[string]int64) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b = appendStr(b, k)
		b = binary.AppendVarint(b, m[k])
	}
	return b
}

func (d *decoder) renderSnapshot() *renderSnapshot {
	s := &renderSnapshot{}
	d.renderCounts(&s.Counts)
	s.LinkOpens, s.MaxAt = d.varint(), d.varint()
	s.RecentJSON = list(d, func(enc *[]byte) { *enc = d.jsonEvent() })
	s.Dedupe = list(d, func(r *dedupeRecord) { r.K, r.At = d.str(), s.MaxAt-d.varint() })
	s.Shares = list(d, func(sh *shareRecord) {
		sh.ID = d.str()
		d.renderCounts(&sh.Counts)
		flags := d.u8()
		if flags&^3 != 0 {
			d.err = errCodec
		}
		sh.Created, sh.Revoked = flags&1 != 0, flags&2 != 0
	})
	return s
}

func (d *decoder) renderCounts(c *RenderCounts) {
	for i := range renderCountFields {
		*c.field(i) = d.varint()
	}
}

func (d *decoder) contentSnapshot() *contentSnapshot {
	s := &contentSnapshot{}
	s.Counts, s.Custom = d.pairs(), d.pairs()
	s.Total, s.Loops, s.WatchTime = d.varint(), d.varint(), d.f64()
	s.Startup = list(d, func(h *histBin) {
		i := d.uvarint()
		if i > math.MaxUint16 {
			d.err = errCodec
		}
		h.I, h.N = uint16(i), d.varint()
	})
	s.StartupSum, s.StallMS = d.varint(), d.varint()
	s.Errors, s.Platforms = d.pairs(), d.pairs()
	s.SwipesOut, s.LastAt = d.varint(), d.varint()
	s.Dedupe.MaxRecv = d.varint()
	i, j := d.span() // parsed by restoreIDDedupe, never kept: no copy
	s.Dedupe.Entries = d.b[i:j]
	return s
}

func (d *decoder) pairs() map[string]int64 {
	n := d.count()
	if n == 0 {
		return nil
	}
	m := make(map[string]int64, n)
	for range n {
		k := d.str()
		m[k] = d.varint()
	}
	return m
}

// jsonEvent reads one recent event's JSON encoding. It is served verbatim,
// so what a damaged snapshot holds must at least be a JSON object.
func (d *decoder) jsonEvent() []byte {
	enc := d.bytes()
	if d.err == nil && (len(enc) == 0 || enc[0] != '{' || !json.Valid(enc)) {
		d.err = errCodec
	}
	return enc
}
