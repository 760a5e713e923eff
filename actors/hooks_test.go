package actors

import (
	"os"
	"strings"
	"testing"
	"time"
)

// A message with an IPKey or a robot's event is codecV2 and carries both;
// every other message keeps the codecV1 bytes.
func TestCodecV2RenderExtras(t *testing.T) {
	plain := Message{Ref: "r", Render: []RenderEvent{ev("a", Viewed, "s", "203.0.113.7", 0)}}
	b, _ := plain.Encode()
	if b[0] != codecV1 {
		t.Fatalf("a message without extras is %#x, want codecV1", b[0])
	}
	withKey := ev("b", Viewed, "s", "203.0.113.0", 0)
	withKey.IPKey = "k1"
	bot := ev("c", Downloaded, "s", "", 0)
	bot.Bot = true
	m := Message{Ref: "r2", Render: []RenderEvent{withKey, bot, ev("d", Printed, "", "", 0)}, Content: []ContentEvent{{ID: "x", Type: Like}}}
	b, _ = m.Encode()
	if b[0] != codecV2 {
		t.Fatalf("version %#x, want codecV2", b[0])
	}
	got, err := DecodeMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Render) != 3 || got.Render[0].IPKey != "k1" || got.Render[0].Bot || !got.Render[1].Bot || got.Render[1].IPKey != "" ||
		got.Render[2].Bot || got.Render[2].IPKey != "" || len(got.Content) != 1 || got.Content[0].ID != "x" {
		t.Fatalf("decoded %+v", got)
	}
	// An unknown flag: TestCodecRenderExtension.
}

// A robot's request counts in botViews only: no counter, no recent event,
// no dedupe entry, no share count; the summary shows it.
func TestBotViews(t *testing.T) {
	s := newRenderState()
	s.apply(ev("person", Viewed, "s", "203.0.113.7", 0))
	for i, typ := range []EventType{Viewed, Downloaded, EmailOpened} {
		b := ev(strings.Repeat("b", i+1), typ, "s", "203.0.113.9", time.Duration(i)*time.Second)
		b.Bot = true
		if s.apply(b) {
			t.Fatal("a robot's event was recorded")
		}
	}
	sum := s.summary()
	if sum.BotViews != 3 || sum.Counts != (RenderCounts{Viewed: 1}) || len(sum.Recent) != 1 || sum.LinkOpens != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if c := s.shareCounts()["s"]; c.Counts.Viewed != 1 || c.Counts.Downloaded != 0 {
		t.Fatalf("share counts %+v", c)
	}
	// The person behind the robot's address is not deduped by it.
	if !s.apply(ev("later", Viewed, "s", "203.0.113.9", 10*time.Second)) {
		t.Fatal("a robot left a dedupe entry")
	}
	if j := string(s.appendJSON(nil, 0, false)); !strings.Contains(j, `"total":2,"botViews":3,"uniques":`) {
		t.Fatalf("JSON %s", j)
	}
}

// With an IPKey, dedupe keys on it: two clients of one truncated network
// are two views, the same client twice is one.
func TestDedupeOnIPKey(t *testing.T) {
	s := newRenderState()
	mk := func(id, key string, at time.Duration) RenderEvent {
		e := ev(id, Viewed, "s", "203.0.113.0", at)
		e.IPKey = key
		return e
	}
	for _, tc := range []struct {
		e    RenderEvent
		want bool
	}{
		{mk("1", "client-a", 0), true},
		{mk("2", "client-b", time.Second), true},
		{mk("3", "client-a", 2*time.Second), false},
		{ev("4", Viewed, "s", "203.0.113.0", 3*time.Second), true}, // no key: the address, a different key
	} {
		if got := s.apply(tc.e); got != tc.want {
			t.Fatalf("event %s: recorded %v, want %v", tc.e.ID, got, tc.want)
		}
	}
}

// botViews survives a snapshot, and a render section of version 1
// (written before botViews) restores with 0.
func TestBotViewsSnapshot(t *testing.T) {
	var st itemState
	r := newRenderState()
	st.fams[famRender] = r
	r.apply(ev("p", Viewed, "s", "203.0.113.7", 0))
	for i := range 4 {
		b := ev(string(rune('a'+i)), Viewed, "s", "", 0)
		b.Bot = true
		r.apply(b)
	}
	got := mustRestore(t, mustEncode(t, &st))
	if v := got.renders().summary().BotViews; v != 4 {
		t.Fatalf("restored botViews %d", v)
	}

	// A snapshot written before botViews (the old encoder's fixture)
	// restores with 0.
	enc, err := os.ReadFile("testdata/snapshot_v1_render.bin")
	if err != nil {
		t.Fatal(err)
	}
	if sum := mustRestore(t, enc).renders().summary(); sum.BotViews != 0 || sum.Counts.Total() == 0 {
		t.Fatalf("version 1 section: %+v", sum)
	}
}
