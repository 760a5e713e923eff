package actors

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func sysEv(id string, typ EventType, share string, at time.Duration) RenderEvent {
	e := ev(id, typ, share, "", at)
	e.ActorKind = System
	return e
}

func TestShareRules(t *testing.T) {
	tests := []struct {
		name   string
		events []RenderEvent
		want   []bool
	}{
		{"revoked twice counts once", []RenderEvent{sysEv("c", ShareCreated, "s1", 0), sysEv("r1", ShareRevoked, "s1", time.Second), sysEv("r2", ShareRevoked, "s1", time.Hour)}, []bool{true, true, false}},
		{"created twice counts once", []RenderEvent{sysEv("c1", ShareCreated, "s1", 0), sysEv("c2", ShareCreated, "s1", time.Hour)}, []bool{true, false}},
		{"revoking one share leaves another", []RenderEvent{sysEv("r1", ShareRevoked, "s1", 0), sysEv("r2", ShareRevoked, "s2", 0)}, []bool{true, true}},
		{"recipient events after revoke are not counted", []RenderEvent{
			ev("v1", Viewed, "s1", "ip", 0), sysEv("r", ShareRevoked, "s1", time.Second),
			ev("v2", Viewed, "s1", "ip2", 2*time.Second), ev("d", Downloaded, "s1", "ip", 3*time.Second), ev("p", Printed, "s1", "ip", 4*time.Second),
			ev("o", EmailOpened, "s1", "ip", 5*time.Second), // the e-mail was opened; that still happened
			ev("v3", Viewed, "s2", "ip", 6*time.Second),
		}, []bool{true, true, false, false, false, true, true}},
		{"share events without a share id count", []RenderEvent{sysEv("c1", ShareCreated, "", 0), sysEv("c2", ShareCreated, "", 0)}, []bool{true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newRenderState()
			for i, e := range tc.events {
				if got := s.apply(e); got != tc.want[i] {
					t.Fatalf("event %d (%s): recorded = %v, want %v", i, e.ID, got, tc.want[i])
				}
			}
		})
	}
}

func TestShareCounts(t *testing.T) {
	s := newRenderState()
	s.apply(sysEv("c1", ShareCreated, "s1", 0))
	s.apply(ev("v1", Viewed, "s1", "ip1", time.Second))
	s.apply(ev("v2", Viewed, "s1", "ip1", 2*time.Second)) // deduped: not in the share's counts either
	s.apply(ev("v3", Viewed, "s1", "ip2", 3*time.Second))
	s.apply(ev("d1", Downloaded, "s2", "ip1", 4*time.Second))
	s.apply(ev("p0", Printed, "", "ip1", 5*time.Second)) // partner event: no share
	got := s.shareCounts()
	want := map[string]ShareCounts{
		"s1": {Counts: RenderCounts{ShareCreated: 1, Viewed: 2}, LinkOpens: 2, Created: true},
		"s2": {Counts: RenderCounts{Downloaded: 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("share counts = %+v, want %+v", got, want)
	}
	if sum := s.summary(); sum.LinkOpens != 2 || sum.Counts.Viewed != 2 || sum.Total != 5 {
		t.Fatalf("summary = %+v", sum)
	}
}

// Past MaxSharesTracked the least recently active share is forgotten, and
// memory stays bounded.
func TestShareTrackingIsBounded(t *testing.T) {
	s := newRenderState()
	for i := 0; i < MaxSharesTracked+10; i++ {
		s.apply(sysEv(fmt.Sprintf("c%d", i), ShareCreated, fmt.Sprintf("s%d", i), time.Duration(i)*time.Millisecond))
	}
	if n := s.shares.Len(); n != MaxSharesTracked {
		t.Fatalf("tracked %d shares, want %d", n, MaxSharesTracked)
	}
	if _, ok := s.shareCounts()["s0"]; ok {
		t.Fatal("the least recently active share was kept")
	}
	if _, ok := s.shareCounts()[fmt.Sprintf("s%d", MaxSharesTracked+9)]; !ok {
		t.Fatal("the newest share was dropped")
	}
}

// A state restored from a snapshot decides later share events exactly like
// the live state, including evictions.
func TestShareSnapshotRestoreIsExact(t *testing.T) {
	var events []RenderEvent
	for i := 0; i < MaxSharesTracked+300; i++ {
		share := fmt.Sprintf("s%d", i%(MaxSharesTracked+50))
		at := time.Duration(i) * time.Second
		switch i % 5 {
		case 0:
			events = append(events, sysEv(fmt.Sprintf("c%d", i), ShareCreated, share, at))
		case 1:
			events = append(events, ev(fmt.Sprintf("v%d", i), Viewed, share, fmt.Sprintf("ip%d", i%3), at))
		case 2:
			events = append(events, sysEv(fmt.Sprintf("r%d", i), ShareRevoked, share, at))
		case 3:
			events = append(events, ev(fmt.Sprintf("p%d", i), Printed, share, "ip", at))
		default:
			events = append(events, sysEv(fmt.Sprintf("r%d", i), ShareRevoked, fmt.Sprintf("s%d", i%7), at))
		}
	}
	checkRestoreExact(t, events, []int{0, 3, 500, MaxSharesTracked + 100})
}
