// Command engaged is the engagement-event service: `engaged serve` runs the
// server, `engaged admin …` manages projects, keys, renders and content items.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"engaged/actors"
	"engaged/config"
	"engaged/persist"
	"engaged/transport/httpapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "engaged:", err)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `usage: engaged <command> [arguments]

commands:
  serve                 run the service (configuration: flags or ENGAGED_* variables; serve -h lists them)
  admin <what> <verb>   manage projects, keys and renders; prints one JSON object
      project create --name NAME
      project delete PROJECT_ID
      key create --project PROJECT_ID [--kind secret|publishable]
      key revoke KEY_ID
      render create --project PROJECT_ID [--document-url URL]
      render list --project PROJECT_ID
      content create --project PROJECT_ID [--id CONTENT_ID]
`

// openStore opens the database the way every subcommand finds it:
// ENGAGED_DATABASE_URL, else the private cluster that `make run` created.
func openStore(ctx context.Context, cfg config.Config) (*persist.Store, error) {
	url, err := cfg.ResolveDatabaseURL()
	if err != nil {
		return nil, err
	}
	return persist.Open(ctx, url)
}

// run is the whole program; main only calls it, and tests call it too.
// lookupenv has the shape of os.LookupEnv.
func run(ctx context.Context, args []string, lookupenv func(string) (string, bool), stdout, stderr io.Writer) error {
	return runWith(ctx, options{now: time.Now}, args, lookupenv, stdout, stderr)
}

// options are what a test may set on a run beyond its arguments and
// environment; run uses the real ones.
type options struct {
	// now is the server's clock: receive times of SDK events and the time
	// of every event it records. Tests replay the seed's examples, dated
	// 2024-02-04, which a real clock would reject as more than 24 hours old.
	now func() time.Time

	// Test-only: wrap the ports that the HTTP API and the actors call, so a
	// test can make a handler or an actor panic on a magic id and see the
	// process survive (defects_test.go). The wrappers sit outside every
	// production type; run leaves them nil, which costs nothing.
	wrapEngine  func(httpapi.Engine) httpapi.Engine
	wrapUpdates func(actors.UpdateSink) actors.UpdateSink
}

// runWith is run with o.
func runWith(ctx context.Context, o options, args []string, lookupenv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return serve(ctx, o, args[1:], lookupenv, stderr)
	case "admin":
		return admin(ctx, args[1:], lookupenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
