// Package transport holds nothing itself: each sub-package adapts one
// protocol to the actors.
//
//   - httpapi: the Fiber HTTP API (partner, SDK and public routes, the
//     dashboard), with the one mapping of coded errors to statuses, the
//     access log and the counters behind the operator listener's /stats.
//   - sse: server-sent event streams of live summaries on hijacked
//     connections.
//   - jetlog: the JetStream event log (stream setup, publish, replay), the
//     partition consumers that feed the actors, and the embedded nats-server.
//   - live: live updates over core NATS, published by the actors and read
//     by the SSE streams.
//   - sysevents: the engaged.system.events subscriber for trusted internal
//     publishers.
//   - mail: the mailers (SMTP, or the log), with smtptest for tests.
//   - metrics: the Prometheus adapter, owner of every metric name.
//   - wire: request decoding and field errors, shared by httpapi and
//     sysevents.
package transport
