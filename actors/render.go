package actors

import (
	"encoding/json"
	"fmt"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// EventType is one of the seven render engagement event types.
type EventType string

// The render event types, in the order the API lists its counters.
const (
	Viewed       EventType = "viewed"
	Downloaded   EventType = "downloaded"
	Printed      EventType = "printed"
	EmailOpened  EventType = "email_opened"
	EmailSent    EventType = "email_sent"
	ShareCreated EventType = "share_created"
	ShareRevoked EventType = "share_revoked"
)

// RenderEventTypes lists the seven types in counter order.
var RenderEventTypes = [...]EventType{Viewed, Downloaded, Printed, EmailOpened, EmailSent, ShareCreated, ShareRevoked}

func (t EventType) index() int {
	for i, v := range RenderEventTypes {
		if v == t {
			return i
		}
	}
	return -1
}

// Valid reports whether t is one of the seven types.
func (t EventType) Valid() bool { return t.index() >= 0 }

// PartnerType reports whether a partner may record t through
// POST /v1/renders/:id/events. The others are recorded by the system.
func (t EventType) PartnerType() bool { return t == Viewed || t == Downloaded || t == Printed }

// deduped reports whether t is subject to the 5-minute (shareId, eventType,
// sourceIp) rule.
func (t EventType) deduped() bool { return t == Viewed || t == Downloaded || t == Printed }

// ActorKind says who triggered a render event.
type ActorKind string

const (
	Recipient ActorKind = "recipient" // the share recipient, through the public share page or a pixel
	Partner   ActorKind = "partner"   // the API key holder, through the events endpoint
	System    ActorKind = "system"    // server-side automation (shares, e-mail)
)

// Valid reports whether k is a known actor kind.
func (k ActorKind) Valid() bool { return k == Recipient || k == Partner || k == System }

// RenderEvent is one render engagement event as it is stored in the log and
// shown in the engagement summary's recent list.
type RenderEvent struct {
	ID        string          `json:"id"`
	EventType EventType       `json:"eventType"`
	ActorKind ActorKind       `json:"actorKind"`
	ShareID   *string         `json:"shareId"`
	SourceIP  *string         `json:"sourceIp"`
	UserAgent *string         `json:"userAgent"`
	Metadata  json.RawMessage `json:"metadata"` // a JSON object, or null
	CreatedAt Time            `json:"createdAt"`
	// IPKey is a keyed hash of the full client address, set by the edge
	// when the project keeps less than the full address (IPCapture): the
	// dedupe rule then keys on it instead of SourceIP, so truncation does
	// not merge distinct clients. Carried in the log, never shown.
	IPKey string `json:"-"`
	// Visitor is the event's unique-visitor id, a keyed hash of (project,
	// full client address, user agent) under the project's salt of the day
	// (uniques.VisitorID), computed at the edge; 0 when the event has no
	// client address. Carried in the log, never shown; no raw address goes
	// into a sketch.
	Visitor uint64 `json:"-"`
	// Bot marks a request the edge judged to be a robot (crawler, link
	// unfurler, scanner, prefetch): served as usual, counted apart from
	// the humans' counters (botViews), never as the event. Carried in the
	// log, never shown.
	Bot bool `json:"-"`
}

// Render engagement rules from the API document.
const (
	RecentLimit       = 25            // recent events kept and shown, newest first
	DedupeWindowMS    = 5 * 60 * 1000 // viewed/downloaded/printed dedupe window
	DedupeCapacity    = 4096          // distinct (shareId, type, ip) keys remembered per render
	dedupeKeepExtraMS = 60 * 1000     // slack kept in snapshots for slightly out-of-order createdAt
)

// RenderCounts holds the seven counters. Field order is the API's key order,
// and every key is always present.
type RenderCounts struct {
	Viewed       int64 `json:"viewed"`
	Downloaded   int64 `json:"downloaded"`
	Printed      int64 `json:"printed"`
	EmailOpened  int64 `json:"email_opened"`
	EmailSent    int64 `json:"email_sent"`
	ShareCreated int64 `json:"share_created"`
	ShareRevoked int64 `json:"share_revoked"`
}

func (c *RenderCounts) field(i int) *int64 {
	return [...]*int64{&c.Viewed, &c.Downloaded, &c.Printed, &c.EmailOpened, &c.EmailSent, &c.ShareCreated, &c.ShareRevoked}[i]
}

// Total is the sum of all seven counters.
func (c RenderCounts) Total() int64 {
	return c.Viewed + c.Downloaded + c.Printed + c.EmailOpened + c.EmailSent + c.ShareCreated + c.ShareRevoked
}

// RenderSummary is the body of GET /v1/renders/:id/engagement.
type RenderSummary struct {
	Counts    RenderCounts `json:"counts"`
	LinkOpens int64        `json:"linkOpens"`
	Total     int64        `json:"total"`
	// BotViews counts robots' requests to the share page, download and
	// pixel: served, never counted as viewed, downloaded or email_opened.
	BotViews int64         `json:"botViews"`
	Uniques  RenderUniques `json:"uniques"`
	Recent   []RenderEvent `json:"recent"`
}

// renderState is the render half of an item's state. Only its actor touches it.
type renderState struct {
	counts    RenderCounts
	linkOpens int64
	botViews  int64 // robots' requests (RenderEvent.Bot), counted apart
	// recentJSON is a ring of up to RecentLimit events, grown on demand so
	// an item with few events costs little; recentJSON[(head-1) mod len] is
	// the newest. Each event is kept only as its JSON, encoded once when it
	// was recorded: reads and live updates copy bytes instead of encoding 25
	// events each time, snapshots copy the same bytes, and an item does not
	// also hold the decoded form (that doubled a render's memory).
	recentJSON [][]byte
	head       int
	// dedupe maps "shareId|type|ip" to the createdAt (ms) of the last
	// recorded event; created on the first deduped event. Bounded: past
	// DedupeCapacity distinct keys inside one window the least recently used
	// key is forgotten and its next event is recorded.
	dedupe *simplelru.LRU[string, int64]
	// newest createdAt applied, used to drop expired dedupe entries from snapshots
	maxAt int64
	// shares holds each share link's own counts (shares.go); nil until the
	// render sees an event with a shareId. Bounded by MaxSharesTracked.
	shares *simplelru.LRU[string, *ShareCounts]
	// c is the render's series (RenderMetrics) and its all-time viewers
	// (familyseries.go); events are filed at their createdAt.
	c components
}

func newRenderState() *renderState { return &renderState{c: newComponents(renderSpec)} }

func (s *renderState) comps() *components { return &s.c }

func (s *renderState) dedupeLRU() *simplelru.LRU[string, int64] {
	if s.dedupe == nil {
		s.dedupe, _ = simplelru.NewLRU[string, int64](DedupeCapacity, nil) // only fails for size <= 0
	}
	return s.dedupe
}

// push adds ev as the newest recent event.
func (s *renderState) push(ev *RenderEvent) { s.pushJSON(ev.appendJSON(nil)) }

// pushJSON adds an event's JSON encoding as the newest recent event. The
// bytes are never changed afterwards, so snapshots may share them.
func (s *renderState) pushJSON(enc []byte) {
	if len(s.recentJSON) < RecentLimit {
		s.recentJSON = append(s.recentJSON, enc)
		return
	}
	s.recentJSON[s.head] = enc
	s.head = (s.head + 1) % RecentLimit
}

// recentNewestFirst returns the recent events' encodings, newest first.
func (s *renderState) recentNewestFirst() [][]byte {
	n := len(s.recentJSON)
	out := make([][]byte, n)
	for i := range out {
		// Before the ring is full head is 0 and the newest is the last.
		out[i] = s.recentJSON[(s.head-1-i+n)%n]
	}
	return out
}

// jsonSize bounds the size of appendJSON's output.
func (s *renderState) jsonSize() int {
	n := 320 // counts, totals, seq and punctuation
	for _, e := range s.recentJSON {
		n += len(e) + 1
	}
	return n
}

// appendJSON appends the summary as JSON, with "seq" first if withSeq (a
// live update): the same document as RenderSummary.AppendJSON, from the
// events' cached encodings.
func (s *renderState) appendJSON(b []byte, seq uint64, withSeq bool) []byte {
	need := s.jsonSize()
	if withSeq {
		need += renderLiveKeys.size
	}
	if cap(b)-len(b) < need {
		b = append(make([]byte, 0, len(b)+need), b...) // one allocation, not a series of doublings
	}
	sum := RenderSummary{Counts: s.counts, LinkOpens: s.linkOpens, Total: s.counts.Total(), BotViews: s.botViews, Uniques: s.c.renderUniques()}
	if withSeq {
		b = sum.appendJSONWithSeq(b, seq)
	} else {
		b = sum.AppendJSON(b)
	}
	b = b[:len(b)-2] // reopen the empty "recent" array
	n := len(s.recentJSON)
	for i := 1; i <= n; i++ {
		if i > 1 {
			b = append(b, ',')
		}
		b = append(b, s.recentJSON[(s.head-i+n)%n]...)
	}
	b = append(b, ']')
	if withSeq { // a live update also carries the newest buckets (json.go)
		b = s.c.appendLive(b, renderLiveKeys)
	}
	return append(b, '}')
}

func dedupeKey(ev *RenderEvent) string {
	var share, ip string
	if ev.ShareID != nil {
		share = *ev.ShareID
	}
	if ev.SourceIP != nil {
		ip = *ev.SourceIP
	}
	if ev.IPKey != "" {
		// The project keeps less than the full address: key on the
		// edge's hash of it, so clients of one network stay apart. '#'
		// never starts an address, so the two kinds of key cannot meet.
		ip = "#" + ev.IPKey
	}
	return share + "|" + string(ev.EventType) + "|" + ip
}

// apply records ev unless the dedupe rule rejects it, and reports whether it
// was recorded. The decision uses only ev's own fields (server-stamped
// createdAt), never the clock, so a replay decides the same.
func (s *renderState) apply(ev RenderEvent) bool {
	i := ev.EventType.index()
	if i < 0 {
		return false // validated before publishing; a foreign message is ignored, not counted
	}
	if ev.Bot {
		s.botViews++ // never the event itself: no count, recent, dedupe entry or share count
		return false
	}
	at := ev.CreatedAt.UnixMilli()
	if at > s.maxAt {
		s.maxAt = at
	}
	if !s.shareRule(&ev) {
		return false
	}
	if ev.EventType.deduped() {
		k, lru := dedupeKey(&ev), s.dedupeLRU()
		if last, ok := lru.Get(k); ok && at-last < DedupeWindowMS {
			return false
		}
		lru.Add(k, at)
	}
	if string(ev.Metadata) == "null" {
		ev.Metadata = nil // decoded from the log or a snapshot; same meaning, one form
	}
	*s.counts.field(i)++
	if ev.EventType == Viewed && ev.ShareID != nil {
		s.linkOpens++
	}
	s.countShare(&ev, i)
	s.push(&ev)
	if sl, filed := s.c.at(at, s.maxAt, RenderLateness); filed {
		sl.Add(i, 1)
		if ev.Visitor != 0 && !ev.Bot {
			s.c.key(sl, true, 0, ev.Visitor)
		}
	} else if ev.Visitor != 0 && !ev.Bot {
		s.c.key(sl, false, 0, ev.Visitor)
	}
	return true
}

func emptyRenderSummary() RenderSummary { return RenderSummary{Recent: []RenderEvent{}} }

// summary returns the state as a RenderSummary, decoding the recent events
// from their JSON: for tests and tools; the service serves appendJSON.
func (s *renderState) summary() RenderSummary {
	recent := s.recentNewestFirst()
	out := RenderSummary{Counts: s.counts, LinkOpens: s.linkOpens, Total: s.counts.Total(), BotViews: s.botViews, Uniques: s.c.renderUniques(), Recent: make([]RenderEvent, len(recent))}
	for i, enc := range recent {
		if err := json.Unmarshal(enc, &out.Recent[i]); err != nil {
			panic(fmt.Sprintf("recent event encoding: %v", err)) // written by appendJSON; cannot fail
		}
		if string(out.Recent[i].Metadata) == "null" {
			out.Recent[i].Metadata = nil
		}
	}
	return out
}

// renderSnapshot is the persisted form of renderState.
type renderSnapshot struct {
	Counts    RenderCounts  `json:"counts"`
	LinkOpens int64         `json:"linkOpens"`
	Recent    []RenderEvent `json:"recent"` // newest first; the JSON form only (snapshots written before the binary one)
	// RecentJSON holds the recent events' JSON encodings, newest first: what
	// snapshot makes and the binary form stores.
	RecentJSON [][]byte       `json:"-"`
	Dedupe     []dedupeRecord `json:"dedupe"` // least recently used first
	MaxAt      int64          `json:"maxAt"`
	Shares     []shareRecord  `json:"shares,omitempty"` // least recently active first
	BotViews   int64          `json:"botViews,omitempty"`
	// Comps is the series and sketches, encoded (section version 2).
	Comps encoded     `json:"-"`
	comps *components // what restore reads from a version 2 body
}

type dedupeRecord struct {
	K  string `json:"k"`
	At int64  `json:"at"`
}

func (s *renderState) snapshot() *renderSnapshot {
	out := &renderSnapshot{Counts: s.counts, LinkOpens: s.linkOpens, RecentJSON: s.recentNewestFirst(), MaxAt: s.maxAt, Shares: s.shareRecords(), BotViews: s.botViews, Comps: s.c.encode()}
	var keys []string
	if s.dedupe != nil {
		keys = s.dedupe.Keys()
	}
	for _, k := range keys {
		at, _ := s.dedupe.Peek(k)
		// An entry older than the window can never dedupe a later event,
		// except one stamped a little earlier than maxAt; keep some slack.
		if s.maxAt-at < DedupeWindowMS+dedupeKeepExtraMS {
			out.Dedupe = append(out.Dedupe, dedupeRecord{k, at})
		}
	}
	return out
}

func restoreRender(snap *renderSnapshot) *renderState {
	s := newRenderState()
	s.counts, s.linkOpens, s.maxAt, s.botViews = snap.Counts, snap.LinkOpens, snap.MaxAt, snap.BotViews
	for i := min(len(snap.RecentJSON), RecentLimit) - 1; i >= 0; i-- {
		s.pushJSON(snap.RecentJSON[i])
	}
	for i := min(len(snap.Recent), RecentLimit) - 1; i >= 0; i-- { // an old JSON snapshot
		if string(snap.Recent[i].Metadata) == "null" {
			snap.Recent[i].Metadata = nil
		}
		s.push(&snap.Recent[i])
	}
	for _, d := range snap.Dedupe {
		s.dedupeLRU().Add(d.K, d.At)
	}
	s.restoreShares(snap.Shares)
	if snap.comps != nil {
		s.c = *snap.comps
	}
	return s
}
