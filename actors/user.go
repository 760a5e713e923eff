package actors

// user.go is the user family's rules: per (project, userId), which contents
// the user has seen and the user's latest interactions, fed by every SDK
// event that carries a userId (docs/USERS.md). The edge publishes one log
// message per user per request to the user's item (UserItemID), holding a
// UserEvent per event.

import (
	"crypto/sha256"
	"encoding/base32"
	"hash/fnv"
	"slices"
	"strings"
)

// UserItem is the item kind of a user's state.
const UserItem = "user"

// Bounds of a user's state. Memory per user is at most about
// 8·MaxExactSeen + 2·bloomBits/8 + MaxHistory·(56 + the ids' lengths) bytes:
// 4 KB + 12 KB + 50·~190 B with 64-character ids; TestUserMemoryBound
// measures 28 KB for a full user and holds it under 32 KB.
const (
	// MaxExactSeen is how many distinct contents a user's state remembers
	// exactly: the most recently seen ones. Older ones move to the Bloom
	// filters.
	MaxExactSeen = 512
	// MaxHistory is how many of a user's latest events history keeps.
	MaxHistory = 50

	// Each Bloom generation holds bloomCapacity contents in bloomBits bits
	// with bloomHashes probes: a false-positive rate of
	// (1 − e^(−k·n/m))^k = 0.32 % when full, so at most 0.63 % for the two
	// generations a lookup consults (TestBloomFalsePositiveRate measures
	// it). When the newer generation is full the older is dropped: a user
	// remembers at least MaxExactSeen + bloomCapacity contents, and up to
	// MaxExactSeen + 2·bloomCapacity.
	bloomCapacity = 4096
	bloomBits     = 49152 // 768 words, 6 KB
	bloomHashes   = 8
)

// UserItemID returns the item that holds user userID's state in project:
// "u_" and the base32 of the first 20 bytes of the SHA-256 of the userId (a
// userId may hold any character; an item id reaches NATS subjects). 160 bits
// make a collision of two users' items out of reach.
func UserItemID(project, userID string) ItemID {
	h := sha256.Sum256([]byte(userID))
	return ItemID{Project: project, Item: "u_" + userEnc.EncodeToString(h[:20])}
}

var userEnc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// UserEvent is one SDK event as a user's log message holds it: the little
// the user's state needs of it.
type UserEvent struct {
	ID        string           `json:"id"` // the event's eventId: history drops a repeat of an event it holds
	Type      ContentEventType `json:"type"`
	ContentID string           `json:"contentId"` // for a swipe, the content swiped to
	UserID    string           `json:"userId"`
	At        int64            `json:"at"` // event time, Unix ms, as the content's log message holds it
}

// ContentHash is the 64-bit hash under which a user's state remembers a
// content id: FNV-1a, then the splitmix64 finalizer to spread its bits over
// the Bloom probes. It is fixed: snapshots hold these hashes.
func ContentHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return mix64(h.Sum64())
}

// ContentHashBytes is ContentHash of an id still in its request body: a
// seen query hashes 500 of them without making a string of each.
func ContentHashBytes(id []byte) uint64 {
	h := fnv.New64a()
	h.Write(id)
	return mix64(h.Sum64())
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Interaction reports whether events of type t feed a user's state: every
// type but playback telemetry (watchProgress, rebuffer, qualityChange,
// error), which a player sends every few seconds and which would push the
// user's actual interactions out of the history. Custom types are
// interactions.
func (t ContentEventType) Interaction() bool {
	switch t {
	case WatchProgress, Rebuffer, QualityChange, PlaybackError:
		return false
	}
	return true
}

// seenType: events of these types feed a user's seen set.
func seenType(t ContentEventType) bool { return t == Impression || t == PlayStart }

// bloom is one generation of a user's seen filter.
type bloom struct {
	n    int // contents added
	bits []uint64
}

func newBloom() *bloom { return &bloom{bits: make([]uint64, bloomBits/64)} }

// probes calls f with each of h's bloomHashes bit positions (double
// hashing, Kirsch and Mitzenmacher).
func probes(h uint64, f func(i uint32) bool) bool {
	h1, h2 := uint32(h), uint32(h>>32)|1
	for i := range uint32(bloomHashes) {
		if !f((h1 + i*h2) % bloomBits) {
			return false
		}
	}
	return true
}

func (b *bloom) add(h uint64) {
	probes(h, func(i uint32) bool { b.bits[i/64] |= 1 << (i % 64); return true })
	b.n++
}

func (b *bloom) has(h uint64) bool {
	return probes(h, func(i uint32) bool { return b.bits[i/64]&(1<<(i%64)) != 0 })
}

// userState is one user's state. Only its actor touches it.
type userState struct {
	userID string
	// exact holds the content hashes of the latest MaxExactSeen distinct
	// contents seen, least recently seen first.
	exact []uint64
	// old and cur are the Bloom generations contents leave exact for;
	// nil until the first leaves. cur takes additions; when it holds
	// bloomCapacity it becomes old, and the previous old is dropped.
	old, cur *bloom
	// history holds the latest MaxHistory events by event time, oldest
	// first; events of equal time in log order.
	history []UserEvent
}

func newUserState() *userState { return &userState{} }

func (s *userState) apply(e *UserEvent) bool {
	if s.userID == "" {
		s.userID = e.UserID
	}
	if seenType(e.Type) {
		s.see(ContentHash(e.ContentID))
	}
	return s.remember(e)
}

// see makes h the most recently seen content.
func (s *userState) see(h uint64) {
	if i := slices.Index(s.exact, h); i >= 0 {
		copy(s.exact[i:], s.exact[i+1:])
		s.exact[len(s.exact)-1] = h
		return
	}
	if len(s.exact) == MaxExactSeen {
		s.forget(s.exact[0])
		copy(s.exact, s.exact[1:])
		s.exact[len(s.exact)-1] = h
		return
	}
	s.exact = append(s.exact, h)
}

// forget moves h from the exact window to the Bloom filters.
func (s *userState) forget(h uint64) {
	if s.cur == nil {
		s.cur = newBloom()
	}
	if s.cur.n == bloomCapacity {
		s.old, s.cur = s.cur, newBloom()
	}
	s.cur.add(h)
}

// Seen reports whether the user has seen content h: never false for a
// content seen within the exact window, nor for one in the Bloom filters;
// true for an unseen content with the filters' false-positive rate.
func (s *userState) seen(h uint64) bool {
	return slices.Contains(s.exact, h) || s.cur != nil && s.cur.has(h) || s.old != nil && s.old.has(h)
}

// remember adds e to the history, unless it holds e's eventId already (a
// request retried past the log's duplicate window) or e is older than every
// event of a full history. It reports whether e was added.
func (s *userState) remember(e *UserEvent) bool {
	for i := range s.history {
		if s.history[i].ID == e.ID {
			return false
		}
	}
	// After the last event not newer than e: equal times keep log order.
	i := len(s.history)
	for i > 0 && s.history[i-1].At > e.At {
		i--
	}
	if len(s.history) == MaxHistory {
		if i == 0 {
			return false
		}
		copy(s.history, s.history[1:i])
		i--
		s.history[i] = s.copyEvent(e)
		return true
	}
	s.history = slices.Insert(s.history, i, s.copyEvent(e))
	return true
}

// copyEvent is e as the history keeps it: the userId is the state's, and
// its strings are its own, not slices of a log message.
func (s *userState) copyEvent(e *UserEvent) UserEvent {
	return UserEvent{ID: strings.Clone(e.ID), Type: ContentEventType(strings.Clone(string(e.Type))), ContentID: strings.Clone(e.ContentID), At: e.At}
}

// UserHistoryEvent is one event of GET /v1/users/:userId/history.
type UserHistoryEvent struct {
	EventID   string `json:"eventId"`
	Type      string `json:"type"`
	ContentID string `json:"contentId"`
	Timestamp Time   `json:"timestamp"`
}

// latest returns up to limit of the history's events, newest first.
func (s *userState) latest(limit int) []UserHistoryEvent {
	out := make([]UserHistoryEvent, 0, min(limit, len(s.history)))
	for i := len(s.history) - 1; i >= 0 && len(out) < limit; i-- {
		e := &s.history[i]
		out = append(out, UserHistoryEvent{EventID: e.ID, Type: string(e.Type), ContentID: e.ContentID, Timestamp: UnixMilli(e.At)})
	}
	return out
}
