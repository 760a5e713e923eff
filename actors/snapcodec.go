package actors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
)

// The snapshot's binary format. Snapshots are rewritten every round for
// every item that changed, and encoding/json of them was about 9 % of the
// CPU at 10k items, plus the garbage: reflection, re-validating every recent
// event's raw metadata, base64 of the content dedupe. This format copies
// metadata and the packed dedupe entries as bytes. It is encoded from the
// stateSnapshot, not the live state: the actor only copies its state into
// one (it must not be read elsewhere), and the round encodes it on its own
// goroutine, as it did the JSON.
//
//	snapshot = snapV2 uvarint(n) (u8(tag) u8(version) bytes(body)){n}   one section per family present, in family order
//
// Each family (family.go) writes its own section body, tagged with the
// family's tag and the body's version: a family that adds a field bumps
// its version and keeps reading the older ones; a new family takes a new
// tag. The bodies of version 1:
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
// The first binary form, still in the store for items not snapshotted
// since, had the two families' version 1 bodies at fixed places:
//
//	snapshotV1 = snapV1 (0x00 | 0x01 render) (0x00 | 0x01 content)
//
// str, bytes, renderEvent and f64 are those of codec.go. Keys are sorted so
// that equal states encode to equal bytes. A snapshot whose first byte is
// '{' is JSON, the first format; restoreState reads all three.
const (
	snapV1 byte = 0xC1 // never the first byte of JSON, nor of any UTF-8 text
	snapV2 byte = 0xC2
)

var errNonFinite = errors.New("snapshot: watch time is not a finite number")

// encode returns the persisted form of ss. It fails only where a family's
// section does (content: a watch time that is not finite, which the JSON
// encoder refused too).
func (ss *stateSnapshot) encode() ([]byte, error) {
	n, hint := 0, 16
	for _, sec := range ss.sections {
		if sec != nil {
			n, hint = n+1, hint+12+sec.sizeHint()
		}
	}
	b := make([]byte, 0, hint)
	b = append(b, snapV2)
	b = binary.AppendUvarint(b, uint64(n))
	for i, sec := range ss.sections {
		if sec == nil {
			continue
		}
		b = append(b, families[i].tag, families[i].version)
		// The body goes in place and its length in front of it: one
		// buffer, no copy of the body.
		start := len(b)
		var err error
		if b, err = sec.appendBinary(b); err != nil {
			return nil, err
		}
		var l [binary.MaxVarintLen64]byte
		b = slices.Insert(b, start, l[:binary.PutUvarint(l[:], uint64(len(b)-start))]...)
	}
	return b, nil
}

// restoreState reads a snapshot in either binary form, or in JSON: the
// first format, still in the store for items not snapshotted since.
func restoreState(b []byte) (itemState, error) {
	switch {
	case len(b) > 0 && b[0] == snapV2:
		return decodeSnapshot(b)
	case len(b) > 0 && b[0] == snapV1:
		return decodeSnapshotV1(b)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return itemState{}, err
	}
	var s itemState
	for i := range families {
		sec, ok := raw[families[i].jsonKey]
		if families[i].jsonKey == "" || !ok || string(sec) == "null" {
			continue
		}
		f, err := families[i].restoreJSON(sec)
		if err != nil {
			return itemState{}, err
		}
		s.fams[i] = f
	}
	return s, nil
}

// decodeSnapshot parses the snapV2 form. Every string and byte field is a
// copy (decoder.own): restored state lives as long as its actor, and must not
// pin the whole input. Every count is checked against the bytes left, each
// element taking at least one, so a corrupt count cannot make an allocation
// larger than a small multiple of the input. A section of a family this
// version does not know is an error, not a loss of state.
func decodeSnapshot(b []byte) (itemState, error) {
	var s itemState
	d := &decoder{b: b, off: 1, own: true}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		tag, version := d.u8(), d.u8()
		i, j := d.span()
		if d.err != nil {
			break
		}
		fam := -1
		for k := range families {
			if families[k].tag == tag {
				fam = k
			}
		}
		if fam < 0 || s.fams[fam] != nil {
			return itemState{}, errBadSnapshot
		}
		body := &decoder{b: b[i:j], own: true}
		f, err := families[fam].restore(body, version)
		if err != nil {
			return itemState{}, err
		}
		if body.off != len(body.b) {
			return itemState{}, errBadSnapshot
		}
		s.fams[fam] = f
	}
	if d.err != nil || d.off != len(b) {
		return itemState{}, errBadSnapshot
	}
	return s, nil
}

// decodeSnapshotV1 parses the snapV1 form: the render and the content
// family's version 1 bodies, each behind a presence flag.
func decodeSnapshotV1(b []byte) (itemState, error) {
	var s itemState
	d := &decoder{b: b, off: 1, own: true}
	for _, fam := range [...]int{famRender, famContent} {
		if !d.present() {
			continue
		}
		f, err := families[fam].restore(d, 1)
		if err != nil {
			return itemState{}, err
		}
		s.fams[fam] = f
	}
	if d.err != nil || d.off != len(b) {
		return itemState{}, errBadSnapshot
	}
	return s, nil
}

// sizeHint is a little over the encoded size, so that encoding allocates
// once (an event's strings, a user agent among them, take ~200 B).
func (s *renderSnapshot) sizeHint() int {
	n := 96 + 96*len(s.Shares)
	for _, enc := range s.RecentJSON {
		n += 4 + len(enc)
	}
	for i := range s.Dedupe {
		n += 12 + len(s.Dedupe[i].K)
	}
	return n
}

func (c *contentSnapshot) sizeHint() int {
	return 256 + len(c.Dedupe.Entries) + 8*len(c.Startup) + 24*(len(c.Custom)+len(c.Errors)+len(c.Platforms))
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
	return b, nil
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
	return appendBytes(b, s.Dedupe.Entries), nil
}

func appendPairs(b []byte, m map[string]int64) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b = appendStr(b, k)
		b = binary.AppendVarint(b, m[k])
	}
	return b
}

func (d *decoder) present() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return d.err == nil
	}
	d.err = errCodec
	return false
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
