package actors

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The hand-written encoder and encoding/json write the same document.
func TestRenderSummaryJSON(t *testing.T) {
	tricky := []string{"", "plain", `quo"te`, `back\slash`, "new\nline\ttab\r\x01\x1f\b\f\x7f", "<script>&amp;", "é ü 日本 🙂",
		"bad \xff utf8 \xc3", "line\u2028sep\u2029", "Mozilla/5.0 (X11; Linux x86_64)"}
	r := rand.New(rand.NewPCG(7, 8))
	for n := 0; n < 300; n++ {
		s := newRenderState()
		var recorded []RenderEvent // as applied: the state keeps only their encodings
		for i := r.IntN(40); i >= 0; i-- {
			e := ev(tricky[r.IntN(len(tricky))], RenderEventTypes[r.IntN(7)], tricky[r.IntN(len(tricky))], tricky[r.IntN(len(tricky))], time.Duration(r.IntN(1e6))*time.Millisecond)
			if r.IntN(2) == 0 {
				ua := tricky[r.IntN(len(tricky))]
				e.UserAgent = &ua
			}
			if r.IntN(2) == 0 {
				e.Metadata = json.RawMessage(`{"k":"v","n":[1,2,{"x":null}]}`)
			}
			if r.IntN(5) == 0 {
				e.ShareID = nil
			}
			if s.apply(e) {
				recorded = append(recorded, e)
			}
		}
		sum := RenderSummary{Counts: s.counts, LinkOpens: s.linkOpens, Total: s.counts.Total(), Uniques: s.c.renderUniques(), Recent: []RenderEvent{}}
		for i := len(recorded) - 1; i >= 0 && len(sum.Recent) < RecentLimit; i-- {
			sum.Recent = append(sum.Recent, recorded[i])
		}
		want, err := json.Marshal(sum)
		if err != nil {
			t.Fatal(err)
		}
		got := sum.AppendJSON(nil)
		if string(got) != string(want) {
			t.Fatalf("summary %d:\n got %s\nwant %s", n, got, want)
		}
		if cached := s.appendJSON(nil, 0, false); string(cached) != string(want) {
			t.Fatalf("summary %d from cached events:\n got %s\nwant %s", n, cached, want)
		}
		// A live update adds the newest buckets after the summary.
		cached := s.appendJSON(nil, 42, true)
		if i := bytes.LastIndex(cached, []byte(`],"series":{"minute":`)); i >= 0 && json.Valid(cached) {
			cached = append(cached[:i:i], "]}"...)
		} else if len(recorded) > 0 {
			t.Fatalf("update %d carries no series: %s", n, cached)
		}
		if direct := sum.appendJSONWithSeq(nil, 42); string(cached) != string(direct) {
			t.Fatalf("update %d from cached events:\n got %s\nwant %s", n, cached, direct)
		}
		withSeq := sum.appendJSONWithSeq(nil, 42)
		var a, b map[string]any
		if err := json.Unmarshal(withSeq, &a); err != nil {
			t.Fatalf("update is not JSON: %v\n%s", err, withSeq)
		}
		json.Unmarshal(want, &b)
		b["seq"] = float64(42)
		if !reflect.DeepEqual(a, b) || !strings.HasPrefix(string(withSeq), `{"seq":42,"counts":`) {
			t.Fatalf("update differs from summary plus seq:\n%s", withSeq)
		}
	}
}

func BenchmarkRenderSummaryAppendJSON(b *testing.B) {
	s := newRenderState()
	for _, e := range benchEvents(100) {
		s.apply(e)
	}
	sum := s.summary()
	buf := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = sum.AppendJSON(buf[:0])
	}
}

// What a read or a live update costs now: counts plus the 25 cached event
// encodings.
func BenchmarkRenderSummaryCachedJSON(b *testing.B) {
	s := newRenderState()
	for _, e := range benchEvents(100) {
		s.apply(e)
	}
	buf := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = s.appendJSON(buf[:0], 7, true)
	}
}
