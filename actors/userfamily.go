package actors

// userfamily.go plugs users' states (user.go) into the family table
// (families.go): the family methods of userState, its log message section
// and its snapshot section.

import (
	"encoding/binary"
	"errors"
)

func (s *userState) applyEvents(m *Message, out []bool) {
	for i := range m.User {
		added := s.apply(&m.User[i])
		if out != nil {
			out[i] = added
		}
	}
}

// errNoUserUpdates: a user's state is private to its project's secret
// keys; it has no live updates (families[famUser].private).
var errNoUserUpdates = errors.New("a user's state has no live updates")

func (s *userState) update(ItemID, uint64) ([]byte, error) { return nil, errNoUserUpdates }

// userSection is a user's snapshot section, encoded already: the copy is
// the encoding, a few KB written in one pass.
type userSection []byte

func (b userSection) appendBinary(dst []byte) ([]byte, error) { return append(dst, b...), nil }
func (b userSection) sizeHint() int                           { return len(b) }

// The user family's snapshot section body, version 1:
//
//	user  = str(userId) uvarint(n) u64(content hash){n}   exact window, least recently seen first
//	        bloom(old) bloom(cur)
//	        uvarint(n) (str(eventId) str(type) str(contentId) varint(at)){n}   history, oldest first
//	bloom = 0x00 | 0x01 uvarint(contents added) u64{bloomBits/64}
func (s *userState) section() section {
	// Sized for what is there: most users have no filter yet (bloomSize 1),
	// and a round encodes every dirty user at once, so reserving two
	// filters' 12 KB for each allocated gigabytes per round for 100k users
	// of one impression each (heap profile of the seen benchmark).
	b := make([]byte, 0, 64+8*len(s.exact)+bloomSize(s.old)+bloomSize(s.cur)+64*len(s.history))
	b = appendStr(b, s.userID)
	b = binary.AppendUvarint(b, uint64(len(s.exact)))
	for _, h := range s.exact {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	b = appendBloom(b, s.old)
	b = appendBloom(b, s.cur)
	b = binary.AppendUvarint(b, uint64(len(s.history)))
	for i := range s.history {
		e := &s.history[i]
		b = appendStr(b, e.ID)
		b = appendStr(b, string(e.Type))
		b = appendStr(b, e.ContentID)
		b = binary.AppendVarint(b, e.At)
	}
	return userSection(b)
}

// bloomSize is the most appendBloom writes for f.
func bloomSize(f *bloom) int {
	if f == nil {
		return 1
	}
	return 1 + binary.MaxVarintLen64 + 8*len(f.bits)
}

func appendBloom(b []byte, f *bloom) []byte {
	if f == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(f.n))
	for _, w := range f.bits {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return b
}

func restoreUserSection(d *decoder, version byte) (family, error) {
	if version != 1 {
		return nil, errBadSnapshot
	}
	s := &userState{userID: d.str()}
	n := d.count()
	if n > MaxExactSeen {
		return nil, errBadSnapshot
	}
	if n > 0 {
		s.exact = make([]uint64, n)
		for i := range s.exact {
			s.exact[i] = d.u64()
		}
	}
	s.old, s.cur = d.bloom(), d.bloom()
	n = d.count()
	if n > MaxHistory {
		return nil, errBadSnapshot
	}
	if n > 0 {
		s.history = make([]UserEvent, n)
		for i := range s.history {
			e := &s.history[i]
			e.ID, e.Type, e.ContentID, e.At = d.str(), ContentEventType(d.str()), d.str(), d.varint()
		}
	}
	if d.err != nil {
		return nil, errBadSnapshot
	}
	return s, nil
}

func (d *decoder) bloom() *bloom {
	if !d.present() {
		return nil
	}
	n := d.uvarint()
	if n > bloomCapacity {
		d.err = errCodec
		return nil
	}
	f := newBloom()
	f.n = int(n)
	for i := range f.bits {
		f.bits[i] = d.u64()
	}
	return f
}

// The user section of a log message:
//
//	section   = uvarint(n) userEvent{n}
//	userEvent = str(eventId) str(type) str(contentId) str(userId) varint(at)
func appendUserEvents(b []byte, m *Message) []byte {
	b = binary.AppendUvarint(b, uint64(len(m.User)))
	for i := range m.User {
		e := &m.User[i]
		b = appendStr(b, e.ID)
		b = appendStr(b, string(e.Type))
		b = appendStr(b, e.ContentID)
		b = appendStr(b, e.UserID)
		b = binary.AppendVarint(b, e.At)
	}
	return b
}

func decodeUserEvents(d *decoder, m *Message) {
	m.User = list(d, func(e *UserEvent) {
		e.ID, e.Type, e.ContentID, e.UserID, e.At = d.str(), ContentEventType(d.str()), d.str(), d.str(), d.varint()
	})
}
