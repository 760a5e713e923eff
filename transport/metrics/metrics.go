// Package metrics is the Prometheus adapter: it owns every metric name and
// its registration, reads the counters the other packages already keep at
// scrape time, and offers the event-time observations (histograms) as plain
// funcs that cmd/engaged passes into their Options. So no other package
// imports Prometheus, and the names documented in docs/OPERATING.md "Metrics" live in
// this one file.
package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/jetlog"
)

// Ports: what the metrics read at scrape time. Each is satisfied by the
// named type; all must be safe for concurrent use.
type (
	// Registry is actors.Registry.
	Registry interface{ Counters() actors.Counters }
	// Consumers is jetlog.Consumers.
	Consumers interface {
		Stats() []jetlog.PartitionStats
	}
	// Streams is sse.Streams.
	Streams interface {
		Count() int
		Dropped() int64
	}
	// Updates is live.Updates.
	Updates interface{ Failures() int64 }
)

// Sources are read at each scrape; a nil one is left out.
type Sources struct {
	Registry  Registry
	Consumers Consumers
	Streams   Streams
	Updates   Updates
	// SystemEvents returns the engaged.system.events subscriber's counts
	// (sysevents.Subscriber.Counts).
	SystemEvents func() (accepted, duplicate, rejected, failed int64)
	// Panics maps where a panic was contained ("http", "actor",
	// "consumer", "sse", "live", "sysevents") to its count since start:
	// engaged_panics_total{where}. Filled in by cmd/engaged from the
	// Panics() methods of those packages.
	Panics map[string]func() int64
}

// Metrics holds the process's Prometheus registry. Create it with New,
// before the components whose observers it supplies; then Watch the
// components once they exist.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	httpUnavailable *prometheus.CounterVec
	publishDuration prometheus.Histogram
	publishFailures prometheus.Counter
	roundDuration   prometheus.Histogram
	snapshotBytes   prometheus.Counter
	snapshots       prometheus.Counter
	events          *prometheus.CounterVec
}

// Build names the running binary: engaged_build_info's labels.
type Build struct {
	Version  string // the tag, else the commit
	Revision string // the full commit
	Go       string // the Go release that built it
}

// The label values of engaged_events_total: fixed sets, so the series stay
// bounded whatever a caller passes (anything else is "other"). They are
// httpapi's Kind*, Outcome* and Reject* values (a test checks it).
var (
	eventKinds    = []string{"render", "content"}
	eventOutcomes = []string{"recorded", "duplicate", "robot", "rejected"}
	rejectReasons = []string{"invalid", "too_old", "unknown_item", "content_limit", "rate_limited", "other"}
)

// latencyBuckets span the service's range: sub-millisecond reads to the
// 5 s request timeout.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New registers the Go and process collectors, engaged_build_info for b and
// the event-time metrics.
func New(b Build) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "engaged_build_info",
		Help:        "Always 1; the labels name the running binary: version (the tag, else the commit), revision (the commit) and the Go release.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "go": b.Go},
	}, func() float64 { return 1 }))
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "engaged_events_total",
		Help: "Events by item family (render, content) and verdict: recorded, duplicate (stored before, not counted again), robot (a crawler's or unfurler's request: counted in botViews only), rejected (with a reason: invalid, too_old, unknown_item, content_limit, rate_limited, other; empty otherwise).",
	}, []string{"kind", "outcome", "reason"})
	// Every series from the start at 0, so that rate() sees the first
	// rejection of a kind rather than a series appearing from nowhere.
	for _, k := range eventKinds {
		m.events.WithLabelValues(k, "recorded", "")
		m.events.WithLabelValues(k, "duplicate", "")
		m.events.WithLabelValues(k, "robot", "")
		for _, r := range rejectReasons {
			m.events.WithLabelValues(k, "rejected", r)
		}
	}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "engaged_http_requests_total",
		Help: "HTTP requests answered on the public listener, by method, route pattern and status.",
	}, []string{"method", "route", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "engaged_http_request_duration_seconds",
		Help:    "Time from a request's arrival to its final response, by method, route pattern and status.",
		Buckets: latencyBuckets,
	}, []string{"method", "route", "status"})
	m.httpUnavailable = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "engaged_http_unavailable_total",
		Help: "503 responses by reason.",
	}, []string{"reason"})
	m.publishDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "engaged_jetstream_publish_duration_seconds",
		Help:    "Time from publishing an event message to JetStream's answer (stored or failed).",
		Buckets: latencyBuckets,
	})
	m.publishFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "engaged_jetstream_publish_failures_total",
		Help: "Event messages JetStream did not store (overloaded, refused, or no answer in time).",
	})
	m.roundDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "engaged_snapshot_round_duration_seconds",
		Help:    "Duration of each snapshot round (snapshot, write to Postgres, acknowledge).",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})
	m.snapshotBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "engaged_snapshot_bytes_total",
		Help: "Bytes of item state encoded by snapshot rounds.",
	})
	m.snapshots = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "engaged_snapshots_total",
		Help: "Item snapshots encoded by snapshot rounds.",
	})
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.httpUnavailable, m.publishDuration, m.publishFailures,
		m.roundDuration, m.snapshotBytes, m.snapshots, m.events)
	return m
}

// ObserveEvents is httpapi.Options.ObserveEvents: n events of kind had
// outcome (and, when rejected, reason). Values outside the fixed sets are
// counted as "other", so no caller can grow the series.
func (m *Metrics) ObserveEvents(kind, outcome, reason string, n int) {
	kind, outcome = oneOf(kind, eventKinds), oneOf(outcome, eventOutcomes)
	if outcome == "rejected" {
		reason = oneOf(reason, rejectReasons)
	} else {
		reason = ""
	}
	m.events.WithLabelValues(kind, outcome, reason).Add(float64(n))
}

// oneOf returns v when set holds it, else "other".
func oneOf(v string, set []string) string {
	if slices.Contains(set, v) {
		return v
	}
	return "other"
}

// ObserveRequest is httpapi.Options.ObserveRequest.
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	m.httpRequests.WithLabelValues(method, route, s).Inc()
	m.httpDuration.WithLabelValues(method, route, s).Observe(d.Seconds())
}

// ObserveUnavailable is httpapi.Options.ObserveUnavailable.
func (m *Metrics) ObserveUnavailable(reason string) { m.httpUnavailable.WithLabelValues(reason).Inc() }

// ObservePublish is jetlog.LogOptions.ObservePublish.
func (m *Metrics) ObservePublish(d time.Duration, err error) {
	m.publishDuration.Observe(d.Seconds())
	if err != nil {
		m.publishFailures.Inc()
	}
}

// ObserveRound is actors.Options.ObserveRound.
func (m *Metrics) ObserveRound(d time.Duration, snapshots, bytes int) {
	m.roundDuration.Observe(d.Seconds())
	m.snapshots.Add(float64(snapshots))
	m.snapshotBytes.Add(float64(bytes))
}

// Watch registers the metrics read from src at each scrape. Call it once.
func (m *Metrics) Watch(src Sources) {
	if r := src.Registry; r != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "engaged_actors_live", Help: "Live item actors."},
				func() float64 { return float64(r.Counters().Live) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "engaged_actor_activations_total", Help: "Item actors started."},
				func() float64 { return float64(r.Counters().Activations) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "engaged_actor_passivations_total", Help: "Item actors stopped after their snapshot (idle, over the live limit, shutdown)."},
				func() float64 { return float64(r.Counters().Passivations) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "engaged_actor_mailbox_full_total", Help: "Sends to an actor that found its mailbox full and waited."},
				func() float64 { return float64(r.Counters().MailboxFull) }),
		)
	}
	if c := src.Consumers; c != nil {
		m.reg.MustRegister(partitionCollector{c})
	}
	if s := src.Streams; s != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "engaged_sse_streams_open", Help: "Open server-sent event streams."},
				func() float64 { return float64(s.Count()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "engaged_sse_clients_dropped_total", Help: "SSE clients dropped for falling behind."},
				func() float64 { return float64(s.Dropped()) }),
		)
	}
	if u := src.Updates; u != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "engaged_live_update_failures_total", Help: "Live updates that could not be published on NATS.",
		}, func() float64 { return float64(u.Failures()) }))
	}
	if f := src.SystemEvents; f != nil {
		m.reg.MustRegister(systemCollector(f))
	}
	for where, f := range src.Panics {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "engaged_panics_total", Help: "Panics contained (recovered, logged), by where they happened.",
			ConstLabels: prometheus.Labels{"where": where},
		}, func() float64 { return float64(f()) }))
	}
}

// Handler serves the scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// partitionCollector reports the partition consumers' counters, one series
// per partition, read at the scrape.
type partitionCollector struct{ c Consumers }

var (
	partDelivered = prometheus.NewDesc("engaged_partition_delivered_total",
		"Log messages the partition's consumer delivered to this instance.", []string{"partition"}, nil)
	partAcks = prometheus.NewDesc("engaged_partition_acks_total",
		"Acknowledgements this instance sent for the partition (each covers every earlier delivery; sent after the snapshot round that covers them).", []string{"partition"}, nil)
	partPending = prometheus.NewDesc("engaged_partition_pending",
		"Messages of the partition not yet delivered to any instance, as of the newest delivery here.", []string{"partition"}, nil)
	partUnacked = prometheus.NewDesc("engaged_partition_unacked",
		"Deliveries to this instance not yet acknowledged (waiting for a snapshot round).", []string{"partition"}, nil)
)

func (p partitionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- partDelivered
	ch <- partAcks
	ch <- partPending
	ch <- partUnacked
}

func (p partitionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range p.c.Stats() {
		part := strconv.Itoa(s.Partition)
		ch <- prometheus.MustNewConstMetric(partDelivered, prometheus.CounterValue, float64(s.Delivered), part)
		ch <- prometheus.MustNewConstMetric(partAcks, prometheus.CounterValue, float64(s.Acks), part)
		ch <- prometheus.MustNewConstMetric(partPending, prometheus.GaugeValue, float64(s.Pending), part)
		ch <- prometheus.MustNewConstMetric(partUnacked, prometheus.GaugeValue, float64(s.Unacked), part)
	}
}

// systemCollector reports the system-events subscriber's counts by outcome.
type systemCollector func() (accepted, duplicate, rejected, failed int64)

var systemEvents = prometheus.NewDesc("engaged_system_events_total",
	"Messages on engaged.system.events by outcome: accepted, duplicate, rejected (invalid), failed (not stored).", []string{"outcome"}, nil)

func (f systemCollector) Describe(ch chan<- *prometheus.Desc) { ch <- systemEvents }

func (f systemCollector) Collect(ch chan<- prometheus.Metric) {
	a, d, r, x := f()
	for _, o := range []struct {
		outcome string
		n       int64
	}{{"accepted", a}, {"duplicate", d}, {"rejected", r}, {"failed", x}} {
		ch <- prometheus.MustNewConstMetric(systemEvents, prometheus.CounterValue, float64(o.n), o.outcome)
	}
}
