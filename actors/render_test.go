package actors

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 3, 10, 20, 0, 0, time.UTC)

func ev(id string, typ EventType, share, ip string, at time.Duration) RenderEvent {
	e := RenderEvent{ID: id, EventType: typ, ActorKind: Recipient, CreatedAt: NewTime(t0.Add(at))}
	if share != "" {
		e.ShareID = &share
	}
	if ip != "" {
		e.SourceIP = &ip
	}
	return e
}

func TestRenderDedupe(t *testing.T) {
	tests := []struct {
		name   string
		events []RenderEvent
		want   []bool
	}{
		{"same key inside window", []RenderEvent{ev("a", Viewed, "s1", "1.1.1.1", 0), ev("b", Viewed, "s1", "1.1.1.1", 4*time.Minute+59*time.Second)}, []bool{true, false}},
		{"same key at window end", []RenderEvent{ev("a", Viewed, "s1", "1.1.1.1", 0), ev("b", Viewed, "s1", "1.1.1.1", 5*time.Minute)}, []bool{true, true}},
		{"duplicate does not extend window", []RenderEvent{ev("a", Printed, "", "ip", 0), ev("b", Printed, "", "ip", 3*time.Minute), ev("c", Printed, "", "ip", 5*time.Minute)}, []bool{true, false, true}},
		{"other share", []RenderEvent{ev("a", Viewed, "s1", "ip", 0), ev("b", Viewed, "s2", "ip", time.Second)}, []bool{true, true}},
		{"other type", []RenderEvent{ev("a", Viewed, "s1", "ip", 0), ev("b", Downloaded, "s1", "ip", time.Second)}, []bool{true, true}},
		{"other ip", []RenderEvent{ev("a", Viewed, "s1", "ip1", 0), ev("b", Viewed, "s1", "ip2", time.Second)}, []bool{true, true}},
		{"email types are never deduped", []RenderEvent{ev("a", EmailOpened, "s1", "ip", 0), ev("b", EmailOpened, "s1", "ip", time.Second)}, []bool{true, true}},
		{"unknown type is ignored", []RenderEvent{ev("a", "liked", "", "", 0)}, []bool{false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newRenderState()
			for i, e := range tc.events {
				if got := s.apply(e); got != tc.want[i] {
					t.Fatalf("event %d: recorded = %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}

func TestRenderSummary(t *testing.T) {
	s := newRenderState()
	s.apply(ev("v1", Viewed, "s1", "ip1", 0))
	s.apply(ev("v2", Viewed, "", "ip1", time.Second)) // not a link open: no shareId
	s.apply(ev("d1", Downloaded, "s1", "ip1", 2*time.Second))
	s.apply(ev("e1", EmailSent, "", "", 3*time.Second))
	for i := 0; i < 30; i++ {
		s.apply(ev(fmt.Sprintf("o%d", i), EmailOpened, "", "", time.Duration(4+i)*time.Second))
	}
	sum := s.summary()
	want := RenderCounts{Viewed: 2, Downloaded: 1, EmailSent: 1, EmailOpened: 30}
	if sum.Counts != want || sum.Total != 34 || sum.LinkOpens != 1 {
		t.Fatalf("summary = %+v total %d linkOpens %d", sum.Counts, sum.Total, sum.LinkOpens)
	}
	if len(sum.Recent) != RecentLimit || sum.Recent[0].ID != "o29" || sum.Recent[24].ID != "o5" {
		t.Fatalf("recent: %d events, first %s, last %s", len(sum.Recent), sum.Recent[0].ID, sum.Recent[len(sum.Recent)-1].ID)
	}
	b, _ := json.Marshal(sum)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if len(m["counts"].(map[string]any)) != 7 {
		t.Fatalf("counts must always have seven keys: %s", b)
	}
	if got := m["recent"].([]any)[0].(map[string]any)["createdAt"]; got != "2026-05-03T10:20:33.000Z" {
		t.Fatalf("createdAt = %v", got)
	}
}

// A state restored from a snapshot must decide every later event exactly as
// the state that never stopped: counts, recent and dedupe verdicts.
func TestSnapshotRestoreIsExact(t *testing.T) {
	var events []RenderEvent
	types := []EventType{Viewed, Downloaded, Printed, EmailOpened}
	for i := 0; i < 400; i++ {
		events = append(events, ev(fmt.Sprintf("e%d", i), types[i%4], fmt.Sprintf("s%d", i%3), fmt.Sprintf("ip%d", i%5), time.Duration(i)*7*time.Second))
	}
	checkRestoreExact(t, events, []int{0, 1, 57, 200, 399})
}

// checkRestoreExact applies events[:cut] to a state, restores a second state
// from its snapshot, and requires both to decide events[cut:] alike and to
// end with the same summary and per-share counts.
func checkRestoreExact(t *testing.T, events []RenderEvent, cuts []int) {
	t.Helper()
	for _, cut := range cuts {
		live := newRenderState()
		for _, e := range events[:cut] {
			live.apply(e)
		}
		b, err := itemWith(live).encode()
		if err != nil {
			t.Fatal(err)
		}
		st, err := restoreState(b)
		if err != nil {
			t.Fatal(err)
		}
		restored := st.renders()
		for i, e := range events[cut:] {
			if a, b := live.apply(e), restored.apply(e); a != b {
				t.Fatalf("cut %d, event %d: live recorded %v, restored %v", cut, cut+i, a, b)
			}
		}
		if !reflect.DeepEqual(live.summary(), restored.summary()) {
			t.Fatalf("cut %d: summaries differ", cut)
		}
		if !reflect.DeepEqual(live.shareCounts(), restored.shareCounts()) {
			t.Fatalf("cut %d: share counts differ", cut)
		}
	}
}

func TestValidID(t *testing.T) {
	for _, s := range []string{"a", "cnt_abc-123", "0193c2c3-0000-7000-8000-000000000000"} {
		if !ValidID(s) {
			t.Errorf("ValidID(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a.b", "a*", ">", "a b", "é", string(make([]byte, MaxIDLen+1))} {
		if ValidID(s) {
			t.Errorf("ValidID(%q) = true", s)
		}
	}
}

func TestPartitionIsStable(t *testing.T) {
	k := ItemID{Project: "p", Item: "i"}
	// The partition picks the subject events were stored under; a change
	// here would strand every stored event.
	if got := k.Partition(32); got != k.Partition(32) || got < 0 || got >= 32 {
		t.Fatalf("partition %d", got)
	}
	if got, want := (ItemID{Project: "0193c2c3", Item: "r1"}).Partition(32), 2; got != want {
		t.Fatalf("Partition = %d, want %d (the hash must never change)", got, want)
	}
}
