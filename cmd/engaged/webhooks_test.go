package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// specVerify checks a delivery as a receiver does, from the Standard
// Webhooks specification alone: HMAC-SHA256 of "id.timestamp.body" under
// the base64 key after "whsec_", any one "v1,<base64>" entry matching.
func specVerify(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Fields(h.Get("webhook-signature")) {
		v, sig, _ := strings.Cut(s, ",")
		if got, err := base64.StdEncoding.DecodeString(sig); v == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no valid signature for %s in %q", h.Get("webhook-id"), h.Get("webhook-signature"))
}

type hookRequest struct {
	h    http.Header
	body []byte
}

// hookReceiver is a real local receiver: the first `fail` requests of each
// webhook-id get 500, the next ones 200.
type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []hookRequest
	seen map[string]int
	fail int
}

func newHookReceiver(t *testing.T, fail int) *hookReceiver {
	r := &hookReceiver{seen: map[string]int{}, fail: fail}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.reqs = append(r.reqs, hookRequest{req.Header.Clone(), b})
		id := req.Header.Get("webhook-id")
		r.seen[id]++
		if r.seen[id] <= r.fail {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) requests() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookRequest(nil), r.reqs...)
}

// A recorded share view fires render.viewed to a registered endpoint:
// 500, 500, 200 is three attempts with one webhook-id, each signature
// valid; the same view again (deduped) and a link unfurler's fetch (a
// robot) never fire. URLs to private addresses are refused.
func TestWebhooksEndToEnd(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_WEBHOOKS_ALLOW_HOSTS", "127.0.0.1",
		"ENGAGED_WEBHOOK_RETRY_SCHEDULE", "50ms,50ms,50ms")
	s := startService(t, e)
	tn := shareTenant(t, e)
	rc := newHookReceiver(t, 2)

	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/hook", "http://[::1]:9/hook", "ftp://example.com/"} {
		r := do(t, "POST", s.base+"/v1/webhooks", tn.key, fmt.Sprintf(`{"url":%q,"eventTypes":["render.viewed"]}`, u))
		if r.status != 400 || r.errorCode(t) != "invalid_request" {
			t.Fatalf("url %s: %d %s", u, r.status, r.body)
		}
	}
	if r := do(t, "POST", s.base+"/v1/webhooks", tn.key, `{"url":"`+rc.URL+`","eventTypes":["render.nope"]}`); r.status != 400 {
		t.Fatalf("unknown event type: %d %s", r.status, r.body)
	}
	r := do(t, "POST", s.base+"/v1/webhooks", tn.key, `{"url":"`+rc.URL+`/hook","eventTypes":["render.viewed"]}`)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	ep := r.json(t)
	id, secret := ep["id"].(string), ep["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("create: %s", r.body)
	}
	if r := do(t, "GET", s.base+"/v1/webhooks/"+id, tn.key, ""); r.status != 200 || strings.Contains(string(r.body), "whsec_") {
		t.Fatalf("get shows the secret or fails: %d %s", r.status, r.body)
	}
	other := newTenant(t, e)
	if r := do(t, "GET", s.base+"/v1/webhooks/"+id, other.key, ""); r.status != 404 {
		t.Fatalf("another project's endpoint: %d", r.status)
	}

	sh := s.createShare(t, tn)
	person := []string{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", "X-Forwarded-For", "203.0.113.50"}
	s.page(t, sh.ID, "", person...)
	s.page(t, sh.ID, "", person...) // deduped
	s.page(t, sh.ID, "", "User-Agent", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "X-Forwarded-For", "203.0.113.51")
	viewID := s.engagement(t, tn).Recent[0].ID
	wantCounts(t, s.counts(t, tn), map[string]int64{"viewed": 1, "share_created": 1})

	var attempts []map[string]any
	eventually(t, 30*time.Second, func() error {
		r := do(t, "GET", s.base+"/v1/webhooks/"+id+"/attempts", tn.key, "")
		attempts = nil
		for _, a := range r.json(t)["attempts"].([]any) {
			attempts = append(attempts, a.(map[string]any))
		}
		if len(attempts) == 0 || attempts[0]["outcome"] != "delivered" {
			return fmt.Errorf("attempts: %s", r.body)
		}
		return nil
	})
	if len(attempts) != 3 || attempts[1]["status"].(float64) != 500 || attempts[2]["status"].(float64) != 500 {
		t.Fatalf("want 500, 500, 200: %v", attempts)
	}
	reqs := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (one event fired, three attempts)", len(reqs))
	}
	for i, q := range reqs {
		if err := specVerify(secret, q.h, q.body); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		var b struct {
			Type string
			Data struct {
				RenderID string
				Event    struct{ ID, EventType string }
			}
		}
		if err := json.Unmarshal(q.body, &b); err != nil || q.h.Get("webhook-id") != viewID || b.Type != "render.viewed" ||
			b.Data.RenderID != tn.render || b.Data.Event.ID != viewID {
			t.Fatalf("request %d: id %s body %s (%v)", i, q.h.Get("webhook-id"), q.body, err)
		}
	}

	// Rotation: both secrets sign during the overlap; the test delivery
	// shows it.
	r = do(t, "POST", s.base+"/v1/webhooks/"+id+"/rotate-secret", tn.key, "")
	newSecret, _ := r.json(t)["secret"].(string)
	if r.status != 200 || newSecret == secret || !strings.HasPrefix(newSecret, "whsec_") {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	r = do(t, "POST", s.base+"/v1/webhooks/"+id+"/test", tn.key, "")
	if r.status != 202 {
		t.Fatalf("test: %d %s", r.status, r.body)
	}
	testID := r.json(t)["webhookId"].(string)
	eventually(t, 30*time.Second, func() error {
		for _, q := range rc.requests() {
			if q.h.Get("webhook-id") == testID {
				if err := specVerify(newSecret, q.h, q.body); err != nil {
					t.Fatal(err)
				}
				if err := specVerify(secret, q.h, q.body); err != nil {
					t.Fatalf("the old secret during the overlap: %v", err)
				}
				return nil
			}
		}
		return fmt.Errorf("no test delivery yet")
	})

	if r := do(t, "DELETE", s.base+"/v1/webhooks/"+id, tn.key, ""); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", s.base+"/v1/webhooks", tn.key, ""); r.status != 200 || len(r.json(t)["webhooks"].([]any)) != 0 {
		t.Fatalf("list after delete: %d %s", r.status, r.body)
	}
}

// Events that internal publishers record through the system subject fire
// too, with their own id as webhook-id.
func TestWebhooksSystemSubject(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_WEBHOOKS_ALLOW_HOSTS", "127.0.0.1")
	s := startService(t, e)
	tn := shareTenant(t, e)
	rc := newHookReceiver(t, 0)
	r := do(t, "POST", s.base+"/v1/webhooks", tn.key, `{"url":"`+rc.URL+`","eventTypes":["render.email_sent"]}`)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	secret := r.json(t)["secret"].(string)
	const id = "0193c2d0-0000-7000-8000-0000000000e1"
	msg, err := s.natsConn(t).Request("engaged.system.events",
		[]byte(fmt.Sprintf(`{"id":%q,"projectId":%q,"renderId":%q,"eventType":"email_sent"}`, id, tn.project, tn.render)), 10*time.Second)
	if err != nil || !strings.Contains(string(msg.Data), `"recorded":true`) {
		t.Fatalf("system event: %v %s", err, msg.Data)
	}
	eventually(t, 30*time.Second, func() error {
		for _, q := range rc.requests() {
			if q.h.Get("webhook-id") == id && strings.Contains(string(q.body), `"type":"render.email_sent"`) {
				return specVerify(secret, q.h, q.body)
			}
		}
		return fmt.Errorf("no delivery of %s yet", id)
	})
}

// A replay of a time range re-sends, to that endpoint, exactly the
// deliveries whose event timestamp is in the range: same webhook-ids and
// bodies as the originals, signatures valid, attempts listed under the
// replay's id. Bad ranges are 400, another project's endpoint 404, a
// disabled endpoint 409.
func TestWebhooksReplay(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_WEBHOOKS_ALLOW_HOSTS", "127.0.0.1",
		"ENGAGED_WEBHOOK_RETRY_SCHEDULE", "50ms,50ms,50ms")
	s := startService(t, e)
	tn := shareTenant(t, e)
	rc := newHookReceiver(t, 0)
	r := do(t, "POST", s.base+"/v1/webhooks", tn.key, `{"url":"`+rc.URL+`/hook","eventTypes":["render.viewed"]}`)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id, secret := r.json(t)["id"].(string), r.json(t)["secret"].(string)

	// Four views by four people, each in a millisecond of its own.
	sh := s.createShare(t, tn)
	for i := range 4 {
		s.page(t, sh.ID, "", "User-Agent", fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) Firefox/14%d.0", i), "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", 60+i))
		time.Sleep(5 * time.Millisecond)
	}
	wantCounts(t, s.counts(t, tn), map[string]int64{"viewed": 4, "share_created": 1})
	type sent struct {
		id, body string
		ts       time.Time
	}
	var orig []sent
	eventually(t, 30*time.Second, func() error {
		orig = nil
		for _, q := range rc.requests() {
			var b struct{ Timestamp time.Time }
			if err := json.Unmarshal(q.body, &b); err != nil {
				t.Fatal(err)
			}
			orig = append(orig, sent{q.h.Get("webhook-id"), string(q.body), b.Timestamp})
		}
		if len(orig) != 4 {
			return fmt.Errorf("%d deliveries, want 4", len(orig))
		}
		return nil
	})
	slices.SortFunc(orig, func(a, b sent) int { return a.ts.Compare(b.ts) })
	if !orig[0].ts.Before(orig[1].ts) || !orig[2].ts.Before(orig[3].ts) {
		t.Fatalf("timestamps not apart: %v", orig)
	}

	// [second, third + 1 ms): the second and third views only.
	rangeBody := fmt.Sprintf(`{"from":%q,"to":%q}`, orig[1].ts.Format(time.RFC3339Nano), orig[2].ts.Add(time.Millisecond).Format(time.RFC3339Nano))
	other := newTenant(t, e)
	if r := do(t, "POST", s.base+"/v1/webhooks/"+id+"/replay", other.key, rangeBody); r.status != 404 {
		t.Fatalf("another project's endpoint: %d %s", r.status, r.body)
	}
	pk := adminJSON(t, e, "key", "create", "--project", tn.project, "--kind", "publishable")["key"].(string)
	if r := do(t, "POST", s.base+"/v1/webhooks/"+id+"/replay", pk, rangeBody); r.status != 403 {
		t.Fatalf("publishable key: %d %s", r.status, r.body)
	}
	now := time.Now().UTC()
	for _, bad := range []string{
		``, `[]`, `{}`, `{"from":"2026-12-01T00:00:00Z"}`,
		`{"from":"yesterday","to":"2026-12-01T00:00:00Z"}`,
		`{"from":1,"to":2}`,
		`{"from":"2026-12-02T00:00:00Z","to":"2026-12-01T00:00:00Z"}`,                                                                 // from after to
		`{"from":"2026-12-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}`,                                                                 // empty
		fmt.Sprintf(`{"from":%q,"to":%q}`, now.Add(-8*24*time.Hour).Format(time.RFC3339), now.Add(-time.Minute).Format(time.RFC3339)), // past 7 days
		fmt.Sprintf(`{"from":%q,"to":%q}`, now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339)),         // the future
	} {
		r := do(t, "POST", s.base+"/v1/webhooks/"+id+"/replay", tn.key, bad)
		if r.status != 400 || r.errorCode(t) == "" {
			t.Fatalf("%s: %d %s", bad, r.status, r.body)
		}
	}

	r = do(t, "POST", s.base+"/v1/webhooks/"+id+"/replay", tn.key, rangeBody)
	if r.status != 202 {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	sum := r.json(t)
	replayID, _ := sum["replayId"].(string)
	if sum["queued"].(float64) != 2 || sum["complete"] != true || replayID == "" {
		t.Fatalf("replay: %s", r.body)
	}
	eventually(t, 30*time.Second, func() error {
		if n := len(rc.requests()); n < 6 {
			return fmt.Errorf("%d requests, want 6", n)
		}
		return nil
	})
	// Everything queued was delivered once, so no further request comes;
	// the attempts list below shows both replay attempts delivered.
	eventually(t, 30*time.Second, func() error {
		r := do(t, "GET", s.base+"/v1/webhooks/"+id+"/attempts", tn.key, "")
		n := 0
		for _, a := range r.json(t)["attempts"].([]any) {
			if m := a.(map[string]any); m["replayId"] == replayID && m["outcome"] == "delivered" {
				n++
			}
		}
		if n != 2 {
			return fmt.Errorf("replay attempts delivered: %d of 2: %s", n, r.body)
		}
		return nil
	})
	reqs := rc.requests()
	if len(reqs) != 6 {
		t.Fatalf("%d requests, want 6", len(reqs))
	}
	again := map[string]string{}
	for _, q := range reqs[4:] {
		if err := specVerify(secret, q.h, q.body); err != nil {
			t.Fatal(err)
		}
		again[q.h.Get("webhook-id")] = string(q.body)
	}
	if len(again) != 2 || again[orig[1].id] != orig[1].body || again[orig[2].id] != orig[2].body {
		t.Fatalf("replayed %v, want the originals of %s and %s", again, orig[1].id, orig[2].id)
	}

	// A disabled endpoint (its receiver answered 410) is a conflict.
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) }))
	defer gone.Close()
	r = do(t, "POST", s.base+"/v1/webhooks", tn.key, `{"url":"`+gone.URL+`","eventTypes":["render.printed"]}`)
	goneID := r.json(t)["id"].(string)
	if r := do(t, "POST", s.base+"/v1/webhooks/"+goneID+"/test", tn.key, ""); r.status != 202 {
		t.Fatalf("test: %d %s", r.status, r.body)
	}
	eventually(t, 30*time.Second, func() error {
		if r := do(t, "GET", s.base+"/v1/webhooks/"+goneID, tn.key, ""); r.json(t)["disabledAt"] == nil {
			return fmt.Errorf("not disabled yet: %s", r.body)
		}
		return nil
	})
	if r := do(t, "POST", s.base+"/v1/webhooks/"+goneID+"/replay", tn.key, rangeBody); r.status != 409 || r.errorCode(t) != "conflict" {
		t.Fatalf("disabled endpoint: %d %s", r.status, r.body)
	}
}
