package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// reconcileSeries checks, after reconcile found every instance counting
// what the stream holds, that each render's minute and hour buckets of
// viewed plus its late events add up to that count, that its viewers (every
// event came from its own address) are that count too while exact, and that
// every instance up answers byte-identical series and uniques.
func (h *harness) reconcileSeries(stage string, want map[string]int64) bool {
	h.t.Helper()
	exact, checked := true, 0
	to := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	queries := []url.Values{
		{"metric": {"viewed"}, "interval": {"minute"}, "from": {to.Add(-120 * time.Minute).Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}},
		{"metric": {"viewed"}, "interval": {"hour"}, "from": {to.Add(-48 * time.Hour).Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}},
		{"metric": {"viewers"}, "interval": {"hour"}, "from": {to.Add(-48 * time.Hour).Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}},
	}
	for _, r := range h.renders {
		var first []string
		for i, in := range h.instances {
			if !h.up[i] {
				continue
			}
			var bodies []string
			for qi, q := range queries {
				res, err := h.try("GET", in.proc.base+"/v1/renders/"+r.render+"/series?"+q.Encode(), r.key, "")
				if err != nil || res.status != 200 {
					h.t.Errorf("%s: series of %s on instance %d: %v %d %s", stage, r.render, i, err, res.status, res.body)
					exact = false
					continue
				}
				var b struct {
					Late    int64 `json:"late"`
					Uniques struct {
						Viewers     int64 `json:"viewers"`
						Approximate bool  `json:"approximate"`
					} `json:"uniques"`
					Buckets []struct{ V int64 } `json:"buckets"`
				}
				if err := json.Unmarshal(res.body, &b); err != nil {
					h.t.Errorf("%s: series: %v", stage, err)
					exact = false
					continue
				}
				var sum int64
				for _, x := range b.Buckets {
					sum += x.V
				}
				if qi < 2 && sum+b.Late != want[r.render] {
					h.t.Errorf("%s: %s on instance %d: %s buckets sum to %d, late %d, but %d viewed", stage, r.render, i, q.Get("interval"), sum, b.Late, want[r.render])
					exact = false
				}
				if !b.Uniques.Approximate && b.Uniques.Viewers != want[r.render] {
					h.t.Errorf("%s: %s on instance %d: %d viewers, %d events from as many addresses", stage, r.render, i, b.Uniques.Viewers, want[r.render])
					exact = false
				}
				bodies = append(bodies, string(res.body))
				checked++
			}
			if first == nil {
				first = bodies
			} else if fmt.Sprint(first) != fmt.Sprint(bodies) {
				h.t.Errorf("%s: %s: instances answer different series or uniques:\n%v\n%v", stage, r.render, first, bodies)
				exact = false
			}
		}
	}
	h.t.Logf("%s: series reconciled: %d answers of %d renders, exact %v", stage, checked, len(h.renders), exact)
	return exact
}
