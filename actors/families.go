package actors

// families.go is the table of item families and the code that runs over
// it: an item's state (itemState), the log message codec's sections, and
// what a snapshot round copies. The families themselves are
// renderfamily.go and contentfamily.go.

import (
	"encoding/json"
	"fmt"
)

// familyKind registers one family: how the log message and the snapshot
// carry it. families lists them all; adding a family is one entry there,
// its events' field in Message, and its state type implementing family.
type familyKind struct {
	name string // the item kind that holds this family (RenderItem, ...): it names reads and live updates
	// tag identifies the family's section in a snapV2 snapshot; never
	// reused. version is the section format encode writes; restore reads
	// every version it ever was.
	tag, version byte
	// jsonKey is the family's key in the first, JSON, snapshot format (""
	// for a family born after it).
	jsonKey string

	events       func(m *Message) int              // how many of m's events are this family's
	appendEvents func(b []byte, m *Message) []byte // codec.go: uvarint(count) event*
	decodeEvents func(d *decoder, m *Message)      // codec.go: the inverse of appendEvents

	newState    func() family
	restore     func(d *decoder, version byte) (family, error) // a section body as the binary forms hold it
	restoreJSON func(raw json.RawMessage) (family, error)      // a section of a JSON snapshot
}

// The families, by their index in families and itemState.fams. The order is
// that of the sections of a codecV1 message and a snapV1 snapshot: append
// only.
const (
	famRender = iota
	famContent
	numFamilies
)

// codecV1Families is how many families every codecV1 message holds a
// section for; a message written before a later family was added ends
// before that family's section, which then reads as empty.
const codecV1Families = 2

var families = [numFamilies]familyKind{
	famRender: {
		name: RenderItem, tag: 1, version: 2, jsonKey: "render",
		events:       func(m *Message) int { return len(m.Render) },
		appendEvents: appendRenderEvents, decodeEvents: decodeRenderEvents,
		newState:    func() family { return newRenderState() },
		restore:     restoreRenderSection,
		restoreJSON: jsonSection(func(s *renderSnapshot) (family, error) { return restoreRender(s), nil }),
	},
	famContent: {
		name: ContentItem, tag: 2, version: 2, jsonKey: "video",
		events:       func(m *Message) int { return len(m.Content) },
		appendEvents: appendContentEvents, decodeEvents: decodeContentEvents,
		newState:    func() family { return newContentState() },
		restore:     restoreContentSection,
		restoreJSON: jsonSection(func(s *contentSnapshot) (family, error) { return restoreContent(s) }),
	},
}

// jsonSection returns a restoreJSON that decodes a family's section of a
// JSON snapshot into its section type S and restores the state from it.
func jsonSection[S any](restore func(*S) (family, error)) func(json.RawMessage) (family, error) {
	return func(raw json.RawMessage) (family, error) {
		var snap S
		if err := json.Unmarshal(raw, &snap); err != nil {
			return nil, err
		}
		return restore(&snap)
	}
}

// familyNamed returns the index of the family of item kind name.
func familyNamed(name string) (int, error) {
	for i := range families {
		if families[i].name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no family for item kind %q", name)
}

// itemState is everything an actor keeps for its item: each family's state,
// nil until the item sees one of its events or reads.
type itemState struct {
	fams [numFamilies]family
}

// get returns family i's state, creating it empty.
func (s *itemState) get(i int) family {
	if s.fams[i] == nil {
		s.fams[i] = families[i].newState()
	}
	return s.fams[i]
}

// applyEvents applies every family's events of m, and returns their
// verdicts, in family order, if want.
func (s *itemState) applyEvents(m *Message, want bool) []bool {
	var out []bool
	if want {
		out = make([]bool, m.eventCount())
	}
	off := 0
	for i := range families {
		n := families[i].events(m)
		if n == 0 {
			continue
		}
		var part []bool
		if out != nil {
			part = out[off : off+n]
		}
		s.get(i).applyEvents(m, part)
		off += n
	}
	return out
}

// live returns the family whose summary the item's live updates carry, or
// -1. An item holds state of one family only: the HTTP edge sends each
// family's events and reads to items of its kind only.
func (s *itemState) live() int {
	for i, f := range s.fams {
		if f != nil {
			return i
		}
	}
	return -1
}

// stateSnapshot is the copy of an itemState that the snapshot round encodes
// (snapcodec.go).
type stateSnapshot struct {
	sections [numFamilies]section
}

// snapshot copies the state into its persisted form. The actor calls it; the
// encoding happens on the caller's goroutine, away from the actor.
func (s *itemState) snapshot() *stateSnapshot {
	var ss stateSnapshot
	for i, f := range s.fams {
		if f != nil {
			ss.sections[i] = f.section()
		}
	}
	return &ss
}

func (s *itemState) encode() ([]byte, error) { return s.snapshot().encode() }

// eventCount is the number of m's events, all families together.
func (m *Message) eventCount() int {
	n := 0
	for i := range families {
		n += families[i].events(m)
	}
	return n
}

// Encode returns the wire form of m: the binary form of codec.go.
func (m *Message) Encode() ([]byte, error) { return m.appendBinary(nil), nil }

// DecodeMessage parses a log payload: the binary form, or JSON (the first
// format of the log, still readable so an old log replays).
func DecodeMessage(b []byte) (*Message, error) {
	if len(b) > 0 && (b[0] == codecV1 || b[0] == codecV2) {
		return decodeBinary(b)
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Message) appendBinary(b []byte) []byte {
	if m.renderExtras() {
		b = append(b, codecV2)
	} else {
		b = append(b, codecV1) // the same bytes as before codecV2 existed
	}
	b = appendStr(b, m.Ref)
	for i := range families {
		b = families[i].appendEvents(b, m)
	}
	return b
}

func decodeBinary(b []byte) (*Message, error) {
	d := &decoder{version: b[0], s: string(b), b: b, off: 1}
	m := &Message{Ref: d.str()}
	for i := range families {
		if i >= codecV1Families && d.err == nil && d.off == len(b) {
			break // written before family i existed: none of its events
		}
		families[i].decodeEvents(d, m)
	}
	if d.err != nil || d.off != len(b) {
		return nil, errCodec
	}
	return m, nil
}
