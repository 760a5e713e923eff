package actors

import "encoding/json"

// Message is the payload of one log message: the events of one request for
// one item, in one field per family (family.go). Grouping a request's events per item keeps ingest at one
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
	State []byte // encoded by stateSnapshot.encode, read back only by restoreState (snapcodec.go)
}
