package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// reconcileTop checks, after reconcile found every instance counting what
// the stream holds, that every instance up answers the same top-N as the
// series say: the renders by viewed and the contents by likes over 24h,
// each the sum of the item's hour buckets, once the answer's asOf covers
// the moment the load stopped (docs/RANKINGS.md).
func (h *harness) reconcileTop(stage string, stopped time.Time) bool {
	h.t.Helper()
	start := time.Now()
	first := -1
	for i := range h.instances {
		if h.up[i] {
			first = i
			break
		}
	}
	if first < 0 {
		return true
	}
	base := h.instances[first].proc.base
	to := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	hours := url.Values{"interval": {"hour"}, "from": {to.Add(-24 * time.Hour).Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	// sum reads an item's hour buckets of metric over the window from the
	// first instance up (render answers are unwrapped, content ones in data).
	sum := func(path, key, metric string) (int64, error) {
		q := hours
		q.Set("metric", metric)
		res, err := h.try("GET", base+path+"/series?"+q.Encode(), key, "")
		if err != nil || res.status != 200 {
			return 0, fmt.Errorf("series %s: %v %d %s", path, err, res.status, res.body)
		}
		var b struct {
			Buckets []struct{ V int64 } `json:"buckets"`
			Data    struct {
				Buckets []struct{ V int64 } `json:"buckets"`
			} `json:"data"`
		}
		if err := json.Unmarshal(res.body, &b); err != nil {
			return 0, err
		}
		var n int64
		for _, x := range append(b.Buckets, b.Data.Buckets...) {
			n += x.V
		}
		return n, nil
	}
	type question struct {
		project, key, query string
		want                map[string]int64
	}
	qs := []question{
		{h.renders[0].project, h.renders[0].key, "kind=render&metric=viewed&window=24h&limit=100", map[string]int64{}},
		{h.sdk.project, h.sdk.sk, "kind=content&metric=likes&window=24h&limit=100", map[string]int64{}},
	}
	for _, r := range h.renders {
		n, err := sum("/v1/renders/"+r.render, r.key, "viewed")
		if err != nil {
			h.t.Errorf("%s: %v", stage, err)
			return false
		}
		qs[0].want[r.render] = n
	}
	for _, c := range h.contents {
		n, err := sum("/v1/contents/"+c, h.sdk.sk, "likes")
		if err != nil {
			h.t.Errorf("%s: %v", stage, err)
			return false
		}
		qs[1].want[c] = n
	}
	exact := true
	for _, q := range qs {
		var want []string
		for id, n := range q.want {
			if n > 0 {
				want = append(want, fmt.Sprintf("%s=%d", id, n))
			}
		}
		slices.SortFunc(want, func(a, b string) int {
			ia, ib := strings.LastIndexByte(a, '='), strings.LastIndexByte(b, '=')
			return cmpRank(q.want[a[:ia]], q.want[b[:ib]], a[:ia], b[:ib])
		})
		for i, in := range h.instances {
			if !h.up[i] {
				continue
			}
			var got []string
			var asOf *time.Time
			deadline := time.Now().Add(40 * time.Second)
			for {
				got, asOf = nil, nil
				res, err := h.try("GET", in.proc.base+"/v1/projects/"+q.project+"/top?"+q.query, q.key, "")
				if err == nil && res.status == 200 {
					var a topAnswer
					if json.Unmarshal(res.body, &a) == nil {
						asOf = a.AsOf
						for _, it := range a.Items {
							got = append(got, fmt.Sprintf("%s=%g", it.ID, it.Value))
						}
					}
				}
				if asOf != nil && !asOf.Before(stopped) && slices.Equal(got, want) {
					break
				}
				if time.Now().After(deadline) {
					h.t.Errorf("%s: instance %d: top %s (asOf %v, load stopped %v):\n got %v\nwant %v", stage, i, q.query, asOf, stopped, got, want)
					exact = false
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	h.t.Logf("%s: top reconciled on every instance up in %v: exact %v", stage, time.Since(start).Round(time.Millisecond), exact)
	return exact
}

// cmpRank orders (value, id) pairs as top-N does: value descending, then id.
func cmpRank(va, vb int64, a, b string) int {
	switch {
	case va != vb && va > vb:
		return -1
	case va != vb:
		return 1
	}
	return strings.Compare(a, b)
}
