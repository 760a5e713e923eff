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
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "engaged-bench:", err)
		}
		os.Exit(1)
	}
}

// errUsage reports a usage error whose text is already on stderr.
var errUsage = errors.New("usage")
