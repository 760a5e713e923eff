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

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/config"
	"github.com/engagedhq/engaged/persist"
	"github.com/engagedhq/engaged/transport/httpapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on stderr and returns the process's exit status: 0
// for success, 2 for a command line that could not be understood (the
// offending word named), 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ce *config.UsageError
	misuse := errors.Is(err, errUsage) || errors.As(err, &ce)
	if err != errUsage { // the bare errUsage follows a usage text already printed
		fmt.Fprintln(stderr, "engaged:", err)
		if misuse {
			fmt.Fprintln(stderr, "run 'engaged -h' for usage")
		}
	}
	if misuse {
		return 2
	}
	return 1
}

// errUsage is a misuse of the command line (exit status 2) after which the
// usage has been printed.
var errUsage = errors.New("usage")

// usageError is a misuse of the command line that names the offending word;
// it Is errUsage.
type usageError struct{ msg string }

func (e usageError) Error() string        { return e.msg }
func (e usageError) Is(target error) bool { return target == errUsage }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `usage: engaged <command> [arguments]

commands:
  serve                 run the service (configuration: flags or ENGAGED_* variables; serve -h lists them)
  admin <what> <verb>   manage projects, keys, renders and content items; prints one JSON object
                        (on the database, or with --url URL through a server's admin API; admin -h lists them)
      project create --name NAME [--allowed-origins ORIGIN,…]
      project set-origins PROJECT_ID --allowed-origins ORIGIN,… (empty: any)
      project list [--limit N] [--cursor C]
      project delete PROJECT_ID
      key create --project PROJECT_ID [--kind secret|publishable]
      key list --project PROJECT_ID [--limit N] [--cursor C]
      key revoke KEY_ID
      render create --project PROJECT_ID [--document-url URL]
      render list --project PROJECT_ID [--limit N] [--cursor C]
      content create --project PROJECT_ID [--id CONTENT_ID]
      content list --project PROJECT_ID [--limit N] [--cursor C]
  healthcheck [URL]     exit 0 if a running engaged is ready (GET URL, default
                        http://127.0.0.1:<port of ENGAGED_HTTP_ADDR>/readyz)
  version               print the version and the source revision it was built from
  help                  print this help (also -h, --help)
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
	return runWith(ctx, options{now: time.Now, environ: os.Environ}, args, lookupenv, stdout, stderr)
}

// options are what a test may set on a run beyond its arguments and
// environment; run uses the real ones.
type options struct {
	// now is the server's clock: receive times of SDK events and the time
	// of every event it records. Tests replay the seed's examples, dated
	// 2024-02-04, which a real clock would reject as more than 24 hours old.
	now func() time.Time
	// environ lists the process's variables (os.Environ), for the warning
	// about unknown ENGAGED_* ones; nil: no warning.
	environ func() []string

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
		return usagef("missing command")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, o, args[1:], lookupenv, stdout, stderr)
	case "admin":
		return admin(ctx, args[1:], lookupenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args[1:], lookupenv, stdout)
	case "version":
		return version(args[1:], stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usagef("unknown command %q", args[0])
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}
