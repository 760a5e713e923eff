package actors

import (
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Share is a share link of a render: its id is the capability that opens the
// render's public page.
type Share struct {
	ID             string
	ProjectID      string
	RenderID       string
	CreatedAt      time.Time
	RevokedAt      *time.Time
	RevokeRecorded bool      // the share_revoked event is in the log
	DocumentURL    *string   // the render's document URL; set by public lookups only
	IPCapture      IPCapture // the project's setting for client addresses; set by public lookups only
}

// EmailMessage is an e-mail sent with a share link; its tracking pixel
// names it.
type EmailMessage struct {
	ID        string
	ProjectID string
	RenderID  string
	ShareID   *string
	Recipient string
	CreatedAt time.Time
	SentAt    *time.Time
	IPCapture IPCapture // the project's setting for client addresses; set by public lookups only
}

// MaxSharesTracked bounds the share links a render's actor keeps own counts
// for. Each costs about 250 bytes (counts, flags, id, LRU entry; measured
// 243 B on amd64), so a render at the bound holds about 500 KiB more than
// one without shares. The HTTP API
// lets a render have at most 1,000 shares (persist.MaxSharesPerRender), so
// only share ids from internal publishers can push past the bound; then the
// least recently active share is forgotten: its own counts restart from zero
// and a later share_created or share_revoked for it would count again.
const MaxSharesTracked = 2048

// ShareCounts is one share link's own tally, kept by its render's actor.
// LinkOpens equals Counts.Viewed: every view through a share is a link open.
type ShareCounts struct {
	Counts    RenderCounts `json:"counts"`
	LinkOpens int64        `json:"linkOpens"`
	Created   bool         `json:"-"` // a share_created for it was applied
	Revoked   bool         `json:"-"` // a share_revoked for it was applied
}

// shareRecord is the persisted form of one tracked share.
type shareRecord struct {
	ID      string       `json:"id"`
	Counts  RenderCounts `json:"counts"`
	Created bool         `json:"created,omitempty"`
	Revoked bool         `json:"revoked,omitempty"`
}

// shareRule applies the per-share rules to ev before it is counted, and
// reports whether ev may be recorded. The rules depend only on the log
// (the share's earlier events), so a replay decides the same:
//   - a share is created once and revoked once: a second share_created or
//     share_revoked for the same shareId is not counted, whether it comes from
//     a retried DELETE after JetStream's duplicate window or from an internal
//     publisher;
//   - once a share_revoked is applied, viewed/downloaded/printed through that
//     share are not counted (closes the race between the public page's
//     revocation check and its publish).
func (s *renderState) shareRule(ev *RenderEvent) bool {
	if ev.ShareID == nil || s.shares == nil {
		return true
	}
	sh, ok := s.shares.Peek(*ev.ShareID)
	if !ok {
		return true
	}
	switch {
	case ev.EventType == ShareCreated:
		return !sh.Created
	case ev.EventType == ShareRevoked:
		return !sh.Revoked
	case ev.EventType.deduped():
		return !sh.Revoked
	}
	return true
}

// countShare adds a recorded ev to its share's own tally.
func (s *renderState) countShare(ev *RenderEvent, i int) {
	if ev.ShareID == nil {
		return
	}
	if s.shares == nil {
		s.shares, _ = simplelru.NewLRU[string, *ShareCounts](MaxSharesTracked, nil) // only fails for size <= 0
	}
	sh, ok := s.shares.Get(*ev.ShareID)
	if !ok {
		sh = &ShareCounts{}
		s.shares.Add(*ev.ShareID, sh)
	}
	*sh.Counts.field(i)++
	switch ev.EventType {
	case Viewed:
		sh.LinkOpens++
	case ShareCreated:
		sh.Created = true
	case ShareRevoked:
		sh.Revoked = true
	}
}

// shareCounts returns a copy of every tracked share's tally.
func (s *renderState) shareCounts() map[string]ShareCounts {
	out := map[string]ShareCounts{}
	if s.shares == nil {
		return out
	}
	for _, id := range s.shares.Keys() {
		sh, _ := s.shares.Peek(id)
		out[id] = *sh
	}
	return out
}

// shareRecords lists the tracked shares least recently active first, so that
// restoring them in order rebuilds the same LRU order (and the same future
// evictions) as the live state.
func (s *renderState) shareRecords() []shareRecord {
	if s.shares == nil {
		return nil
	}
	out := make([]shareRecord, 0, s.shares.Len())
	for _, id := range s.shares.Keys() {
		sh, _ := s.shares.Peek(id)
		out = append(out, shareRecord{ID: id, Counts: sh.Counts, Created: sh.Created, Revoked: sh.Revoked})
	}
	return out
}

func (s *renderState) restoreShares(recs []shareRecord) {
	if len(recs) == 0 {
		return
	}
	s.shares, _ = simplelru.NewLRU[string, *ShareCounts](MaxSharesTracked, nil)
	for _, r := range recs {
		s.shares.Add(r.ID, &ShareCounts{Counts: r.Counts, LinkOpens: r.Counts.Viewed, Created: r.Created, Revoked: r.Revoked})
	}
}
