package client

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Every goroutine the package starts has an owner that stops it: none may
// outlive the tests. The module depends on the standard library only (and
// uuid), so this is goleak's check written small: after the tests, wait up
// to 5 s for every goroutine but the runtime's and the test runner's to end.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if left := leftover(5 * time.Second); left != "" {
			fmt.Fprintf(os.Stderr, "goroutines outlived the tests:\n%s\n", left)
			code = 1
		}
	}
	os.Exit(code)
}

func leftover(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "testing.(*M).Run") || strings.Contains(g, "client.TestMain") ||
				strings.Contains(g, "runtime.goexit") && strings.Contains(g, "created by runtime") ||
				strings.Contains(g, "os/signal.") || strings.Contains(g, "runtime.ensureSigM") {
				continue
			}
			left = append(left, g)
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
