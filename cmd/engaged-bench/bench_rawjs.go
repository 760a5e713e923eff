package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engagedhq/engaged/actors"
)

// benchRawJetStream is the ruler for ingest: plain async JetStream publishes
// on the same server, in the same run, to a scratch file-store stream
// (deleted afterwards); what `nats bench js pub --async` measures, written
// with nats.go. The messages are the size the preceding ingest-batch wrote
// to the log on average (else one partner event as the log stores it), and
// events/s counts as many events per message as that run had, so the two
// rows compare the same bytes.
func benchRawJetStream(ctx context.Context, o benchOptions, batch *benchResult) (benchResult, error) {
	nc, err := nats.Connect(o.natsURL, nats.Name("engaged-bench"))
	if err != nil {
		return benchResult{}, fmt.Errorf("connect %s: %w", o.natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return benchResult{}, err
	}
	const stream = "ENGAGED_BENCH_RAW"
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{"engaged-bench.raw.>"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, Replicas: 1, Duplicates: 2 * time.Minute,
	}); err != nil {
		return benchResult{}, err
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), stream)

	payload, perMsg, what := samplePartnerMessage(), 1.0, "one partner event as the log stores it"
	if batch != nil && batch.payloadBytes > 0 {
		payload = make([]byte, batch.payloadBytes)
		for i := range payload {
			payload[i] = 'x'
		}
		perMsg, what = batch.eventsPerMsg, fmt.Sprintf("the ingest-batch log messages' average, %.1f events each", batch.eventsPerMsg)
	}
	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stop := progress(o.progress, "raw-js", start, &sent, &sent)
	// Four publishers, each with its own subject range, as the service
	// publishes from many handlers at once.
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; runCtx.Err() == nil; i++ {
				m := nats.NewMsg(fmt.Sprintf("engaged-bench.raw.%d.%d", p, i%1024))
				m.Data = payload
				m.Header.Set(jetstream.MsgIDHeader, uuid.Must(uuid.NewV7()).String())
				if _, err := js.PublishMsgAsync(m); err != nil {
					failed.Add(1)
					continue
				}
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		return benchResult{}, fmt.Errorf("raw publishes not acknowledged after 30s")
	}
	stop()
	el := time.Since(start).Seconds()
	n := sent.Load()
	r := benchResult{
		Scenario: "raw-js", Duration: el, Requests: n, Events: int64(float64(n) * perMsg),
		ReqPerSec: float64(n) / el, EvPerSec: float64(n) * perMsg / el, Bytes: n * int64(len(payload)),
		Statuses: map[string]int64{"stored": n, "refused": failed.Load()},
		Note:     fmt.Sprintf("async JetStream publish of %d-byte messages (%s), 4 publishers, max 4096 pending", len(payload), what),
	}
	if batch != nil && r.EvPerSec > 0 {
		r.Note += fmt.Sprintf("; ingest-batch reached %.0f%% of it", 100*batch.EvPerSec/r.EvPerSec)
	}
	return r, nil
}

// samplePartnerMessage is a log message of one partner event, as the
// service writes it for the ingest-single scenario.
func samplePartnerMessage() []byte {
	ip, ua := "10.1.2.3", "engaged-bench"
	b, _ := (&actors.Message{Render: []actors.RenderEvent{{
		ID: uuid.Must(uuid.NewV7()).String(), EventType: actors.Viewed, ActorKind: actors.Partner,
		SourceIP: &ip, UserAgent: &ua, Metadata: []byte(`{"source":"bench"}`), CreatedAt: actors.NewTime(time.Now()),
	}}}).Encode()
	return b
}
