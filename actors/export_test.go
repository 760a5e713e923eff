package actors

// VideoState gives actors_test an item's SDK aggregates outside an actor
// (video_wire_test.go).
type VideoState struct{ s *videoState }

func NewVideoState() VideoState                       { return VideoState{newVideoState()} }
func (v VideoState) Apply(ev VideoEvent) bool         { return v.s.apply(&ev) }
func (v VideoState) Summary(item string) VideoSummary { return v.s.summary(item) }
