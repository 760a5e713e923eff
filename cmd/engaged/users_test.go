package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/engagedhq/engaged/client"
)

// The per-user routes (issue 20 item 3) through the real server: what a
// user has seen and the user's history, fed by the SDK events that carry
// that userId.

func (s *service) seen(t *testing.T, key, user string, ids ...string) []bool {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"contentIds": ids})
	r := do(t, "POST", s.base+"/v1/users/"+url.PathEscape(user)+"/seen", key, string(body))
	if r.status != 200 {
		t.Fatalf("seen: %d %s", r.status, r.body)
	}
	var out struct {
		Data struct{ Seen []bool } `json:"data"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || len(out.Data.Seen) != len(ids) {
		t.Fatalf("seen: %s", r.body)
	}
	return out.Data.Seen
}

type historyEvent struct {
	EventID, Type, ContentID, Timestamp string
}

func (s *service) history(t *testing.T, key, user, query string) []historyEvent {
	t.Helper()
	r := do(t, "GET", s.base+"/v1/users/"+url.PathEscape(user)+"/history"+query, key, "")
	if r.status != 200 {
		t.Fatalf("history: %d %s", r.status, r.body)
	}
	var out struct {
		Data struct{ Events []historyEvent } `json:"data"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.Data.Events == nil {
		t.Fatalf("history: %s", r.body)
	}
	return out.Data.Events
}

func TestUserSeenAndHistory(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e, "c3", "c4")
	ann, bob := "ann/é 1", "bob"
	at := func(min int) string {
		return time.Now().Add(time.Duration(-60+min) * time.Minute).UTC().Format(time.RFC3339)
	}
	b := s.batch(t, tn.pk, fmt.Sprintf(`{"events":[
		{"eventId":"a1","event":"impression","contentId":"cnt_abc123","userId":%q,"timestamp":%q,"data":{"position":0}},
		{"eventId":"a2","event":"playStart","contentId":"cnt_def456","userId":%q,"timestamp":%q,"data":{"startupTime":90}},
		{"eventId":"a3","event":"like","contentId":"c3","userId":%q,"timestamp":%q},
		{"eventId":"b1","event":"impression","contentId":"c4","userId":%q,"timestamp":%q,"data":{"position":0}},
		{"eventId":"n1","event":"impression","contentId":"c3","timestamp":%q,"data":{"position":0}}]}`,
		ann, at(1), ann, at(3), ann, at(2), bob, at(1), at(4)))
	if fmt.Sprint(b.statuses()) != "[accepted accepted accepted accepted accepted]" {
		t.Fatalf("batch: %v", b.statuses())
	}
	// A single event with a userId feeds the user too, and a retried one
	// is in the history once.
	for range 2 {
		if r := s.event(t, tn.pk, fmt.Sprintf(`{"eventId":"a4","event":"impression","contentId":"c4","userId":%q,"timestamp":%q,"data":{"position":0}}`, ann, at(0))); r.status != 200 {
			t.Fatalf("event: %d %s", r.status, r.body)
		}
	}
	ids := []string{"cnt_abc123", "cnt_def456", "c3", "c4", "never"}
	if got := fmt.Sprint(s.seen(t, tn.sk, ann, ids...)); got != "[true true false true false]" {
		t.Fatalf("ann seen %s", got) // c3: a like is not a view
	}
	if got := fmt.Sprint(s.seen(t, tn.sk, bob, ids...)); got != "[false false false true false]" {
		t.Fatalf("bob seen %s", got)
	}
	if got := fmt.Sprint(s.seen(t, tn.sk, "nobody", ids...)); got != "[false false false false false]" {
		t.Fatalf("unknown user seen %s", got)
	}
	h := s.history(t, tn.sk, ann, "")
	var order []string
	for _, ev := range h {
		order = append(order, ev.EventID+":"+ev.Type+":"+ev.ContentID)
	}
	if fmt.Sprint(order) != "[a2:playStart:cnt_def456 a3:like:c3 a1:impression:cnt_abc123 a4:impression:c4]" {
		t.Fatalf("ann history, newest first: %v", order)
	}
	r := do(t, "GET", s.base+"/v1/users/"+url.PathEscape(ann)+"/history", tn.sk, "")
	var env struct {
		Data struct{ Events []json.RawMessage }
	}
	json.Unmarshal(r.body, &env)
	sameJSON[client.UserEvent](t, env.Data.Events[0]) // the Go client's type takes every field
	if h := s.history(t, tn.sk, ann, "?limit=2"); len(h) != 2 || h[0].EventID != "a2" {
		t.Fatalf("limit 2: %v", h)
	}
	if h := s.history(t, tn.sk, "nobody", ""); len(h) != 0 {
		t.Fatalf("unknown user history: %v", h)
	}
	// The Go client reads the same.
	sc, _ := newClient(t, s.base, tn.sk)
	if got, err := sc.Seen(context.Background(), ann, ids); err != nil || fmt.Sprint(got) != "[true true false true false]" {
		t.Fatalf("client seen %v %v", got, err)
	}
	if got, err := sc.UserHistory(context.Background(), ann, 1); err != nil || len(got) != 1 || got[0].EventID != "a2" || got[0].Timestamp.IsZero() {
		t.Fatalf("client history %v %v", got, err)
	}
	// A content's figures are what they were without users.
	if c := s.content(t, tn.sk, "c4"); count(t, c, "impression") != 2 {
		t.Fatalf("c4 = %v", c)
	}

	user := s.base + "/v1/users/ann/"
	for _, c := range []struct {
		name, method, url, key, body string
		status                       int
		code                         string
	}{
		{"publishable seen", "POST", user + "seen", tn.pk, `{"contentIds":["c3"]}`, 403, "forbidden"},
		{"publishable history", "GET", user + "history", tn.pk, "", 403, "forbidden"},
		{"no key", "GET", user + "history", "", "", 401, "unauthorized"},
		{"empty list", "POST", user + "seen", tn.sk, `{"contentIds":[]}`, 400, "invalid_request"},
		{"501 ids", "POST", user + "seen", tn.sk, `{"contentIds":[` + strings.Repeat(`"c",`, 500) + `"c"]}`, 400, "invalid_request"},
		{"not a string", "POST", user + "seen", tn.sk, `{"contentIds":[5]}`, 400, "invalid_request"},
		{"not an id", "POST", user + "seen", tn.sk, `{"contentIds":["a.b"]}`, 400, "invalid_request"},
		{"no list", "POST", user + "seen", tn.sk, `{}`, 400, "invalid_request"},
		{"not JSON", "POST", user + "seen", tn.sk, `{"contentIds":`, 400, "invalid_json"},
		{"limit 0", "GET", user + "history?limit=0", tn.sk, "", 400, "invalid_request"},
		{"limit 51", "GET", user + "history?limit=51", tn.sk, "", 400, "invalid_request"},
		{"limit word", "GET", user + "history?limit=ten", tn.sk, "", 400, "invalid_request"},
		{"userId too long", "GET", s.base + "/v1/users/" + strings.Repeat("u", 257) + "/history", tn.sk, "", 400, "invalid_request"},
	} {
		r := do(t, c.method, c.url, c.key, c.body)
		if r.status != c.status || r.errorCode(t) != c.code {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
	// 500 ids are allowed; bob saw c4 only.
	many := make([]string, 500)
	for i := range many {
		many[i] = fmt.Sprintf("c%d", i)
	}
	for i, v := range s.seen(t, tn.sk, bob, many...) {
		if v != (i == 4) {
			t.Fatalf("bob: seen[%d] = %v", i, v)
		}
	}
}

// kill -9 at any point after a 2xx: what a user has seen comes back the
// same (the user's state is an item's: snapshot plus the log after it).
func TestUserSeenSurvivesKill9(t *testing.T) {
	e := newEnv(t).with("ENGAGED_SNAPSHOT_INTERVAL", "300ms")
	tn := newSDKTenant(t, e, "c1", "c2", "c3", "c4", "c5", "c6")
	ids := []string{"cnt_abc123", "cnt_def456", "c1", "c2", "c3", "c4", "c5", "c6"}
	var want string
	var wantHistory []historyEvent
	for round, pause := range []time.Duration{0, time.Second, 0} {
		p := startProcess(t, e)
		s := p.service(t)
		if round > 0 {
			if got := fmt.Sprint(s.seen(t, tn.sk, "u1", ids...)); got != want {
				t.Fatalf("round %d: after kill -9 seen %s, want %s\n%s", round, got, want, p.log.String())
			}
			if got := s.history(t, tn.sk, "u1", ""); fmt.Sprint(got) != fmt.Sprint(wantHistory) {
				t.Fatalf("round %d: history %v, want %v", round, got, wantHistory)
			}
		}
		c := ids[2+2*round]
		if r := s.event(t, tn.pk, fmt.Sprintf(`{"eventId":"r%d","event":"impression","contentId":%q,"userId":"u1","data":{"position":0}}`, round, c)); r.status != 200 {
			t.Fatalf("event: %d %s", r.status, r.body)
		}
		want = fmt.Sprint(s.seen(t, tn.sk, "u1", ids...))
		wantHistory = s.history(t, tn.sk, "u1", "")
		if len(wantHistory) != round+1 {
			t.Fatalf("round %d: history %v", round, wantHistory)
		}
		time.Sleep(pause) // 0: before any snapshot; 1s: after one
		p.kill9(t)
	}
	p := startProcess(t, e)
	if got := fmt.Sprint(p.service(t).seen(t, tn.sk, "u1", ids...)); got != want || got != "[false false true false true false true false]" {
		t.Fatalf("final: seen %s, want %s", got, want)
	}
}

// GET /v1/contents/:id/signals over window=all; 1h and 24h in
// TestContentSignalsWindows; 7d and 30d are 400.
func TestContentSignals(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	b := s.batch(t, tn.pk, `{"events":[
		{"eventId":"p1","event":"playStart","contentId":"cnt_abc123","data":{"startupTime":90}},
		{"eventId":"p2","event":"playStart","contentId":"cnt_abc123","data":{"startupTime":90}},
		{"eventId":"c1","event":"completion","contentId":"cnt_abc123","data":{"watchTime":20}},
		{"eventId":"l1","event":"like","contentId":"cnt_abc123"}]}`)
	if b.Data.Received != 4 {
		t.Fatalf("batch: %v", b.statuses())
	}
	sc, _ := newClient(t, s.base, tn.sk)
	if g, err := sc.ContentSignals(context.Background(), "cnt_abc123", "all"); err != nil || g.Plays != 2 || g.CompletionRate == nil || *g.CompletionRate != 0.5 {
		t.Fatalf("client signals %+v %v", g, err)
	}
	for _, q := range []string{"", "?window=all"} {
		r := do(t, "GET", s.base+"/v1/contents/cnt_abc123/signals"+q, tn.sk, "")
		if r.status != 200 {
			t.Fatalf("signals%s: %d %s", q, r.status, r.body)
		}
		var env struct{ Data json.RawMessage }
		json.Unmarshal(r.body, &env)
		sameJSON[client.ContentSignals](t, env.Data) // the Go client's type takes every field
		d := r.json(t)["data"].(map[string]any)
		if d["plays"] != 2.0 || d["completionRate"] != 0.5 || d["likesPerPlay"] != 0.5 || d["savesPerPlay"] != 0.0 ||
			d["watchFraction"] != nil || d["window"] != "all" {
			t.Fatalf("signals%s: %s", q, r.body)
		}
	}
	for _, c := range []struct {
		url, key string
		status   int
	}{
		{"/v1/contents/cnt_abc123/signals?window=7d", tn.sk, 400},
		{"/v1/contents/cnt_abc123/signals?window=30d", tn.sk, 400},
		{"/v1/contents/cnt_abc123/signals?window=year", tn.sk, 400},
		{"/v1/contents/cnt_abc123/signals", tn.pk, 403},
		{"/v1/contents/nope/signals", tn.sk, 404},
	} {
		if r := do(t, "GET", s.base+c.url, c.key, ""); r.status != c.status {
			t.Errorf("%s: %d %s", c.url, r.status, r.body)
		}
	}
}

// window=1h and 24h sum the content's buckets: an event sent 20 hours
// after its timestamp is counted in window=all but lands in no bucket (it
// is late, docs/SERIES.md), so it is in neither window.
func TestContentSignalsWindows(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	old := time.Now().Add(-20 * time.Hour).UTC().Format(time.RFC3339Nano)
	recent := time.Now().Add(-5 * time.Minute).UTC().Format(time.RFC3339Nano)
	b := s.batch(t, tn.pk, `{"events":[
		{"eventId":"p0","event":"playStart","contentId":"cnt_abc123","timestamp":"`+old+`","data":{"startupTime":90}},
		{"eventId":"l0","event":"like","contentId":"cnt_abc123","timestamp":"`+old+`"},
		{"eventId":"p1","event":"playStart","contentId":"cnt_abc123","data":{"startupTime":90}},
		{"eventId":"p2","event":"playStart","contentId":"cnt_abc123","timestamp":"`+recent+`","data":{"startupTime":90}},
		{"eventId":"p3","event":"playStart","contentId":"cnt_abc123","data":{"startupTime":90}},
		{"eventId":"c1","event":"completion","contentId":"cnt_abc123","data":{"watchTime":20}},
		{"eventId":"r1","event":"rebuffer","contentId":"cnt_abc123","data":{"duration":500,"currentTime":3}},
		{"eventId":"l1","event":"like","contentId":"cnt_abc123","timestamp":"`+recent+`"},
		{"eventId":"s1","event":"save","contentId":"cnt_abc123"}]}`)
	if b.Data.Received != 9 {
		t.Fatalf("batch: %v", b.statuses())
	}
	sc, _ := newClient(t, s.base, tn.sk)
	ctx := context.Background()
	all, err := sc.ContentSignals(ctx, "cnt_abc123", "all")
	if err != nil || all.Plays != 4 || *all.LikesPerPlay != 0.5 {
		t.Fatalf("window=all %+v %v", all, err)
	}
	for _, w := range []string{"1h", "24h"} {
		g, err := sc.ContentSignals(ctx, "cnt_abc123", w)
		if err != nil {
			t.Fatalf("window=%s: %v", w, err)
		}
		if g.Window != w || g.Plays != 3 || g.CompletionRate == nil || *g.CompletionRate != 1.0/3 ||
			*g.LikesPerPlay != 1.0/3 || *g.SavesPerPlay != 1.0/3 || *g.SharesPerPlay != 0 ||
			g.RebufferRatio == nil || *g.RebufferRatio != 0.5/20 || g.WatchFraction != nil || g.SwipeAwayRate != nil {
			t.Fatalf("window=%s: %+v", w, g)
		}
		r := do(t, "GET", s.base+"/v1/contents/cnt_abc123/signals?window="+w, tn.sk, "")
		var env struct{ Data json.RawMessage }
		if err := json.Unmarshal(r.body, &env); err != nil || r.status != 200 {
			t.Fatalf("window=%s: %d %s", w, r.status, r.body)
		}
		sameJSON[client.ContentSignals](t, env.Data)
	}
	// A content without events: every figure without a denominator is null.
	g, err := sc.ContentSignals(ctx, "cnt_def456", "1h")
	if err != nil || g.Plays != 0 || g.CompletionRate != nil || g.LikesPerPlay != nil || g.RebufferRatio != nil {
		t.Fatalf("quiet content: %+v %v", g, err)
	}
}

// Two instances share the log: a user's events sent through either are
// seen by both (the non-owner catches the user's item up from the log), and
// when one stops its partitions move to the other, which answers the same.
func TestUserSeenOnTwoInstances(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_PARTITIONS", "2", "ENGAGED_SNAPSHOT_INTERVAL", "50ms")
	a := startService(t, e)
	m := natsRE.FindStringSubmatch(a.log.String())
	if m == nil {
		t.Fatalf("no NATS address in the log:\n%s", a.log.String())
	}
	b := startService(t, e.with("ENGAGED_NATS_URL", m[1], "ENGAGED_DATA_DIR", t.TempDir()))
	contents := []string{"c0", "c1", "c2", "c3", "c4", "c5"}
	tn := newSDKTenant(t, e, contents...)
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"} // over both partitions
	services := []*service{a, b}
	for i, u := range users {
		for j := 0; j <= i%len(contents); j++ {
			s := services[(i+j)%2]
			if r := s.event(t, tn.pk, fmt.Sprintf(`{"eventId":"%s-%d","event":"impression","contentId":%q,"userId":%q,"data":{"position":0}}`, u, j, contents[j], u)); r.status != 200 {
				t.Fatalf("event: %d %s", r.status, r.body)
			}
		}
	}
	want := map[string]string{}
	for i, u := range users {
		var exp []bool
		for j := range contents {
			exp = append(exp, j <= i%len(contents))
		}
		want[u] = fmt.Sprint(exp)
		for k, s := range services {
			if got := fmt.Sprint(s.seen(t, tn.sk, u, contents...)); got != want[u] {
				t.Fatalf("instance %d: %s seen %s, want %s", k, u, got, want[u])
			}
		}
		if ha, hb := fmt.Sprint(a.history(t, tn.sk, u, "")), fmt.Sprint(b.history(t, tn.sk, u, "")); ha != hb {
			t.Fatalf("%s: histories differ:\n%s\n%s", u, ha, hb)
		}
	}
	b.stop()
	for _, u := range users {
		if got := fmt.Sprint(a.seen(t, tn.sk, u, contents...)); got != want[u] {
			t.Fatalf("after b stopped: %s seen %s, want %s", u, got, want[u])
		}
	}
}
