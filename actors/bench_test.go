package actors

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// The hot paths of a render: apply, summary encode, snapshot encode and
// decode (a render's and a content item's).
// go test -run '^$' -bench . -benchmem ./actors

func benchEvents(n int) []RenderEvent {
	out := make([]RenderEvent, n)
	for i := range out {
		out[i] = ev(fmt.Sprintf("e%d", i), RenderEventTypes[i%3], fmt.Sprintf("s%d", i%7), fmt.Sprintf("10.0.%d.%d", i/256%256, i%256), time.Duration(i)*time.Millisecond)
		out[i].Metadata = json.RawMessage(`{"source":"bench"}`)
	}
	return out
}

func BenchmarkRenderApply(b *testing.B) {
	events := benchEvents(4096)
	s := newRenderState()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.apply(events[i%len(events)])
	}
}

func BenchmarkRenderSummaryEncode(b *testing.B) {
	s := newRenderState()
	for _, e := range benchEvents(100) {
		s.apply(e)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(s.summary()); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRenderItem() *itemState {
	s := itemWith(newRenderState())
	for _, e := range benchEvents(1000) {
		s.renders().apply(e)
	}
	return s
}

// benchContentItem is a content item that saw 1,000 events of every
// documented type, spread over an hour.
func benchContentItem() *itemState {
	s := itemWith(newContentState())
	for i := range 1000 {
		s.contents().apply(&ContentEvent{ID: fmt.Sprintf("evt_%d", i), Type: ContentEventTypes[i%len(ContentEventTypes)],
			At: int64(1_780_000_000_000 + i*3600), Recv: int64(1_780_000_000_000 + i*3600), StartupMS: int64(i % 1500),
			WatchTime: float64(i%90) + 0.25, StallMS: int64(i % 700), Loops: int64(i % 3), Code: fmt.Sprintf("c%d", i%5)})
	}
	return s
}

func benchSnapshotEncode(b *testing.B, s *itemState) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSnapshotEncode(b *testing.B)        { benchSnapshotEncode(b, benchRenderItem()) }
func BenchmarkSnapshotEncodeContent(b *testing.B) { benchSnapshotEncode(b, benchContentItem()) }

func benchSnapshotDecode(b *testing.B, s *itemState) {
	raw, err := s.encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := restoreState(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSnapshotDecode(b *testing.B)        { benchSnapshotDecode(b, benchRenderItem()) }
func BenchmarkSnapshotDecodeContent(b *testing.B) { benchSnapshotDecode(b, benchContentItem()) }

func BenchmarkDecodeMessage(b *testing.B) {
	m := Message{Render: benchEvents(1)}
	raw, _ := m.Encode()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMessage(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDedupeSmall: the eventId set of a typical content item (10
// ids): heap per item, and the time to check an id it holds (a retry; a new
// id costs a full scan of the ring while it holds at most smallDedupe ids,
// a map lookup past that).
func BenchmarkDedupeSmall(b *testing.B) {
	const items, ids = 2000, 10
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sets := make([]*idDedupe, items)
	for i := range sets {
		sets[i] = newIDDedupe(ContentDedupeCapacity)
		for j := range ids {
			sets[i].seen(fmt.Sprintf("evt-%d-%d", i, j), int64(j))
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	retries := make([]string, items)
	for i := range retries {
		retries[i] = fmt.Sprintf("evt-%d-%d", i, i%ids)
	}
	b.ResetTimer()
	for n := 0; b.Loop(); n++ {
		if !sets[n%items].seen(retries[n%items], ids) {
			b.Fatal("a retry was not recognised")
		}
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/items, "heapB/item")
	runtime.KeepAlive(sets)
}
