package actors

import "encoding/json"

// Message is the payload of one log message: the events of one request for
// one item. Grouping a request's events per item keeps ingest at one
// JetStream message per item per request, not one per event.
type Message struct {
	Render  []RenderEvent  `json:"render,omitempty"`
	Content []ContentEvent `json:"video,omitempty"`
	// Ref is unique per published message (Registry.Submit makes it); the
	// verdicts of its events are keyed by it (see verdicts).
	Ref string `json:"ref,omitempty"`
}

// Encode returns the wire form of m: the binary form of codec.go.
func (m *Message) Encode() ([]byte, error) { return m.appendBinary(nil), nil }

// DecodeMessage parses a log payload: the binary form, or JSON (the first
// format of the log, still readable so an old log replays).
func DecodeMessage(b []byte) (*Message, error) {
	if len(b) > 0 && b[0] == codecV1 {
		return decodeBinary(b)
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Snapshot is the persisted state of one item as of log sequence Seq.
type Snapshot struct {
	Key   ItemID
	Seq   uint64
	State []byte // encoded by stateSnapshot.encode (snapcodec.go), read back only by restoreState
}

// itemState is everything an actor keeps for its item.
type itemState struct {
	render  *renderState  // nil until the item sees a render event or read
	content *contentState // nil until the item sees an SDK event or read
}

type stateSnapshot struct {
	Render  *renderSnapshot  `json:"render,omitempty"`
	Content *contentSnapshot `json:"video,omitempty"`
}

// snapshot copies the state into its persisted form. The actor calls it; the
// encoding happens on the caller's goroutine, away from the actor.
func (s *itemState) snapshot() *stateSnapshot {
	var ss stateSnapshot
	if s.render != nil {
		ss.Render = s.render.snapshot()
	}
	if s.content != nil {
		ss.Content = s.content.snapshot()
	}
	return &ss
}

func (s *itemState) encode() ([]byte, error) { return s.snapshot().encode() }

// restoreState reads a snapshot in the binary form, or in JSON: the first
// format, still in the store for items not snapshotted since.
func restoreState(b []byte) (itemState, error) {
	var ss stateSnapshot
	if len(b) > 0 && b[0] == snapV1 {
		if err := decodeSnapshot(b, &ss); err != nil {
			return itemState{}, err
		}
	} else if err := json.Unmarshal(b, &ss); err != nil {
		return itemState{}, err
	}
	var s itemState
	if ss.Render != nil {
		s.render = restoreRender(ss.Render)
	}
	if ss.Content != nil {
		v, err := restoreContent(ss.Content)
		if err != nil {
			return itemState{}, err
		}
		s.content = v
	}
	return s, nil
}
