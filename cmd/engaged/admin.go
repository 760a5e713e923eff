package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/config"
	"github.com/engagedhq/engaged/transport/httpapi"
	"github.com/engagedhq/engaged/transport/wire"
)

// adminBackend is what the admin commands need: the records store itself
// (*persist.Store, the default) or a running server's HTTP admin API
// (adminHTTP, with --url). It is what the server's admin API needs of the
// store, so each command is written once against it and both print the
// same JSON.
type adminBackend = httpapi.AdminStore

// adminCommand is one `engaged admin <what> <verb>`. flags declares its own
// flags and returns the command, which runs once they are parsed; arg names
// its one positional argument, if it takes one.
type adminCommand struct {
	what, verb, arg, help string
	// changesKeys: the command changes what keys may do (revoke, delete a
	// project, set its origins), so the CLI tells the instances on NATS.
	changesKeys bool
	flags       func(fs *flag.FlagSet) func(ctx context.Context, b adminBackend, arg string) (any, error)
}

var adminCommands = []adminCommand{
	{what: "project", verb: "create", help: "create a project; prints it",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			name := required(fs, "name", "project name")
			origins := fs.String("allowed-origins", "", "web origins whose pages may send SDK events, comma-separated (default: any)")
			autoCreate := fs.Bool("auto-create-content", false, "an SDK event about an unregistered content id registers it (within ENGAGED_AUTOCREATE_MAX_ITEMS and ENGAGED_AUTOCREATE_RATE)")
			ipCapture := fs.String("ip-capture", "", "client addresses kept: full (default), truncated (IPv4 /24, IPv6 /48) or none")
			return func(ctx context.Context, b adminBackend, _ string) (any, error) {
				allowed, err := actors.ParseOrigins(*origins)
				if err != nil {
					return nil, fmt.Errorf("--allowed-origins: %w", err)
				}
				mode, err := actors.ParseIPCapture(*ipCapture)
				if err != nil {
					return nil, fmt.Errorf("--ip-capture: %w", err)
				}
				return httpapi.CreateProject(ctx, b, *name, wire.ProjectSettings{AllowedOrigins: allowed, AutoCreateContent: *autoCreate, IPCapture: mode})
			}
		}},
	{what: "project", verb: "set-origins", arg: "PROJECT_ID", changesKeys: true, help: "replace the web origins whose pages may send SDK events (empty: any)",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			origins := fs.String("allowed-origins", "", "comma-separated origins, e.g. https://app.example.com; empty allows any")
			return func(ctx context.Context, b adminBackend, id string) (any, error) {
				allowed, err := actors.ParseOrigins(*origins)
				if err != nil {
					return nil, fmt.Errorf("--allowed-origins: %w", err)
				}
				stored, err := b.SetAllowedOrigins(ctx, id, allowed)
				return map[string]any{"id": id, "allowedOrigins": stored}, err
			}
		}},
	{what: "project", verb: "set-auto-create", arg: "PROJECT_ID", changesKeys: true, help: "turn on or off the registration of unknown content ids by SDK events",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			value := required(fs, "auto-create-content", "true or false")
			return func(ctx context.Context, b adminBackend, id string) (any, error) {
				on, err := strconv.ParseBool(*value)
				if err != nil {
					return nil, fmt.Errorf("--auto-create-content: %q is neither true nor false", *value)
				}
				stored, err := b.SetAutoCreateContent(ctx, id, on)
				return map[string]any{"id": id, "autoCreateContent": stored}, err
			}
		}},
	{what: "project", verb: "set-ip-capture", arg: "PROJECT_ID", changesKeys: true, help: "set how much of a client address the project keeps from now on (docs/PRIVACY.md)",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			ipCapture := required(fs, "ip-capture", "full, truncated (IPv4 /24, IPv6 /48) or none")
			return func(ctx context.Context, b adminBackend, id string) (any, error) {
				mode, err := actors.ParseIPCapture(*ipCapture)
				if err != nil {
					return nil, fmt.Errorf("--ip-capture: %w", err)
				}
				stored, err := b.SetIPCapture(ctx, id, mode)
				return map[string]any{"id": id, "ipCapture": stored}, err
			}
		}},
	{what: "project", verb: "list", help: "list projects (not deleted), oldest first",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			p := pageFlags(fs)
			return func(ctx context.Context, b adminBackend, _ string) (any, error) {
				l, next, err := b.ListProjects(ctx, *p)
				return listJSON("projects", l, next), err
			}
		}},
	{what: "project", verb: "delete", arg: "PROJECT_ID", changesKeys: true, help: "soft-delete a project: its keys then get 403",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			return func(ctx context.Context, b adminBackend, id string) (any, error) {
				return map[string]any{"id": id, "deleted": true}, b.DeleteProject(ctx, id)
			}
		}},
	{what: "key", verb: "create", help: "create a key; its secret (\"key\") is shown this once",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			project := required(fs, "project", "project id")
			kind := fs.String("kind", string(actors.SecretKey), "key kind: secret or publishable")
			return func(ctx context.Context, b adminBackend, _ string) (any, error) {
				k, secret, err := b.CreateKey(ctx, *project, actors.KeyKind(*kind))
				return httpapi.CreatedKey{APIKey: k, Key: secret}, err
			}
		}},
	{what: "key", verb: "list", help: "list a project's keys, revoked ones too (never their secrets)",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			project := required(fs, "project", "project id")
			p := pageFlags(fs)
			return func(ctx context.Context, b adminBackend, _ string) (any, error) {
				l, next, err := b.ListKeys(ctx, *project, *p)
				return listJSON("keys", l, next), err
			}
		}},
	{what: "key", verb: "revoke", arg: "KEY_ID", changesKeys: true, help: "revoke a key: it stops working on every instance as soon as they hear of it on NATS",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			return func(ctx context.Context, b adminBackend, id string) (any, error) {
				return map[string]any{"id": id, "revoked": true}, b.RevokeKey(ctx, id)
			}
		}},
	{what: "render", verb: "create", help: "register a render (UUIDv7 id); prints it",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			project := required(fs, "project", "project id")
			docURL := fs.String("document-url", "", "absolute http(s) URL of the rendered document (the share page shows it)")
			return func(ctx context.Context, b adminBackend, _ string) (any, error) {
				return b.CreateRender(ctx, *project, *docURL)
			}
		}},
	{what: "render", verb: "list", help: "list a project's renders, oldest first",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			project := required(fs, "project", "project id")
			p := pageFlags(fs)
			return func(ctx context.Context, b adminBackend, _ string) (any, error) {
				l, next, err := b.ListItems(ctx, *project, actors.RenderItem, *p)
				return listJSON("renders", l, next), err
			}
		}},
	{what: "content", verb: "create", help: "register an SDK content item; prints it",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			project := required(fs, "project", "project id")
			id := fs.String("id", "", "content id, 1 to 64 of [A-Za-z0-9_-] (default: generated)")
			return func(ctx context.Context, b adminBackend, _ string) (any, error) {
				return b.CreateContent(ctx, *project, *id)
			}
		}},
	{what: "content", verb: "list", help: "list a project's SDK content items, by id",
		flags: func(fs *flag.FlagSet) func(context.Context, adminBackend, string) (any, error) {
			project := required(fs, "project", "project id")
			p := pageFlags(fs)
			return func(ctx context.Context, b adminBackend, _ string) (any, error) {
				l, next, err := b.ListItems(ctx, *project, actors.ContentItem, *p)
				return listJSON("contents", l, next), err
			}
		}},
}

// requiredFlag marks a flag the command cannot run without; its usage
// starts with "(required)".
const requiredFlag = "(required) "

func required(fs *flag.FlagSet, name, usage string) *string {
	return fs.String(name, "", requiredFlag+usage)
}

func pageFlags(fs *flag.FlagSet) *actors.Page {
	var p actors.Page
	fs.IntVar(&p.Limit, "limit", actors.DefaultLimit, fmt.Sprintf("entries per page, 1 to %d", actors.MaxLimit))
	fs.StringVar(&p.Cursor, "cursor", "", "the nextCursor of the previous page")
	return &p
}

// listJSON is the shape of every list, from the database or over HTTP:
// {"<name>": [...], "nextCursor": "…" or null on the last page}.
func listJSON[T any](name string, items []T, next string) map[string]any {
	var cursor *string
	if next != "" {
		cursor = &next
	}
	return map[string]any{name: items, "nextCursor": cursor}
}

// adminUsage lists the admin commands.
func adminUsage() string {
	var b strings.Builder
	b.WriteString("usage: engaged admin <what> <verb> [flags] [--url URL] [--database-url URL]\n\n")
	b.WriteString("Each command prints one JSON object. By default it works on the database (ENGAGED_DATABASE_URL,\n")
	b.WriteString("else the private cluster under ENGAGED_DATA_DIR); with --url it calls that server's admin API\n")
	b.WriteString("with the operator token in ENGAGED_ADMIN_TOKEN. The output is the same either way.\n\ncommands:\n")
	for _, c := range adminCommands {
		fmt.Fprintf(&b, "  %-16s %s\n", c.what+" "+c.verb, c.help)
	}
	b.WriteString("\n`engaged admin <what> <verb> -h` lists a command's flags.\n")
	return b.String()
}

// commandUsage is one command's help: its synopsis and only its own flags.
func commandUsage(c adminCommand, fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: engaged admin %s %s [flags]", c.what, c.verb)
	if c.arg != "" {
		b.WriteString(" " + c.arg)
	}
	fmt.Fprintf(&b, "\n\n%s\n\nflags:\n", c.help)
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

// admin runs one admin command and prints its result as one JSON object on
// stdout. -h prints the command's help on stdout; a misuse is a usageError
// after a message on stderr.
func admin(ctx context.Context, args []string, lookupenv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, adminUsage())
		return usagef("admin: missing command")
	}
	if isHelp(args[0]) || (len(args) > 1 && isHelp(args[1])) {
		fmt.Fprint(stdout, adminUsage())
		return nil
	}
	var cmd *adminCommand
	known := false
	for i, c := range adminCommands {
		if c.what == args[0] {
			known = true
			if len(args) > 1 && c.verb == args[1] {
				cmd = &adminCommands[i]
			}
		}
	}
	switch {
	case !known:
		fmt.Fprint(stderr, adminUsage())
		return usagef("admin: unknown command %q", args[0])
	case len(args) < 2:
		fmt.Fprint(stderr, adminUsage())
		return usagef("admin %s: missing verb", args[0])
	case cmd == nil:
		fmt.Fprint(stderr, adminUsage())
		return usagef("admin %s: unknown verb %q", args[0], args[1])
	}

	fs := flag.NewFlagSet("engaged admin "+cmd.what+" "+cmd.verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // help and errors are printed below, help on stdout
	exec := cmd.flags(fs)
	serverURL := fs.String("url", "", "call this server's HTTP admin API (e.g. http://localhost:8080) with ENGAGED_ADMIN_TOKEN instead of the database")
	dbURL := fs.String("database-url", "", "Postgres URL (ENGAGED_DATABASE_URL; default: the private cluster under ENGAGED_DATA_DIR)")
	positional, err := parseInterleaved(fs, args[2:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, commandUsage(*cmd, fs))
		return nil
	}
	name := "admin " + cmd.what + " " + cmd.verb
	if err == nil {
		err = checkArgs(fs, *cmd, positional)
	}
	if err == nil && *serverURL != "" {
		if uerr := checkServerURL(*serverURL); uerr != nil {
			err = fmt.Errorf("--url: %v", uerr)
		}
	}
	if err != nil {
		fmt.Fprint(stderr, commandUsage(*cmd, fs))
		return usagef("%s: %v", name, err)
	}
	var arg string
	if len(positional) == 1 {
		arg = positional[0]
	}

	var cfgArgs []string
	if *dbURL != "" {
		cfgArgs = []string{"-database-url", *dbURL}
	}
	cfg, err := config.Load(cfgArgs, lookupenv, stderr)
	if err != nil {
		return err
	}
	var b adminBackend
	if *serverURL != "" {
		if b, err = newAdminHTTP(*serverURL, cfg.AdminToken); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	} else {
		store, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		as := announcingStore{Store: store}
		if cmd.changesKeys {
			as.logger = slog.New(slog.NewTextHandler(stderr, nil))
			if as.nc = cliNATS(cfg); as.nc != nil {
				defer as.nc.Close()
			}
		}
		b = as
	}
	out, err := exec(ctx, b, arg)
	if err != nil {
		var e *actors.Error
		if errors.As(err, &e) {
			return fmt.Errorf("%s: %s%s", name, flagOf(fs, e), e.Message)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return json.NewEncoder(stdout).Encode(out)
}

// parseInterleaved parses flags before and after positional arguments
// (`key revoke KEY_ID --url …`), which flag.Parse alone stops at.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// checkArgs reports a missing required flag or a wrong positional argument.
func checkArgs(fs *flag.FlagSet, c adminCommand, positional []string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err == nil && strings.HasPrefix(f.Usage, requiredFlag) && f.Value.String() == "" {
			err = fmt.Errorf("--%s is required", f.Name)
		}
	})
	switch {
	case err != nil:
		return err
	case c.arg == "" && len(positional) > 0:
		return fmt.Errorf("unexpected argument %q", positional[0])
	case c.arg != "" && len(positional) == 0:
		return fmt.Errorf("missing %s", c.arg)
	case len(positional) > 1:
		return fmt.Errorf("unexpected argument %q", positional[1])
	}
	return nil
}

// flagOf names the flag behind a field error ("--document-url: " for the
// field documentUrl), so that a message from the store or the server points
// at what the user typed; "" when there is none.
func flagOf(fs *flag.FlagSet, e *actors.Error) string {
	if e.Issues == nil || len(e.Issues.FieldErrors) != 1 {
		return ""
	}
	for field := range e.Issues.FieldErrors {
		var b strings.Builder
		for _, r := range field {
			if r >= 'A' && r <= 'Z' {
				b.WriteByte('-')
				r += 'a' - 'A'
			}
			b.WriteRune(r)
		}
		if fs.Lookup(b.String()) != nil {
			return "--" + b.String() + ": "
		}
	}
	return ""
}
