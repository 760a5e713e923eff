// Command testsum reads `go test -json` on stdin and prints what a person
// wants from `make test`: one line per package, the whole output of every
// failed test, and at the end the totals and every skipped test with its
// reason (a browser test without Chromium is skipped, not passed). Every 30
// seconds without a finished package it says which are still running, so a
// long end-to-end package does not look like a hang. It exits 1 when any
// test or package failed, so `make test` fails exactly then.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// progressEvery is how often a run with packages still going says so.
const progressEvery = 30 * time.Second

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

func main() {
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	if summarise(os.Stdin, os.Stdout, tick.C) {
		os.Exit(1)
	}
}

type skip struct{ pkg, test, reason string }

// summarise writes the summary of in to out and reports whether anything
// failed. At each tick it writes a line naming the packages that started
// and have not finished, if any (nil: never).
func summarise(in io.Reader, out io.Writer, tick <-chan time.Time) (failed bool) {
	outputs := map[string][]string{} // package + "\x00" + test → its output lines
	var skips []skip
	var passed, failedTests int
	testFailed := map[string]bool{}   // packages with a failed test
	running := map[string]time.Time{} // packages started and not finished → when they started

	// The reader goroutine is owned by this call: it ends at the end of in
	// (or a read error), closing lines, which ends the loop below.
	lines := make(chan []byte)
	var readErr error
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			lines <- slices.Clone(sc.Bytes())
		}
		readErr = sc.Err()
	}()
	for {
		var line []byte
		select {
		case now := <-tick:
			if len(running) > 0 {
				fmt.Fprintln(out, stillRunning(running, now))
			}
			continue
		case l, ok := <-lines:
			if !ok {
				goto done
			}
			line = l
		}
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			fmt.Fprintln(out, string(line)) // not test2json: pass it through
			continue
		}
		if e.Test == "" {
			switch e.Action {
			case "start":
				running[e.Package] = time.Now()
			case "pass", "fail", "skip":
				delete(running, e.Package)
			}
		}
		key := e.Package + "\x00" + e.Test
		switch e.Action {
		case "output", "build-output":
			outputs[key] = append(outputs[key], e.Output)
			continue
		case "pass":
			if e.Test == "" {
				fmt.Fprintf(out, "ok   %s %.1fs\n", e.Package, e.Elapsed)
			} else {
				passed++
			}
		case "skip":
			if e.Test == "" {
				fmt.Fprintf(out, "?    %s [no tests]\n", e.Package)
			} else {
				skips = append(skips, skip{e.Package, e.Test, skipReason(outputs[key])})
			}
		case "fail":
			failed = true
			if e.Test == "" {
				fmt.Fprintf(out, "FAIL %s %.1fs\n", e.Package, e.Elapsed)
				if !testFailed[e.Package] {
					// No test failed: a build error, a panic outside a
					// test, a timeout. Show what the package printed.
					fmt.Fprint(out, strings.Join(outputs[key], ""))
				}
			} else {
				failedTests++
				testFailed[e.Package] = true
				fmt.Fprint(out, strings.Join(outputs[key], ""))
			}
		default:
			continue
		}
		delete(outputs, key)
	}
done:
	if readErr != nil { // written before lines was closed
		fmt.Fprintln(out, "testsum:", readErr)
		failed = true
	}
	fmt.Fprintf(out, "\n%d passed, %d failed, %d skipped\n", passed, failedTests, len(skips))
	for _, s := range skips {
		fmt.Fprintf(out, "SKIP %s %s: %s\n", s.pkg, s.test, s.reason)
	}
	if failed {
		fmt.Fprintln(out, "FAIL")
	}
	return failed
}

// skipReason is the message the test gave t.Skip: its last output line
// other than the "--- SKIP" line itself.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "--- SKIP") && !strings.HasPrefix(l, "=== ") {
			return l
		}
	}
	return "(no reason given)"
}

// stillRunning is the progress line: the packages still running, longest
// first, each with how long it has run.
func stillRunning(running map[string]time.Time, now time.Time) string {
	pkgs := make([]string, 0, len(running))
	for p := range running {
		pkgs = append(pkgs, p)
	}
	slices.SortFunc(pkgs, func(a, b string) int { return running[a].Compare(running[b]) })
	var b strings.Builder
	b.WriteString("still running:")
	for _, p := range pkgs {
		fmt.Fprintf(&b, " %s (%s)", p, now.Sub(running[p]).Round(time.Second))
	}
	return b.String()
}
