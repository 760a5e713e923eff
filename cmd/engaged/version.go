package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Stamped at build time (Makefile, Dockerfile):
//
//	-ldflags "-X main.stampVersion=$(git describe --tags --always --dirty) -X main.stampRevision=$(git rev-parse HEAD)"
//
// The toolchain's own VCS stamp is no substitute: machines here build with
// GOFLAGS=-buildvcs=false, and a Docker build context has no .git, so
// debug.ReadBuildInfo would say "(devel)" with no revision.
var (
	stampVersion  string // the tag when HEAD has one, else tag-N-gcommit or the short commit; "-dirty" when modified
	stampRevision string // the full commit
)

// Build names the source a binary was built from.
type Build struct {
	Version  string // the tag, else the commit (see stampVersion); "(devel)" when unknown
	Revision string // the full commit, "(unknown)" when unknown
	Go       string // the Go release that built it
}

// buildInfo is this binary's Build.
func buildInfo() Build {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(stampVersion, stampRevision, bi)
}

// describeBuild prefers the stamped values, then what the toolchain
// recorded (a go install of a tagged module, or a build with VCS stamping
// on), then "(devel)" and "(unknown)".
func describeBuild(version, revision string, bi *debug.BuildInfo) Build {
	b := Build{Version: version, Revision: revision, Go: runtime.Version()}
	if bi != nil {
		b.Go = bi.GoVersion
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && b.Revision == "" {
				b.Revision = s.Value
			}
		}
	}
	if b.Version == "" && b.Revision != "" {
		b.Version = b.Revision[:min(len(b.Revision), 12)]
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.Revision == "" {
		b.Revision = "(unknown)"
	}
	return b
}

// version prints the tag (else the commit) the binary was built from, the
// full commit and the Go version.
func version(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		if isHelp(args[0]) {
			fmt.Fprintln(stdout, "usage: engaged version\n\nprints the version (the tag, else the commit), the source revision and the Go version of this binary")
			return nil
		}
		return usagef("version: unexpected argument %q", args[0])
	}
	b := buildInfo()
	fmt.Fprintf(stdout, "engaged %s revision %s %s\n", b.Version, b.Revision, b.Go)
	return nil
}
