package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The seed's Quick Start: record a partner event, read the summary.
func TestRenderQuickStart(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newTenant(t, e)

	r := s.post(t, tn, `{ "eventType": "downloaded", "metadata": { "source": "dashboard", "userId": "u_123" } }`, "User-Agent", "Mozilla/5.0 test")
	if !recorded(t, r) {
		t.Fatalf("first downloaded not recorded")
	}
	// The verdict came from the actor after it applied the event, so a read
	// right after the POST shows it: no polling here on purpose.
	sum := s.engagement(t, tn)
	want := map[string]int64{"viewed": 0, "downloaded": 1, "printed": 0, "email_opened": 0, "email_sent": 0, "share_created": 0, "share_revoked": 0}
	if fmt.Sprint(sum.Counts) != fmt.Sprint(want) || sum.Total != 1 || sum.LinkOpens != 0 {
		t.Fatalf("summary = %+v", sum)
	}
	if len(sum.Recent) != 1 {
		t.Fatalf("recent = %+v", sum.Recent)
	}
	ev := sum.Recent[0]
	if ev.EventType != "downloaded" || ev.ActorKind != "partner" || ev.ShareID != nil ||
		ev.SourceIP == nil || *ev.SourceIP != "127.0.0.1" || ev.UserAgent == nil || *ev.UserAgent != "Mozilla/5.0 test" ||
		string(ev.Metadata) != `{"source":"dashboard","userId":"u_123"}` {
		t.Fatalf("recent[0] = %+v metadata %s", ev, ev.Metadata)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", ev.CreatedAt); err != nil {
		t.Fatalf("createdAt %q is not ISO-8601 with milliseconds in UTC", ev.CreatedAt)
	}
	if len(ev.ID) != 36 {
		t.Fatalf("event id %q", ev.ID)
	}
}

func TestRenderDedupeWindow(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newTenant(t, e)
	for i, tc := range []struct {
		body string
		want bool
	}{
		{`{"eventType":"viewed"}`, true},
		{`{"eventType":"viewed","metadata":{"x":1}}`, false}, // same (shareId, type, ip) inside 5 minutes
		{`{"eventType":"printed"}`, true},
		{`{"eventType":"printed"}`, false},
		{`{"eventType":"downloaded"}`, true},
	} {
		if got := recorded(t, s.post(t, tn, tc.body)); got != tc.want {
			t.Fatalf("post %d %s: recorded %v, want %v", i, tc.body, got, tc.want)
		}
	}
	sum := s.engagement(t, tn)
	if sum.Counts["viewed"] != 1 || sum.Counts["printed"] != 1 || sum.Counts["downloaded"] != 1 || sum.Total != 3 || len(sum.Recent) != 3 {
		t.Fatalf("duplicates were written: %+v", sum)
	}
}

// Forwarding headers count only from a trusted proxy.
func TestSourceIPTrustedProxy(t *testing.T) {
	e := newEnv(t)
	trusting := startService(t, e.with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1/32"))
	tn := newTenant(t, e)
	recorded(t, trusting.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", "203.0.113.7, 10.0.0.1"))
	recorded(t, trusting.post(t, tn, `{"eventType":"printed"}`, "X-Real-Ip", "198.51.100.2"))
	sum := trusting.engagement(t, tn)
	if *sum.Recent[1].SourceIP != "203.0.113.7" || *sum.Recent[0].SourceIP != "198.51.100.2" {
		t.Fatalf("trusted proxy: sourceIp %s, %s", *sum.Recent[1].SourceIP, *sum.Recent[0].SourceIP)
	}
	// A different IP is a different dedupe key.
	if !recorded(t, trusting.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", "203.0.113.8")) {
		t.Fatal("viewed from another client IP was deduped")
	}
	trusting.stop()

	plain := startService(t, e)
	recorded(t, plain.post(t, tn, `{"eventType":"downloaded"}`, "X-Forwarded-For", "203.0.113.7"))
	if ip := *plain.engagement(t, tn).Recent[0].SourceIP; ip != "127.0.0.1" {
		t.Fatalf("untrusted peer's X-Forwarded-For was believed: %s", ip)
	}
}

// Every error row of the seed, plus the limits, in the one envelope; none
// of them changes any count.
func TestRenderErrors(t *testing.T) {
	e := newEnv(t).with("ENGAGED_MAX_BODY_BYTES", "2048", "ENGAGED_MAX_METADATA_BYTES", "256")
	s := startService(t, e)
	tn := newTenant(t, e)
	other := newTenant(t, e)
	revoked := adminJSON(t, e, "key", "create", "--project", tn.project)
	adminJSON(t, e, "key", "revoke", revoked["id"].(string))
	deleted := newTenant(t, e)
	adminJSON(t, e, "project", "delete", deleted.project)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"eventType":"viewed","metadata":{"pad":"` + strings.Repeat("a", 4000) + `"}}`))
	zw.Close()
	var smallGz bytes.Buffer
	zw = gzip.NewWriter(&smallGz)
	zw.Write([]byte(`{"eventType":"printed"}`))
	zw.Close()

	events := s.base + "/v1/renders/" + tn.render + "/events"
	read := s.base + "/v1/renders/" + tn.render + "/engagement"
	tests := []struct {
		name, method, url, key, body string
		headers                      []string
		status                       int
		code                         string
		field                        string // expected key in error.issues.fieldErrors
	}{
		{"not json", "POST", events, tn.key, `{"eventType":`, nil, 400, "invalid_json", ""},
		{"json array", "POST", events, tn.key, `[1,2]`, nil, 400, "invalid_request", ""},
		{"missing eventType", "POST", events, tn.key, `{"metadata":{}}`, nil, 400, "invalid_request", "eventType"},
		{"eventType not string", "POST", events, tn.key, `{"eventType":7}`, nil, 400, "invalid_request", "eventType"},
		{"system eventType", "POST", events, tn.key, `{"eventType":"email_sent"}`, nil, 400, "invalid_request", "eventType"},
		{"unknown eventType", "POST", events, tn.key, `{"eventType":"liked"}`, nil, 400, "invalid_request", "eventType"},
		{"metadata not object", "POST", events, tn.key, `{"eventType":"viewed","metadata":[1]}`, nil, 400, "invalid_request", "metadata"},
		{"metadata too large", "POST", events, tn.key, `{"eventType":"viewed","metadata":{"k":"` + strings.Repeat("x", 300) + `"}}`, nil, 400, "invalid_request", "metadata"},
		{"no key", "POST", events, "", `{"eventType":"viewed"}`, nil, 401, "unauthorized", ""},
		{"malformed key", "GET", read, "sk_nope", "", nil, 401, "unauthorized", ""},
		{"unknown key", "GET", read, "sk_" + strings.Repeat("a", 39), "", nil, 401, "unauthorized", ""},
		{"revoked key", "GET", read, revoked["key"].(string), "", nil, 401, "unauthorized", ""},
		{"basic auth", "GET", read, "", "", []string{"Authorization", "Basic Zm9vOmJhcg=="}, 401, "unauthorized", ""},
		{"deleted project", "GET", s.base + "/v1/renders/" + deleted.render + "/engagement", deleted.key, "", nil, 403, "forbidden", ""},
		{"other project's render (read)", "GET", s.base + "/v1/renders/" + other.render + "/engagement", tn.key, "", nil, 404, "not_found", ""},
		{"other project's render (write)", "POST", s.base + "/v1/renders/" + other.render + "/events", tn.key, `{"eventType":"viewed"}`, nil, 404, "not_found", ""},
		{"missing render", "GET", s.base + "/v1/renders/01939c2c-0000-7000-8000-000000000000/engagement", tn.key, "", nil, 404, "not_found", ""},
		{"id not a uuid", "GET", s.base + "/v1/renders/0193c2c3/engagement", tn.key, "", nil, 404, "not_found", ""},
		{"id with subject wildcard", "GET", s.base + "/v1/renders/a.%3E/engagement", tn.key, "", nil, 404, "not_found", ""},
		{"body over limit", "POST", events, tn.key, `{"eventType":"viewed","metadata":{"pad":"` + strings.Repeat("a", 3000) + `"}}`, nil, 413, "payload_too_large", ""},
		{"gzip over limit after decompression", "POST", events, tn.key, gz.String(), []string{"Content-Encoding", "gzip"}, 413, "payload_too_large", ""},
		{"unknown encoding", "POST", events, tn.key, `{"eventType":"viewed"}`, []string{"Content-Encoding", "zstd"}, 415, "unsupported_media_type", ""},
		{"unknown route", "GET", s.base + "/v1/nope", tn.key, "", nil, 404, "not_found", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, tc.url, tc.key, tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if code := r.errorCode(t); code != tc.code {
				t.Fatalf("code %q, want %q", code, tc.code)
			}
			if tc.field != "" {
				issues := r.json(t)["error"].(map[string]any)["issues"].(map[string]any)
				if _, ok := issues["fieldErrors"].(map[string]any)[tc.field]; !ok {
					t.Fatalf("no fieldErrors.%s in %s", tc.field, r.body)
				}
			}
		})
	}
	// A gzip body within the limit is accepted.
	if !recorded(t, s.post(t, tn, smallGz.String(), "Content-Encoding", "gzip")) {
		t.Fatal("gzip printed not recorded")
	}
	sum := s.engagement(t, tn)
	if sum.Total != 1 || sum.Counts["printed"] != 1 {
		t.Fatalf("bad requests changed counts: %+v", sum.Counts)
	}
	if other := s.engagement(t, other); other.Total != 0 {
		t.Fatalf("other project's render changed: %+v", other.Counts)
	}
}

// A graceful restart keeps counts, recent events and the dedupe window.
func TestRestartKeepsStateExactly(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := newTenant(t, e)
	for i := 0; i < 20; i++ {
		recorded(t, s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i)))
	}
	recorded(t, s.post(t, tn, `{"eventType":"printed"}`))
	before := s.engagementJSON(t, tn)
	if got := s.engagement(t, tn).Total; got != 21 {
		t.Fatalf("total %d before restart, want 21", got)
	}
	s.stop()

	s2 := startService(t, e)
	after := s2.engagementJSON(t, tn)
	if before != after {
		t.Fatalf("state changed across restart:\nbefore %+v\nafter  %+v", before, after)
	}
	// The dedupe window survived: the same printed is still a duplicate.
	if recorded(t, s2.post(t, tn, `{"eventType":"printed"}`)) {
		t.Fatal("dedupe window lost across restart")
	}
	if got := s2.engagement(t, tn).Counts["printed"]; got != 1 {
		t.Fatalf("printed = %d after restart", got)
	}
}

func TestHealthAndReady(t *testing.T) {
	s := startService(t, newEnv(t))
	for _, p := range []string{"/healthz", "/readyz"} {
		r := do(t, "GET", s.base+p, "", "")
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
}

// When JetStream cannot store an event (here: the log is full), the request
// is 503 with Retry-After, and only the acknowledged events are counted.
func TestLogFullIsUnavailable(t *testing.T) {
	e := newEnv(t).with("ENGAGED_STREAM_MAX_BYTES", "3000", "ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := newTenant(t, e)
	acked, refused := 0, 0
	for i := 0; i < 40; i++ {
		r := s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i))
		switch r.status {
		case 200:
			acked++
		case 503:
			if r.errorCode(t) != "unavailable" || r.header.Get("Retry-After") == "" {
				t.Fatalf("503 without code or Retry-After: %v %s", r.header, r.body)
			}
			refused++
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	if acked == 0 || refused == 0 {
		t.Fatalf("acked %d, refused %d: the log limit did not bite", acked, refused)
	}
	if got := s.engagement(t, tn).Counts["viewed"]; got != int64(acked) {
		t.Fatalf("viewed = %d, want %d acknowledged", got, acked)
	}
}
