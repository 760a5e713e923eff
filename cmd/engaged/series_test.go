package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// seriesBody mirrors the documented series answer.
type seriesBody struct {
	Metric          string          `json:"metric"`
	Interval        string          `json:"interval"`
	From            string          `json:"from"`
	To              string          `json:"to"`
	CompleteThrough *string         `json:"completeThrough"`
	Late            int64           `json:"late"`
	Uniques         map[string]any  `json:"uniques"`
	Buckets         []seriesBucketT `json:"buckets"`
}

type seriesBucketT struct {
	T string  `json:"t"`
	V float64 `json:"v"`
}

func (b seriesBody) sum() float64 {
	var n float64
	for _, x := range b.Buckets {
		n += x.V
	}
	return n
}

// renderSeries reads GET /v1/renders/:id/series?query and requires a 200.
func (s *service) renderSeries(t *testing.T, tn tenant, query string) seriesBody {
	t.Helper()
	r := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/series?"+query, tn.key, "")
	if r.status != 200 {
		t.Fatalf("series %s: %d %s", query, r.status, r.body)
	}
	var b seriesBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// checkContiguous fails unless b's buckets are ascending, one step apart,
// from b.From to b.To.
func checkContiguous(t *testing.T, b seriesBody, step time.Duration) {
	t.Helper()
	from, _ := time.Parse(time.RFC3339, b.From)
	to, _ := time.Parse(time.RFC3339, b.To)
	if want := int(to.Sub(from) / step); len(b.Buckets) != want {
		t.Fatalf("%d buckets from %s to %s, want %d", len(b.Buckets), b.From, b.To, want)
	}
	for i, x := range b.Buckets {
		ts, err := time.Parse(time.RFC3339, x.T)
		if err != nil || !ts.Equal(from.Add(time.Duration(i)*step)) || !strings.HasSuffix(x.T, "Z") {
			t.Fatalf("bucket %d at %s, want %s", i, x.T, from.Add(time.Duration(i)*step))
		}
	}
}

// Render series after events: every interval sums to the counters, the
// viewers are the distinct clients, the answers are contiguous and
// zero-filled; bad queries are 400, a publishable key 403, another project's
// render 404.
func TestSeriesRenderEndToEnd(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := newTenant(t, e)
	for i, ip := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.1"} {
		body := `{"eventType":"viewed"}`
		if i == 3 {
			body = `{"eventType":"downloaded"}`
		}
		if !recorded(t, s.post(t, tn, body, "X-Forwarded-For", ip, "User-Agent", "test-agent")) {
			t.Fatalf("event %d not recorded", i)
		}
	}
	sum := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/engagement", tn.key, "").json(t)
	if u := sum["uniques"].(map[string]any); u["viewers"] != float64(3) || u["approximate"] != false {
		t.Fatalf("engagement uniques %v, want 3 viewers", u)
	}
	for _, tc := range []struct {
		query string
		step  time.Duration
	}{
		{"metric=viewed", time.Minute},
		{"metric=viewed&interval=hour", time.Hour},
		{"metric=viewed&interval=day", 24 * time.Hour},
	} {
		b := s.renderSeries(t, tn, tc.query)
		checkContiguous(t, b, tc.step)
		if len(b.Buckets) != 60 || b.sum() != 3 || b.Metric != "viewed" || b.CompleteThrough == nil {
			t.Fatalf("%s: %d buckets summing to %v, want 60 and 3: %+v", tc.query, len(b.Buckets), b.sum(), b)
		}
		if b.Uniques["viewers"] != float64(3) {
			t.Fatalf("%s: uniques %v", tc.query, b.Uniques)
		}
	}
	if b := s.renderSeries(t, tn, "metric=downloaded&interval=hour"); b.sum() != 1 {
		t.Fatalf("downloaded sum %v", b.sum())
	}
	// Distinct per bucket: three visitors, all inside this hour (or the two
	// hours around it).
	if b := s.renderSeries(t, tn, "metric=viewers&interval=hour"); b.sum() < 3 || b.sum() > 6 {
		t.Fatalf("viewers per hour sum %v", b.sum())
	}
	to := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	q := url.Values{"metric": {"viewed"}, "from": {to.Add(-10 * time.Minute).Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	if b := s.renderSeries(t, tn, q.Encode()); len(b.Buckets) != 10 || b.sum() != 3 {
		t.Fatalf("explicit range: %d buckets, sum %v", len(b.Buckets), b.sum())
	}
	far := url.Values{"metric": {"viewed"}, "interval": {"day"}, "from": {to.Add(-240 * time.Hour).Format(time.RFC3339)}, "to": {to.Add(1400 * 24 * time.Hour).Format(time.RFC3339)}}
	if b := s.renderSeries(t, tn, far.Encode()); b.sum() != 3 || len(b.Buckets) < 1400 {
		t.Fatalf("a range reaching far into the future: %d buckets, sum %v", len(b.Buckets), b.sum())
	}

	for _, bad := range []string{
		"metric=nope", "", "metric=viewed&interval=week",
		"metric=viewed&from=" + url.QueryEscape(to.Format(time.RFC3339)) + "&to=" + url.QueryEscape(to.Add(-time.Hour).Format(time.RFC3339)),
		"metric=viewed&from=yesterday",
		"metric=viewed&interval=minute&from=" + url.QueryEscape(to.Add(-48*time.Hour).Format(time.RFC3339)),
		"metric=viewed&interval=minute&from=" + url.QueryEscape(to.Add(-5*time.Hour).Format(time.RFC3339)), // before the minute window
	} {
		r := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/series?"+bad, tn.key, "")
		if r.status != 400 || r.errorCode(t) != "invalid_request" {
			t.Fatalf("%q: %d %s, want 400 invalid_request", bad, r.status, r.body)
		}
	}
	other := newTenant(t, e)
	if r := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/series?metric=viewed", other.key, ""); r.status != 404 || r.errorCode(t) != "not_found" {
		t.Fatalf("other project's render: %d %s", r.status, r.body)
	}
	pk := adminJSON(t, e, "key", "create", "--project", tn.project, "--kind", "publishable")["key"].(string)
	if r := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/series?metric=viewed", pk, ""); r.status != 403 || r.errorCode(t) != "forbidden" {
		t.Fatalf("publishable key: %d %s", r.status, r.body)
	}
}

// Content series from SDK events: counts, watch time in seconds, users and
// sessions, in {"data","meta"}.
func TestSeriesContentEndToEnd(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	now := time.Now().UTC()
	var evs []string
	for i := range 6 {
		m := map[string]any{"eventId": fmt.Sprintf("e%d", i), "event": "playStart", "contentId": "cnt_abc123",
			"timestamp": now.Add(-time.Duration(i) * time.Second).Format(time.RFC3339Nano), "sessionId": fmt.Sprintf("s%d", i%3),
			"userId": fmt.Sprintf("u%d", i%2), "data": map[string]any{"startupTime": 100}}
		if i == 5 {
			m["event"], m["data"] = "completion", map[string]any{"watchTime": 12.5}
		}
		b, _ := json.Marshal(m)
		evs = append(evs, string(b))
	}
	if b := s.batch(t, tn.pk, `{"events":[`+strings.Join(evs, ",")+`]}`); b.Data.Received != 6 {
		t.Fatalf("batch: %+v", b)
	}
	data := s.content(t, tn.sk, "cnt_abc123")
	if u := data["uniques"].(map[string]any); u["users"] != float64(2) || u["sessions"] != float64(3) || u["approximate"] != false {
		t.Fatalf("content uniques %v", u)
	}
	read := func(query string) seriesBody {
		r := do(t, "GET", s.base+"/v1/contents/cnt_abc123/series?"+query, tn.sk, "")
		if r.status != 200 {
			t.Fatalf("content series %s: %d %s", query, r.status, r.body)
		}
		var env struct {
			Data seriesBody     `json:"data"`
			Meta map[string]any `json:"meta"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil || env.Meta["requestId"] == nil {
			t.Fatalf("%s: %s", query, r.body)
		}
		return env.Data
	}
	for q, want := range map[string]float64{
		"metric=plays&interval=hour": 5, "metric=completions": 1, "metric=watchTime&interval=day": 12.5, "metric=total&interval=hour": 6,
	} {
		if b := read(q); b.sum() != want {
			t.Fatalf("%s: sum %v, want %v (%+v)", q, b.sum(), want, b.Buckets)
		}
	}
	if b := read("metric=users&interval=day"); b.sum() != 2 || b.Uniques["sessions"] != float64(3) {
		t.Fatalf("users per day %v, uniques %v", b.sum(), b.Uniques)
	}
	if r := do(t, "GET", s.base+"/v1/contents/cnt_abc123/series?metric=viewed", tn.sk, ""); r.status != 400 || r.errorCode(t) != "invalid_request" {
		t.Fatalf("render metric on a content item: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", s.base+"/v1/contents/cnt_abc123/series?metric=plays", tn.pk, ""); r.status != 403 {
		t.Fatalf("publishable key: %d %s", r.status, r.body)
	}
}

// kill -9 after events: the series and uniques read after the restart are
// identical to those read before it.
func TestSeriesSurvivesKill9(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_SNAPSHOT_INTERVAL", "300ms")
	tn := newTenant(t, e)
	to := time.Now().UTC().Truncate(time.Hour).Add(2 * time.Hour)
	queries := []string{}
	for _, m := range []string{"viewed", "viewers", "printed"} {
		queries = append(queries,
			url.Values{"metric": {m}, "interval": {"hour"}, "from": {to.Add(-48 * time.Hour).Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}.Encode(),
			url.Values{"metric": {m}, "interval": {"day"}, "from": {to.Add(-72 * time.Hour).Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}.Encode())
	}
	read := func(s *service) string {
		var out []string
		for _, q := range queries {
			r := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/series?"+q, tn.key, "")
			if r.status != 200 {
				t.Fatalf("series: %d %s", r.status, r.body)
			}
			out = append(out, string(r.body))
		}
		sum := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/engagement", tn.key, "").json(t)
		u, _ := json.Marshal(sum["uniques"])
		return strings.Join(out, "\n") + "\n" + string(u)
	}
	p := startProcess(t, e)
	s := p.service(t)
	for i := range 30 {
		typ := []string{"viewed", "printed"}[i%2]
		if !recorded(t, s.post(t, tn, `{"eventType":"`+typ+`"}`, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i%15), "User-Agent", "ua")) {
			t.Fatalf("event %d not recorded", i)
		}
	}
	before := read(s)
	if !strings.Contains(before, `{"approximate":false,"viewers":15}`) {
		t.Fatalf("uniques before the crash: %s", before[strings.LastIndex(before, "\n"):])
	}
	time.Sleep(400 * time.Millisecond) // likely mid-round or after one: both must give the same
	p.kill9(t)
	p = startProcess(t, e)
	if after := read(p.service(t)); after != before {
		t.Fatalf("series or uniques changed across kill -9:\nbefore %s\nafter  %s", before, after)
	}
}

// The dashboard's charts, in a real browser: the per-minute chart holds two
// hours and the per-hour chart two days, and the newest minute bucket and
// the unique viewers grow when an event comes in.
func TestSeriesDashboardInBrowser(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_UPDATE_INTERVAL", "0")
	s := startService(t, e)
	tn := newTenant(t, e)
	recorded(t, s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", "203.0.113.50", "User-Agent", "chart-test"))
	ctx := browser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/dashboard?render="+tn.render),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), tn.key),
		chromedp.Click(chromedp.ID("go")),
	)
	if err != nil {
		t.Fatal(err)
	}
	newest := `[...document.querySelectorAll("#chart-minute rect")].at(-1)`
	sumOf := `[...document.querySelectorAll("#chart-minute rect")].reduce((n, r) => n + Number(r.dataset.v), 0)`
	waitFor(t, ctx, "charts loaded",
		`document.querySelectorAll("#chart-minute rect").length === 120 && document.querySelectorAll("#chart-hour rect").length === 48 && `+
			sumOf+` === 1 && document.querySelector("#uniques").textContent === "1 viewers"`)
	before, err := chromedp.Run(ctx, chromedp.Evaluate[float64]("Number("+newest+".dataset.v)"))
	if err != nil {
		t.Fatal(err)
	}
	recorded(t, s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", "203.0.113.51", "User-Agent", "chart-test"))
	// The newest bucket grows: by one in the same minute, or a new minute
	// holding the event slid in.
	waitFor(t, ctx, "newest bucket grows", fmt.Sprintf(
		`(Number(%s.dataset.v) > %v || (%s.dataset.v === "1" && %s.dataset.t > new Date(Date.now() - 120e3).toISOString())) && %s === 2 && `+
			`document.querySelector("#uniques").textContent === "2 viewers"`,
		newest, before, newest, newest, sumOf))
	saveScreenshot(t, ctx, "dashboard-series.png")
}

// Hours that left the actor's memory window are read from series_hours
// (written by the snapshot rounds) or, until a round wrote them, from the
// hours the actor still holds; days from the hourly sums: a render seen
// three days apart answers both events by hour and by day, right after a
// restart.
func TestSeriesHoursFromPostgres(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_SNAPSHOT_INTERVAL", "200ms")
	tn := newTenant(t, e)
	t0 := time.Now().UTC().Add(-80 * time.Hour).Truncate(time.Hour).Add(10 * time.Minute)
	old := startServiceAt(t, e, t0)
	recorded(t, old.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", "203.0.113.1"))
	recorded(t, old.post(t, tn, `{"eventType":"printed"}`, "X-Forwarded-For", "203.0.113.1"))
	old.stop() // the final round writes the closed hour
	s := startService(t, e)
	recorded(t, s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", "203.0.113.2"))
	to := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	from := t0.Truncate(time.Hour).Add(-time.Hour)
	q := url.Values{"metric": {"viewed"}, "interval": {"hour"}, "from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	b := s.renderSeries(t, tn, q.Encode())
	checkContiguous(t, b, time.Hour)
	if b.sum() != 2 || b.Buckets[1].V != 1 || b.Buckets[len(b.Buckets)-1].V != 1 {
		t.Fatalf("hours: sum %v, the old hour %v, the newest %v", b.sum(), b.Buckets[1].V, b.Buckets[len(b.Buckets)-1].V)
	}
	q.Set("interval", "day")
	q.Set("from", from.Truncate(24*time.Hour).Format(time.RFC3339))
	day := t0.Truncate(24 * time.Hour).Format("2006-01-02T15:04:05.000Z")
	if b := s.renderSeries(t, tn, q.Encode()); b.sum() != 2 || !strings.Contains(fmt.Sprint(b.Buckets), "{"+day+" 1}") {
		t.Fatalf("days: sum %v, want 1 on %s: %v", b.sum(), day, b.Buckets)
	}
	q.Set("metric", "printed")
	if b := s.renderSeries(t, tn, q.Encode()); b.sum() != 1 {
		t.Fatalf("printed by day: sum %v", b.sum())
	}
	q.Set("metric", "viewers")
	q.Set("interval", "hour")
	q.Set("from", from.Format(time.RFC3339))
	if b := s.renderSeries(t, tn, q.Encode()); b.sum() != 2 {
		t.Fatalf("viewers by hour: sum %v", b.sum())
	}
}

// Visitors of the public share page are unique viewers: two addresses are
// two visitors; the same address again with another browser inside five
// minutes is deduped (not recorded, so not a viewer); the share's own system
// event (no address) is none.
func TestSeriesShareViewers(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_PUBLIC_URL", "https://docs.example.test/")
	s := startService(t, e)
	tn := shareTenant(t, e)
	sh := s.createShare(t, tn)
	for _, v := range [][2]string{{"203.0.113.7", "Firefox"}, {"203.0.113.8", "Firefox"}, {"203.0.113.7", "Chrome"}} {
		if r := s.page(t, sh.ID, "", "User-Agent", v[1], "X-Forwarded-For", v[0]); r.status != 200 {
			t.Fatalf("viewer page: %d", r.status)
		}
	}
	sum := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/engagement", tn.key, "").json(t)
	if u := sum["uniques"].(map[string]any); u["viewers"] != float64(2) || sum["counts"].(map[string]any)["viewed"] != float64(2) {
		t.Fatalf("uniques %v", u)
	}
	b := s.renderSeries(t, tn, "metric=viewers&interval=day")
	if v := sum["uniques"].(map[string]any)["viewers"]; b.sum() != v.(float64) || b.Uniques["viewers"] != v {
		t.Fatalf("viewers by day %v, uniques %v, engagement %v", b.sum(), b.Uniques, v)
	}
}
