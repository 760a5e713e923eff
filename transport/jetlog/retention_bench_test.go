package jetlog

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// The scans behind the retention sweep (OlderThan, headers only) and the
// erasure (Find, payloads): messages read per second over a log of 20,000
// messages of 1,000 items, on the embedded server.
//
//	go test -run '^$' -bench 'Benchmark(OlderThan|Find)' -benchtime 5x ./transport/jetlog
func benchLog(b *testing.B) *Log {
	b.Helper()
	l, _ := startLog(b, 8)
	ctx := context.Background()
	var waits []func(context.Context) (uint64, bool, error)
	for i := range 20_000 {
		w, err := l.Publish(actors.ItemID{Project: "p1", Item: fmt.Sprint("r", i%1000)}, fmt.Sprint("m", i), msg(fmt.Sprint("user-", i)))
		if err != nil {
			b.Fatal(err)
		}
		waits = append(waits, w)
	}
	for _, w := range waits {
		if _, _, err := w(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return l
}

func BenchmarkOlderThan(b *testing.B) {
	l := benchLog(b)
	b.ResetTimer()
	for b.Loop() {
		old, err := l.OlderThan(context.Background(), time.Now())
		if err != nil || len(old) != 1000 {
			b.Fatal(len(old), err)
		}
	}
	b.ReportMetric(float64(20_000*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkFind(b *testing.B) {
	l := benchLog(b)
	last, _ := l.LastSeq(context.Background())
	b.ResetTimer()
	for b.Loop() {
		n := 0
		err := l.Find(context.Background(), "p1", last, func(d []byte) bool { return bytes.Contains(d, []byte("user-12345")) }, func(actors.ItemID, uint64) { n++ })
		if err != nil || n != 1 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(20_000*b.N)/b.Elapsed().Seconds(), "msgs/s")
}
