package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/jetlog"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// verify checks a delivery the way a receiver does, written from the
// Standard Webhooks specification alone (not with Sign): the signed content
// is "id.timestamp.body", the key is the secret's base64 after "whsec_", and
// any one of the space-separated "v1,<base64>" entries may match.
func verify(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if id == "" || ts == "" {
		return fmt.Errorf("missing headers: %v", h)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return fmt.Errorf("timestamp %q outside the tolerance", ts)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Fields(h.Get("webhook-signature")) {
		v, sig, _ := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if v == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no valid signature in %q", h.Get("webhook-signature"))
}

// The specification's published test vector.
func TestSignSpecVector(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign([][]byte{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("signature %s", got)
	}
	s := NewSecret()
	if k, err := ParseSecret(s); err != nil || len(k) != 32 || s == NewSecret() {
		t.Fatalf("NewSecret %q: %v", s, err)
	}
	for _, bad := range []string{"", "whsec_", "whsec_!!!", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 8))} {
		if _, err := ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted", bad)
		}
	}
}

func TestGuardCheckURL(t *testing.T) {
	g, err := NewGuard(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, u := range []string{
		"http://127.0.0.1/hook", "http://localhost:8080/hook", "http://[::1]/", "http://0.0.0.0/",
		"http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/", "http://192.168.0.1/", "http://172.16.0.1/",
		"http://100.64.0.1/", "http://[fe80::1]/", "http://[fd00::1]/", "http://[::ffff:127.0.0.1]/", "http://224.0.0.1/",
	} {
		if _, err := g.CheckURL(ctx, u); err != ErrForbidden {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	for _, u := range []string{"ftp://8.8.8.8/", "http://user:pw@8.8.8.8/", "/relative", "http://8.8.8.8/#frag"} {
		if _, err := g.CheckURL(ctx, u); err == nil || err == ErrForbidden {
			t.Errorf("%s: %v, want a malformed-URL error", u, err)
		}
	}
	if _, err := g.CheckURL(ctx, "https://8.8.8.8/hook"); err != nil {
		t.Errorf("a public address: %v", err)
	}
	allow, err := NewGuard([]string{"127.0.0.0/8", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://localhost/"} {
		if _, err := allow.CheckURL(ctx, u); err != nil {
			t.Errorf("allow-listed %s: %v", u, err)
		}
	}
	if _, err := allow.CheckURL(ctx, "http://169.254.169.254/"); err != ErrForbidden {
		t.Errorf("metadata address past an allow-list that does not name it: %v", err)
	}
	if _, err := NewGuard([]string{"http://x/"}); err == nil {
		t.Error("a URL accepted as an allow-list entry")
	}
}

// memStore is an in-memory Store for the dispatcher's unit tests.
type memStore struct {
	mu        sync.Mutex
	endpoints map[string]Endpoint
	attempts  []Attempt
	disabled  map[string]string
	kept      []actors.WebhookDelivery
}

func newMemStore(eps ...Endpoint) *memStore {
	s := &memStore{endpoints: map[string]Endpoint{}, disabled: map[string]string{}}
	for _, ep := range eps {
		s.endpoints[ep.ID] = ep
	}
	return s
}

func (s *memStore) Endpoint(_ context.Context, id string) (Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ep, ok := s.endpoints[id]
	if !ok {
		return Endpoint{}, actors.Errorf(actors.ENotFound, "no endpoint")
	}
	_, ep.Disabled = s.disabled[id]
	return ep, nil
}

func (s *memStore) Attempts(_ context.Context, ep, id, replay string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.attempts {
		if a.EndpointID == ep && a.WebhookID == id && a.Replay == replay {
			n++
		}
	}
	return n, nil
}

func (s *memStore) Keep(_ context.Context, dl Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.kept {
		if k.EndpointID == dl.EndpointID && k.WebhookID == dl.ID {
			return nil
		}
	}
	s.kept = append(s.kept, actors.WebhookDelivery{EndpointID: dl.EndpointID, WebhookID: dl.ID, Type: dl.Type, Timestamp: dl.Timestamp, Data: dl.Data})
	return nil
}

// WebhookDeliveries is persist.Store.WebhookDeliveries over the kept list.
func (s *memStore) WebhookDeliveries(_ context.Context, ep string, from, to time.Time, limit int) ([]actors.WebhookDelivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []actors.WebhookDelivery
	for _, k := range s.kept {
		if k.EndpointID == ep && !k.Timestamp.Before(from) && k.Timestamp.Before(to) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b actors.WebhookDelivery) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.WebhookID, b.WebhookID)
	})
	return out[:min(limit, len(out))], nil
}

func (s *memStore) RecordAttempt(_ context.Context, a Attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, a)
	return nil
}

func (s *memStore) Disable(_ context.Context, id, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disabled[id] = reason
	return nil
}

func (s *memStore) all() []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Attempt(nil), s.attempts...)
}

// receiver is a real local HTTP receiver that answers with the statuses
// given, in order (the last one repeats), and verifies each request.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []http.Header
	bodies   [][]byte
	bad      []error
}

func newReceiver(t *testing.T, secret string, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := verify(secret, req.Header, body); err != nil {
			r.bad = append(r.bad, err)
		}
		r.got = append(r.got, req.Header.Clone())
		r.bodies = append(r.bodies, body)
		st := r.statuses[min(len(r.got), len(r.statuses))-1]
		w.WriteHeader(st)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() ([]http.Header, [][]byte, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.got...), append([][]byte(nil), r.bodies...), append([]error(nil), r.bad...)
}

// startDispatcher runs a dispatcher on a real embedded JetStream server.
func startDispatcher(t *testing.T, st Store, o Options, allow ...string) *Dispatcher {
	d, _ := startDispatcherConn(t, st, o, allow...)
	return d
}

func startDispatcherConn(t *testing.T, st Store, o Options, allow ...string) (*Dispatcher, *nats.Conn) {
	t.Helper()
	ns, err := jetlog.StartEmbedded(jetlog.EmbeddedOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", SyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := jetlog.Connect(jetlog.ConnectOptions{URL: ns.ClientURL(), Name: "webhooks-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGuard(allow)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(context.Background(), js, st, g, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return d, nc
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newEndpoint(t *testing.T, url, secret string) Endpoint {
	t.Helper()
	key, err := ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return Endpoint{ID: "ep1", ProjectID: "p1", URL: url, Keys: [][]byte{key}}
}

// 500, 500, 200: exactly three attempts, one webhook-id, every signature
// valid, the body as the specification shapes it.
func TestDeliveryRetriesWithOneID(t *testing.T) {
	secret := NewSecret()
	srv := newReceiver(t, secret, 500, 500, 200)
	ep := newEndpoint(t, srv.URL+"/hook", secret)
	st := newMemStore(ep)
	d := startDispatcher(t, st, Options{Schedule: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}}, "127.0.0.1")
	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	if err := d.Publish(context.Background(), Delivery{EndpointID: ep.ID, ID: "evt_0193c2d0", Type: "render.viewed", Timestamp: at, Data: json.RawMessage(`{"renderId":"r1"}`)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() error {
		if a := st.all(); len(a) == 0 || a[len(a)-1].Outcome != Delivered {
			return fmt.Errorf("attempts so far: %+v", a)
		}
		return nil
	})
	hs, bodies, bad := srv.requests()
	if len(bad) > 0 {
		t.Fatalf("signatures: %v", bad)
	}
	if len(hs) != 3 {
		t.Fatalf("%d requests, want 3", len(hs))
	}
	for i, h := range hs {
		if h.Get("webhook-id") != "evt_0193c2d0" || string(bodies[i]) != `{"type":"render.viewed","timestamp":"2026-12-07T03:00:00.000Z","data":{"renderId":"r1"}}` {
			t.Fatalf("request %d: id %q body %s", i, h.Get("webhook-id"), bodies[i])
		}
	}
	a := st.all()
	if len(a) != 3 || a[0].Status != 500 || a[1].Status != 500 || a[2].Status != 200 || a[2].N != 3 || a[2].Final {
		t.Fatalf("attempts: %+v", a)
	}
}

func publish(t *testing.T, d *Dispatcher, ep Endpoint, id string) {
	t.Helper()
	if err := d.Publish(context.Background(), Delivery{EndpointID: ep.ID, ID: id, Type: "render.viewed", Timestamp: time.Now(), Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
}

// After the last retry the delivery is dead-lettered: its last attempt is
// marked final and nothing more is tried.
func TestDeadLetter(t *testing.T) {
	secret := NewSecret()
	srv := newReceiver(t, secret, 500)
	ep := newEndpoint(t, srv.URL, secret)
	st := newMemStore(ep)
	d := startDispatcher(t, st, Options{Schedule: []time.Duration{10 * time.Millisecond}}, "127.0.0.1")
	publish(t, d, ep, "evt_dead")
	waitFor(t, 20*time.Second, func() error {
		if a := st.all(); len(a) == 0 || !a[len(a)-1].Final {
			return fmt.Errorf("attempts so far: %+v", a)
		}
		return nil
	})
	// A second delivery after it proves the first is no longer retried:
	// the consumer is in order per endpoint only by chance, so count at the end.
	publish(t, d, ep, "evt_after")
	waitFor(t, 20*time.Second, func() error {
		n, _ := st.Attempts(context.Background(), ep.ID, "evt_after", "")
		if n < 2 {
			return fmt.Errorf("evt_after: %d attempts", n)
		}
		return nil
	})
	if n, _ := st.Attempts(context.Background(), ep.ID, "evt_dead", ""); n != 2 {
		t.Fatalf("evt_dead: %d attempts, want 2 (the first and one retry)", n)
	}
}

// A 410 disables the endpoint at once: one attempt, no retry.
func TestGoneDisables(t *testing.T) {
	secret := NewSecret()
	srv := newReceiver(t, secret, 410)
	ep := newEndpoint(t, srv.URL, secret)
	st := newMemStore(ep)
	d := startDispatcher(t, st, Options{Schedule: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}}, "127.0.0.1")
	publish(t, d, ep, "evt_gone")
	waitFor(t, 20*time.Second, func() error {
		if e, _ := st.Endpoint(context.Background(), ep.ID); !e.Disabled {
			return fmt.Errorf("not disabled; attempts %+v", st.all())
		}
		return nil
	})
	publish(t, d, ep, "evt_later")            // dropped: the endpoint is off
	waitFor(t, 20*time.Second, func() error { // until the consumer has settled it
		ci, err := d.cons.Info(context.Background())
		if err != nil || ci.NumPending+uint64(ci.NumAckPending)+uint64(ci.NumRedelivered) > 0 || ci.Delivered.Consumer < 2 {
			return fmt.Errorf("consumer %+v, %v", ci, err)
		}
		return nil
	})
	if hs, _, _ := srv.requests(); len(hs) != 1 {
		t.Fatalf("%d requests, want 1", len(hs))
	}
	if a := st.all(); len(a) != 1 || a[0].Outcome != Gone || a[0].Status != 410 {
		t.Fatalf("attempts: %+v", a)
	}
}

// The guard checks the address at connect time too: an endpoint whose
// name now resolves to loopback (here: a loopback URL that was never
// checked) gets no request, and the attempt says why.
func TestConnectTimeGuard(t *testing.T) {
	secret := NewSecret()
	srv := newReceiver(t, secret, 200)
	ep := newEndpoint(t, srv.URL, secret)
	st := newMemStore(ep)
	d := startDispatcher(t, st, Options{Schedule: []time.Duration{10 * time.Millisecond}}) // no allow-list
	publish(t, d, ep, "evt_ssrf")
	waitFor(t, 20*time.Second, func() error {
		if a := st.all(); len(a) < 2 {
			return fmt.Errorf("attempts so far: %+v", a)
		}
		return nil
	})
	if hs, _, _ := srv.requests(); len(hs) != 0 {
		t.Fatalf("the loopback receiver got %d requests", len(hs))
	}
	for _, a := range st.all() {
		if a.Outcome != Refused || !strings.Contains(a.Error, ErrForbidden.Error()) {
			t.Fatalf("attempt %+v", a)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "120": 2 * time.Minute, "0": 0, "-5": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("Retry-After %q: %s, want %s", v, got, want)
		}
	}
}

// lister is a fixed EndpointLister.
type lister []actors.WebhookEndpoint

func (l lister) ListWebhooks(context.Context, string) ([]actors.WebhookEndpoint, error) {
	return l, nil
}

// The outbox fires only recorded events, only to endpoints subscribed to
// their type, and a swipe's copy for the item left does not fire again.
func TestOutboxFiresRecordedEventsOnly(t *testing.T) {
	secret := NewSecret()
	srv := newReceiver(t, secret, 200)
	ep := newEndpoint(t, srv.URL, secret)
	st := newMemStore(ep)
	d, nc := startDispatcherConn(t, st, Options{Schedule: []time.Duration{10 * time.Millisecond}}, "127.0.0.1")
	_ = d
	out, err := NewOutbox(nc, lister{
		{ID: ep.ID, ProjectID: "p1", URL: srv.URL, EventTypes: []string{"render.viewed", "content.like"}, Secret: secret},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	runOutbox(t, out)
	out.Recorded(actors.ItemID{Project: "p1", Item: "r1"}, &actors.Message{Render: []actors.RenderEvent{
		{ID: "v-recorded", EventType: actors.Viewed, CreatedAt: actors.NewTime(time.Now())},
		{ID: "v-deduped", EventType: actors.Viewed, CreatedAt: actors.NewTime(time.Now())},
		{ID: "p-unsubscribed", EventType: actors.Printed, CreatedAt: actors.NewTime(time.Now())},
	}}, []bool{true, false, true})
	out.Recorded(actors.ItemID{Project: "p1", Item: "c1"}, &actors.Message{Content: []actors.ContentEvent{
		{ID: "like-1", Type: actors.Like, Recv: time.Now().UnixMilli()},
		{ID: "swipe-copy", Type: actors.Like, Role: "out", Recv: time.Now().UnixMilli()},
	}}, []bool{true, true})
	if err := out.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if pub, failed := out.Counts(); pub != 2 || failed != 0 {
		t.Fatalf("queued %d, failed %d; want 2, 0", pub, failed)
	}
	waitFor(t, 20*time.Second, func() error {
		if a := st.all(); len(a) != 2 {
			return fmt.Errorf("attempts %+v", a)
		}
		return nil
	})
	got := map[string]string{}
	hs, bodies, bad := srv.requests()
	for i, h := range hs {
		got[h.Get("webhook-id")] = string(bodies[i])
	}
	if len(bad) > 0 || len(got) != 2 || !strings.Contains(got["v-recorded"], `"type":"render.viewed"`) || !strings.Contains(got["like-1"], `"contentId":"c1"`) {
		t.Fatalf("deliveries %v (bad signatures %v)", got, bad)
	}
}

// At least once across a dead instance: the instance attempting a delivery
// loses its connection mid-attempt (as kill -9 would leave it: no ack, no
// nak); another instance on the same durable consumer gets the delivery
// after the ack wait and delivers it with the same webhook-id.
func TestRedeliveryAfterInstanceDies(t *testing.T) {
	secret := NewSecret()
	key, _ := ParseSecret(secret)
	release := make(chan struct{})
	var mu sync.Mutex
	var ids []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if err := verify(secret, req.Header, b); err != nil {
			t.Error(err)
		}
		mu.Lock()
		ids = append(ids, req.Header.Get("webhook-id"))
		first := len(ids) == 1
		mu.Unlock()
		if first {
			<-release // the first instance's attempt hangs until the test ends
		}
	}))
	defer srv.Close()
	defer close(release)
	ep := Endpoint{ID: "ep1", URL: srv.URL, Keys: [][]byte{key}}
	st := newMemStore(ep)

	ns, err := jetlog.StartEmbedded(jetlog.EmbeddedOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", SyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	g, _ := NewGuard([]string{"127.0.0.1"})
	o := Options{Schedule: []time.Duration{10 * time.Millisecond}, Timeout: 30 * time.Second, AckWait: time.Second}
	start := func() (*Dispatcher, *nats.Conn, func()) {
		nc, err := jetlog.Connect(jetlog.ConnectOptions{URL: ns.ClientURL(), Name: "instance"})
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		d, err := New(context.Background(), js, st, g, o)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		return d, nc, func() { cancel(); <-done; nc.Close() }
	}
	a, aConn, stopA := start()
	if err := a.Publish(context.Background(), Delivery{EndpointID: ep.ID, ID: "evt_crash", Type: "render.viewed", Timestamp: time.Now(), Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(ids) == 0 {
			return fmt.Errorf("no request yet")
		}
		return nil
	})
	aConn.Close() // instance A is gone: its attempt can neither ack nor nak
	_, _, stopB := start()
	defer stopB()
	waitFor(t, 20*time.Second, func() error {
		for _, a := range st.all() {
			if a.Outcome == Delivered {
				return nil
			}
		}
		return fmt.Errorf("not delivered by the second instance: %+v", st.all())
	})
	mu.Lock()
	got := append([]string(nil), ids...)
	mu.Unlock()
	if len(got) < 2 || got[0] != "evt_crash" || got[1] != "evt_crash" {
		t.Fatalf("webhook-ids %v, want evt_crash twice", got)
	}
	release <- struct{}{} // let A's hung attempt end before A stops
	stopA()
}

// A replay re-sends, to its endpoint only, exactly the kept deliveries
// whose event timestamp is in [from, to): same webhook-id, same body,
// valid signatures, counted as attempts of the replay (a fresh schedule:
// the original's dead letter does not end the replay's retries).
func TestReplayRange(t *testing.T) {
	secret := NewSecret()
	srv := newReceiver(t, secret, 200)
	ep := newEndpoint(t, srv.URL, secret)
	other := newReceiver(t, secret, 200)
	ep2 := newEndpoint(t, other.URL, secret)
	ep2.ID = "ep2"
	st := newMemStore(ep, ep2)
	d, nc := startDispatcherConn(t, st, Options{Schedule: []time.Duration{10 * time.Millisecond}}, "127.0.0.1")
	base := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for i := range 5 { // evt0 … evt4, one minute apart
		if err := d.Publish(context.Background(), Delivery{EndpointID: ep.ID, ID: fmt.Sprintf("evt%d", i), Type: "render.viewed",
			Timestamp: base.Add(time.Duration(i) * time.Minute), Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, d, ep2, "evt-other")
	waitFor(t, 20*time.Second, func() error {
		if a := st.all(); len(a) != 6 {
			return fmt.Errorf("attempts %+v", a)
		}
		return nil
	})
	origHs, origBodies, _ := srv.requests()
	orig := map[string]string{}
	for i, h := range origHs {
		orig[h.Get("webhook-id")] = string(origBodies[i])
	}

	out, err := NewOutbox(nc, lister{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// [03:01, 03:03): evt1 and evt2; evt3 at 03:03 is the excluded end.
	sum, err := out.Replay(context.Background(), st, actors.WebhookEndpoint{ID: ep.ID}, "rpl_1", base.Add(time.Minute), base.Add(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Queued != 2 || !sum.Complete || sum.NextFrom != nil || sum.ReplayID != "rpl_1" {
		t.Fatalf("summary %+v", sum)
	}
	waitFor(t, 20*time.Second, func() error {
		if a := st.all(); len(a) != 8 {
			return fmt.Errorf("attempts %+v", a)
		}
		return nil
	})
	hs, bodies, bad := srv.requests()
	if len(bad) > 0 {
		t.Fatalf("signatures: %v", bad)
	}
	again := map[string]string{}
	for i, h := range hs[5:] {
		again[h.Get("webhook-id")] = string(bodies[5+i])
	}
	if len(hs) != 7 || len(again) != 2 || again["evt1"] != orig["evt1"] || again["evt2"] != orig["evt2"] || orig["evt1"] == "" {
		t.Fatalf("replayed %v; originals %v", again, orig)
	}
	if oh, _, _ := other.requests(); len(oh) != 1 {
		t.Fatalf("the other endpoint got %d requests, want 1", len(oh))
	}
	for _, a := range st.all()[6:] {
		if a.Replay != "rpl_1" || a.N != 1 || a.Outcome != Delivered {
			t.Fatalf("replay attempt %+v", a)
		}
	}
	if n, _ := st.Attempts(context.Background(), ep.ID, "evt1", ""); n != 1 {
		t.Fatalf("original attempts of evt1: %d, want 1", n)
	}
}

// A range with more deliveries than one replay takes is cut at a
// millisecond: the parts, from each nextFrom, cover it once.
func TestReplayParts(t *testing.T) {
	st := newMemStore()
	base := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	n := actors.MaxWebhookReplayDeliveries + 7
	for i := range n {
		// Two deliveries per millisecond, so a cut can fall inside one.
		_ = st.Keep(context.Background(), Delivery{EndpointID: "ep1", ID: fmt.Sprintf("evt%05d", i), Type: "render.viewed",
			Timestamp: base.Add(time.Duration(i/2) * time.Millisecond), Data: json.RawMessage(`{}`)})
	}
	_, nc := startDispatcherConn(t, newMemStore(), Options{}) // no endpoint: deliveries are acknowledged and dropped
	out, err := NewOutbox(nc, lister{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	from, to := base, base.Add(time.Hour)
	total, parts := 0, 0
	for {
		sum, err := out.Replay(context.Background(), st, actors.WebhookEndpoint{ID: "ep1"}, fmt.Sprintf("rpl_%d", parts), from, to)
		if err != nil {
			t.Fatal(err)
		}
		total += sum.Queued
		parts++
		if sum.Complete {
			break
		}
		if sum.Queued%2 != 0 || sum.Queued > actors.MaxWebhookReplayDeliveries || !sum.To.Equal(sum.NextFrom.Time) {
			t.Fatalf("part %d: %+v", parts, sum)
		}
		from = sum.NextFrom.Time
	}
	if total != n || parts != 2 {
		t.Fatalf("%d deliveries in %d parts, want %d in 2", total, parts, n)
	}
}

// runOutbox runs out until the test ends.
func runOutbox(t *testing.T, out *Outbox) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); out.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// failingLister fails while down is set.
type failingLister struct {
	down atomic.Bool
	lister
}

func (l *failingLister) ListWebhooks(ctx context.Context, p string) ([]actors.WebhookEndpoint, error) {
	if l.down.Load() {
		return nil, errors.New("database unavailable")
	}
	return l.lister.ListWebhooks(ctx, p)
}

// Flush reports success only once every delivery handed over before it is
// stored: not while the webhook stream refuses publishes, nor while a
// project's endpoints cannot be looked up. Either way the snapshot round
// writes nothing, so a kill -9 meanwhile replays the events and hands them
// over again (actors/outbox.go); once both recover, the same Flush call
// sends what failed and the delivery arrives.
func TestOutboxFlushWaitsUntilStored(t *testing.T) {
	secret := NewSecret()
	srv := newReceiver(t, secret, 200)
	ep := newEndpoint(t, srv.URL, secret)
	ns, err := jetlog.StartEmbedded(jetlog.EmbeddedOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", SyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := jetlog.Connect(jetlog.ConnectOptions{URL: ns.ClientURL(), Name: "outbox-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ls := &failingLister{lister: lister{{ID: ep.ID, ProjectID: "p1", URL: srv.URL, EventTypes: []string{"render.viewed"}, Secret: secret}}}
	ls.down.Store(true)
	out, err := NewOutbox(nc, ls, nil)
	if err != nil {
		t.Fatal(err)
	}
	runOutbox(t, out)
	if !out.Wants("p1") {
		t.Fatal("a project never looked up is not wanted")
	}
	out.Recorded(actors.ItemID{Project: "p1", Item: "r1"}, &actors.Message{Render: []actors.RenderEvent{
		{ID: "v1", EventType: actors.Viewed, CreatedAt: actors.NewTime(time.Now())},
	}}, []bool{true})
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	if err := out.Flush(short()); err == nil {
		t.Fatal("flushed while the endpoints could not be looked up")
	}
	ls.down.Store(false) // endpoints known; the webhook stream does not exist yet
	// Long enough for the client's own resends of a publish nobody
	// answers (about half a second) to give up: the failure is counted.
	refused, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := out.Flush(refused); err == nil {
		t.Fatal("flushed while the webhook stream refused the delivery")
	}
	st := newMemStore(ep)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGuard([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(context.Background(), js, st, g, Options{Schedule: []time.Duration{10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(dctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := out.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() error {
		if a := st.all(); len(a) != 1 || a[0].WebhookID != "v1" || a[0].Outcome != Delivered {
			return fmt.Errorf("attempts %+v", a)
		}
		return nil
	})
	if _, failed := out.Counts(); failed == 0 {
		t.Fatal("the refused publish was not counted")
	}
}
