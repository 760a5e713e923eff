package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/valyala/fasthttp"

	"github.com/engagedhq/engaged/persist"
)

// benchSeriesRead is the series issue's read figure: GET
// /v1/renders/:id/series (viewed by minute, the default 60 buckets) of
// renders drawn uniformly from o.items, each given one event and so warm
// first. Closed loop: the p99 is what the issue bounds (5 ms at 100k items).
func benchSeriesRead(ctx context.Context, o benchOptions, _ *persist.Store, fx *fixture) ([]benchResult, error) {
	renders := fx.renders[:o.items]
	if err := warm(ctx, o, fx, renders); err != nil {
		return nil, err
	}
	r := load(ctx, o, "series-read", o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		return getSecret(o, fx, c, "/v1/renders/"+renders[rand.IntN(len(renders))]+"/series?metric=viewed"), 0
	})
	r.Items = len(renders)
	r.Note = fmt.Sprintf("minute series (60 buckets) of renders drawn uniformly from %d warm ones, one event each", len(renders))
	return []benchResult{r}, nil
}
