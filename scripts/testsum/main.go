// Command testsum reads `go test -json` on stdin and prints what a person
// wants from `make test`: one line per package, the whole output of every
// failed test, and at the end the totals and every skipped test with its
// reason (a browser test without Chromium is skipped, not passed). It exits
// 1 when any test or package failed, so `make test` fails exactly then.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

func main() {
	if summarise(os.Stdin, os.Stdout) {
		os.Exit(1)
	}
}

type skip struct{ pkg, test, reason string }

// summarise writes the summary of in to out and reports whether anything
// failed.
func summarise(in io.Reader, out io.Writer) (failed bool) {
	outputs := map[string][]string{} // package + "\x00" + test → its output lines
	var skips []skip
	var passed, failedTests int
	testFailed := map[string]bool{} // packages with a failed test
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(out, sc.Text()) // not test2json: pass it through
			continue
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
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "testsum:", err)
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
