package main

import (
	"strings"
	"testing"
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
	failed := summarise(strings.NewReader(in), &b)
	out := b.String()
	for _, want := range []string{"c_test.go:3: boom", "FAIL p 1.5s", "ok   q 0.2s", "1 passed, 1 failed, 1 skipped", "SKIP p TestB: b_test.go:9: no chromium"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !failed {
		t.Error("a failed test did not fail the summary")
	}
	if summarise(strings.NewReader(`{"Action":"pass","Package":"q"}`), &b) {
		t.Error("a passing run failed")
	}
}
