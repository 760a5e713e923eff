package actors

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
)

func userEvents(user string, n, from int, typ ContentEventType) []UserEvent {
	out := make([]UserEvent, n)
	for i := range out {
		out[i] = UserEvent{ID: fmt.Sprintf("evt_%s_%d_%s", user, from+i, typ), Type: typ, ContentID: "cnt_" + strconv.Itoa(from+i), UserID: user, At: 1_780_000_000_000 + int64(from+i)}
	}
	return out
}

func applyUser(s *userState, evs []UserEvent) {
	s.applyEvents(&Message{User: evs}, nil)
}

func TestUserItemID(t *testing.T) {
	for _, u := range []string{"user_123", "a.b*c > d", "é", string(make([]byte, 256))} {
		k := UserItemID("p", u)
		if !ValidID(k.Item) || k != UserItemID("p", u) {
			t.Fatalf("%q: item %q", u, k.Item)
		}
	}
	if UserItemID("p", "a") == UserItemID("p", "b") {
		t.Fatal("two users share an item")
	}
}

// Every content seen is reported seen, within the exact window and past it
// (the Bloom filters have no false negatives while they hold it).
func TestUserSeenNoFalseNegatives(t *testing.T) {
	s := newUserState()
	n := MaxExactSeen + bloomCapacity // all still remembered
	applyUser(s, userEvents("u", n, 0, Impression))
	applyUser(s, userEvents("u", 10, 0, Like)) // history only: changes nothing seen
	for i := range n {
		if !s.seen(ContentHash("cnt_" + strconv.Itoa(i))) {
			t.Fatalf("content %d of %d not seen", i, n)
		}
	}
	if len(s.exact) != MaxExactSeen || s.cur == nil || s.cur.n != bloomCapacity || s.old != nil {
		t.Fatalf("exact %d, bloom %+v", len(s.exact), s.cur)
	}
	// The exact window is the latest distinct contents: seeing an old one
	// again moves it to the end.
	applyUser(s, userEvents("u", 1, 0, PlayStart))
	if s.exact[len(s.exact)-1] != ContentHash("cnt_0") {
		t.Fatal("a content seen again is not the newest of the window")
	}
}

// The measured false-positive rate of a user whose filters are full (both
// generations) is at most 1 %, as docs/USERS.md states.
func TestBloomFalsePositiveRate(t *testing.T) {
	s := newUserState()
	n := MaxExactSeen + 2*bloomCapacity
	applyUser(s, userEvents("u", n, 0, Impression))
	if s.old == nil || s.old.n != bloomCapacity || s.cur.n != bloomCapacity {
		t.Fatalf("filters not full: old %v cur %d", s.old != nil, s.cur.n)
	}
	const probes = 200_000
	fp := 0
	for i := range probes {
		if s.seen(ContentHash("never_" + strconv.Itoa(i))) {
			fp++
		}
	}
	rate := float64(fp) / probes
	t.Logf("false positives: %d of %d unseen contents = %.3f %%", fp, probes, 100*rate)
	if rate > 0.01 {
		t.Fatalf("false-positive rate %.3f %% > 1 %%", 100*rate)
	}
	// One more content drops the older generation: the oldest are forgotten
	// (allowed: they are outside the exact window), the newest still seen.
	applyUser(s, userEvents("u", 1, n, Impression))
	if !s.seen(ContentHash("cnt_"+strconv.Itoa(n))) || !s.seen(ContentHash("cnt_"+strconv.Itoa(n-MaxExactSeen-bloomCapacity))) {
		t.Fatal("a remembered content is not seen")
	}
}

// The memory of a user's state stays bounded however many events it gets.
func TestUserMemoryBound(t *testing.T) {
	const users = 20
	long := string(bytes.Repeat([]byte("x"), 64)) // the longest eventId and contentId the edge admits (ValidID)
	fill := func() *userState {
		s := newUserState()
		for i := range 3 * (MaxExactSeen + 2*bloomCapacity) {
			id := strconv.Itoa(i)
			s.apply(&UserEvent{ID: long[len(id):] + id, Type: Impression, ContentID: long[len(id):] + id, UserID: long, At: int64(i)})
		}
		return s
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	states := make([]*userState, users)
	for i := range states {
		states[i] = fill()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (after.HeapAlloc - before.HeapAlloc) / users
	t.Logf("memory per full user: %d B (%d users)", per, users)
	const bound = 32 << 10 // docs/USERS.md
	if per > bound {
		t.Fatalf("a full user holds %d B > %d B", per, bound)
	}
	runtime.KeepAlive(states)
}

// History keeps the latest MaxHistory events by event time, newest first,
// and drops a repeat of an event it holds.
func TestUserHistory(t *testing.T) {
	s := newUserState()
	r := rand.New(rand.NewPCG(5, 6))
	evs := userEvents("u", 3*MaxHistory, 0, Like)
	r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	for i := range evs {
		s.apply(&evs[i])
	}
	if s.apply(&evs[len(evs)-1]) {
		t.Fatal("a repeated event was added")
	}
	got := s.latest(1000)
	if len(got) != MaxHistory {
		t.Fatalf("%d events", len(got))
	}
	for i, e := range got {
		want := 3*MaxHistory - 1 - i
		if e.ContentID != "cnt_"+strconv.Itoa(want) || e.Type != string(Like) {
			t.Fatalf("event %d: %+v, want cnt_%d", i, e, want)
		}
	}
	if n := len(s.latest(7)); n != 7 {
		t.Fatalf("limit 7: %d", n)
	}
	if s.userID != "u" {
		t.Fatalf("userId %q", s.userID)
	}
}

// Replaying the same log gives byte-identical snapshots, a restored state
// encodes to the same bytes, and applying the rest after a restore ends
// where applying everything does.
func TestUserSnapshotReplay(t *testing.T) {
	var msgs []*Message
	r := rand.New(rand.NewPCG(7, 8))
	types := []ContentEventType{Impression, PlayStart, Like, Swipe, Completion}
	for i := range 400 {
		m := &Message{}
		for j := range 1 + r.IntN(40) {
			c := r.IntN(20_000)
			m.User = append(m.User, UserEvent{ID: fmt.Sprintf("e%d_%d", i, j), Type: types[r.IntN(len(types))], ContentID: "c" + strconv.Itoa(c), UserID: "user 1", At: int64(r.IntN(1 << 30))})
		}
		msgs = append(msgs, m)
	}
	enc := func(s *itemState) []byte { return mustEncode(t, s) }
	run := func(st *itemState, ms []*Message) {
		for _, m := range ms {
			st.applyEvents(m, true)
		}
	}
	a, b := &itemState{}, &itemState{}
	run(a, msgs)
	run(b, msgs)
	full := enc(a)
	if !bytes.Equal(full, enc(b)) {
		t.Fatal("two replays encode differently")
	}
	if !bytes.Equal(enc(mustRestore(t, full)), full) {
		t.Fatal("a restored state encodes differently")
	}
	half := &itemState{}
	run(half, msgs[:200])
	resumed := mustRestore(t, enc(half))
	run(resumed, msgs[200:])
	if !bytes.Equal(enc(resumed), full) {
		t.Fatal("restore then the rest differs from the whole")
	}
	if resumed.live() != -1 {
		t.Fatal("a user's state would be published as a live update")
	}
	// Every strict prefix of the section is refused.
	for cut := 1; cut < len(full); cut += 1 + len(full)/64 {
		if _, err := restoreState(full[:cut]); err == nil {
			t.Fatalf("prefix %d/%d restored", cut, len(full))
		}
	}
}

// Only a message with user events is written as codecV3, the one form
// with a user section; any other keeps its older bytes. A codecV3 message
// cut before its user section is malformed.
func TestCodecUserSection(t *testing.T) {
	m := &Message{Ref: "r", Content: snapContentEvents(3, 0)}
	b, _ := m.Encode()
	if b[0] != codecV1 {
		t.Fatalf("a content message is written as %#x", b[0])
	}
	m.User = userEvents("u", 2, 0, Like)
	b, _ = m.Encode()
	got, err := DecodeMessage(b)
	if b[0] != codecV3 || err != nil || len(got.User) != 2 || len(got.Content) != 3 {
		t.Fatalf("%#x %+v %v", b[0], got, err)
	}
	// The shortest cut that drops the user section: its count, then two
	// events.
	noUsers := &Message{Ref: "r", Content: m.Content}
	nb, _ := noUsers.Encode()
	cut := append([]byte{codecV3}, nb[1:]...)
	if _, err := DecodeMessage(cut); err == nil {
		t.Fatal("a codecV3 message without its user section decoded")
	}
}

// BenchmarkUserSeen500 is one POST /v1/users/:userId/seen of 500 ids
// against a full user (exact window and both Bloom generations full), as the
// actor runs it: hash the ids, then look each up.
func BenchmarkUserSeen500(b *testing.B) {
	s := newUserState()
	applyUser(s, userEvents("u", MaxExactSeen+2*bloomCapacity, 0, Impression))
	ids := make([]string, MaxSeenQuery)
	for i := range ids {
		ids[i] = "cnt_" + strconv.Itoa(i*17)
	}
	out := make([]bool, len(ids))
	b.ReportAllocs()
	for b.Loop() {
		for i, id := range ids {
			out[i] = s.seen(ContentHash(id))
		}
	}
}

// BenchmarkUserApply is one SDK event's work in a user's actor.
func BenchmarkUserApply(b *testing.B) {
	s := newUserState()
	evs := userEvents("u", 1<<16, 0, Impression)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.apply(&evs[i%len(evs)])
		i++
	}
}

// ContentHashBytes and ContentHash agree: the edge hashes the ids of a seen
// query from the body's bytes, the actor the ids of events as strings.
func TestContentHashBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 5000 {
		b := make([]byte, n%80)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := ContentHashBytes(b), ContentHash(string(b)); got != want {
			t.Fatalf("ContentHashBytes(%q) = %x, ContentHash %x", b, got, want)
		}
	}
}

// The snapshot section of a user with one impression, and of one whose
// filters are in use: what a snapshot round allocates per dirty user.
// go test -run '^$' -bench UserSection -benchmem ./actors
func BenchmarkUserSection(b *testing.B) {
	for _, n := range []int{1, MaxExactSeen + 100} {
		s := newUserState()
		applyUser(s, userEvents("u", n, 0, Impression))
		b.Run(fmt.Sprintf("seen=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				size = s.section().sizeHint()
			}
			b.ReportMetric(float64(size), "bytes/section")
		})
	}
}
