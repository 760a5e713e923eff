package actors

import (
	"context"
	"testing"
	"time"
)

// A panic while an actor applies a message is contained to that item: the
// request that sent it gets an internal error, the process and the other
// items go on, the message is skipped (the state is rebuilt without it, so
// it is exactly every other message), later messages of the same item
// apply, and the panic is counted. It panics again in every rebuild, as a
// bug triggered by a message's content would.
func TestActorPanicContained(t *testing.T) {
	const poisonIP = "203.0.113.66"
	testHookApply = func(k ItemID, m *Message) {
		if len(m.Render) > 0 && m.Render[0].SourceIP != nil && *m.Render[0].SourceIP == poisonIP {
			panic("test: poison message")
		}
	}
	defer func() { testHookApply = nil }()

	l, s := newMemLog(), newMemStore()
	k := ItemID{Project: "p", Item: "r"}
	other := ItemID{Project: "p", Item: "other"}
	r := startRegistry(t, l, s, time.Hour)
	submit := func(k ItemID, id, ip string) error {
		sub := &Submission{Key: k, MsgID: id, Msg: viewedFrom(ip)}
		sub.Msg.Render[0].ID = id
		return r.Submit(context.Background(), sub)
	}
	for i, ip := range []string{"10.0.0.1", "10.0.0.2"} {
		if err := submit(k, string(rune('a'+i)), ip); err != nil {
			t.Fatal(err)
		}
	}
	if err := submit(k, "poison", poisonIP); ErrorCode(err) != EInternal {
		t.Fatalf("poison message: err = %v, want internal", err)
	}
	if r.Panics() == 0 {
		t.Fatal("the panic was not counted")
	}
	// The item is rebuilt without the poison message and goes on.
	if err := submit(k, "d", "10.0.0.4"); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
	if got := r.viewed(t, k); got != 3 {
		t.Fatalf("viewed = %d, want 3 (the poison message skipped, the others counted)", got)
	}
	if err := submit(other, "o", "10.0.0.9"); err != nil || r.viewed(t, other) != 1 {
		t.Fatalf("another item: %v", err)
	}

	// Delivered by a partition consumer, the poison message does not wedge
	// the item either, also in a fresh registry that replays it.
	r2 := startRegistry(t, l, newMemStore(), time.Hour)
	seq := l.append(t, k, viewedFrom(poisonIP))
	r2.deliver(t, l, seq, 1)
	r2.deliver(t, l, l.append(t, k, viewedFrom("10.0.0.5")), 2)
	waitFor(t, "the item to apply past the poison message", func() bool { return r2.viewed(t, k) == 4 })
	if r2.Panics() == 0 {
		t.Fatal("second registry: the panic was not counted")
	}
}
