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

func restoreRenderSection(d *decoder, version byte) (family, error) {
	if version != 1 && version != 2 {
		return nil, errBadSnapshot
	}
	snap := d.renderSnapshot()
	if version == 2 { // version 1: no series or viewers yet, restored empty
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
	b = binary.AppendUvarint(b, uint64(len(m.Render)))
	for i := range m.Render {
		b = appendRenderEvent(b, &m.Render[i])
	}
	return b
}

func decodeRenderEvents(d *decoder, m *Message) { m.Render = list(d, d.renderEvent) }
