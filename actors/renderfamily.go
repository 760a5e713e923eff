package actors

// renderfamily.go plugs renders into the family table (families.go): the
// family methods of renderState, its log message section and its snapshot
// section's restore.

import "encoding/binary"

func (s *renderState) applyEvents(m *Message, out []bool) {
	for i := range m.Render {
		recorded := s.apply(m.Render[i])
		if out != nil {
			out[i] = recorded
		}
	}
}

func (s *renderState) section() section { return s.snapshot() }

func (s *renderState) update(_ ItemID, seq uint64) ([]byte, error) {
	return s.appendJSON(nil, seq, true), nil
}

// restoreRenderSection reads version 1 (before botViews: it restores as 0)
// and version 2 (botViews, then the series and sketches appended).
func restoreRenderSection(d *decoder, version byte) (family, error) {
	if version != 1 && version != 2 {
		return nil, errBadSnapshot
	}
	snap := d.renderSnapshot()
	if version == 2 { // version 1: no robots' count, series or viewers yet, restored as 0 and empty
		snap.BotViews = d.varint()
		c := newComponents(renderSpec)
		d.readComponents(&c)
		snap.comps = &c
	}
	if d.err != nil {
		return nil, errBadSnapshot
	}
	return restoreRender(snap), nil
}

func appendRenderEvents(b []byte, m *Message) []byte {
	v2 := m.renderExtras() // the same test as the message's version byte
	b = binary.AppendUvarint(b, uint64(len(m.Render)))
	for i := range m.Render {
		b = appendRenderEvent(b, &m.Render[i])
		if v2 {
			b = appendRenderEventExt(b, &m.Render[i])
		}
	}
	return b
}

// renderExtras reports whether m needs codecV2: a render event with a
// log-only field (IPKey, Visitor, Bot) set.
func (m *Message) renderExtras() bool {
	for i := range m.Render {
		if e := &m.Render[i]; e.IPKey != "" || e.Visitor != 0 || e.Bot {
			return true
		}
	}
	return false
}

func decodeRenderEvents(d *decoder, m *Message) { m.Render = list(d, d.renderEvent) }
