package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valyala/fasthttp"

	"github.com/engagedhq/engaged/persist"
)

// naiveServer is the baseline the service must beat: no log, no actors, one
// Postgres row per event, in the bench's own table of the same database.
// POST /v1/renders/:id/events is one INSERT; GET /v1/renders/:id/engagement
// is a GROUP BY over the render's rows. It checks no key, no render and no
// dedupe rule: every shortcut favours the baseline.
func startNaive(ctx context.Context, db *pgxpool.Pool) (url string, stop func(), err error) {
	for _, ddl := range []string{
		`CREATE TABLE IF NOT EXISTS bench_naive_events (id uuid PRIMARY KEY, render text NOT NULL,
			type text NOT NULL, ip text, created_at timestamptz NOT NULL DEFAULT now())`,
		`CREATE INDEX IF NOT EXISTS bench_naive_events_render ON bench_naive_events (render)`,
	} {
		if _, err := db.Exec(ctx, ddl); err != nil {
			return "", nil, fmt.Errorf("naive table: %w", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) { naiveHandle(c, db) }}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Shutdown(); <-done }, nil
}

func naiveHandle(c *fasthttp.RequestCtx, db *pgxpool.Pool) {
	parts := strings.Split(string(c.Path()), "/") // "", v1, renders, id, events|engagement
	if len(parts) != 5 || parts[1] != "v1" || parts[2] != "renders" {
		c.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	render := parts[3]
	c.SetContentType("application/json")
	switch {
	case parts[4] == "events" && c.IsPost():
		var ev struct {
			EventType string `json:"eventType"`
		}
		if json.Unmarshal(c.PostBody(), &ev) != nil || ev.EventType == "" {
			c.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
		ip, _, _ := strings.Cut(string(c.Request.Header.Peek("X-Forwarded-For")), ",")
		if _, err := db.Exec(c, `INSERT INTO bench_naive_events (id, render, type, ip) VALUES ($1, $2, $3, $4)`,
			uuid.Must(uuid.NewV7()), render, ev.EventType, ip); err != nil {
			c.SetStatusCode(fasthttp.StatusServiceUnavailable)
			return
		}
		c.SetBodyString(`{"recorded":true}`)
	case parts[4] == "engagement" && c.IsGet():
		counts := map[string]int64{}
		var typ string
		var n int64
		rows, err := db.Query(c, `SELECT type, count(*) FROM bench_naive_events WHERE render = $1 GROUP BY type`, render)
		if err == nil {
			_, err = pgx.ForEachRow(rows, []any{&typ, &n}, func() error { counts[typ] = n; return nil })
		}
		if err != nil {
			c.SetStatusCode(fasthttp.StatusServiceUnavailable)
			return
		}
		b, _ := json.Marshal(map[string]any{"counts": counts})
		c.SetBody(b)
	default:
		c.SetStatusCode(fasthttp.StatusNotFound)
	}
}

// benchNaive drives the naive server with the same load generator and
// requests as keyspace, cold and read: over o.naiveItems renders (warmed
// with a row each), then each event to a never-seen render, then reads.
func benchNaive(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture) ([]benchResult, error) {
	if len(fx.renders) < o.naiveItems {
		more, err := fx.createRenders(ctx, store, o.naiveItems-len(fx.renders))
		if err != nil {
			return nil, err
		}
		fx.renders = append(fx.renders, more...)
	}
	renders := fx.renders[:o.naiveItems]
	url, stop, err := startNaive(ctx, fx.db)
	if err != nil {
		return nil, err
	}
	defer stop()
	no := o
	no.url = url
	if err := warm(ctx, no, fx, renders); err != nil {
		return nil, err
	}
	w := load(ctx, no, "naive-warm", o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		return partnerEventTo(no, fx, c, renders[rand.IntN(len(renders))], `{"source":"bench"}`), 1
	})
	cold := load(ctx, no, "naive-cold", o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		return partnerEventTo(no, fx, c, uuid.Must(uuid.NewV7()).String(), `{"source":"bench"}`), 1
	})
	read := load(ctx, no, "naive-read", o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		return getEngagement(no, fx, c, renders[rand.IntN(len(renders))]), 0
	})
	w.Items, read.Items = len(renders), len(renders)
	var rows int64
	if err := fx.db.QueryRow(ctx, `SELECT count(*) FROM bench_naive_events`).Scan(&rows); err != nil {
		return nil, err
	}
	read.Note = fmt.Sprintf("GROUP BY over %d rows in all (%.0f per warm render)", rows, float64(rows-cold.Requests)/float64(len(renders)))
	return []benchResult{w, cold, read}, nil
}
