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
	cold, naiveCold := find("cold"), find("naive-cold")
	if cold != nil {
		out = append(out, target{"first events on never-seen items ≥ 5,000 req/s", fmt.Sprintf("%.0f req/s", cold.ReqPerSec), cold.ReqPerSec >= 5000})
	}
	if cold != nil && naiveCold != nil {
		out = append(out, ratioTarget("first events ≥ 3× naive (cold)", cold, naiveCold, 3))
	}
	if warm, naiveWarm := find("keyspace-10000"), find("naive-warm"); warm != nil && naiveWarm != nil {
		out = append(out, ratioTarget("warm items at 10000 items ≥ 5× naive", warm, naiveWarm, 5))
	}
	if m := find("memory-full"); m != nil && m.RSSPerItem > 0 {
		out = append(out, target{"≤ 8 KiB RSS per live render with 25 recent events", fmt.Sprintf("%d B", m.RSSPerItem), m.RSSPerItem <= 8<<10})
	}
	return out
}

func ratioTarget(name string, r, naive *benchResult, times float64) target {
	x := 0.0
	if naive.ReqPerSec > 0 {
		x = r.ReqPerSec / naive.ReqPerSec
	}
	return target{name, fmt.Sprintf("%.1f× (%.0f vs %.0f req/s)", x, r.ReqPerSec, naive.ReqPerSec), x >= times}
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
