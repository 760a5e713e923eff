package actors

// Message is the payload of one log message: the events of one request for
// one item, in one field per family (family.go). Grouping a request's events
// per item keeps ingest at one JetStream message per item per request, not
// one per event. Message.Encode and DecodeMessage are in families.go.
type Message struct {
	Render  []RenderEvent  `json:"render,omitempty"`
	Content []ContentEvent `json:"video,omitempty"`
	// Ref is unique per published message (Registry.Submit makes it); the
	// verdicts of its events are keyed by it (see verdicts).
	Ref string `json:"ref,omitempty"`
}

// Snapshot is the persisted state of one item as of log sequence Seq.
type Snapshot struct {
	Key   ItemID
	Seq   uint64
	State []byte // encoded by stateSnapshot.encode, read back only by restoreState (snapshot.go)
	// Series holds the item's closed series hours and days not written yet,
	// taken in the same actor step as State: SaveSnapshots writes them in
	// the same transaction (a restored series takes the hours before its
	// clock's as written).
	Series SeriesRows
}
