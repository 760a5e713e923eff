package main

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Live updates of SDK content items: the same machinery as renders, with the
// content engagement read ("data" of GET /v1/contents/:id/engagement) as the
// payload.

func (s *service) contentStreamURL(id string) string {
	return s.base + "/v1/contents/" + id + "/engagement/stream"
}

// sameAsContentRead checks that a payload is exactly the content item's
// engagement read plus seq (and series).
func sameAsContentRead(t *testing.T, s *service, key, id string, body map[string]any) {
	t.Helper()
	read := s.content(t, key, id)
	got := map[string]any{}
	// An update also carries the newest minute and hour buckets (series),
	// which the read does not.
	if _, ok := body["series"]; !ok && totalOf(body) > 0 {
		t.Fatalf("update without series: %v", body)
	}
	for k, v := range body {
		if k != "seq" && k != "series" {
			got[k] = v
		}
	}
	if !reflect.DeepEqual(got, read) {
		t.Fatalf("update is not the content engagement read plus seq:\nupdate %v\nread   %v", body, read)
	}
}

func received(t *testing.T, r response) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("event: %d %s", r.status, r.body)
	}
	if ok, _ := r.json(t)["data"].(map[string]any)["received"].(bool); !ok {
		t.Fatalf("event not received: %s", r.body)
	}
}

// An SDK event applied to a content item publishes the item's summary on
// engaged.updates.<project>.<item> at once: with a one-minute interval, only
// the leading edge can deliver it within the ten seconds nextUpdate waits.
func TestContentUpdates(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_UPDATE_INTERVAL", "1m")
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	sub := subscribeUpdates(t, s, "engaged.updates."+tn.project+".>")

	received(t, s.event(t, tn.pk, `{"event":"playStart","contentId":"cnt_abc123","data":{"startupTime":250}}`))
	u := nextUpdate(t, sub)
	if want := "engaged.updates." + tn.project + ".cnt_abc123"; u.subject != want {
		t.Fatalf("subject %q, want %q", u.subject, want)
	}
	if u.total != 1 || num(t, u.body, "plays") != 1 || num(t, u.body, "startupTime.p50") != 250 || u.body["contentId"] != "cnt_abc123" {
		t.Fatalf("first update: %v", u.body)
	}
	sameAsContentRead(t, s, tn.sk, "cnt_abc123", u.body)

	// Items are throttled each on its own. The swipe goes to cnt_def456 (a
	// swipe in) and, as its copy, to cnt_abc123 (a swipe out): cnt_def456's
	// first update is immediate, while cnt_abc123 published less than a
	// minute ago and holds its next update for the trailing edge, so nothing
	// else can arrive first.
	received(t, s.event(t, tn.pk, `{"event":"swipe","contentId":"cnt_def456","data":{"fromContentId":"cnt_abc123","watchTime":4.5}}`))
	u2 := nextUpdate(t, sub)
	if u2.subject != "engaged.updates."+tn.project+".cnt_def456" || num(t, u2.body, "swipes.in") != 1 || u2.total != 1 {
		t.Fatalf("swipe update: %s %v", u2.subject, u2.body)
	}
	if u2.seq <= u.seq {
		t.Fatalf("seq %d after %d", u2.seq, u.seq)
	}
	sameAsContentRead(t, s, tn.sk, "cnt_def456", u2.body)
}

// With interval 0 every applied message publishes: a batch, one log message
// per item it touches, produces one update per item, each equal to that
// item's read. A swipe's copy updates the item swiped away from.
func TestContentUpdatesBatch(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_UPDATE_INTERVAL", "0")
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	sub := subscribeUpdates(t, s, "engaged.updates."+tn.project+".>")

	b := s.batch(t, tn.pk, `{"events":[
		{"event":"impression","contentId":"cnt_abc123","data":{"position":0}},
		{"event":"like","contentId":"cnt_abc123"},
		{"event":"impression","contentId":"cnt_def456","data":{"position":1}},
		{"event":"swipe","contentId":"cnt_def456","data":{"fromContentId":"cnt_abc123","watchTime":3.25}},
		{"event":"playStart","contentId":"nope","data":{"startupTime":1}}]}`)
	if b.Data.Received != 4 || b.Data.Failed != 1 {
		t.Fatalf("batch: %v", b.statuses())
	}
	got := map[string]update{}
	for len(got) < 2 {
		u := nextUpdate(t, sub)
		item := strings.TrimPrefix(u.subject, "engaged.updates."+tn.project+".")
		if _, dup := got[item]; dup {
			t.Fatalf("second update for %s: %v", item, u.body)
		}
		got[item] = u
	}
	if u := got["cnt_abc123"]; u.total != 2 || num(t, u.body, "likes") != 1 || num(t, u.body, "impressions") != 1 ||
		num(t, u.body, "swipes.out") != 1 || num(t, u.body, "watchTime.total") != 3.25 {
		t.Fatalf("cnt_abc123: %v", u.body)
	}
	if u := got["cnt_def456"]; u.total != 2 || num(t, u.body, "impressions") != 1 || num(t, u.body, "swipes.in") != 1 {
		t.Fatalf("cnt_def456: %v", u.body)
	}
	for item, u := range got {
		sameAsContentRead(t, s, tn.sk, item, u.body)
	}
}

func TestContentSSEStream(t *testing.T) {
	e := newEnv(t).with("ENGAGED_UPDATE_INTERVAL", "0", "ENGAGED_SSE_HEARTBEAT", "50ms")
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	url := s.contentStreamURL("cnt_abc123")

	c := openStream(t, url, tn.sk)
	if ct := c.res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q", ct)
	}
	// First event: the current summary, before any event exists.
	seq0, first := summaryOf(t, c.next(t))
	if seq0 != 0 || totalOf(first) != 0 || first["completionRate"] != nil || first["contentId"] != "cnt_abc123" {
		t.Fatalf("first event: id %d %v", seq0, first)
	}
	sameAsContentRead(t, s, tn.sk, "cnt_abc123", first)

	received(t, s.event(t, tn.pk, `{"event":"playStart","contentId":"cnt_abc123","data":{"startupTime":300}}`))
	received(t, s.event(t, tn.pk, `{"event":"completion","contentId":"cnt_abc123","data":{"watchTime":9}}`))
	last, body := seq0, first
	for totalOf(body) != 2 {
		var seq uint64
		seq, body = summaryOf(t, c.next(t))
		if seq <= last {
			t.Fatalf("event ids not rising: %d after %d", seq, last)
		}
		last = seq
	}
	if num(t, body, "completionRate") != 1 || num(t, body, "watchTime.total") != 9 {
		t.Fatalf("after two events: %v", body)
	}
	sameAsContentRead(t, s, tn.sk, "cnt_abc123", body)
	if hb := c.waitComment(t); hb != " heartbeat" {
		t.Fatalf("comment %q", hb)
	}

	// Another item's events do not reach this stream.
	received(t, s.event(t, tn.pk, `{"event":"like","contentId":"cnt_def456"}`))
	// A reconnecting client gets the current summary first.
	again := openStream(t, url, tn.sk, "Last-Event-ID", strconv.FormatUint(seq0, 10))
	seq, b := summaryOf(t, again.next(t))
	if seq != last || totalOf(b) != 2 {
		t.Fatalf("after Last-Event-ID %d: id %d total %d, want id %d total 2", seq0, seq, totalOf(b), last)
	}
	received(t, s.event(t, tn.pk, `{"event":"save","contentId":"cnt_abc123"}`))
	for _, cl := range []*sseClient{c, again} {
		seq, b := summaryOf(t, cl.next(t))
		if seq <= last || totalOf(b) != 3 || num(t, b, "saves") != 1 {
			t.Fatalf("next event: id %d %v (last id %d)", seq, b, last)
		}
	}

	s.stop()
	c.waitEnd(t)
	again.waitEnd(t)
}

func TestContentSSEErrors(t *testing.T) {
	e := newEnv(t).with("ENGAGED_SSE_MAX_STREAMS", "1")
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	newSDKTenant(t, e, "cnt_other") // another project's item
	rt := newTenant(t, e)
	for _, tc := range []struct {
		name, url, key string
		status         int
		code           string
	}{
		{"no key", s.contentStreamURL("cnt_abc123"), "", 401, "unauthorized"},
		{"publishable key", s.contentStreamURL("cnt_abc123"), tn.pk, 403, "forbidden"},
		{"unregistered id", s.contentStreamURL("cnt_nope"), tn.sk, 404, "not_found"},
		{"other project's item", s.contentStreamURL("cnt_other"), tn.sk, 404, "not_found"},
		{"invalid id", s.contentStreamURL("a.b"), tn.sk, 404, "not_found"},
		{"too long id", s.contentStreamURL(strings.Repeat("x", 65)), tn.sk, 404, "not_found"},
		{"a render is not content", s.contentStreamURL(rt.render), rt.key, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, r := tryStream(t, tc.url, tc.key)
			if c != nil {
				t.Fatal("stream opened")
			}
			if r.status != tc.status || r.errorCode(t) != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}

	// Content and render streams share ENGAGED_SSE_MAX_STREAMS.
	a := openStream(t, s.streamURL(rt), rt.key)
	a.next(t)
	c, r := tryStream(t, s.contentStreamURL("cnt_abc123"), tn.sk)
	if c != nil {
		t.Fatal("second stream opened with ENGAGED_SSE_MAX_STREAMS=1")
	}
	if r.status != 503 || r.errorCode(t) != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("second stream: %d %s %v", r.status, r.body, r.header)
	}
}

func figureIs(name, text string) string {
	return fmt.Sprintf(`document.querySelector('[data-figure="%s"]').textContent === %q`, name, text)
}

// The dashboard's content view, in a real browser, shows an SDK content
// item's figures and follows them live as SDK events are posted.
func TestContentDashboardInBrowser(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	ctx := browser(t)

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/dashboard?content=cnt_abc123"),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), tn.sk),
		chromedp.Click(chromedp.ID("go")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "stream connected", `document.querySelector("#status-text").textContent === "live" && `+
		figureIs("impressions", "0")+" && "+figureIs("completionRate", "—")+" && "+figureIs("startupP50", "—"))
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
		`sessionStorage.getItem("engaged.secretKey") === %q && localStorage.length === 0 && document.cookie === "" && `+
			`!location.href.includes(%q) && document.querySelector("#render-view").hidden && !document.querySelector("#content-view").hidden`,
		tn.sk, tn.sk)))
	if err != nil || !ok {
		t.Fatalf("key storage / view check: %v %v", ok, err)
	}

	received(t, s.event(t, tn.pk, `{"event":"impression","contentId":"cnt_abc123","data":{"position":0,"entryPoint":"feed"}}`))
	waitFor(t, ctx, "first event shown", figureIs("impressions", "1"))

	b := s.batch(t, tn.pk, `{"events":[
		{"event":"impression","contentId":"cnt_abc123","data":{"position":3}},
		{"event":"playStart","contentId":"cnt_abc123","data":{"startupTime":250}},
		{"event":"playStart","contentId":"cnt_abc123","data":{"startupTime":400}},
		{"event":"completion","contentId":"cnt_abc123","data":{"watchTime":12.5}},
		{"event":"rebuffer","contentId":"cnt_abc123","data":{"duration":500,"currentTime":3}},
		{"event":"like","contentId":"cnt_abc123"},
		{"event":"share","contentId":"cnt_abc123","data":{"platform":"whatsapp"}},
		{"event":"save","contentId":"cnt_abc123"},
		{"event":"error","contentId":"cnt_abc123","data":{"errorCode":"E_NET","errorMessage":"timeout"}},
		{"event":"swipe","contentId":"cnt_abc123","data":{"fromContentId":"cnt_def456","watchTime":2}},
		{"event":"swipe","contentId":"cnt_def456","data":{"fromContentId":"cnt_abc123","watchTime":7.5}}]}`)
	if b.Data.Received != 11 {
		t.Fatalf("batch: %v", b.statuses())
	}
	// Watch time 12.5 + 7.5 s; rebuffer ratio 0.5 s / 20 s; p95 of {250, 400}
	// is 400 (nearest rank).
	want := map[string]string{
		"impressions": "2", "plays": "2", "completions": "1", "completionRate": "50%",
		"watchTime": "20 s", "startupP50": "250 ms", "startupP95": "400 ms", "rebufferRatio": "2.5%",
		"errors": "1", "likes": "1", "shares": "1", "saves": "1", "swipesIn": "1", "swipesOut": "1",
	}
	var conds []string
	for name, text := range want {
		conds = append(conds, figureIs(name, text))
	}
	waitFor(t, ctx, "figures follow the events", strings.Join(conds, " && "))

	// What the page shows is what the API reads.
	d := s.content(t, tn.sk, "cnt_abc123")
	if num(t, d, "plays") != 2 || num(t, d, "completionRate") != 0.5 || num(t, d, "rebuffer.ratio") != 0.025 ||
		num(t, d, "startupTime.p95") != 400 || num(t, d, "swipes.out") != 1 {
		t.Fatalf("read: %v", d)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`[...document.querySelectorAll("#by-error tr, #by-platform tr")].map(r => r.innerText.replace(/\s+/g, " ")).join("|")`))
	if err != nil || rows != "E_NET 1|whatsapp 1" {
		t.Fatalf("breakdowns %q (%v)", rows, err)
	}

	waitFor(t, ctx, "highlights faded", `document.getAnimations().length === 0 && !document.querySelector(".changed")`)
	saveScreenshot(t, ctx, "content-dashboard.png")
}
