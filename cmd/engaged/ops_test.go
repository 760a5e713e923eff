package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/engagedhq/engaged/config"
)

// scrape reads the operator listener's /metrics and parses it as Prometheus
// does.
func (s *service) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mf
}

// value sums the family's series whose labels include want (counter,
// gauge, or a histogram's sample count).
func value(mf map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := mf[name]
	if f == nil {
		return -1
	}
	var sum float64
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum
}

// The operator listener's /metrics parses, has every documented family, and
// its series move with traffic through the real server: requests by route
// pattern (never the raw path) and status, JetStream publishes, actors,
// partition deliveries and acks, snapshot rounds, SSE streams.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newTenant(t, e)

	before := s.scrape(t)
	for _, name := range []string{
		"engaged_actors_live", "engaged_actor_activations_total", "engaged_actor_passivations_total",
		"engaged_actor_mailbox_full_total", "engaged_partition_delivered_total", "engaged_partition_acks_total",
		"engaged_partition_pending", "engaged_partition_unacked", "engaged_sse_streams_open",
		"engaged_sse_clients_dropped_total", "engaged_live_update_failures_total", "engaged_system_events_total",
		"engaged_build_info", "engaged_events_total",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if before[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}
	route := "/v1/renders/:id/events"
	if v := value(before, "engaged_http_requests_total", "route", route); v > 0 {
		t.Fatalf("requests before any: %v", v)
	}

	const n = 5
	for i := range n {
		if r := s.post(t, tn, fmt.Sprintf(`{"eventType":"viewed","metadata":{"i":%d}}`, i)); r.status != 200 {
			t.Fatalf("post: %d %s", r.status, r.body)
		}
	}
	// Rejected events, by reason: a partner event of no known type, an SDK
	// event too old, and one about a content id nobody registered.
	if r := s.post(t, tn, `{"eventType":"nope"}`); r.status != 400 {
		t.Fatalf("invalid partner event: %d %s", r.status, r.body)
	}
	old := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
	for body, want := range map[string]int{
		`{"event":"like","contentId":"cnt_nobody_registered"}`:                        400,
		`{"events":[{"event":"like","contentId":"cnt_x","timestamp":"` + old + `"}]}`: 200,
	} {
		path := "/v1/events"
		if strings.HasPrefix(body, `{"events"`) {
			path += "/batch"
		}
		if r := do(t, "POST", s.base+path, tn.key, body); r.status != want {
			t.Fatalf("%s %s: %d %s", path, body, r.status, r.body)
		}
	}
	s.engagement(t, tn)
	if r := do(t, "GET", s.base+"/no/such/"+tn.render, "", ""); r.status != 404 {
		t.Fatalf("unknown path: %d", r.status)
	}
	c := openStream(t, s.streamURL(tn), tn.key)
	c.next(t)

	var after map[string]*dto.MetricFamily
	eventually(t, 10*time.Second, func() error {
		after = s.scrape(t)
		// Acks follow the snapshot round that covers the deliveries.
		if v := value(after, "engaged_partition_acks_total"); v < 1 {
			return fmt.Errorf("partition acks %v", v)
		}
		if v := value(after, "engaged_snapshot_bytes_total"); v <= 0 {
			return fmt.Errorf("snapshot bytes %v", v)
		}
		return nil
	})
	checks := []struct {
		name  string
		min   float64
		label []string
	}{
		{"engaged_http_requests_total", n, []string{"method", "POST", "route", route, "status", "200"}},
		{"engaged_http_request_duration_seconds", n, []string{"method", "POST", "route", route, "status", "200"}},
		{"engaged_http_requests_total", 1, []string{"route", "/v1/renders/:id/engagement", "status", "200"}},
		{"engaged_http_requests_total", 1, []string{"route", "unmatched", "status", "404"}},
		{"engaged_jetstream_publish_duration_seconds", n, nil},
		{"engaged_actors_live", 1, nil},
		{"engaged_actor_activations_total", 1, nil},
		{"engaged_partition_delivered_total", n, nil},
		{"engaged_snapshot_round_duration_seconds", 1, nil},
		{"engaged_snapshots_total", 1, nil},
		{"engaged_sse_streams_open", 1, nil},
	}
	for _, c := range checks {
		if v := value(after, c.name, c.label...); v < c.min {
			t.Errorf("%s%v = %v, want at least %v\n%v", c.name, c.label, v, c.min, after["engaged_http_requests_total"])
		}
	}
	if v := value(after, "engaged_jetstream_publish_failures_total"); v != 0 {
		t.Errorf("publish failures %v", v)
	}
	// Every partner event is recorded or a duplicate (the five views share
	// a source address, so the 5-minute dedupe keeps some); the rejected
	// ones are counted by reason.
	rec := value(after, "engaged_events_total", "kind", "render", "outcome", "recorded")
	dup := value(after, "engaged_events_total", "kind", "render", "outcome", "duplicate")
	if rec < 1 || rec+dup != n {
		t.Errorf("render events recorded %v + duplicate %v, want %d in all", rec, dup, n)
	}
	for _, c := range []struct {
		kind, reason string
	}{{"render", "invalid"}, {"content", "unknown_item"}, {"content", "too_old"}} {
		if v := value(after, "engaged_events_total", "kind", c.kind, "outcome", "rejected", "reason", c.reason); v != 1 {
			t.Errorf("%s events rejected %s: %v, want 1", c.kind, c.reason, v)
		}
	}
	if v := value(after, "engaged_build_info"); v != 1 {
		t.Errorf("engaged_build_info = %v, want 1", v)
	}
	// Bounded cardinality: no label value is a raw path.
	for name, f := range after {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), tn.render) {
					t.Errorf("%s has a raw path in a label: %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// The public listener carries the API, pages and a bare /healthz and
// /readyz; /metrics, /stats and pprof are on the operator listener only.
// Each request gets one access-log line with the route pattern, status and
// key id, never the key; a sane incoming X-Request-Id is kept.
func TestOperatorListenerAndAccessLog(t *testing.T) {
	e := newEnv(t)
	s := startServiceWith(t, e, options{now: time.Now, environ: func() []string {
		return []string{"ENGAGED_HTTP_ADRR=:1", "ENGAGED_HTTP_ADDR=:2", "PATH=/bin"}
	}})
	tn := newTenant(t, e)

	for _, path := range []string{"/metrics", "/stats", "/debug/pprof/"} {
		if r := do(t, "GET", s.base+path, "", ""); r.status != 404 {
			t.Errorf("public %s: %d, want 404", path, r.status)
		}
		if r := do(t, "GET", s.admin+path, "", ""); r.status != 200 {
			t.Errorf("operator %s: %d, want 200", path, r.status)
		}
	}
	if r := do(t, "GET", s.base+"/readyz", "", ""); r.status != 200 || string(r.body) != `{"status":"ready"}` {
		t.Errorf("public /readyz: %d %s", r.status, r.body)
	}
	r := do(t, "GET", s.admin+"/readyz", "", "")
	if m := r.json(t); r.status != 200 || m["status"] != "ready" || m["nats"] != "ok" || m["postgres"] != "ok" || m["draining"] != false {
		t.Errorf("operator /readyz: %d %s", r.status, r.body)
	}
	if !strings.Contains(s.log.String(), "unknown variable ignored") || !strings.Contains(s.log.String(), "name=ENGAGED_HTTP_ADRR") ||
		strings.Contains(s.log.String(), "name=ENGAGED_HTTP_ADDR ") {
		t.Errorf("no warning about exactly ENGAGED_HTTP_ADRR:\n%s", s.log.String())
	}

	r = s.post(t, tn, `{"eventType":"viewed"}`, "X-Request-Id", "trace-42.a:b_c")
	if r.status != 200 || r.header.Get("X-Request-Id") != "trace-42.a:b_c" {
		t.Fatalf("sane request id not kept: %d %q", r.status, r.header.Get("X-Request-Id"))
	}
	for _, bad := range []string{strings.Repeat("a", 129), "two words", "x\"y", "<script>"} {
		r := s.post(t, tn, `{"eventType":"nope"}`, "X-Request-Id", bad)
		id := r.header.Get("X-Request-Id")
		if !strings.HasPrefix(id, "req_") || r.json(t)["meta"].(map[string]any)["requestId"] != id {
			t.Errorf("X-Request-Id %q: answered %q, %s", bad, id, r.body)
		}
	}
	eventually(t, 5*time.Second, func() error {
		for _, line := range scanLines(s.log.String()) {
			if strings.Contains(line, "msg=request request_id=trace-42.a:b_c method=POST route=/v1/renders/:id/events status=200 duration_ms=") &&
				strings.Contains(line, "key_id="+tn.keyID) {
				return nil
			}
		}
		return fmt.Errorf("no access-log line for the request:\n%s", s.log.String())
	})
	if strings.Contains(s.log.String(), tn.key) {
		t.Errorf("the key is in the log")
	}
}

// On SIGTERM (the context ending) /readyz answers 503 at once, without
// internal detail, while requests are still served for the drain delay;
// then the service stops as before.
func TestDrain(t *testing.T) {
	e := newEnv(t).with("ENGAGED_DRAIN_DELAY", "5s")
	s := startService(t, e)
	tn := newTenant(t, e)
	if r := s.post(t, tn, `{"eventType":"viewed"}`); r.status != 200 {
		t.Fatalf("post: %d %s", r.status, r.body)
	}
	s.cancel() // what SIGTERM does through main's signal.NotifyContext
	eventually(t, 5*time.Second, func() error {
		if r := do(t, "GET", s.base+"/readyz", "", ""); r.status != 503 {
			return fmt.Errorf("public /readyz %d while draining", r.status)
		}
		return nil
	})
	r := do(t, "GET", s.base+"/readyz", "", "")
	if code := r.errorCode(t); code != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Errorf("/readyz while draining: %s", r.body)
	}
	r = s.post(t, tn, `{"eventType":"downloaded"}`)
	if r.status != 200 {
		t.Fatalf("a request during the drain: %d %s", r.status, r.body)
	}
	if res, err := http.Get(s.base + "/healthz"); err != nil || !res.Close {
		t.Errorf("a response during the drain keeps the connection: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	if r := do(t, "GET", s.admin+"/readyz", "", ""); r.status != 503 || r.json(t)["status"] != "draining" {
		t.Errorf("operator /readyz while draining: %d %s", r.status, r.body)
	}
	mf := s.scrape(t)
	if v := value(mf, "engaged_http_unavailable_total", "reason", "draining"); v < 1 {
		t.Errorf("503s by reason draining: %v", v)
	}
	if !strings.Contains(s.log.String(), `msg=unavailable`) || !strings.Contains(s.log.String(), "reason=draining") {
		t.Errorf("the 503's cause is not logged:\n%s", s.log.String())
	}
	select {
	case err := <-s.done:
		s.cancel = nil // stopped: the cleanup's stop has nothing to do
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop after the drain:\n%s", s.log.String())
	}
}

// -h and --help print to stdout and succeed everywhere; misuse exits 2 and
// names the word; serve -h is generated from the settings table.
func TestCommandLine(t *testing.T) {
	type result struct {
		code           int
		stdout, stderr string
	}
	runCLI := func(args ...string) result {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, env{}.lookup, &out, &errOut)
		code := exitCode(err, &errOut)
		return result{code, out.String(), errOut.String()}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"serve", "-h"}, {"serve", "--help"}, {"version", "-h"}} {
		r := runCLI(args...)
		if r.code != 0 || r.stdout == "" || r.stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	r := runCLI("serve", "-h")
	for _, want := range []string{"-http-addr addr", "(ENGAGED_HTTP_ADDR; default :8080)", "-drain-delay duration", "(ENGAGED_ADMIN_ADDR; default 127.0.0.1:9090)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("serve -h lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, tc := range []struct {
		args []string
		word string
	}{
		{nil, "missing command"},
		{[]string{"frobnicate"}, "frobnicate"},
		{[]string{"serve", "-no-such-flag"}, "no-such-flag"},
		{[]string{"serve", "extra"}, "extra"},
		{[]string{"version", "extra"}, "extra"},
	} {
		r := runCLI(tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.word) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %q", tc.args, r.code, r.stderr, tc.word)
		}
	}
	r = runCLI("version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "engaged ") || !strings.Contains(r.stdout, "go1.") {
		t.Errorf("version: %d %q", r.code, r.stdout)
	}
}

// With no ENGAGED_LOG_FORMAT the log is JSON unless stderr is a terminal (a
// buffer is not).
func TestLogFormat(t *testing.T) {
	for _, tc := range []struct{ format, want string }{{"", "json"}, {"json", "json"}, {"text", "text"}} {
		var b bytes.Buffer
		cfg := config.Defaults()
		cfg.LogFormat = tc.format
		newLogger(cfg, &b).Info("hello", "k", "v")
		isJSON := json.Valid(bytes.TrimSpace(b.Bytes()))
		if isJSON != (tc.want == "json") {
			t.Errorf("format %q wrote %q, want %s", tc.format, b.String(), tc.want)
		}
	}
	var b bytes.Buffer
	cfg := config.Defaults()
	cfg.LogLevel = 4 // warn
	newLogger(cfg, &b).Info("quiet")
	if b.Len() != 0 {
		t.Errorf("info written at warn: %q", b.String())
	}
}
