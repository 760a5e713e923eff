package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/engagedhq/engaged/persist"
)

// benchTop measures GET /v1/projects/:projectId/top over --items content
// items that all have events in the window: each gets two events first
// (anonymous SDK batches of 100), then the run waits until the ranking's asOf
// covers them. Two rows: top-cached repeats one question (the answer cache
// and singleflight answer it), top-uncached asks distinct questions from
// two connections, so nearly every one misses the answer cache and ranks
// the in-memory index afresh.
func benchTop(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture) ([]benchResult, error) {
	if err := fx.addContent(ctx, store, o.items); err != nil {
		return nil, err
	}
	fill := o.untimed()
	fill.batch = 100
	f := each(ctx, fill, "top-fill", (len(fx.contents)+49)/50, func(i int, c *fasthttp.HostClient) (string, int) {
		var n int
		st := retry503(func() string {
			var st string
			st, n = postBatch(fill, fx, c, "", func(j int) string { return fx.contents[(i*50+j/2)%len(fx.contents)] })
			return st
		})
		return st, n
	})
	if n := failed(f); n > 0 {
		return nil, fmt.Errorf("fill: %d batches failed: %v", n, f.Statuses)
	}
	posted := time.Now()
	if err := waitAsOf(ctx, o, fx, posted); err != nil {
		return nil, err
	}
	path := "/v1/projects/" + fx.project + "/top?"
	cached := load(ctx, o, "top-cached", o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		return getSecret(o, fx, c, path+"kind=content&metric=plays&window=24h&limit=10"), 0
	})
	cached.Items = len(fx.contents)
	cached.Note = fmt.Sprintf("one question over %d content items with events in the window: the 1 s answer cache", len(fx.contents))
	// Distinct questions: a rate with a random minPlays. (Questions that
	// differ only in limit share one answer, so a random limit alone would
	// measure the cache.)
	metrics := []string{"completionRate", "likesPerPlay", "sharesPerPlay", "savesPerPlay", "rebufferRatio"}
	few := o
	few.conns = 2
	uncached := load(ctx, few, "top-uncached", 0, func(_ int, c *fasthttp.HostClient) (string, int) {
		q := url.Values{"kind": {"content"}, "metric": {metrics[rand.IntN(len(metrics))]}, "window": {"24h"},
			"limit": {strconv.Itoa(1 + rand.IntN(100))}, "minPlays": {strconv.Itoa(rand.IntN(10000))}}
		return getSecret(o, fx, c, path+q.Encode()), 0
	})
	uncached.Items = len(fx.contents)
	uncached.Note = fmt.Sprintf("distinct questions (5 rates × minPlays 0..9999) from 2 connections over %d items: each a pass over the in-memory index (persist/topindex.go)", len(fx.contents))
	return []benchResult{cached, uncached}, nil
}

// waitAsOf polls the ranking until its asOf is at or after t.
func waitAsOf(ctx context.Context, o benchOptions, fx *fixture, t time.Time) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(o.url + "/v1/projects/" + fx.project + "/top?kind=content&metric=plays&window=1h&limit=1")
		req.Header.Set("Authorization", "Bearer "+fx.secret)
		err := fasthttp.Do(req, res)
		var body struct{ AsOf *time.Time }
		if err == nil && res.StatusCode() == 200 {
			err = json.Unmarshal(res.Body(), &body)
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(res)
		if err == nil && body.AsOf != nil && !body.AsOf.Before(t) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the ranking's asOf did not reach %s within 2 minutes (last: %v, %v)", t.Format(time.RFC3339Nano), body.AsOf, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// benchSeen measures POST /v1/users/:userId/seen with 500 content ids over
// --users users, each given one impression first (SDK batches of 100
// events, each event another user's), the content ids drawn from --items
// content items.
func benchSeen(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture) (benchResult, error) {
	if err := fx.addContent(ctx, store, max(o.items, 500)); err != nil {
		return benchResult{}, err
	}
	fill := o.untimed()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	f := each(ctx, fill, "seen-fill", (o.users+99)/100, func(i int, c *fasthttp.HostClient) (string, int) {
		var b strings.Builder
		b.WriteString(`{"events":[`)
		n := 0
		for u := i * 100; u < min(o.users, i*100+100); u++ {
			if n > 0 {
				b.WriteByte(',')
			}
			sdkEvent(&b, fx.contents[rand.IntN(len(fx.contents))], "user_"+strconv.Itoa(u), 0, now) // 0: an impression
			n++
		}
		b.WriteString(`]}`)
		return retry503(func() string { return postSDK(c, o.url+"/v1/events/batch", fx.publishable, b.String()) }), n
	})
	if n := failed(f); n > 0 {
		return benchResult{}, fmt.Errorf("fill: %d batches failed: %v", n, f.Statuses)
	}
	r := load(ctx, o, "seen", o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		var b strings.Builder
		b.WriteString(`{"contentIds":[`)
		for i := range 500 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + fx.contents[rand.IntN(len(fx.contents))] + `"`)
		}
		b.WriteString(`]}`)
		return postSDK(c, o.url+"/v1/users/user_"+strconv.Itoa(rand.IntN(max(1, o.users)))+"/seen", fx.secret, b.String()), 0
	})
	r.Items = o.users
	r.Note = fmt.Sprintf("500 content ids per request (of %d), over %d users with one impression each", len(fx.contents), o.users)
	return r, nil
}

// retry503 sends a fill request until it is not answered 503 ("try again":
// a busy actor, a slow log), ten tries at most a second apart: a fill is
// set-up, not measurement, and a batch sent again is deduplicated by its
// eventIds.
func retry503(send func() string) string {
	st := send()
	for try := 0; st == "503" && try < 10; try++ {
		time.Sleep(time.Second)
		st = send()
	}
	return st
}
