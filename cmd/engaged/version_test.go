package main

import (
	"runtime/debug"
	"testing"
)

func TestDescribeBuild(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}}}
	tagged := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}}
	bare := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	for _, tc := range []struct {
		name, version, revision string
		bi                      *debug.BuildInfo
		want                    Build
	}{
		{"stamped tag", "v1.2.0", "0123abc", bare, Build{"v1.2.0", "0123abc", "go1.26.8"}},
		{"stamped commit", "53e7aaa-dirty", "53e7aaa0", bare, Build{"53e7aaa-dirty", "53e7aaa0", "go1.26.8"}},
		{"toolchain VCS stamp", "", "", vcs, Build{"0123456789ab", "0123456789abcdef0123456789abcdef01234567", "go1.26.8"}},
		{"go install of a tag", "", "", tagged, Build{"v1.2.0", "(unknown)", "go1.26.8"}},
		{"nothing known", "", "", bare, Build{"(devel)", "(unknown)", "go1.26.8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describeBuild(tc.version, tc.revision, tc.bi); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
