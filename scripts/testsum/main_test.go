package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSummarise(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: no chromium\n"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"--- SKIP: TestB (0.00s)\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestB"}`,
		`{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:3: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestC"}`,
		`{"Action":"output","Package":"p","Output":"--- FAIL: TestC\n"}`,
		`{"Action":"fail","Package":"p","Elapsed":1.5}`,
		`{"Action":"pass","Package":"q","Elapsed":0.2}`,
	}, "\n")
	var b strings.Builder
	failed := summarise(strings.NewReader(in), &b, nil)
	out := b.String()
	for _, want := range []string{"c_test.go:3: boom", "FAIL p 1.5s", "ok   q 0.2s", "1 passed, 1 failed, 1 skipped", "SKIP p TestB: b_test.go:9: no chromium"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !failed {
		t.Error("a failed test did not fail the summary")
	}
	if summarise(strings.NewReader(`{"Action":"pass","Package":"q"}`), &b, nil) {
		t.Error("a passing run failed")
	}
}

// A tick while packages run names them, longest-running first; a tick
// before any started, or after all finished, says nothing.
func TestProgress(t *testing.T) {
	pr, pw := io.Pipe()
	tick := make(chan time.Time)
	var b lockedBuffer
	done := make(chan bool)
	go func() { done <- summarise(pr, &b, tick) }()
	send := func(lines ...string) {
		for _, l := range lines {
			fmt.Fprintln(pw, l)
		}
	}
	// Lines and ticks reach the loop on two channels, so a tick may be
	// taken before a line sent just ahead of it: tick until the line
	// wanted shows (each tick is taken by the loop, no sleeping).
	tickUntil := func(want func(last string) bool) {
		t.Helper()
		for range 100_000 {
			tick <- time.Now()
			if ls := progressLines(b.String()); len(ls) > 0 && want(ls[len(ls)-1]) {
				return
			}
		}
		t.Fatalf("no such progress line:\n%s", b.String())
	}
	tick <- time.Now() // nothing started yet: no line
	send(`{"Action":"start","Package":"slow"}`, `{"Action":"start","Package":"quick"}`,
		`{"Action":"run","Package":"slow","Test":"TestLong"}`)
	tickUntil(func(l string) bool {
		return strings.HasPrefix(l, "still running: slow (") && strings.Contains(l, " quick (")
	})
	send(`{"Action":"pass","Package":"quick","Elapsed":0.1}`)
	tickUntil(func(l string) bool { return strings.Contains(l, "slow") && !strings.Contains(l, "quick") })
	send(`{"Action":"pass","Package":"slow","Test":"TestLong"}`, `{"Action":"pass","Package":"slow","Elapsed":90}`)
	pw.Close()
	if <-done {
		t.Fatal("a passing run failed")
	}
	for _, l := range progressLines(b.String()) {
		if l == "still running:" {
			t.Errorf("a progress line with nothing running:\n%s", b.String())
		}
	}
	if !strings.Contains(b.String(), "ok   slow 90.0s") {
		t.Errorf("summary lacks the slow package:\n%s", b.String())
	}
}

func progressLines(out string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "still running:") {
			ls = append(ls, l)
		}
	}
	return ls
}

// lockedBuffer is summarise's output, read by the test while it runs.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
