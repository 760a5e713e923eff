package main

import (
	"context"

	"fmt"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/persist"
)

// addContent adds what ingest-batch needs: a publishable key and n content
// items in all.
func (fx *fixture) addContent(ctx context.Context, store *persist.Store, n int) error {
	if fx.publishable == "" {
		_, pk, err := store.CreateKey(ctx, fx.project, actors.PublishableKey)
		if err != nil {
			return err
		}
		fx.publishable = pk
	}
	if len(fx.contents) >= n {
		return nil
	}
	ids, err := fx.createContent(ctx, "cnt_bench_", len(fx.contents), n-len(fx.contents))
	fx.contents = append(fx.contents, ids...)
	return err
}

// createContent registers content items prefix<from> … prefix<from+n-1> in
// one statement per 50,000. persist registers one item per call (100,000
// round trips at this size), so the load tool inserts the rows itself, as
// persist.Store.CreateRenders does for renders.
func (fx *fixture) createContent(ctx context.Context, prefix string, from, n int) ([]string, error) {
	ids := make([]string, 0, n)
	for len(ids) < n {
		chunk := make([]string, min(50_000, n-len(ids)))
		for i := range chunk {
			chunk[i] = prefix + strconv.Itoa(from+len(ids)+i)
		}
		if _, err := fx.db.Exec(ctx, `INSERT INTO items (project_id, id, kind)
			SELECT $1, unnest($2::text[]), 'content'`, fx.project, chunk); err != nil {
			return ids, fmt.Errorf("register content items: %w", err)
		}
		ids = append(ids, chunk...)
	}
	return ids, nil
}

var (
	benchRunID    = "b" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	benchEventSeq atomic.Int64
)

// benchUser returns one of o.users userIds at random.
func benchUser(o benchOptions) func() string {
	return func() string { return "user_" + strconv.Itoa(rand.IntN(max(1, o.users))) }
}

// sdkEvent writes one valid SDK event of a type that cycles through the
// common ones, as a player would send them, with userId user ("": none).
func sdkEvent(b *strings.Builder, content, user string, i int, now string) {
	// Unique per run without crypto/rand per event: the load tool must not
	// take the cores it is measuring.
	b.WriteString(`{"eventId":"`)
	b.WriteString(benchRunID)
	b.WriteString(strconv.FormatInt(benchEventSeq.Add(1), 36))
	b.WriteString(`","contentId":"`)
	b.WriteString(content)
	if user != "" {
		b.WriteString(`","userId":"`)
		b.WriteString(user)
	}
	b.WriteString(`","sessionId":"sess_bench","timestamp":"`)
	b.WriteString(now)
	switch i % 5 {
	case 0:
		b.WriteString(`","event":"impression","data":{"position":` + strconv.Itoa(i%20) + `,"entryPoint":"feed"}}`)
	case 1:
		b.WriteString(`","event":"playStart","data":{"startupTime":` + strconv.Itoa(100+rand.IntN(400)) + `,"rendition":"720p"}}`)
	case 2:
		b.WriteString(`","event":"watchProgress","data":{"currentTime":12.5,"duration":45.2,"percentComplete":27.6}}`)
	case 3:
		b.WriteString(`","event":"completion","data":{"watchTime":45.2,"looped":false}}`)
	default:
		b.WriteString(`","event":"like","data":{}}`)
	}
}

// benchIngestBatch sends SDK batches of o.batch events, each spread over
// the content items (a feed session touches several), with a publishable
// key. Each batch is one viewer's: its events carry one userId, drawn from
// o.users, unless anon (ingest-batch-anon: no userId), so the two
// scenarios measure what a userId costs (one more log message per request).
func benchIngestBatch(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture, anon bool) (benchResult, error) {
	if err := fx.addContent(ctx, store, o.items); err != nil {
		return benchResult{}, err
	}
	before, err := logState(ctx, o.natsURL)
	if err != nil {
		return benchResult{}, err
	}
	name, user := "ingest-batch", benchUser(o)
	if anon {
		name, user = "ingest-batch-anon", func() string { return "" }
	}
	r := load(ctx, o, name, o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		// A batch covers a few items, as one viewer's session does: the
		// service groups them into one log message per item.
		base := rand.IntN(len(fx.contents))
		return postBatch(o, fx, c, user(), func(i int) string { return fx.contents[(base+i/10)%len(fx.contents)] })
	})
	after, err := logState(ctx, o.natsURL)
	if err != nil {
		return benchResult{}, err
	}
	// What the run wrote to the log, so raw-js can publish the same bytes.
	if msgs := after.Msgs - before.Msgs; msgs > 0 {
		r.payloadBytes = int((after.Bytes - before.Bytes) / msgs)
		r.eventsPerMsg = float64(r.Events) / float64(msgs)
	}
	r.Bytes = int64(after.Bytes - before.Bytes)
	r.Note = fmt.Sprintf("%d events per batch, 10 per content item, over %d items; the log grew by %d messages of %d bytes on average (%.1f events each)",
		o.batch, len(fx.contents), after.Msgs-before.Msgs, r.payloadBytes, r.eventsPerMsg)
	return r, nil
}

var batchBuilders sync.Pool // of *strings.Builder

// postBatch sends one SDK batch of o.batch events of user ("": none), event
// i about content item item(i), and returns its status and the events it
// got in.
func postBatch(o benchOptions, fx *fixture, c *fasthttp.HostClient, user string, item func(i int) string) (string, int) {
	sb, _ := batchBuilders.Get().(*strings.Builder)
	if sb == nil {
		sb = &strings.Builder{}
	}
	defer batchBuilders.Put(sb)
	sb.Reset()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	sb.WriteString(`{"events":[`)
	for i := 0; i < o.batch; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sdkEvent(sb, item(i), user, i, now)
	}
	sb.WriteString(`]}`)
	st := postSDK(c, o.url+"/v1/events/batch", fx.publishable, sb.String())
	if st != "200" {
		return st, 0
	}
	return st, o.batch
}

// postSDK posts body to an SDK route with key and returns the status as
// load counts it.
func postSDK(c *fasthttp.HostClient, url, key, body string) string {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI(url)
	req.Header.SetMethod("POST")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	err := c.Do(req, res)
	return status(res.StatusCode(), err)
}

// logState reads the ENGAGED stream's message and byte counts.
func logState(ctx context.Context, natsURL string) (jetstream.StreamState, error) {
	nc, err := nats.Connect(natsURL, nats.Name("engaged-bench"))
	if err != nil {
		return jetstream.StreamState{}, fmt.Errorf("connect %s: %w", natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return jetstream.StreamState{}, err
	}
	s, err := js.Stream(ctx, "ENGAGED")
	if err != nil {
		return jetstream.StreamState{}, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return jetstream.StreamState{}, err
	}
	return info.State, nil
}

// benchSDKSingle sends one SDK event per POST /v1/events, with a userId
// drawn from o.users (sdk-single) or none (sdk-single-anon): the worst
// case of what a userId costs, one more log message per event.
func benchSDKSingle(ctx context.Context, o benchOptions, store *persist.Store, fx *fixture, anon bool) (benchResult, error) {
	if err := fx.addContent(ctx, store, o.items); err != nil {
		return benchResult{}, err
	}
	name := "sdk-single"
	if anon {
		name = "sdk-single-anon"
	}
	var n atomic.Int64
	r := load(ctx, o, name, o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		i := int(n.Add(1))
		user := ""
		if !anon {
			user = benchUser(o)()
		}
		var sb strings.Builder
		sdkEvent(&sb, fx.contents[rand.IntN(len(fx.contents))], user, i, time.Now().UTC().Format(time.RFC3339Nano))
		st := postSDK(c, o.url+"/v1/events", fx.publishable, sb.String())
		if st != "200" {
			return st, 0
		}
		return st, 1
	})
	return r, nil
}
