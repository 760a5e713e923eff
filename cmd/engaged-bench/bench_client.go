package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/engagedhq/engaged/client"
	"github.com/engagedhq/engaged/persist"
)

// benchSDKClient is ingest-batch through the Go client (client/)
// instead of hand-built fasthttp requests: --connections clients, each
// fed by its own goroutine as fast as its queue takes events, batching
// --batch events per request with its own goroutine. It measures what a
// server-side sender gets end to end (net/http, JSON encoding per event,
// one request in flight per client); ingest-batch stays the figure for the
// server itself, so the two are comparable only as sender vs server.
func benchSDKClient(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture) (benchResult, error) {
	if err := fx.addContent(ctx, store, o.items); err != nil {
		return benchResult{}, err
	}
	var rejected atomic.Int64
	clients := make([]*client.Client, o.conns)
	for i := range clients {
		c, err := client.New(o.url, fx.publishable, client.WithBatching(o.batch, 50*time.Millisecond),
			client.WithMaxQueue(4*o.batch), client.WithOnError(func(client.Rejection) { rejected.Add(1) }))
		if err != nil {
			for _, c := range clients[:i] {
				c.Close(ctx)
			}
			return benchResult{}, err
		}
		clients[i] = c
	}
	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var tracked atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; runCtx.Err() == nil; i++ {
				ev := client.Event{Event: "like", ContentID: fx.contents[(w*7919+i/10)%len(fx.contents)], UserID: "user_bench", SessionID: "sess_bench"}
				switch err := c.Track(runCtx, ev); {
				case err == nil:
					tracked.Add(1)
				case errors.Is(err, client.ErrQueueFull):
					time.Sleep(time.Millisecond) // the client is at its bound: wait for a batch to go
				default:
					return
				}
			}
		}()
	}
	wg.Wait()
	// Everything tracked must be delivered before the clock stops.
	closeCtx, cancelClose := context.WithTimeout(ctx, time.Minute)
	defer cancelClose()
	var undelivered error
	for _, c := range clients {
		if err := c.Close(closeCtx); err != nil && undelivered == nil {
			undelivered = err
		}
	}
	elapsed := time.Since(start).Seconds()
	n := tracked.Load()
	r := benchResult{
		Scenario: "sdk-client", Duration: elapsed, Events: n - rejected.Load(),
		EvPerSec: float64(n-rejected.Load()) / elapsed,
		Statuses: map[string]int64{"delivered": n - rejected.Load(), "rejected": rejected.Load()},
		Note: fmt.Sprintf("Go client: %d clients, batches of %d, over %d content items; events/s from the first Track to the last Close",
			o.conns, o.batch, len(fx.contents)),
	}
	if undelivered != nil {
		return r, fmt.Errorf("sdk-client: %w", undelivered)
	}
	return r, nil
}
