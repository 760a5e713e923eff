package actors

// ContentState gives actors_test an item's SDK aggregates outside an actor
// (content_wire_test.go).
type ContentState struct{ s *contentState }

func NewContentState() ContentState                       { return ContentState{newContentState()} }
func (v ContentState) Apply(ev ContentEvent) bool         { return v.s.apply(&ev) }
func (v ContentState) Summary(item string) ContentSummary { return v.s.summary(item) }
