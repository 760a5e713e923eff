package actors

// ParsedContentEvent is one SDK event as the edge decoded it (wire.ParseContentEvent):
// the event, the items it concerns, and its rejection if any. It lives here
// because Records, how a swipe fans out to two items' actors, is a rule of
// the aggregates, not of the wire format.
type ParsedContentEvent struct {
	// Event is what the log stores when Err is nil. Its ID is the client's
	// eventId when that was a valid one (also when the event is rejected,
	// so results can name it), and empty otherwise: the edge makes one.
	Event     ContentEvent
	ContentID string // the item the event is about; for a swipe, the item swiped to
	// ContentField names the member ContentID came from ("contentId", or
	// "data.toContentId" for a swipe without contentId), for field errors.
	ContentField string
	FromID       string // swipe only: the item swiped away from
	Adjusted     bool   // the timestamp was too far ahead (wire.MaxFutureSkew) and was set to the receive time
	Err          *Error // EInvalid with Issues, or ETooOld
}

// ContentRecord is one log record of an SDK event, for one item.
type ContentRecord struct {
	Item  string
	Event ContentEvent
}

// Records returns the log records of a valid event: the event for its item
// and, for a swipe, the RoleSwipeOut copy for the item swiped away from,
// which carries only what that item counts.
func (p *ParsedContentEvent) Records() []ContentRecord {
	out := []ContentRecord{{Item: p.ContentID, Event: p.Event}}
	if p.Event.Type == Swipe {
		ev := p.Event
		out = append(out, ContentRecord{Item: p.FromID, Event: ContentEvent{
			ID: ev.ID, Type: Swipe, Role: RoleSwipeOut, Other: p.ContentID,
			At: ev.At, Recv: ev.Recv, WatchTime: ev.WatchTime,
		}})
	}
	return out
}
