package actors

import "encoding/json"

// Message is the payload of one log message: the events of one request for
// one item. Grouping a request's events per item keeps ingest at one
// JetStream message per item per request, not one per event.
type Message struct {
	Render []RenderEvent `json:"render,omitempty"`
	Video  []VideoEvent  `json:"video,omitempty"`
	// Ref is unique per published message; verdicts of its SDK events are
	// keyed by it (VideoVerdictKey).
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
	Key   Key
	Seq   uint64
	State []byte // JSON, written by the item's actor and read back only by restoreState
}

// itemState is everything an actor keeps for its item.
type itemState struct {
	render *renderState // nil until the item sees a render event or read
	video  *videoState  // nil until the item sees an SDK event or read
}

type stateSnapshot struct {
	Render *renderSnapshot `json:"render,omitempty"`
	Video  *videoSnapshot  `json:"video,omitempty"`
}

// snapshot copies the state into its persisted form. The actor calls it; the
// encoding happens on the caller's goroutine, away from the actor.
func (s *itemState) snapshot() *stateSnapshot {
	var ss stateSnapshot
	if s.render != nil {
		ss.Render = s.render.snapshot()
	}
	if s.video != nil {
		ss.Video = s.video.snapshot()
	}
	return &ss
}

func (s *itemState) encode() ([]byte, error) { return json.Marshal(s.snapshot()) }

func restoreState(b []byte) (itemState, error) {
	var ss stateSnapshot
	if err := json.Unmarshal(b, &ss); err != nil {
		return itemState{}, err
	}
	var s itemState
	if ss.Render != nil {
		s.render = restoreRender(ss.Render)
	}
	if ss.Video != nil {
		v, err := restoreVideo(ss.Video)
		if err != nil {
			return itemState{}, err
		}
		s.video = v
	}
	return s, nil
}
