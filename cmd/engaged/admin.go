package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"

	"engaged/actors"
	"engaged/config"
	"engaged/persist"
)

// admin runs one admin command and prints its result as one JSON object on
// stdout. It finds the database as the server does.
func admin(ctx context.Context, args []string, lookupenv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	what, verb, rest := args[0], args[1], args[2:]
	fs := flag.NewFlagSet("engaged admin "+what+" "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "project name")
	project := fs.String("project", "", "project id")
	kind := fs.String("kind", string(actors.SecretKey), "key kind: secret or publishable")
	docURL := fs.String("document-url", "", "document URL of the render")
	contentID := fs.String("id", "", "content id (default: generated)")
	origins := fs.String("allowed-origins", "", "web origins that may send SDK events, comma-separated (default: any)")
	if err := fs.Parse(rest); err != nil {
		return errUsage
	}
	arg := func() (string, error) {
		if fs.NArg() != 1 {
			return "", fmt.Errorf("admin %s %s: needs exactly one id argument", what, verb)
		}
		return fs.Arg(0), nil
	}
	need := func(flagName, v string) error {
		if v == "" {
			return fmt.Errorf("admin %s %s: --%s is required", what, verb, flagName)
		}
		return nil
	}

	cfg, err := config.Load(nil, lookupenv, stderr)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	var out any
	switch what + " " + verb {
	case "project create":
		var allowed []string // null: any origin
		if err = need("name", *name); err == nil {
			if allowed, err = actors.ParseOrigins(*origins); err == nil {
				var p persist.Project
				if p, err = store.CreateProject(ctx, *name); err == nil && allowed != nil {
					allowed, err = store.SetAllowedOrigins(ctx, p.ID, allowed)
				}
				out = map[string]any{"id": p.ID, "name": p.Name, "createdAt": p.CreatedAt, "allowedOrigins": allowed}
			}
		}
	case "project delete":
		var id string
		if id, err = arg(); err == nil {
			if err = store.DeleteProject(ctx, id); err == nil {
				out = map[string]any{"id": id, "deleted": true}
			}
		}
	case "key create":
		if err = need("project", *project); err == nil {
			var k persist.APIKey
			var secret string
			k, secret, err = store.CreateKey(ctx, *project, actors.KeyKind(*kind))
			out = map[string]any{"id": k.ID, "key": secret, "kind": k.Kind, "projectId": k.ProjectID}
		}
	case "key revoke":
		var id string
		if id, err = arg(); err == nil {
			if err = store.RevokeKey(ctx, id); err == nil {
				out = map[string]any{"id": id, "revoked": true}
			}
		}
	case "render create":
		if err = need("project", *project); err == nil {
			if err = checkDocumentURL(*docURL); err == nil {
				out, err = store.CreateRender(ctx, *project, *docURL)
			}
		}
	case "content create":
		if err = need("project", *project); err == nil {
			var it actors.Item
			if it, err = store.CreateContent(ctx, *project, *contentID); err == nil {
				out = map[string]any{"id": it.ID, "projectId": it.ProjectID, "kind": it.Kind, "createdAt": it.CreatedAt}
			}
		}
	case "render list":
		if err = need("project", *project); err == nil {
			var items []actors.Item
			if items, err = store.ListRenders(ctx, *project); err == nil {
				out = map[string]any{"renders": items}
			}
		}
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown admin command %q", what+" "+verb)
	}
	if err != nil {
		var e *actors.Error
		if errors.As(err, &e) {
			return errors.New(e.Message)
		}
		return err
	}
	return json.NewEncoder(stdout).Encode(out)
}

// checkDocumentURL accepts an empty URL or an absolute http(s) URL: the
// share page embeds it and its download route redirects to it.
func checkDocumentURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("admin render create: --document-url %q is not an absolute http(s) URL", s)
	}
	return nil
}
