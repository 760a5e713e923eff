package actors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"
)

// FuzzContentFigures applies arbitrary valid SDK events (every value inside
// the range the edge accepts) to one item and checks that every figure is
// finite and that the summary marshals: a figure of +Inf once made the
// item's read and live updates fail (issue 11, defect 1). The seeds, which
// `go test` runs, include the two reported cases.
func FuzzContentFigures(f *testing.F) {
	seed := func(steps ...any) []byte {
		var b []byte
		for _, s := range steps {
			switch v := s.(type) {
			case ContentEventType:
				b = append(b, byte(v.index()))
			case float64:
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
			case int:
				b = binary.LittleEndian.AppendUint64(b, uint64(v))
			}
		}
		return b
	}
	f.Add(seed(Completion, 5e-324, 0, Rebuffer, 86_400_000))
	f.Add(seed(Completion, 1e-308, 0, Rebuffer, 1, Rebuffer, 1))
	f.Add(seed(PlayStart, 250, Completion, 0.0, 0, Rebuffer, 1500))
	f.Add(seed(Swipe, 4.0e-320, Rebuffer, 86_400_000, PlayStart, 3_600_000))
	f.Add(seed(PlayStart, 0, Completion, 86_400.0, 1_000_000, Rebuffer, 86_400_000, WatchProgress))
	f.Add(seed(Completion, 0.9999999, 0, Rebuffer, 86_400_000))
	f.Add(seed(Completion, 1.0, 0, Rebuffer, 86_400_000))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := newContentState()
		for i := 0; len(b) > 0 && i < 10_000; i++ {
			ev := nextContentEvent(&b, i)
			s.apply(&ev)
			checkFinite(t, s.summary("cnt_fuzz"))
		}
	})
}

// nextContentEvent decodes one event from b: a type byte, then the 8-byte
// values that type carries, each folded into the range the edge accepts
// (transport/wire validates the same ranges).
func nextContentEvent(b *[]byte, i int) ContentEvent {
	u64 := func() uint64 {
		var buf [8]byte
		n := copy(buf[:], *b)
		*b = (*b)[n:]
		return binary.LittleEndian.Uint64(buf[:])
	}
	seconds := func() float64 { // 0–86,400, any float64 in it, subnormals included
		v := math.Float64frombits(u64())
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0
		}
		v = math.Abs(v)
		if v > 86_400 {
			v = math.Mod(v, 86_400)
		}
		return v
	}
	intIn := func(max uint64) int64 { return int64(u64() % (max + 1)) }

	typ := ContentEventTypes[int((*b)[0])%len(ContentEventTypes)]
	*b = (*b)[1:]
	at := recv0.Add(time.Duration(i) * time.Second).UnixMilli()
	ev := ContentEvent{ID: fmt.Sprintf("e%d", i), Type: typ, At: at, Recv: at}
	switch typ {
	case PlayStart:
		ev.StartupMS = intIn(3_600_000)
	case Completion:
		ev.WatchTime, ev.Loops = seconds(), intIn(1_000_000)
	case Swipe:
		// Half the swipes are the copy for the item swiped away from,
		// which carries the watch time.
		ev.WatchTime = seconds()
		if i%2 == 0 {
			ev.Role, ev.Other = RoleSwipeOut, "cnt_to"
		}
	case Rebuffer:
		ev.StallMS = intIn(86_400_000)
	case PlaybackError, SocialShare:
		ev.Code = fmt.Sprintf("c%d", u64()%100)
	}
	return ev
}

func checkFinite(t *testing.T, sum ContentSummary) {
	t.Helper()
	floats := map[string]*float64{
		"completionRate":      sum.CompletionRate,
		"watchTime.total":     &sum.WatchTime.Total,
		"watchTime.average":   sum.WatchTime.Average,
		"startupTime.average": sum.StartupTime.Average,
		"rebuffer.ratio":      sum.Rebuffer.Ratio,
		"rebuffer.frequency":  sum.Rebuffer.Frequency,
	}
	for name, v := range floats {
		if v != nil && (math.IsInf(*v, 0) || math.IsNaN(*v)) {
			t.Fatalf("%s = %v", name, *v)
		}
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatalf("summary does not marshal: %v", err)
	}
	if !json.Valid(b) {
		t.Fatalf("summary is not valid JSON: %s", b)
	}
}
