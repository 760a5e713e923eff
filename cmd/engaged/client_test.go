package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/engagedhq/engaged/client"
)

// newClient is the Go client against s with key, its every exchange checked
// against /openapi.json, fast batching and retries, and rejections
// collected. Close runs at cleanup.
func newClient(t *testing.T, base, key string, opts ...client.Option) (*client.Client, *rejections) {
	t.Helper()
	rj := &rejections{}
	opts = append([]client.Option{
		client.WithHTTPClient(&http.Client{Transport: contractTransport{t: t}}),
		client.WithTimeout(10 * time.Second),
		client.WithOnError(rj.add),
		client.WithBatching(10, 20*time.Millisecond),
		client.WithBackoff(20*time.Millisecond, 300*time.Millisecond),
	}, opts...)
	c, err := client.New(base, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c, rj
}

type rejections struct {
	mu   sync.Mutex
	list []client.Rejection
}

func (r *rejections) add(x client.Rejection) { r.mu.Lock(); r.list = append(r.list, x); r.mu.Unlock() }

func (r *rejections) get() []client.Rejection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]client.Rejection(nil), r.list...)
}

// The client's batching, its reports of rejected events and its typed
// reads, against the real service.
func TestGoClientSDK(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	ctx := context.Background()
	pc, rj := newClient(t, s.base, tn.pk, client.WithBatching(7, 20*time.Millisecond))
	for i := 0; i < 30; i++ {
		ev := client.Event{Event: "playStart", ContentID: "cnt_abc123", Data: map[string]any{"startupTime": 100 + i}}
		if err := pc.Track(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	// Rejected: a missing required field, and an unregistered item.
	pc.Track(ctx, client.Event{Event: "impression", ContentID: "cnt_abc123"})
	pc.Track(ctx, client.Event{Event: "like", ContentID: "cnt_nope"})
	if err := pc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if q := pc.Queued(); q != 0 {
		t.Fatalf("after Flush %d events queued", q)
	}
	got := rj.get()
	if len(got) != 2 || got[0].Event.Event != "impression" || got[0].Err.Code != "invalid_request" ||
		!errors.Is(got[0].Err, client.ErrInvalid) || len(got[0].Err.Issues.FieldErrors["data.position"]) == 0 || got[1].Event.ContentID != "cnt_nope" {
		t.Fatalf("rejections: %+v", got)
	}

	sc, _ := newClient(t, s.base, tn.sk)
	sum, err := sc.ContentEngagement(ctx, "cnt_abc123")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Plays != 30 || sum.Counts.PlayStart != 30 || sum.Total != 30 || sum.StartupTime.Samples != 30 ||
		sum.StartupTime.P50 == nil || *sum.StartupTime.P50 != 114 || sum.LastEventAt == nil {
		t.Fatalf("content summary: %+v", sum)
	}
	// A publishable key cannot read; the envelope comes back as *client.Error.
	if _, err := pc.ContentEngagement(ctx, "cnt_abc123"); !isAPIError(err, 403, "forbidden") || !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("publishable key read: %v", err)
	}
	if _, err := sc.ContentEngagement(ctx, "cnt_nope"); !isAPIError(err, 404, "not_found") || !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("unknown content: %v", err)
	}

	// Renders: a partner event, the typed read.
	e2 := newTenant(t, e)
	rc, _ := newClient(t, s.base, e2.key)
	if ok, err := rc.RecordRenderEvent(ctx, e2.render, "downloaded", map[string]any{"source": "go"}); err != nil || !ok {
		t.Fatalf("RecordRenderEvent: %v %v", ok, err)
	}
	if _, err := rc.RecordRenderEvent(ctx, e2.render, "opened", nil); !isAPIError(err, 400, "invalid_request") {
		t.Fatalf("bad partner event: %v", err)
	}
	rs, err := rc.RenderEngagement(ctx, e2.render)
	if err != nil || rs.Counts.Downloaded != 1 || rs.Total != 1 || len(rs.Recent) != 1 ||
		rs.Recent[0].ActorKind != "partner" || string(rs.Recent[0].Metadata) != `{"source":"go"}` {
		t.Fatalf("render summary: %+v %v", rs, err)
	}

	// Closed: Track refuses.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pc.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if err := pc.Track(ctx, client.Event{Event: "like", ContentID: "cnt_abc123"}); err != client.ErrClosed {
		t.Fatalf("Track after Close: %v", err)
	}
}

func isAPIError(err error, status int, code string) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Status == status && e.Code == code
}

// The client's types carry every member of the server's JSON: a read
// decoded into them (no unknown members) and encoded again is the same
// JSON, for a render and a content item with every figure set.
func TestGoClientTypesMatchServer(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	for _, ev := range []string{
		`{"event":"playStart","contentId":"cnt_abc123","data":{"startupTime":250}}`,
		`{"event":"completion","contentId":"cnt_abc123","data":{"watchTime":12.5,"loopCount":2}}`,
		`{"event":"rebuffer","contentId":"cnt_abc123","data":{"duration":300,"currentTime":3}}`,
		`{"event":"error","contentId":"cnt_abc123","data":{"errorCode":"E1","errorMessage":"boom"}}`,
		`{"event":"share","contentId":"cnt_abc123","data":{"platform":"x"}}`,
		`{"event":"custom_tap","contentId":"cnt_abc123"}`,
		`{"event":"swipe","contentId":"cnt_abc123","data":{"fromContentId":"cnt_def456","watchTime":3}}`,
	} {
		if r := s.event(t, tn.pk, ev); r.status != 200 {
			t.Fatalf("%s: %d %s", ev, r.status, r.body)
		}
	}
	raw := do(t, "GET", s.base+"/v1/contents/cnt_abc123/engagement", tn.sk, "")
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw.body, &env); err != nil {
		t.Fatal(err)
	}
	sameJSON[client.ContentSummary](t, env.Data)
	raw = do(t, "GET", s.base+"/v1/contents/cnt_abc123/series?metric=watchTime&interval=hour", tn.sk, "")
	env.Data = nil
	if err := json.Unmarshal(raw.body, &env); err != nil || raw.status != 200 {
		t.Fatalf("content series: %d %s", raw.status, raw.body)
	}
	sameJSON[client.Series](t, env.Data)

	rt := newTenant(t, e)
	s.post(t, rt, `{"eventType":"viewed","metadata":{"a":1}}`)
	do(t, "POST", s.base+"/v1/renders/"+rt.render+"/shares", rt.key, "")
	sameJSON[client.RenderSummary](t, []byte(s.engagementJSON(t, rt)))
	raw = do(t, "GET", s.base+"/v1/renders/"+rt.render+"/series?metric=viewed", rt.key, "")
	if raw.status != 200 {
		t.Fatalf("render series: %d %s", raw.status, raw.body)
	}
	sameJSON[client.Series](t, raw.body)
}

// The series reads through the Go client: its query reaches the server as
// meant (metric, interval, from, to) and the buckets add up to what was sent.
func TestGoClientSeries(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	for _, ev := range []string{
		`{"event":"playStart","contentId":"cnt_abc123","data":{"startupTime":250}}`,
		`{"event":"playStart","contentId":"cnt_abc123","data":{"startupTime":250}}`,
		`{"event":"completion","contentId":"cnt_abc123","data":{"watchTime":12.5}}`,
	} {
		if r := s.event(t, tn.pk, ev); r.status != 200 {
			t.Fatalf("%s: %d %s", ev, r.status, r.body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc, _ := newClient(t, s.base, tn.sk)
	sum := func(sr client.Series) (v float64) {
		for _, b := range sr.Buckets {
			v += b.V
		}
		return v
	}
	now := time.Now().UTC()
	for q, want := range map[client.SeriesQuery]float64{
		{Metric: "plays"}:                      2,
		{Metric: "watchTime", Interval: "day"}: 12.5,
		{Metric: "plays", Interval: "hour", From: now.Add(-3 * time.Hour), To: now.Add(time.Hour)}:      2,
		{Metric: "plays", Interval: "hour", From: now.Add(-5 * time.Hour), To: now.Add(-2 * time.Hour)}: 0,
	} {
		sr, err := sc.ContentSeries(ctx, "cnt_abc123", q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		wantInterval := q.Interval
		if wantInterval == "" {
			wantInterval = "minute"
		}
		if sr.Metric != q.Metric || sr.Interval != wantInterval || sum(sr) != want || sr.Late != 0 ||
			sr.Uniques.Sessions == nil || sr.Uniques.Viewers != nil || (!q.From.IsZero() && sr.From.After(q.From)) {
			t.Fatalf("%+v: %+v, want a sum of %v", q, sr, want)
		}
	}
	var ce *client.Error
	if _, err := sc.ContentSeries(ctx, "cnt_abc123", client.SeriesQuery{Metric: "viewed"}); !errors.As(err, &ce) || ce.Code != "invalid_request" {
		t.Fatalf("render metric on a content item: %v", err)
	}

	rt := newTenant(t, e)
	s.post(t, rt, `{"eventType":"viewed"}`)
	rc, _ := newClient(t, s.base, rt.key)
	sr, err := rc.RenderSeries(ctx, rt.render, client.SeriesQuery{Metric: "viewed", Interval: "hour"})
	if err != nil {
		t.Fatal(err)
	}
	if sr.Interval != "hour" || sum(sr) != 1 || sr.Uniques.Viewers == nil || sr.CompleteThrough == nil {
		t.Fatalf("render series %+v", sr)
	}
}

// sameJSON decodes b into T, refusing unknown members, and checks that T
// encodes back to the same JSON value.
func sameJSON[T any](t *testing.T, b []byte) {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%T does not take %s: %v", v, b, err)
	}
	out, _ := json.Marshal(v)
	var a, c any
	json.Unmarshal(b, &a)
	json.Unmarshal(out, &c)
	if !reflect.DeepEqual(sameTimes(a), sameTimes(c)) {
		t.Fatalf("%T changes the server's JSON:\nserver %s\nclient %s", v, b, out)
	}
}

// sameTimes replaces every string that is an RFC 3339 time by the instant
// it names: the server writes milliseconds always ("…58.990Z") and
// time.Time drops trailing zeros ("…58.99Z"), the same instant.
func sameTimes(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = sameTimes(x)
		}
	case []any:
		for i, x := range v {
			v[i] = sameTimes(x)
		}
	case string:
		if tm, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return tm.UTC()
		}
	}
	return v
}

// The typed streams: the current summary first, then an update per change.
func TestGoClientStreams(t *testing.T) {
	e := newEnv(t).with("ENGAGED_UPDATE_INTERVAL", "0")
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc, _ := newClient(t, s.base, tn.sk)
	st, err := sc.StreamContent(ctx, "cnt_abc123")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first, err := st.Next()
	if err != nil || first.ContentID != "cnt_abc123" || first.Total != 0 {
		t.Fatalf("first update: %+v %v", first, err)
	}
	pc, _ := newClient(t, s.base, tn.pk)
	for i := 0; i < 3; i++ {
		pc.Track(ctx, client.Event{Event: "like", ContentID: "cnt_abc123"})
	}
	if err := pc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	last := first
	for last.Total < 3 {
		u, err := st.Next()
		if err != nil {
			t.Fatal(err)
		}
		if u.Seq <= last.Seq && last.Seq != 0 {
			t.Fatalf("seq %d after %d", u.Seq, last.Seq)
		}
		last = u
	}
	if last.Likes != 3 {
		t.Fatalf("last update: %+v", last)
	}

	rt := newTenant(t, e)
	rc, _ := newClient(t, s.base, rt.key)
	rs, err := rc.StreamRender(ctx, rt.render)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := rs.Next(); err != nil || u.Total != 0 || u.Recent == nil {
		t.Fatalf("render stream first: %+v %v", u, err)
	}
	rc.RecordRenderEvent(ctx, rt.render, "printed", nil)
	if u, err := rs.Next(); err != nil || u.Counts.Printed != 1 {
		t.Fatalf("render stream update: %+v %v", u, err)
	}
	// The stream ends with its context.
	sctx, scancel := context.WithCancel(ctx)
	ss, err := sc.StreamContent(sctx, "cnt_def456")
	if err != nil {
		t.Fatal(err)
	}
	ss.Next()
	scancel()
	if _, err := ss.Next(); err != context.Canceled {
		t.Fatalf("Next after cancel: %v", err)
	}
	if _, err := rc.StreamRender(ctx, "0193c2c3-0000-7000-8000-000000000000"); !isAPIError(err, 404, "not_found") {
		t.Fatalf("stream of an unknown render: %v", err)
	}
}

// The Go client against the real binary killed with kill -9 while it
// flushes, twice, and restarted: every tracked event is counted exactly
// once. The client talks to the service through a reverse proxy (a fixed
// address while the service restarts on new ports) that, in each round,
// lets one batch reach the service, and when the service has answered it
// (stored and counted), kills the service and cuts the client's connection
// instead of passing the answer on. The client must resend that batch with
// the same eventIds, and the restarted service must count it once.
func TestGoClientCrashCountsOnce(t *testing.T) {
	e := newEnv(t).with("ENGAGED_SNAPSHOT_INTERVAL", "200ms")
	items := []string{"cnt_c0", "cnt_c1", "cnt_c2", "cnt_c3"}
	tn := newSDKTenant(t, e, items...)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	var (
		mu      sync.Mutex
		backend *url.URL
		p       *process
		batches int
		killAt  = map[int]bool{40: true, 200: true} // batch requests after which the service dies
		killed  = make(chan struct{}, len(killAt))
	)
	setBackend := func(np *process) {
		u, _ := url.Parse(np.base)
		mu.Lock()
		p, backend = np, u
		mu.Unlock()
	}
	setBackend(startProcess(t, e))
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			mu.Lock()
			r.SetURL(backend)
			mu.Unlock()
		},
		ModifyResponse: func(res *http.Response) error {
			if res.Request.URL.Path != "/v1/events/batch" || res.StatusCode != 200 {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			batches++
			if !killAt[batches] {
				return nil
			}
			p.kill9(t) // after the answer: the batch is stored and counted
			killed <- struct{}{}
			return errors.New("answer lost with the service")
		},
		// Cut the client's connection: to the client the request failed
		// on the network, as with a real crash.
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) { panic(http.ErrAbortHandler) },
	}
	front := httptest.NewServer(proxy)
	defer front.Close()

	pc, rj := newClient(t, front.URL, tn.pk, client.WithBatching(5, 20*time.Millisecond), client.WithMaxQueue(100000))
	want := map[string]int64{}
	const perRound = 1500
	for round := 0; round < 2; round++ {
		for i := 0; i < perRound; i++ {
			item := items[i%len(items)]
			if err := pc.Track(ctx, client.Event{Event: "impression", ContentID: item, Data: map[string]any{"position": i}}); err != nil {
				t.Fatal(err)
			}
			want[item]++
		}
		select {
		case <-killed:
		case <-ctx.Done():
			t.Fatal("the service was not killed")
		}
		t.Logf("round %d: killed with %d events not yet acknowledged", round, pc.Queued())
		setBackend(startProcess(t, e))
	}
	if err := pc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rj.get(); len(got) != 0 {
		t.Fatalf("%d events rejected, first %+v", len(got), got[0])
	}
	// And once more after a kill with nothing in flight: the counts come
	// back from snapshots and the log.
	p.kill9(t)
	setBackend(startProcess(t, e))
	sc, _ := newClient(t, front.URL, tn.sk)
	for _, item := range items {
		sum, err := sc.ContentEngagement(ctx, item)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Impressions != want[item] || sum.Total != want[item] {
			t.Fatalf("%s: impressions %d total %d, want %d\n%s", item, sum.Impressions, sum.Total, want[item], p.log.String())
		}
	}
}
