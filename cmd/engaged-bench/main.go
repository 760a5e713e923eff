// Command engaged-bench is the load tool: it drives a running engaged over
// real HTTP (and its NATS) through fixed scenarios and prints throughput and
// latency per scenario. It is a binary of its own so the server ships without it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2) // the flag package named the offending flag on stderr
	default:
		fmt.Fprintln(os.Stderr, "engaged-bench:", err)
		os.Exit(1)
	}
}

// errUsage reports a command line that could not be read; the flag
// package's message, naming the flag, is already on stderr.
var errUsage = errors.New("usage")
