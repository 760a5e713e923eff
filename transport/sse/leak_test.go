package sse

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the package starts has an owner that stops it: none may
// outlive the tests. The exceptions are fasthttp's own (the tests serve
// through Fiber): its process-wide date updater, and the worker-pool cleaner,
// which sleeps 10 s before it sees the server's stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.init.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}
