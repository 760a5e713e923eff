package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/persist"
	"github.com/engagedhq/engaged/transport/httpapi"
	"github.com/engagedhq/engaged/transport/metrics"
)

// operatorDeps are what the operator listener reports on.
type operatorDeps struct {
	metrics *metrics.Metrics
	srv     *httpapi.Server
	reg     *actors.Registry
	checks  readiness
	top     *persist.TopIndex
}

// operator is the operator listener (ENGAGED_ADMIN_ADDR): /metrics, /stats,
// /readyz with detail and /debug/pprof/, apart from the public API so that
// none of it is reachable from where the API is. It has no authentication;
// it listens on loopback unless told otherwise.
type operator struct {
	addr string
	stop func() // closes the listener and waits for its goroutine
}

func startOperator(addr string, d operatorDeps, logger *slog.Logger) (*operator, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ENGAGED_ADMIN_ADDR: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		logger.Warn("the operator listener (pprof, /stats, /metrics; no authentication) is not on loopback: keep it off the public network", "addr", ln.Addr().String())
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", d.metrics.Handler())
	mux.HandleFunc("GET /stats", d.stats)
	mux.HandleFunc("GET /readyz", d.readyz)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("operator listener", "err", err)
		}
	}()
	return &operator{addr: ln.Addr().String(), stop: func() { srv.Close(); <-done }}, nil
}

// stats serves /stats: the public paths' counters (httpapi.Server.Stats)
// with live actors, goroutines and memory, which the load tool's memory
// scenarios read (?gc=1 first returns freed memory to the OS).
func (d operatorDeps) stats(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") == "1" {
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out := d.srv.Stats()
	out["topIndex"] = d.top.Stats()
	out["process"] = map[string]any{
		"liveActors": d.reg.Live(), "goroutines": runtime.NumGoroutine(), "rssBytes": rss(),
		"heapInuseBytes": ms.HeapInuse, "stackInuseBytes": ms.StackInuse,
	}
	writeJSON(w, http.StatusOK, out)
}

// readyz serves the detailed readiness: each check with its error, and
// whether the instance is draining. 503 when NATS is down or it drains;
// with Postgres down it stays 200, "degraded": the data plane serves what
// it has seen, snapshots and acknowledgements wait (docs/OPERATING-POSTGRES.md).
func (d operatorDeps) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	status, code := "ready", http.StatusOK
	check := func(err error) string {
		if err != nil {
			status, code = "not ready", http.StatusServiceUnavailable
			return err.Error()
		}
		return "ok"
	}
	pg := "ok"
	if err := d.checks.store.Ping(ctx); err != nil {
		pg = err.Error()
	}
	out := map[string]any{
		"nats":     check(d.checks.nats()),
		"postgres": pg,
		"draining": d.srv.Draining(),
	}
	if pg != "ok" && code == http.StatusOK {
		status = "degraded"
	}
	if d.srv.Draining() {
		status, code = "draining", http.StatusServiceUnavailable
	}
	out["status"] = status
	writeJSON(w, code, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
