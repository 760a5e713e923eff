package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/engagedhq/engaged/persist"
)

// serverStats is the "process" member of /stats on the server's operator
// listener (ENGAGED_ADMIN_ADDR).
type serverStats struct {
	LiveActors int   `json:"liveActors"`
	Goroutines int   `json:"goroutines"`
	RSS        int64 `json:"rssBytes"`
	HeapInuse  int64 `json:"heapInuseBytes"`
	StackInuse int64 `json:"stackInuseBytes"`
}

func fetchStats(adminURL string, gc bool) (serverStats, error) {
	u := adminURL + "/stats"
	if gc {
		u += "?gc=1"
	}
	res, err := http.Get(u)
	if err != nil {
		return serverStats{}, err
	}
	defer res.Body.Close()
	var s struct {
		Process serverStats `json:"process"`
	}
	err = json.NewDecoder(res.Body).Decode(&s)
	return s.Process, err
}

// waitPassivated polls /stats until at most n actors are live or
// o.passivateWait is up (start the server with a short ENGAGED_IDLE_TIMEOUT),
// and returns the last stats, taken after a GC.
func waitPassivated(ctx context.Context, o benchOptions, n int) (serverStats, error) {
	deadline := time.Now().Add(o.passivateWait)
	for {
		s, err := fetchStats(o.adminURL, false)
		if err != nil {
			return s, err
		}
		if s.LiveActors <= n || time.Now().After(deadline) || ctx.Err() != nil {
			return fetchStats(o.adminURL, true)
		}
		time.Sleep(time.Second)
	}
}

// growth is what the server gained between two stats, per live actor gained.
type growth struct{ actors, rss, heap, stack int64 }

func grown(before, after serverStats) growth {
	g := growth{actors: int64(after.LiveActors - before.LiveActors)}
	if g.actors > 0 {
		g.rss = (after.RSS - before.RSS) / g.actors
		g.heap = (after.HeapInuse - before.HeapInuse) / g.actors
		g.stack = (after.StackInuse - before.StackInuse) / g.actors
	}
	return g
}

func (g growth) String() string {
	return fmt.Sprintf("%d live actors: RSS +%d B/actor, heap +%d B/actor, stacks +%d B/actor", g.actors, g.rss, g.heap, g.stack)
}

// benchMemory activates o.items renders through reads and reports the
// server's RSS per live actor, then waits for passivation (start the server
// with a short ENGAGED_IDLE_TIMEOUT) and reports what was given back.
func benchMemory(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture) (benchResult, error) {
	if o.adminURL == "" {
		return benchResult{}, fmt.Errorf("memory needs --admin-url (the server's ENGAGED_ADMIN_ADDR)")
	}
	if len(fx.renders) < o.items {
		more, err := fx.createRenders(ctx, store, o.items-len(fx.renders))
		if err != nil {
			return benchResult{}, err
		}
		fx.renders = append(fx.renders, more...)
	}
	before, err := fetchStats(o.adminURL, true)
	if err != nil {
		return benchResult{}, err
	}
	r := each(ctx, o.untimed(), "memory", len(fx.renders), func(i int, c *fasthttp.HostClient) (string, int) {
		return getEngagement(o, fx, c, fx.renders[i]), 0
	})
	live, err := fetchStats(o.adminURL, true)
	if err != nil {
		return benchResult{}, err
	}
	after, err := waitPassivated(ctx, o, before.LiveActors)
	if err != nil {
		return benchResult{}, err
	}
	g := grown(before, live)
	r.Scenario, r.RSSPerItem = "memory", g.rss
	r.Note = fmt.Sprintf("%s (RSS %d MiB → %d MiB); after passivation %d live, RSS %d MiB",
		g, before.RSS>>20, live.RSS>>20, after.LiveActors, after.RSS>>20)
	return r, nil
}

// benchMemoryFull gives o.memoryItems new renders the state of a busy one —
// two shares, each opened and printed once, then 25 partner events with
// ~200 B of metadata (a full recent list, 29 dedupe entries) — and a
// quarter as many new content items 300 SDK events each (aggregates and
// 300 remembered event ids). It waits until every actor is passivated, then
// reads the renders back (their state comes from the snapshots), waits
// again, reads the content items back, and reports RSS and heap per live
// item of each kind. The reads must take less than the server's idle
// timeout, or actors read first are gone before the figure is taken.
func benchMemoryFull(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture) (benchResult, error) {
	if o.adminURL == "" {
		return benchResult{}, fmt.Errorf("memory-full needs --admin-url (the server's ENGAGED_ADMIN_ADDR)")
	}
	m := o.memoryItems
	renders, err := fx.createRenders(ctx, store, m)
	if err != nil {
		return benchResult{}, err
	}
	if err := fx.addContent(ctx, store, 0); err != nil { // the publishable key
		return benchResult{}, err
	}
	contents, err := fx.createContent(ctx, "cnt_mem_", 0, max(1, m/4))
	if err != nil {
		return benchResult{}, err
	}
	uo := o.untimed()
	meta := `{"source":"bench","campaign":"memory-full","note":"` + strings.Repeat("m", 150) + `"}`
	fill := []benchResult{
		each(ctx, uo, "fill-shares", 2*m, func(i int, c *fasthttp.HostClient) (string, int) {
			return shareOpenedAndPrinted(o, fx, c, renders[i/2])
		}),
		each(ctx, uo, "fill-events", 25*m, func(i int, c *fasthttp.HostClient) (string, int) {
			return partnerEventTo(o, fx, c, renders[i%m], meta), 1
		}),
		each(ctx, uo, "fill-sdk", 3*len(contents), func(i int, c *fasthttp.HostClient) (string, int) {
			item := contents[i%len(contents)]
			return postBatch(o, fx, c, "", func(int) string { return item }) // no userId: the figure is per content item
		}),
	}
	var fillNote []string
	for _, r := range fill {
		fillNote = append(fillNote, fmt.Sprintf("%s %.0f req/s (%s)", r.Scenario, r.ReqPerSec, statusList(r)))
	}
	base, err := waitPassivated(ctx, o, 0)
	if err != nil {
		return benchResult{}, err
	}
	rr := each(ctx, uo, "read-renders", m, func(i int, c *fasthttp.HostClient) (string, int) {
		return getEngagement(o, fx, c, renders[i]), 0
	})
	rendersLive, err := fetchStats(o.adminURL, true)
	if err != nil {
		return benchResult{}, err
	}
	// The renders passivate again before the content items are read, so
	// neither kind's figure depends on the other's timing.
	base2, err := waitPassivated(ctx, o, 0)
	if err != nil {
		return benchResult{}, err
	}
	each(ctx, uo, "read-contents", len(contents), func(i int, c *fasthttp.HostClient) (string, int) {
		return getSecret(o, fx, c, "/v1/contents/"+contents[i]+"/engagement"), 0
	})
	contentsLive, err := fetchStats(o.adminURL, true)
	if err != nil {
		return benchResult{}, err
	}
	// What the renders gave back when they passivated is a second reading
	// of the same figure: the fill's transient memory (JetStream's
	// duplicate window, pgx buffers) can shrink or grow during the reads.
	gr, gc, released := grown(base, rendersLive), grown(base2, contentsLive), grown(base2, rendersLive)
	rr.Scenario, rr.Items, rr.RSSPerItem = "memory-full", m, gr.rss
	rr.Note = fmt.Sprintf("%d renders (25 recent, 2 shares, dedupe entries) read back: %s (RSS %d → %d MiB), "+
		"and given back on passivation RSS %d B/actor, heap %d B/actor; "+
		"%d content items (300 events) read back: %s (RSS %d → %d MiB); %d and %d actors live before each; fill: %s",
		m, gr, base.RSS>>20, rendersLive.RSS>>20, released.rss, released.heap, len(contents), gc, base2.RSS>>20, contentsLive.RSS>>20,
		base.LiveActors, base2.LiveActors, strings.Join(fillNote, ", "))
	return rr, nil
}

// shareOpenedAndPrinted creates a share of render rid, opens its public
// page and prints it (from one random address each), so the share has
// counts of its own.
func shareOpenedAndPrinted(o benchOptions, fx *fixture, c *fasthttp.HostClient, rid string) (string, int) {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI(o.url + "/v1/renders/" + rid + "/shares")
	req.Header.SetMethod("POST")
	req.Header.Set("Authorization", "Bearer "+fx.secret)
	if err := c.Do(req, res); err != nil || res.StatusCode() != fasthttp.StatusCreated {
		return "share:" + status(res.StatusCode(), err), 0
	}
	var sh struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(res.Body(), &sh); err != nil || sh.ID == "" {
		return "share:bad-body", 0
	}
	for i, method := range []string{"GET", "POST"} {
		req.Reset()
		res.Reset()
		path := "/s/" + sh.ID
		if method == "POST" {
			path += "/print"
		}
		req.SetRequestURI(o.url + path)
		req.Header.SetMethod(method)
		req.Header.Set("X-Forwarded-For", randomIP())
		if err := c.Do(req, res); err != nil || res.StatusCode() != fasthttp.StatusOK {
			return method + "-share-page:" + status(res.StatusCode(), err), 1 + i
		}
	}
	return "201", 3
}
