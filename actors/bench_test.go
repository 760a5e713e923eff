package actors

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// The hot paths of a render: apply, summary encode, snapshot encode.
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

func BenchmarkSnapshotEncode(b *testing.B) {
	s := &itemState{render: newRenderState()}
	for _, e := range benchEvents(1000) {
		s.render.apply(e)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.encode(); err != nil {
			b.Fatal(err)
		}
	}
}

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
