package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// drop removes message seq from the log, as an erasure's secure delete
// does: replays skip it from then on.
func (l *memLog) drop(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs[seq-1] = memMsg{payload: []byte{codecV1, 0, 0, 0}} // an empty message on no item's subject
}

// persist calls Persist until the partition's claim is made.
func (in *instance) persist(t *testing.T, k ItemID, through uint64, e *Erasure) uint64 {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		seq, err := in.Persist(context.Background(), k, through, e)
		if err == nil {
			return seq
		}
		if ErrorCode(err) != EUnavailable || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}

// An erasure's scrub goes through the actor and into the snapshot, the
// counts stay, and after its messages leave the log a restart replays to
// the same scrubbed state, byte for byte.
func TestPersistScrubSurvivesReplay(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	const email, user = "ada.erase@example.com", "user-erase-1"
	k := ItemID{Project: "p", Item: "r"}
	u := UserItemID("p", user)
	other := UserItemID("p", "user-keep")

	sent := ev("e1", EmailSent, "s1", "", time.Second)
	sent.ActorKind, sent.Metadata = System, json.RawMessage(`{"messageId":"m1","to":"`+email+`"}`)
	opened := ev("e2", EmailOpened, "s1", "10.0.0.9", 2*time.Second)
	opened.Metadata = json.RawMessage(`{"messageId":"m1"}`)
	var erased []uint64
	erased = append(erased, l.append(t, k, Message{Render: []RenderEvent{sent}}), l.append(t, k, Message{Render: []RenderEvent{opened}}))
	l.append(t, k, viewedFrom("10.0.0.1"))
	erased = append(erased, l.append(t, u, Message{User: []UserEvent{{ID: "x1", Type: Impression, ContentID: "c1", UserID: user, At: 1}}}))
	l.append(t, other, Message{User: []UserEvent{{ID: "y1", Type: Impression, ContentID: "c1", UserID: "user-keep", At: 1}}})

	a := startRegistry(t, l, s, time.Hour)
	ctx := context.Background()
	before, err := a.ReadJSON(ctx, k)
	if err != nil || !bytes.Contains(before, []byte(email)) {
		t.Fatalf("before: %s %v", before, err)
	}
	e := &Erasure{Project: "p", UserID: user, Needles: []string{user, "m1"}}
	e.Needles = append(e.Needles, email)
	for _, item := range []ItemID{k, u} {
		if seq := a.persist(t, item, 0, e); seq == 0 {
			t.Fatalf("%s: nothing written", item)
		}
	}
	for _, seq := range erased {
		l.drop(seq)
	}
	after, err := a.ReadJSON(ctx, k)
	if err != nil || bytes.Contains(after, []byte(email)) || bytes.Contains(after, []byte(`"m1"`)) || !bytes.Contains(after, []byte("10.0.0.1")) {
		t.Fatalf("after the scrub: %s %v", after, err)
	}
	var sb, sa RenderSummary
	json.Unmarshal(before, &sb)
	json.Unmarshal(after, &sa)
	if sb.Counts != sa.Counts || sb.Total != sa.Total || sb.LinkOpens != sa.LinkOpens {
		t.Fatalf("counts changed: %+v -> %+v", sb.Counts, sa.Counts)
	}
	if h, err := a.ReadUserHistory(ctx, u, 50); err != nil || len(h) != 0 {
		t.Fatalf("the erased user's history: %v %v", h, err)
	}
	s.mu.Lock()
	for _, item := range []ItemID{k, u} {
		if snap := s.snaps[item]; bytes.Contains(snap.State, []byte(email)) || bytes.Contains(snap.State, []byte(user)) {
			t.Fatalf("snapshot of %s holds the subject", item)
		}
	}
	s.mu.Unlock()
	a.stop()

	b := startRegistry(t, l, s, time.Hour)
	replayed, err := b.ReadJSON(ctx, k)
	if err != nil || !bytes.Equal(replayed, after) {
		t.Fatalf("after a restart:\n%s\nwant\n%s", replayed, after)
	}
	if h, err := b.ReadUserHistory(ctx, other, 50); err != nil || len(h) != 1 {
		t.Fatalf("the other user's history: %v %v", h, err)
	}
	if h, _ := b.ReadUserHistory(ctx, u, 50); len(h) != 0 {
		t.Fatalf("the erased user's history came back: %v", h)
	}
}

// dropRecent keeps the ring's order, before and after it wrapped.
func TestDropRecentKeepsOrder(t *testing.T) {
	for _, n := range []int{3, RecentLimit + 7} {
		s := newRenderState()
		for i := range n {
			s.pushJSON([]byte(`{"i":` + strings.Repeat("9", i%3) + string(rune('a'+i%26)) + `}`))
		}
		want := [][]byte{}
		for _, e := range s.recentNewestFirst() {
			if !bytes.Contains(e, []byte("b")) {
				want = append(want, e)
			}
		}
		s.dropRecent(func(b []byte) bool { return bytes.Contains(b, []byte("b")) })
		got := s.recentNewestFirst()
		if len(got) != len(want) {
			t.Fatalf("n=%d: %d kept, want %d", n, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("n=%d: entry %d is %s, want %s", n, i, got[i], want[i])
			}
		}
		s.pushJSON([]byte(`{"new":1}`))
		if string(s.recentNewestFirst()[0]) != `{"new":1}` {
			t.Fatalf("n=%d: a push after the drop is not the newest", n)
		}
	}
}

// RecentBefore drops recent events and history entries older than it, and
// nothing else: counts stay, newer entries stay in order.
func TestScrubRecentBefore(t *testing.T) {
	var st itemState
	r := st.get(famRender).(*renderState)
	for i := range 5 {
		r.apply(ev(fmt.Sprint("e", i), Viewed, "", fmt.Sprint("10.0.0.", i), time.Duration(i)*time.Minute))
	}
	u := st.get(famUser).(*userState)
	for i := range 4 {
		u.apply(&UserEvent{ID: fmt.Sprint("u", i), Type: Like, ContentID: "c", UserID: "x", At: t0.Add(time.Duration(i) * time.Minute).UnixMilli()})
	}
	e := &Erasure{RecentBefore: t0.Add(2*time.Minute + time.Second)}
	e.scrub(ItemID{Project: "p", Item: "r"}, &st)
	var ids []string
	for _, enc := range r.recentNewestFirst() {
		var ev RenderEvent
		json.Unmarshal(enc, &ev)
		ids = append(ids, ev.ID)
	}
	if fmt.Sprint(ids) != "[e4 e3]" || r.counts.Viewed != 5 {
		t.Fatalf("recent %v, viewed %d", ids, r.counts.Viewed)
	}
	if h := u.latest(50); len(h) != 1 || h[0].EventID != "u3" {
		t.Fatalf("history %v", h)
	}
}

// An instance's read-only copy of an item keeps what it read until it is
// dropped: after an erasure scrubbed the item on its owner (Persist there),
// DropCopy makes the copy's next read rebuild from the scrubbed snapshot.
// The owner's own state is the scrubbed one, and DropCopy leaves it alone.
func TestDropCopyAfterErasure(t *testing.T) {
	l, s := newMemLog(), newMemStore()
	k := ItemID{Project: "p", Item: "r"}
	owner := startRegistry(t, l, s, time.Hour)
	owner.deliver(t, l, l.append(t, k, viewedFrom("10.9.9.9")), 1)
	waitFor(t, "the claim", func() bool { return owner.owns(k) })
	copyOf := startRegistry(t, l, s, time.Hour) // never delivered to: a non-owner
	read := func(r *instance) string {
		t.Helper()
		b, err := r.ReadJSON(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if !strings.Contains(read(copyOf), "10.9.9.9") {
		t.Fatal("the copy does not hold the address before the erasure (the test proves nothing)")
	}
	if _, err := owner.Persist(context.Background(), k, 0, &Erasure{Project: "p", Needles: []string{"10.9.9.9"}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(read(owner), "10.9.9.9") {
		t.Fatal("the owner still holds the address")
	}
	if !strings.Contains(read(copyOf), "10.9.9.9") {
		t.Fatal("the copy lost the address without DropCopy (the test proves nothing)")
	}
	for _, r := range []*instance{owner, copyOf} {
		if err := r.DropCopy(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(copyOf); strings.Contains(got, "10.9.9.9") || !strings.Contains(got, `"viewed":1`) {
		t.Fatalf("the copy after DropCopy: %s", got)
	}
	if got := read(owner); strings.Contains(got, "10.9.9.9") || !strings.Contains(got, `"viewed":1`) {
		t.Fatalf("the owner after DropCopy: %s", got)
	}
}
