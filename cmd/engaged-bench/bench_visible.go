package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/nats-io/nats.go"
	"github.com/valyala/fasthttp"
)

// benchVisible measures event-to-visible: from sending a partner event to
// the NATS update (engaged.updates.<project>.<item>) that shows it, and from
// the POST's 2xx to that update. Events go round-robin over the renders at
// --rate (default 500/s), so each render is quiet between its events and
// every update is the leading edge of the coalescing, not a trailing one:
// the figure is the path's latency, not the coalescing interval.
func benchVisible(ctx context.Context, o benchOptions, fx *fixture) (benchResult, error) {
	nc, err := nats.Connect(o.natsURL, nats.Name("engaged-bench"))
	if err != nil {
		return benchResult{}, fmt.Errorf("connect %s: %w", o.natsURL, err)
	}
	defer nc.Close()

	// Each render's updates go to its own channel, with the total they show.
	type seen struct {
		total int64
		at    time.Time
	}
	chans := make(map[string]chan seen, len(fx.renders))
	for _, r := range fx.renders {
		chans[r] = make(chan seen, 64)
	}
	sub, err := nc.Subscribe("engaged.updates."+fx.project+".*", func(m *nats.Msg) {
		at := time.Now()
		item := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		var u struct {
			Total int64 `json:"total"`
		}
		if json.Unmarshal(m.Data, &u) != nil {
			return
		}
		if ch, ok := chans[item]; ok {
			select {
			case ch <- seen{u.Total, at}:
			default:
			}
		}
	})
	if err != nil {
		return benchResult{}, err
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return benchResult{}, err
	}

	// A render is posted to by one worker at a time, so its expected total
	// is known: a lock per render keeps two events of one render apart.
	locks := make([]sync.Mutex, len(fx.renders))
	totals := make([]int64, len(fx.renders))
	var next atomic.Int64
	var mu sync.Mutex
	ackHist := hdrhistogram.New(1, 60_000_000, 3)
	var beforeAck, lost atomic.Int64
	rate := o.rate
	if rate == 0 {
		rate = 500
	}
	r := load(ctx, o, "visible", rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		i := int(next.Add(1)-1) % len(fx.renders)
		rid := fx.renders[i]
		locks[i].Lock()
		defer locks[i].Unlock()
		ch := chans[rid]
		for len(ch) > 0 { // stale updates of an earlier, timed-out event
			<-ch
		}
		req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(res)
		req.SetRequestURI(o.url + "/v1/renders/" + rid + "/events")
		req.Header.SetMethod("POST")
		req.Header.Set("Authorization", "Bearer "+fx.secret)
		req.Header.SetContentType("application/json")
		req.Header.Set("X-Forwarded-For", randomIP())
		req.SetBodyString(`{"eventType":"viewed"}`)
		err := c.Do(req, res)
		acked := time.Now()
		st := status(res.StatusCode(), err)
		if st != "200" || !strings.Contains(string(res.Body()), `"recorded":true`) {
			return st, 0
		}
		totals[i]++
		timeout := time.After(5 * time.Second)
		for {
			select {
			case u := <-ch:
				if u.total < totals[i] {
					continue
				}
				d := u.at.Sub(acked)
				if d < 0 {
					beforeAck.Add(1)
					d = 0
				}
				mu.Lock()
				_ = ackHist.RecordValue(max(1, d.Microseconds()))
				mu.Unlock()
				return "visible", 1
			case <-timeout:
				lost.Add(1)
				return "no-update", 1
			}
		}
	})
	r.Note = fmt.Sprintf("latency = POST sent → NATS update received, open loop at %d events/s over %d renders; "+
		"from the 2xx to the update: p50 %.3f ms, p99 %.3f ms, max %.3f ms (%d of %d updates arrived before the 2xx)",
		rate, len(fx.renders), float64(ackHist.ValueAtQuantile(50))/1000, float64(ackHist.ValueAtQuantile(99))/1000,
		float64(ackHist.Max())/1000, beforeAck.Load(), ackHist.TotalCount())
	if n := lost.Load(); n > 0 {
		r.Note += fmt.Sprintf("; %d events showed no update within 5 s", n)
	}
	return r, nil
}
