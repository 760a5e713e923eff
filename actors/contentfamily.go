package actors

// contentfamily.go plugs SDK content items into the family table
// (families.go): the family methods of contentState, its log message
// section and its snapshot section's restore.

import "encoding/binary"

func (s *contentState) applyEvents(m *Message, out []bool) {
	for i := range m.Content {
		counted := s.apply(&m.Content[i])
		if out != nil {
			out[i] = counted
		}
	}
}

func (s *contentState) section() section { return s.snapshot() }

// contentUpdate is the update payload of an SDK content item: the wire
// shape that appendContentUpdate writes (TestContentUpdateJSON compares it
// with json.Marshal of this struct).
type contentUpdate struct {
	Seq uint64 `json:"seq"`
	ContentSummary
	Series *LiveSeries `json:"series,omitempty"` // the newest minute and hour
}

// update encodes the item's live update with the hand-written encoder
// (contentjson.go: encoding/json here was 7.6 % of server CPU under SDK
// single-event load), from the state's own maps and series: nothing of the
// summary outlives the call.
func (s *contentState) update(k ItemID, seq uint64) ([]byte, error) {
	sum := s.figures(k.Item)
	if !sum.finite() {
		return nil, errNotFinite
	}
	return appendContentUpdate(make([]byte, 0, sum.updateJSONSize()), seq, &sum, &s.c), nil
}

func restoreContentSection(d *decoder, version byte) (family, error) {
	if version != 1 && version != 2 {
		return nil, errBadSnapshot
	}
	snap := d.contentSnapshot()
	if version == 2 { // version 1: no series, users or sessions yet, restored empty
		c := newComponents(contentSpec)
		d.readComponents(&c)
		snap.comps = &c
	}
	if d.err != nil {
		return nil, errBadSnapshot
	}
	return restoreContent(snap)
}

func appendContentEvents(b []byte, m *Message) []byte {
	b = binary.AppendUvarint(b, uint64(len(m.Content)))
	for i := range m.Content {
		e := &m.Content[i]
		b = appendStr(b, e.ID)
		b = appendStr(b, string(e.Type))
		b = appendStr(b, e.Role)
		b = appendStr(b, e.Other)
		b = appendStr(b, e.UserID)
		b = appendStr(b, e.DeviceID)
		b = appendStr(b, e.SessionID)
		b = binary.AppendVarint(b, e.At)
		b = binary.AppendVarint(b, e.Recv)
		b = appendBytes(b, e.Data)
		b = binary.AppendVarint(b, e.StartupMS)
		b = appendF64(b, e.WatchTime)
		b = binary.AppendVarint(b, e.StallMS)
		b = binary.AppendVarint(b, e.Loops)
		b = appendStr(b, e.Code)
	}
	return b
}

func decodeContentEvents(d *decoder, m *Message) { m.Content = list(d, d.contentEvent) }
