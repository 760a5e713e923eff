package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/engagedhq/engaged/persist"
)

// warm sends one partner event to each of renders, so the figures that
// follow are of live items, not of their first events.
func warm(ctx context.Context, o benchOptions, fx *fixture, renders []string) error {
	r := each(ctx, o.untimed(), "warm", len(renders), func(i int, c *fasthttp.HostClient) (string, int) {
		return partnerEventTo(o, fx, c, renders[i], `{"source":"bench"}`), 1
	})
	if n := failed(r); n > 0 {
		return fmt.Errorf("warming %d renders: %d failed (%s)", len(renders), n, statusList(r))
	}
	return nil
}

// benchKeyspace runs the ingest-single load over each size of o.sizes in
// turn (the first renders of the fixture), each warmed first, and sets each
// row's rate against the first size's.
func benchKeyspace(ctx context.Context, o benchOptions, _ *persist.Store, fx *fixture) ([]benchResult, error) {
	var out []benchResult
	for _, n := range o.sizes {
		renders := fx.renders[:n]
		if err := warm(ctx, o, fx, renders); err != nil {
			return out, err
		}
		r := load(ctx, o, fmt.Sprintf("keyspace-%d", n), o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
			return partnerEventTo(o, fx, c, renders[rand.IntN(n)], `{"source":"bench"}`), 1
		})
		r.Items = n
		r.VsFirst = 1
		if len(out) > 0 && out[0].ReqPerSec > 0 {
			r.VsFirst = r.ReqPerSec / out[0].ReqPerSec
		}
		out = append(out, r)
	}
	return out, nil
}

// benchCold sends every partner event to a render that has never had one:
// the cost of an item's first event (activation included). It pre-creates
// o.coldItems renders and runs twice in a row over them, "cold" then
// "cold-next" (o.duration each): a decay within a run shows as the second
// row against the first. It stops early if the runs use every render.
func benchCold(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture) ([]benchResult, error) {
	renders, err := fx.createRenders(ctx, store, o.coldItems)
	if err != nil {
		return nil, err
	}
	var next atomic.Int64
	first := func(_ int, c *fasthttp.HostClient) (string, int) {
		i := next.Add(1) - 1
		if i >= int64(len(renders)) {
			return "", 0
		}
		return partnerEventTo(o, fx, c, renders[i], `{"source":"bench"}`), 1
	}
	var out []benchResult
	for _, name := range []string{"cold", "cold-next"} {
		r := load(ctx, o, name, o.rate, first)
		r.Items = int(r.Requests)
		out = append(out, r)
	}
	out[0].Note = fmt.Sprintf("first events on %d of %d pre-created renders", out[0].Requests, len(renders))
	out[1].Note = fmt.Sprintf("the next %d first events, right after cold: %.0f%% of its rate", out[1].Requests, 100*out[1].ReqPerSec/max(1, out[0].ReqPerSec))
	return out, nil
}

// benchFirstTouch keeps o.liveItems renders live (one event each first)
// and then sends first events to as many other renders, never touched: an
// activation while a large live set costs GC and round time.
func benchFirstTouch(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture) ([]benchResult, error) {
	if len(fx.renders) < o.liveItems {
		more, err := fx.createRenders(ctx, store, o.liveItems-len(fx.renders))
		if err != nil {
			return nil, err
		}
		fx.renders = append(fx.renders, more...)
	}
	if err := warm(ctx, o, fx, fx.renders[:o.liveItems]); err != nil {
		return nil, err
	}
	renders, err := fx.createRenders(ctx, store, o.liveItems)
	if err != nil {
		return nil, err
	}
	r := each(ctx, o, "first-touch", len(renders), func(i int, c *fasthttp.HostClient) (string, int) {
		return partnerEventTo(o, fx, c, renders[i], `{"source":"bench"}`), 1
	})
	r.Items = len(renders)
	r.Note = fmt.Sprintf("first events on %d of %d never-touched renders while %d others are live", r.Requests, len(renders), o.liveItems)
	return []benchResult{r}, nil
}

// benchZipf is the keyspace load over all o.items renders, warmed first,
// with each event's render picked Zipf-skewed: a few hot items take much of
// the load, as on a real site.
func benchZipf(ctx context.Context, o benchOptions, _ *persist.Store, fx *fixture) ([]benchResult, error) {
	renders := fx.renders[:o.items]
	if err := warm(ctx, o, fx, renders); err != nil {
		return nil, err
	}
	// rand.Zipf is not safe for concurrent use: one per worker.
	zipfs := make([]*rand.Zipf, o.conns)
	for w := range zipfs {
		zipfs[w] = rand.NewZipf(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), o.zipfS, 1, uint64(len(renders)-1))
	}
	var hot atomic.Int64
	r := load(ctx, o, "zipf", o.rate, func(w int, c *fasthttp.HostClient) (string, int) {
		i := zipfs[w].Uint64()
		if i == 0 {
			hot.Add(1)
		}
		return partnerEventTo(o, fx, c, renders[i], `{"source":"bench"}`), 1
	})
	r.Items = len(renders)
	if r.Requests > 0 {
		r.Note = fmt.Sprintf("Zipf s=%.2f over %d renders; the hottest render took %.1f%% of the events",
			o.zipfS, len(renders), 100*float64(hot.Load())/float64(r.Requests))
	}
	return []benchResult{r}, nil
}

// benchSDKKeyspace is ingest-batch over o.items content items (registered
// in bulk), each warmed first with one event.
func benchSDKKeyspace(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture) ([]benchResult, error) {
	if err := fx.addContent(ctx, store, o.items); err != nil {
		return nil, err
	}
	contents := fx.contents[:o.items]
	wr := each(ctx, o.untimed(), "warm", (len(contents)+o.batch-1)/o.batch, func(b int, c *fasthttp.HostClient) (string, int) {
		return postBatch(o, fx, c, benchUser(o)(), func(i int) string { return contents[(b*o.batch+i)%len(contents)] })
	})
	if n := failed(wr); n > 0 {
		return nil, fmt.Errorf("warming %d content items: %d batches failed (%s)", len(contents), n, statusList(wr))
	}
	r := load(ctx, o, "sdk-keyspace", o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		base := rand.IntN(len(contents))
		return postBatch(o, fx, c, benchUser(o)(), func(i int) string { return contents[(base+i/10)%len(contents)] })
	})
	r.Items = len(contents)
	r.Note = fmt.Sprintf("%d events per batch, 10 per content item, over %d warm items", o.batch, len(contents))
	return []benchResult{r}, nil
}

// benchZipfChurn is issue 18's wide key space: partner events over
// o.churnItems pre-created renders (1M by default) drawn Zipf(o.zipfS),
// none warmed, so that many events activate an item and, past the server's
// ENGAGED_MAX_LIVE_ITEMS, rounds passivate the least recently used while
// others come back. With --admin-url it samples the server's live actors
// and RSS every 2 s: RSS should stay flat once the cap is reached.
func benchZipfChurn(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture) ([]benchResult, error) {
	renders, err := fx.createRenders(ctx, store, o.churnItems)
	if err != nil {
		return nil, err
	}
	zipfs := make([]*rand.Zipf, o.conns)
	for w := range zipfs {
		zipfs[w] = rand.NewZipf(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), o.zipfS, 1, uint64(len(renders)-1))
	}
	var samples []serverStats
	sampled := make(chan struct{})
	sctx, stopSampling := context.WithCancel(ctx)
	go func() {
		defer close(sampled)
		if o.adminURL == "" {
			return
		}
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				if s, err := fetchStats(o.adminURL, false); err == nil {
					samples = append(samples, s)
				}
			}
		}
	}()
	r := load(ctx, o, "zipf-churn", o.rate, func(w int, c *fasthttp.HostClient) (string, int) {
		return partnerEventTo(o, fx, c, renders[zipfs[w].Uint64()], `{"source":"bench"}`), 1
	})
	stopSampling()
	<-sampled
	r.Items = len(renders)
	r.Note = fmt.Sprintf("Zipf s=%.2f over %d pre-created renders, none warmed", o.zipfS, len(renders))
	if len(samples) > 0 {
		var live []string
		var rss []string
		for _, s := range samples {
			live = append(live, strconv.Itoa(s.LiveActors))
			rss = append(rss, strconv.FormatInt(s.RSS>>20, 10))
		}
		r.Note += fmt.Sprintf("; every 2 s, live actors %s, RSS MiB %s", strings.Join(live, " "), strings.Join(rss, " "))
	}
	return []benchResult{r}, nil
}
