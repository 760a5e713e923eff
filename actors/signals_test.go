package actors

import "testing"

func TestSignals(t *testing.T) {
	s := newContentState()
	evs := []ContentEvent{
		{ID: "p1", Type: PlayStart}, {ID: "p2", Type: PlayStart}, {ID: "p3", Type: PlayStart}, {ID: "p4", Type: PlayStart},
		{ID: "c1", Type: Completion, WatchTime: 30}, {ID: "r1", Type: Rebuffer, StallMS: 1500},
		{ID: "l1", Type: Like}, {ID: "l2", Type: Like}, {ID: "s1", Type: Save}, {ID: "sh", Type: SocialShare, Code: "x"},
	}
	for i := range evs {
		s.apply(&evs[i])
	}
	sum := s.summary("c")
	g := Signals(&sum, WindowAll)
	eq := func(name string, got *float64, want float64) {
		if got == nil || *got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	eq("completionRate", g.CompletionRate, 0.25)
	eq("rebufferRatio", g.RebufferRatio, 0.05)
	eq("likesPerPlay", g.LikesPerPlay, 0.5)
	eq("savesPerPlay", g.SavesPerPlay, 0.25)
	eq("sharesPerPlay", g.SharesPerPlay, 0.25)
	if g.Plays != 4 || g.Window != WindowAll || g.ContentID != "c" || g.WatchFraction != nil || g.SwipeAwayRate != nil {
		t.Fatalf("%+v", g)
	}
	empty := newContentState().summary("e")
	if g := Signals(&empty, WindowAll); g.CompletionRate != nil || g.LikesPerPlay != nil || g.RebufferRatio != nil {
		t.Fatalf("no plays: %+v", g)
	}
}
