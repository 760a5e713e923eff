package actors

// erasure.go is what an erasure (docs/PRIVACY.md) does to an item's state:
// the rules that find one data subject's identifiers in it, and the scrub
// that removes them, run on the item's actor (actors own their state) by
// Registry.Persist, which then writes the scrubbed state as the item's
// snapshot.

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"
)

// Erasure names one data subject of one project, as the erasure job found
// it: the identifier the request gave (a userId, a deviceId or a share
// recipient's e-mail address) and every other string that marks the
// subject's events (for an e-mail address, the ids of the e-mails sent to
// it, which the tracking pixel's email_opened events carry).
type Erasure struct {
	Project string
	// UserID is set for an erasure by userId: that user's own state (its
	// item UserItemID) is reset.
	UserID string
	// Needles are the identifying strings, the identifier first. A recent
	// event, log message or webhook body that holds any of them, as bytes,
	// is the subject's. Matching bytes rather than fields finds an
	// identifier wherever a client put it (metadata, SDK data), and is
	// exactly what a scan of the stored files would find.
	Needles []string
	// RecentBefore, when not zero, also drops every recent event of a
	// render and every history entry of a user older than it: the log
	// retention sweep's age limit on recent events
	// (ENGAGED_RECENT_MAX_AGE), applied with the same scrub, so it reaches
	// the snapshot in the same step. Project and Needles are empty then.
	RecentBefore time.Time
}

// Matches reports whether b holds one of e's needles.
func (e *Erasure) Matches(b []byte) bool {
	for _, n := range e.Needles {
		if n != "" && bytes.Contains(b, []byte(n)) {
			return true
		}
	}
	return false
}

// scrub removes e's subject from st: the recent events that hold a needle,
// and, on the subject's own user item, the whole user state. Counts,
// series, sketches, share counts and dedupe entries stay: none holds an
// identifier (dedupe keys are share ids, event types and addresses or their
// keyed hashes; the content dedupe and the sketches hold 64-bit hashes).
func (e *Erasure) scrub(k ItemID, st *itemState) {
	if e.UserID != "" && k == UserItemID(e.Project, e.UserID) {
		st.fams[famUser] = nil // reset: the next event of the user starts it afresh
	}
	old := func([]byte) bool { return false }
	if !e.RecentBefore.IsZero() {
		before := e.RecentBefore.UnixMilli()
		old = func(enc []byte) bool {
			var ev struct {
				CreatedAt Time `json:"createdAt"`
			}
			return json.Unmarshal(enc, &ev) == nil && ev.CreatedAt.UnixMilli() < before
		}
		if u, ok := st.fams[famUser].(*userState); ok && u != nil {
			u.history = slices.DeleteFunc(u.history, func(h UserEvent) bool { return h.At < before })
		}
	}
	if r, ok := st.fams[famRender].(*renderState); ok && r != nil {
		r.dropRecent(func(enc []byte) bool { return e.Matches(enc) || old(enc) })
	}
}

// dropRecent removes the recent events whose JSON match says so, keeping
// the others in order.
func (s *renderState) dropRecent(match func([]byte) bool) {
	old := s.recentNewestFirst()
	kept := make([][]byte, 0, len(old))
	for i := len(old) - 1; i >= 0; i-- { // oldest first, the ring's order from head 0
		if !match(old[i]) {
			kept = append(kept, old[i])
		}
	}
	if len(kept) == len(old) {
		return
	}
	s.recentJSON, s.head = kept, 0
}

// ErasureRequest is an erasure as stored and shown (GET
// /v1/privacy/erasures/:id). Identifier is set only while it runs.
type ErasureRequest struct {
	ID              string   `json:"id"`
	ProjectID       string   `json:"-"`
	Kind            string   `json:"kind"` // userId, deviceId or email
	Identifier      string   `json:"-"`
	Needles         []string `json:"-"`
	ThroughSeq      uint64   `json:"-"`
	Attempts        int      `json:"-"`      // runs started, this one included
	Status          string   `json:"status"` // pending, running, done, failed
	Step            string   `json:"step"`
	ItemsTotal      int      `json:"itemsTotal"`
	ItemsDone       int      `json:"itemsDone"`
	MessagesDeleted int      `json:"messagesDeleted"`
	Error           *string  `json:"error"`
	CreatedAt       Time     `json:"createdAt"`
	FinishedAt      *Time    `json:"finishedAt"`
}

// Erasure kinds: the one identifier a request names.
const (
	EraseUserID   = "userId"
	EraseDeviceID = "deviceId"
	EraseEmail    = "email"
)
