package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// An app outside this repository imports the Go client by its module path
// (a replace points at this clone's client/, as it would at a fork) and
// builds, and none of the server's dependencies comes with it: its only
// packages outside the standard library are the client's and uuid's.
func TestClientModuleStandsAlone(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed: %v", err)
	}
	clientDir, err := filepath.Abs("../../client")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(clientDir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	app := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(app, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/app\n\ngo 1.26\n\nrequire github.com/engagedhq/engaged/client v0.0.0\n\n"+
		"replace github.com/engagedhq/engaged/client => "+clientDir+"\n")
	write("go.sum", string(sum))
	write("main.go", `package main

import (
	"context"
	"log"

	"github.com/engagedhq/engaged/client"
)

func main() {
	c, err := client.New("http://localhost:8080", "pk_example")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())
	c.Track(context.Background(), client.Event{Event: "impression", ContentID: "cnt_1"})
}
`)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir = app
		// -mod=mod: the app's go.mod may be completed (uuid, indirect);
		// GOWORK=off: no workspace of this machine's joins in.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	deps := strings.Fields(run("list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./..."))
	slices.Sort(deps)
	want := []string{"example.com/app", "github.com/engagedhq/engaged/client", "github.com/google/uuid"}
	if !slices.Equal(deps, want) {
		t.Fatalf("an app importing the client builds these packages outside the standard library:\n%s\nwant only %v",
			strings.Join(deps, "\n"), want)
	}
	for _, d := range deps {
		for _, server := range []string{"nats", "pgx", "fiber", "chromedp"} {
			if strings.Contains(d, server) {
				t.Fatalf("the client pulls %s", d)
			}
		}
	}
	run("build", "-o", filepath.Join(app, "app"), ".")
}
