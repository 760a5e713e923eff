package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// Each Var's default, as documented, is the value Defaults holds: setting
// it explicitly changes nothing.
func TestVarDefaultsAreTheDefaults(t *testing.T) {
	want, err := parse(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if v.Type == "" {
			t.Errorf("%s has no type", v.Env)
		}
		if v.Default == "" || strings.Contains(v.Default, "<") {
			continue // empty, or described rather than literal
		}
		got, err := parse(map[string]string{v.Flag: v.Default})
		if err != nil {
			t.Errorf("%s=%q: %v", v.Env, v.Default, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s=%q is not the default:\n got %+v\nwant %+v", v.Env, v.Default, got, want)
		}
	}
}

// serve -h is generated from Vars: every flag with its type, variable and
// default.
func TestUsageListsEveryVar(t *testing.T) {
	var b bytes.Buffer
	_, err := Load([]string{"-h"}, lookup(nil), &b)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, v := range Vars {
		def := v.Default
		if def == "" {
			def = "empty"
		}
		for _, want := range []string{"-" + v.Flag + " " + v.Type, v.Env + "; default " + def} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("help lacks %q:\n%s", want, b.String())
			}
		}
	}
}

// A command line that is not flags is a UsageError naming the word.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"-nope"}, {"stray"}, {"-partitions"}} {
		_, err := Load(args, lookup(nil), io.Discard)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a UsageError", args, err)
			continue
		}
		word := strings.TrimPrefix(args[0], "-")
		if !strings.Contains(err.Error(), word) {
			t.Errorf("%v: %q does not name %q", args, err, word)
		}
	}
}

func TestOperatingSettings(t *testing.T) {
	c, err := Load(nil, lookup(map[string]string{
		"ENGAGED_ADMIN_ADDR": "off", "ENGAGED_LOG_FORMAT": "text", "ENGAGED_LOG_LEVEL": "warn", "ENGAGED_DRAIN_DELAY": "50ms",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminAddr != "" || c.LogFormat != "text" || c.LogLevel.String() != "WARN" || c.DrainDelay.Milliseconds() != 50 {
		t.Fatalf("got %+v", c)
	}
	for _, kv := range [][2]string{{"ENGAGED_LOG_FORMAT", "xml"}, {"ENGAGED_LOG_LEVEL", "loud"}, {"ENGAGED_DRAIN_DELAY", "-1s"}} {
		_, err := Load(nil, lookup(map[string]string{kv[0]: kv[1]}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), kv[0]) {
			t.Errorf("%s=%s: %v", kv[0], kv[1], err)
		}
	}
}

func TestUnknownVariables(t *testing.T) {
	got := Unknown([]string{"ENGAGED_HTTP_ADDR=:1", "ENGAGED_HTTP_ADRR=:2", "HOME=/root", "ENGAGED_PPROF_ADDR="})
	if !reflect.DeepEqual(got, []string{"ENGAGED_HTTP_ADRR", "ENGAGED_PPROF_ADDR"}) {
		t.Fatalf("got %v", got)
	}
}

// The settings tables of docs/ (OPERATING.md and the pages of single
// features) list every Var, with its default as Vars has it, and nothing
// else: the docs and serve -h cannot drift apart. The README keeps no
// settings table of its own (a row there would be checked too).
func TestDocsListEveryVar(t *testing.T) {
	pages, _ := filepath.Glob("../docs/*.md")
	var b []byte
	for _, p := range append([]string{"../README.md"}, pages...) {
		page, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b = append(append(b, page...), '\n')
	}
	row := regexp.MustCompile("(?m)^\\| `(ENGAGED_[A-Z_]+)` \\| ([^|]*) \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = strings.TrimSpace(m[2])
	}
	known := map[string]bool{}
	for _, v := range Vars {
		known[v.Env] = true
		cell, ok := documented[v.Env]
		if !ok {
			t.Errorf("docs/ has no settings row for %s", v.Env)
			continue
		}
		want := "`" + v.Default + "`"
		if v.Default == "" {
			want = "empty"
		}
		if !strings.HasPrefix(cell, want) {
			t.Errorf("docs/: %s default %q, want it to start with %q", v.Env, cell, want)
		}
	}
	for env := range documented {
		if !known[env] {
			t.Errorf("docs/ or README.md documents %s, which is no setting", env)
		}
	}
}
