package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"engaged/persist"
)

// serverStats is what /debug/stats (on ENGAGED_PPROF_ADDR) reports.
type serverStats struct {
	LiveActors int   `json:"liveActors"`
	Goroutines int   `json:"goroutines"`
	RSS        int64 `json:"rssBytes"`
	HeapInuse  int64 `json:"heapInuseBytes"`
	StackInuse int64 `json:"stackInuseBytes"`
}

func fetchStats(debugURL string, gc bool) (serverStats, error) {
	u := debugURL + "/debug/stats"
	if gc {
		u += "?gc=1"
	}
	res, err := http.Get(u)
	if err != nil {
		return serverStats{}, err
	}
	defer res.Body.Close()
	var s serverStats
	return s, json.NewDecoder(res.Body).Decode(&s)
}

// benchMemory activates o.items renders through reads and reports the
// server's RSS per live actor, then waits for passivation (start the server
// with a short ENGAGED_IDLE_TIMEOUT) and reports what was given back.
func benchMemory(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture) (benchResult, error) {
	if o.debugURL == "" {
		return benchResult{}, fmt.Errorf("memory needs --debug-url (the server's ENGAGED_PPROF_ADDR)")
	}
	for len(fx.renders) < o.items {
		ids, err := store.CreateRenders(ctx, fx.project, min(50_000, o.items-len(fx.renders)))
		if err != nil {
			return benchResult{}, err
		}
		fx.renders = append(fx.renders, ids...)
	}
	before, err := fetchStats(o.debugURL, true)
	if err != nil {
		return benchResult{}, err
	}
	start := time.Now()
	var next, done atomic.Int64
	stop := progress(o.progress, "memory", start, &done, &done)
	client := &fasthttp.HostClient{Addr: hostOf(o.url), MaxConns: o.conns}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := 0; w < o.conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(fx.renders)) || ctx.Err() != nil {
					return
				}
				req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				req.SetRequestURI(o.url + "/v1/renders/" + fx.renders[i] + "/engagement")
				req.Header.Set("Authorization", "Bearer "+fx.secret)
				if err := client.Do(req, res); err != nil || res.StatusCode() != 200 {
					failed.Add(1)
				}
				fasthttp.ReleaseRequest(req)
				fasthttp.ReleaseResponse(res)
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	stop()
	activated := time.Since(start)
	live, err := fetchStats(o.debugURL, true)
	if err != nil {
		return benchResult{}, err
	}
	// Passivation: wait until the live actors are gone (bounded wait).
	deadline := time.Now().Add(o.passivateWait)
	after := live
	for time.Now().Before(deadline) && after.LiveActors > before.LiveActors {
		time.Sleep(time.Second)
		if after, err = fetchStats(o.debugURL, false); err != nil {
			return benchResult{}, err
		}
	}
	if after, err = fetchStats(o.debugURL, true); err != nil {
		return benchResult{}, err
	}
	n := int64(live.LiveActors - before.LiveActors)
	per := func(v int64) int64 {
		if n <= 0 {
			return 0
		}
		return v / n
	}
	return benchResult{
		Scenario: "memory", Duration: activated.Seconds(), Requests: done.Load(),
		ReqPerSec: float64(done.Load()) / activated.Seconds(),
		Statuses:  map[string]int64{"activated": n, "failed": failed.Load()},
		Note: fmt.Sprintf("%d live actors: RSS +%d B/actor, heap +%d B/actor, stacks +%d B/actor (RSS %d MiB → %d MiB); after passivation %d live, RSS %d MiB",
			n, per(live.RSS-before.RSS), per(live.HeapInuse-before.HeapInuse), per(live.StackInuse-before.StackInuse),
			before.RSS>>20, live.RSS>>20, after.LiveActors, after.RSS>>20),
	}, nil
}
