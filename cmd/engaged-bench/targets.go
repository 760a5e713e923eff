package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// target is one of the key-space targets, judged on figures of this run.
type target struct {
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// targets judges the targets whose scenarios ran; the others are left out.
func targets(results []benchResult) []target {
	find := func(name string) *benchResult {
		for i := range results {
			if results[i].Scenario == name {
				return &results[i]
			}
		}
		return nil
	}
	var out []target
	var first *benchResult
	for i := range results {
		if results[i].VsFirst > 0 && first == nil {
			first = &results[i]
		}
	}
	for _, t := range []struct {
		items int
		share float64
	}{{10_000, 0.8}, {100_000, 0.6}} {
		r := find("keyspace-" + strconv.Itoa(t.items))
		if first == nil || r == nil {
			continue
		}
		out = append(out, target{
			Target:   fmt.Sprintf("req/s at %d items ≥ %.0f%% of %d items", t.items, 100*t.share, first.Items),
			Measured: fmt.Sprintf("%.0f%% (%.0f vs %.0f req/s)", 100*r.VsFirst, r.ReqPerSec, first.ReqPerSec),
			Met:      r.VsFirst >= t.share,
		})
	}
	for _, t := range []struct {
		name, of, base string
		times          float64
	}{
		{"warm partner events (1,000 renders) ≥ 0.5 × the trivial handler", "keyspace-1000", "trivial", 0.5},
		{"reads ≥ 0.6 × the trivial handler", "read", "trivial", 0.6},
		{"cold first events ≥ 0.8 × warm 1,000", "cold", "keyspace-1000", 0.8},
		{"cold first events ≥ 3 × the naive design (cold)", "cold", "naive-cold", 3},
		{"no decay: cold, next run ≥ 0.8 × the first", "cold-next", "cold", 0.8},
		{"first touches with many live ≥ 0.6 × warm 1,000", "first-touch", "keyspace-1000", 0.6},
	} {
		if r, base := find(t.of), find(t.base); r != nil && base != nil {
			out = append(out, ratioTarget(t.name, r, base, t.times))
		}
	}
	if m := find("memory-full"); m != nil && m.RSSPerItem > 0 {
		out = append(out, target{"≤ 8 KiB RSS per live render with 25 recent events", fmt.Sprintf("%d B", m.RSSPerItem), m.RSSPerItem <= 8<<10})
	}
	return out
}

// ratioTarget judges r's req/s against base's: at least times as many.
func ratioTarget(name string, r, base *benchResult, times float64) target {
	x := 0.0
	if base.ReqPerSec > 0 {
		x = r.ReqPerSec / base.ReqPerSec
	}
	return target{name, fmt.Sprintf("%.2f× (%s %.0f vs %s %.0f req/s)", x, r.Scenario, r.ReqPerSec, base.Scenario, base.ReqPerSec), x >= times}
}

func printTargets(w io.Writer, ts []target) {
	if len(ts) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tmeasured\t\t")
	for _, t := range ts {
		met := "not met"
		if t.Met {
			met = "met"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", t.Target, t.Measured, met)
	}
	tw.Flush()
}
