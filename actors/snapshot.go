package actors

// snapshot.go is the snapshot envelope: one section per family, written by
// stateSnapshot.encode and read back, in every form ever written, by
// restoreState.

import (
	"encoding/binary"
	"encoding/json"
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
// tag. The bodies are in snapcodec.go.
//
// The first binary form, still in the store for items not snapshotted
// since, had the two families' version 1 bodies at fixed places:
//
//	snapshotV1 = snapV1 (0x00 | 0x01 render) (0x00 | 0x01 content)
//
// str, bytes and f64 are those of codec.go. A snapshot whose first byte is
// '{' is JSON, the first format; restoreState reads all three.
const (
	snapV1 byte = 0xC1 // never the first byte of JSON, nor of any UTF-8 text
	snapV2 byte = 0xC2
)

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
