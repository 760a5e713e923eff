package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sdkTenant is a project with a secret key, a publishable key and the two
// content items of the seed's examples.
type sdkTenant struct {
	project, sk, pk string
}

func newSDKTenant(t *testing.T, e env, contents ...string) sdkTenant {
	t.Helper()
	p := adminJSON(t, e, "project", "create", "--name", "sdk")["id"].(string)
	sk := adminJSON(t, e, "key", "create", "--project", p)["key"].(string)
	pk := adminJSON(t, e, "key", "create", "--project", p, "--kind", "publishable")
	if !strings.HasPrefix(pk["key"].(string), "pk_") || pk["kind"] != "publishable" {
		t.Fatalf("publishable key: %v", pk)
	}
	for _, c := range append([]string{"cnt_abc123", "cnt_def456"}, contents...) {
		if got := adminJSON(t, e, "content", "create", "--project", p, "--id", c); got["id"] != c || got["kind"] != "content" {
			t.Fatalf("content create: %v", got)
		}
	}
	return sdkTenant{project: p, sk: sk, pk: pk["key"].(string)}
}

func (s *service) event(t *testing.T, key, body string) response {
	t.Helper()
	return do(t, "POST", s.base+"/v1/events", key, body)
}

type batchReply struct {
	Data struct {
		Received int `json:"received"`
		Failed   int `json:"failed"`
		Results  []struct {
			Status    string  `json:"status"`
			EventID   *string `json:"eventId"`
			Timestamp *string `json:"timestamp"`
			Error     *struct {
				Code   string `json:"code"`
				Issues struct {
					FormErrors  []string            `json:"formErrors"`
					FieldErrors map[string][]string `json:"fieldErrors"`
				} `json:"issues"`
			} `json:"error"`
		} `json:"results"`
	} `json:"data"`
	Meta struct {
		RequestID string `json:"requestId"`
	} `json:"meta"`
}

func (s *service) batch(t *testing.T, key, body string) batchReply {
	t.Helper()
	r := do(t, "POST", s.base+"/v1/events/batch", key, body)
	if r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	var b batchReply
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.Meta.RequestID, "req_") || len(b.Data.Results) != b.Data.Received+b.Data.Failed {
		t.Fatalf("batch reply %s", r.body)
	}
	return b
}

func (b batchReply) statuses() []string {
	var out []string
	for _, r := range b.Data.Results {
		out = append(out, r.Status)
	}
	return out
}

// content reads GET /v1/contents/:id/engagement and returns its data.
func (s *service) content(t *testing.T, key, id string) map[string]any {
	t.Helper()
	r := do(t, "GET", s.base+"/v1/contents/"+id+"/engagement", key, "")
	if r.status != 200 {
		t.Fatalf("content engagement %s: %d %s", id, r.status, r.body)
	}
	m := r.json(t)
	if id, _ := m["meta"].(map[string]any)["requestId"].(string); !strings.HasPrefix(id, "req_") {
		t.Fatalf("no meta.requestId: %s", r.body)
	}
	return m["data"].(map[string]any)
}

func count(t *testing.T, sum map[string]any, typ string) int {
	t.Helper()
	return int(sum["counts"].(map[string]any)[typ].(float64))
}

func num(t *testing.T, sum map[string]any, path string) float64 {
	t.Helper()
	var v any = sum
	for _, k := range strings.Split(path, ".") {
		v = v.(map[string]any)[k]
	}
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%s = %v, not a number", path, v)
	}
	return f
}

// curlRequest is one curl command of the seed, parsed.
type curlRequest struct {
	method, url, body string
	headers           [][2]string
}

// parseCurl splits the seed's curl commands into requests: shell words with
// single and double quotes and backslash-newline continuations, then curl's
// -X, -H and -d.
func parseCurl(t *testing.T, text string) []curlRequest {
	t.Helper()
	var out []curlRequest
	for _, cmd := range strings.Split(text, "\ncurl ") {
		cmd = strings.TrimPrefix(strings.TrimSpace(cmd), "curl ")
		var words []string
		var w strings.Builder
		inWord := false
		for i := 0; i < len(cmd); i++ {
			c := cmd[i]
			switch {
			case c == '\\' && i+1 < len(cmd) && cmd[i+1] == '\n':
				i++
			case c == '\'':
				j := strings.IndexByte(cmd[i+1:], '\'')
				w.WriteString(cmd[i+1 : i+1+j])
				i += j + 1
				inWord = true
			case c == '"':
				j := strings.IndexByte(cmd[i+1:], '"')
				w.WriteString(cmd[i+1 : i+1+j])
				i += j + 1
				inWord = true
			case c == ' ' || c == '\n' || c == '\t':
				if inWord {
					words = append(words, w.String())
					w.Reset()
					inWord = false
				}
			default:
				w.WriteByte(c)
				inWord = true
			}
		}
		if inWord {
			words = append(words, w.String())
		}
		var r curlRequest
		for i := 0; i < len(words); i++ {
			switch words[i] {
			case "-X":
				r.method = words[i+1]
				i++
			case "-H":
				k, v, _ := strings.Cut(words[i+1], ":")
				r.headers = append(r.headers, [2]string{k, strings.TrimSpace(v)})
				i++
			case "-d":
				r.body = words[i+1]
				i++
			default:
				r.url = words[i]
			}
		}
		if r.method == "" || r.url == "" || r.body == "" || len(r.headers) != 2 {
			t.Fatalf("could not parse curl command:\n%s", cmd)
		}
		out = append(out, r)
	}
	return out
}

// run sends r with the seed's base URL and key swapped for ours.
func (r curlRequest) run(t *testing.T, base, key string) response {
	t.Helper()
	url := strings.Replace(r.url, "https://api.shortkit.dev", base, 1)
	var headers []string
	for _, h := range r.headers {
		headers = append(headers, h[0], strings.Replace(h[1], "pk_live_your_publishable_key", key, 1))
	}
	return do(t, r.method, url, "", r.body, headers...)
}

// The seed's curl examples, verbatim but for base URL and key: impression,
// playStart, completion, swipe and the batch. The batch's events are dated
// 2024-02-04, so the server's clock is set to that day; the next test shows
// what today's server does with them.
func TestSDKSeedExamples(t *testing.T) {
	text, err := os.ReadFile("testdata/seed_sdk_curl.txt")
	if err != nil {
		t.Fatal(err)
	}
	reqs := parseCurl(t, string(text))
	if len(reqs) != 5 {
		t.Fatalf("%d curl commands in the seed, want 5", len(reqs))
	}
	e := newEnv(t)
	s := startServiceAt(t, e, time.Date(2024, 2, 4, 12, 1, 0, 0, time.UTC))
	tn := newSDKTenant(t, e)

	for i, r := range reqs[:4] {
		res := r.run(t, s.base, tn.pk)
		if res.status != 200 {
			t.Fatalf("example %d: %d %s", i, res.status, res.body)
		}
		var got struct {
			Data map[string]any `json:"data"`
			Meta map[string]any `json:"meta"`
		}
		if err := json.Unmarshal(res.body, &got); err != nil {
			t.Fatal(err)
		}
		id, _ := got.Data["eventId"].(string)
		reqID, _ := got.Meta["requestId"].(string)
		if got.Data["received"] != true || !strings.HasPrefix(id, "evt_") || len(got.Data) != 2 ||
			!strings.HasPrefix(reqID, "req_") || len(got.Meta) != 1 {
			t.Fatalf("example %d: response %s, want the seed's shape", i, res.body)
		}
	}
	res := reqs[4].run(t, s.base, tn.pk)
	if res.status != 200 {
		t.Fatalf("batch example: %d %s", res.status, res.body)
	}
	var b batchReply
	_ = json.Unmarshal(res.body, &b)
	if b.Data.Received != 3 || b.Data.Failed != 0 || fmt.Sprint(b.statuses()) != "[accepted accepted accepted]" {
		t.Fatalf("batch example: %s", res.body)
	}
	if *b.Data.Results[2].Timestamp != "2024-02-04T12:00:46.000Z" {
		t.Fatalf("completion timestamp %s", *b.Data.Results[2].Timestamp)
	}

	// By hand: impressions 1 + 1; startup 250 and 200 (average 225, p50 is
	// the 1st of 2 = 200, p95 the 2nd = 250); completions 45.2 + 45.2 plus
	// 12.5 s watched before swiping away to cnt_def456.
	a := s.content(t, tn.sk, "cnt_abc123")
	for path, want := range map[string]float64{
		"counts.impression": 2, "counts.playStart": 2, "counts.completion": 2, "counts.swipe": 0, "total": 6,
		"impressions": 2, "plays": 2, "completions": 2, "completionRate": 1,
		"startupTime.samples": 2, "startupTime.average": 225, "startupTime.p50": 200, "startupTime.p95": 250,
		"watchTime.total": 102.9, "watchTime.average": 51.45, "swipes.in": 0, "swipes.out": 1,
	} {
		if got := num(t, a, path); math.Abs(got-want) > 1e-9 {
			t.Errorf("cnt_abc123 %s = %v, want %v", path, got, want)
		}
	}
	d := s.content(t, tn.sk, "cnt_def456")
	if count(t, d, "swipe") != 1 || num(t, d, "swipes.in") != 1 || num(t, d, "swipes.out") != 0 || num(t, d, "total") != 1 {
		t.Errorf("cnt_def456 = %v", d)
	}
}

// With today's clock the batch example's events are more than 24 hours old:
// each is rejected as too_old on its own, and nothing is counted.
func TestSDKSeedBatchTodayIsTooOld(t *testing.T) {
	text, _ := os.ReadFile("testdata/seed_sdk_curl.txt")
	batch := parseCurl(t, string(text))[4]
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	res := batch.run(t, s.base, tn.pk)
	var b batchReply
	_ = json.Unmarshal(res.body, &b)
	if res.status != 200 || b.Data.Received != 0 || b.Data.Failed != 3 {
		t.Fatalf("%d %s", res.status, res.body)
	}
	for _, r := range b.Data.Results {
		if r.Status != "rejected" || r.Error.Code != "too_old" || len(r.Error.Issues.FieldErrors["timestamp"]) == 0 || r.EventID != nil {
			t.Fatalf("result %+v", r)
		}
	}
	if got := num(t, s.content(t, tn.sk, "cnt_abc123"), "total"); got != 0 {
		t.Fatalf("total %v", got)
	}
}

// Every row of the seed's event tables through POST /v1/events: the valid
// event is counted; without each required field it is a 400 naming the
// field, and counts nothing.
func TestSDKEventTableRows(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	rows := []struct {
		event    string
		data     string
		required []string
	}{
		{"impression", `{"position":0,"entryPoint":"feed","feedId":"feed_abc123"}`, []string{"position"}},
		{"playStart", `{"startupTime":250,"rendition":"720p","codec":"h264","autoplay":true}`, []string{"startupTime"}},
		{"watchProgress", `{"currentTime":15.5,"duration":45.2,"percentComplete":34.3,"rendition":"720p"}`, []string{"currentTime", "duration"}},
		{"completion", `{"watchTime":45.2,"looped":false,"loopCount":0}`, []string{"watchTime"}},
		{"swipe", `{"fromContentId":"cnt_def456","toContentId":"cnt_abc123","watchTime":12.5}`, []string{"fromContentId", "toContentId", "watchTime"}},
		{"like", `{}`, nil},
		{"share", `{"platform":"instagram"}`, []string{"platform"}},
		{"save", `{}`, nil},
		{"rebuffer", `{"duration":1200,"currentTime":12.5,"rendition":"720p"}`, []string{"duration", "currentTime"}},
		{"qualityChange", `{"fromQuality":"720p","toQuality":"480p"}`, []string{"fromQuality", "toQuality"}},
		{"error", `{"errorCode":"MEDIA_ERR_DECODE","errorMessage":"decode failed"}`, []string{"errorCode", "errorMessage"}},
		{"custom_action", `{"action":"bookmark"}`, nil},
	}
	for _, row := range rows {
		t.Run(row.event, func(t *testing.T) {
			contentID := `"contentId":"cnt_abc123",`
			if row.event == "swipe" {
				contentID = "" // toContentId names it
			}
			r := s.event(t, tn.pk, `{"event":"`+row.event+`",`+contentID+`"data":`+row.data+`}`)
			if r.status != 200 {
				t.Fatalf("valid %s: %d %s", row.event, r.status, r.body)
			}
			var data map[string]any
			json.Unmarshal([]byte(row.data), &data)
			fields := append([]string{"contentId"}, row.required...)
			if row.event == "swipe" {
				fields = row.required
			}
			for _, f := range fields {
				d := map[string]any{}
				for k, v := range data {
					if k != f {
						d[k] = v
					}
				}
				m := map[string]any{"event": row.event, "data": d}
				if f != "contentId" && row.event != "swipe" {
					m["contentId"] = "cnt_abc123"
				}
				b, _ := json.Marshal(m)
				r := s.event(t, tn.pk, string(b))
				key := "data." + f
				if f == "contentId" {
					key = f
				}
				if r.status != 400 || r.errorCode(t) != "invalid_request" {
					t.Fatalf("without %s: %d %s", f, r.status, r.body)
				}
				if fe := r.json(t)["error"].(map[string]any)["issues"].(map[string]any)["fieldErrors"].(map[string]any); fmt.Sprint(fe[key]) != "[Required]" {
					t.Fatalf("without %s: fieldErrors %v", f, fe)
				}
			}
		})
	}
	a := s.content(t, tn.sk, "cnt_abc123")
	for _, row := range rows[:11] {
		if got := count(t, a, row.event); got != 1 {
			t.Errorf("counts.%s = %d, want 1", row.event, got)
		}
	}
	if got := a["customCounts"].(map[string]any)["custom_action"]; got != 1.0 {
		t.Errorf("customCounts = %v", a["customCounts"])
	}
	if num(t, a, "total") != 12 || num(t, a, "swipes.in") != 1 || num(t, a, "swipes.out") != 0 {
		t.Errorf("total %v, swipes %v", a["total"], a["swipes"])
	}
	if d := s.content(t, tn.sk, "cnt_def456"); num(t, d, "swipes.out") != 1 || num(t, d, "total") != 0 || num(t, d, "watchTime.total") != 12.5 {
		t.Errorf("cnt_def456 = %v", d)
	}

	// An unknown contentId rejects the event, as does one of another project.
	other := newSDKTenant(t, e, "cnt_other")
	for _, body := range []string{
		`{"event":"like","contentId":"cnt_nope"}`,
		`{"event":"like","contentId":"cnt_other"}`,
	} {
		r := s.event(t, tn.pk, body)
		if r.status != 400 || !strings.Contains(string(r.body), "Unknown contentId") {
			t.Fatalf("%s: %d %s", body, r.status, r.body)
		}
	}
	r := s.event(t, tn.pk, `{"event":"swipe","contentId":"cnt_abc123","data":{"fromContentId":"cnt_nope","watchTime":1}}`)
	if r.status != 400 || !strings.Contains(string(r.body), `"data.fromContentId":["Unknown contentId`) {
		t.Fatalf("swipe from unknown: %d %s", r.status, r.body)
	}
	if num(t, s.content(t, other.sk, "cnt_other"), "total") != 0 || num(t, s.content(t, tn.sk, "cnt_abc123"), "total") != 12 {
		t.Fatal("a rejected event was counted")
	}
}

// One bad event in a batch never affects the others.
func TestSDKBatchIsolation(t *testing.T) {
	e := newEnv(t)
	at := time.Date(2026, 5, 3, 10, 30, 0, 0, time.UTC)
	s := startServiceAt(t, e, at)
	tn := newSDKTenant(t, e)
	b := s.batch(t, tn.pk, `{"events":[
		{"eventId":"ok-1","event":"impression","contentId":"cnt_abc123","data":{"position":0}},
		{"eventId":"bad-1","event":"impression","contentId":"cnt_abc123","data":{}},
		{"event":"like","contentId":"cnt_unknown"},
		42,
		{"eventId":"old-1","event":"like","contentId":"cnt_abc123","timestamp":"2026-05-02T10:29:59Z"},
		{"eventId":"future-1","event":"save","contentId":"cnt_abc123","timestamp":"2026-05-03T11:00:00Z"},
		{"event":"custom_action","contentId":"cnt_abc123","data":{"action":"bookmark"}},
		{"eventId":"bad-2","event":"liked","contentId":"cnt_abc123"},
		{"eventId":"sw-1","event":"swipe","contentId":"cnt_def456","data":{"fromContentId":"cnt_abc123","watchTimeOnFrom":3}},
		{"eventId":"ok-1","event":"impression","contentId":"cnt_abc123","data":{"position":1}},
		{"eventId":"bad-3","event":"playStart","contentId":"cnt_abc123","data":{"startupTime":"fast"}}
	]}`)
	want := []string{"accepted", "rejected", "rejected", "rejected", "rejected", "adjusted", "accepted", "rejected", "accepted", "duplicate", "rejected"}
	if fmt.Sprint(b.statuses()) != fmt.Sprint(want) || b.Data.Received != 5 || b.Data.Failed != 6 {
		t.Fatalf("statuses %v, received %d failed %d", b.statuses(), b.Data.Received, b.Data.Failed)
	}
	res := b.Data.Results
	field := func(i int, key string) string {
		return fmt.Sprint(res[i].Error.Issues.FieldErrors[key])
	}
	checks := []struct {
		ok  bool
		msg string
	}{
		{*res[0].EventID == "ok-1" && *res[0].Timestamp == "2026-05-03T10:30:00.000Z", "ok-1"},
		{*res[1].EventID == "bad-1" && field(1, "data.position") == "[Required]", "bad-1"},
		{res[2].EventID == nil && strings.Contains(field(2, "contentId"), "Unknown contentId"), "unknown content"},
		{res[3].Error.Code == "invalid_request" && fmt.Sprint(res[3].Error.Issues.FormErrors) == "[Expected object, received number]", "not an object"},
		{res[4].Error.Code == "too_old" && *res[4].EventID == "old-1", "too old"},
		{*res[5].Timestamp == "2026-05-03T10:30:00.000Z", "adjusted to server time"},
		{strings.HasPrefix(*res[6].EventID, "evt_"), "server-made eventId"},
		{strings.Contains(field(7, "event"), "Invalid event type"), "unknown type"},
		{*res[9].EventID == "ok-1" && res[9].Error == nil, "in-request duplicate"},
		{strings.Contains(field(10, "data.startupTime"), "Expected integer, received string"), "type error"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %+v", c.msg, res)
		}
	}
	a := s.content(t, tn.sk, "cnt_abc123")
	if count(t, a, "impression") != 1 || count(t, a, "save") != 1 || count(t, a, "like") != 0 || count(t, a, "playStart") != 0 ||
		num(t, a, "total") != 3 || num(t, a, "swipes.out") != 1 || a["lastEventAt"] != "2026-05-03T10:30:00.000Z" {
		t.Fatalf("cnt_abc123 = %v", a)
	}
	if d := s.content(t, tn.sk, "cnt_def456"); num(t, d, "swipes.in") != 1 {
		t.Fatalf("cnt_def456 = %v", d)
	}
}

func TestSDKBatchLimits(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	events := func(n int, prefix string) string {
		var b strings.Builder
		b.WriteString(`{"events":[`)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"eventId":"%s%d","event":"impression","contentId":"cnt_abc123","data":{"position":%d}}`, prefix, i, i)
		}
		b.WriteString(`]}`)
		return b.String()
	}
	if b := s.batch(t, tn.pk, events(100, "a")); b.Data.Received != 100 || b.Data.Failed != 0 {
		t.Fatalf("100 events: received %d failed %d", b.Data.Received, b.Data.Failed)
	}
	for _, tc := range []struct {
		name, body, code, field string
	}{
		{"101 events", events(101, "b"), "invalid_request", "events"},
		{"no events", `{"events":[]}`, "invalid_request", "events"},
		{"events missing", `{}`, "invalid_request", "events"},
		{"events not an array", `{"events":{}}`, "invalid_request", "events"},
		{"bad batch sentAt", `{"events":[{"event":"like","contentId":"cnt_abc123"}],"sentAt":"now"}`, "invalid_request", "sentAt"},
		{"body an array", `[{"event":"like","contentId":"cnt_abc123"}]`, "invalid_request", ""},
		{"not JSON", `{"events":[`, "invalid_json", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", s.base+"/v1/events/batch", tn.pk, tc.body)
			if r.status != 400 || r.errorCode(t) != tc.code {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if tc.field != "" {
				if _, ok := r.json(t)["error"].(map[string]any)["issues"].(map[string]any)["fieldErrors"].(map[string]any)[tc.field]; !ok {
					t.Fatalf("no fieldErrors.%s: %s", tc.field, r.body)
				}
			}
		})
	}
	if got := count(t, s.content(t, tn.sk, "cnt_abc123"), "impression"); got != 100 {
		t.Fatalf("impressions %d, want 100: a refused batch must count nothing", got)
	}
}

// Timestamps: more than 5 minutes ahead is set to server time (adjusted),
// more than 24 hours old is rejected (too_old), and sentAt corrects a
// device's clock.
func TestSDKTimestamps(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 5, 3, 10, 30, 0, 0, time.UTC)
	s := startServiceAt(t, e, now)
	tn := newSDKTenant(t, e)
	iso := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	ev := func(id, ts, sent string) string {
		m := map[string]any{"eventId": id, "event": "like", "contentId": "cnt_abc123", "timestamp": ts}
		if sent != "" {
			m["sentAt"] = sent
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	b := s.batch(t, tn.pk, `{"events":[`+strings.Join([]string{
		ev("in-window", iso(4*time.Minute), ""),
		ev("future", iso(6*time.Minute), ""),
		ev("day-old", iso(-24*time.Hour), ""),
		ev("stale", iso(-24*time.Hour-time.Second), ""),
		// a device clock two days slow, corrected by its sentAt
		ev("slow-clock", iso(-48*time.Hour-10*time.Second), iso(-48*time.Hour)),
		// a device clock an hour fast: corrected, so not adjusted
		ev("fast-clock", iso(time.Hour-3*time.Second), iso(time.Hour)),
	}, ",")+`]}`)
	want := []struct{ status, ts string }{
		{"accepted", "2026-05-03T10:34:00.000Z"},
		{"adjusted", "2026-05-03T10:30:00.000Z"},
		{"accepted", "2026-05-02T10:30:00.000Z"},
		{"rejected", ""},
		{"accepted", "2026-05-03T10:29:50.000Z"},
		{"accepted", "2026-05-03T10:29:57.000Z"},
	}
	for i, w := range want {
		r := b.Data.Results[i]
		if r.Status != w.status || (w.ts != "" && *r.Timestamp != w.ts) {
			t.Errorf("event %d (%s): %s %v, want %s %s", i, *r.EventID, r.Status, r.Timestamp, w.status, w.ts)
		}
	}
	if b.Data.Results[3].Error.Code != "too_old" {
		t.Errorf("stale: %+v", b.Data.Results[3].Error)
	}
	// A batch-level sentAt applies to events without their own.
	b = s.batch(t, tn.pk, `{"sentAt":"`+iso(-48*time.Hour)+`","events":[`+ev("batch-sent", iso(-48*time.Hour-5*time.Second), "")+`]}`)
	if r := b.Data.Results[0]; r.Status != "accepted" || *r.Timestamp != "2026-05-03T10:29:55.000Z" {
		t.Errorf("batch sentAt: %s %v", r.Status, *r.Timestamp)
	}
	// On the single-event route a stale event is the request's error.
	r := s.event(t, tn.pk, ev("stale-single", iso(-25*time.Hour), ""))
	if r.status != 400 || r.errorCode(t) != "too_old" {
		t.Fatalf("stale single: %d %s", r.status, r.body)
	}
	if got := count(t, s.content(t, tn.sk, "cnt_abc123"), "like"); got != 6 {
		t.Fatalf("likes %d, want 6", got)
	}
}

// A repeated eventId is acknowledged as a duplicate and counted once: a
// retried batch (stored once by JetStream), an id in a later batch (decided
// by the item's actor from the log), and across a restart.
func TestSDKDedupeAcrossRestart(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	first := `{"events":[
		{"eventId":"e1","event":"like","contentId":"cnt_abc123"},
		{"eventId":"e2","event":"playStart","contentId":"cnt_abc123","data":{"startupTime":100}},
		{"eventId":"s1","event":"swipe","contentId":"cnt_def456","data":{"fromContentId":"cnt_abc123","watchTime":2}}]}`
	if b := s.batch(t, tn.pk, first); fmt.Sprint(b.statuses()) != "[accepted accepted accepted]" {
		t.Fatalf("first: %v", b.statuses())
	}
	if b := s.batch(t, tn.pk, first); fmt.Sprint(b.statuses()) != "[duplicate duplicate duplicate]" || b.Data.Received != 3 {
		t.Fatalf("retried batch: %v", b.statuses())
	}
	if b := s.batch(t, tn.pk, `{"events":[{"eventId":"e1","event":"like","contentId":"cnt_abc123"},{"eventId":"e3","event":"save","contentId":"cnt_abc123"}]}`); fmt.Sprint(b.statuses()) != "[duplicate accepted]" {
		t.Fatalf("later batch: %v", b.statuses())
	}
	before := s.content(t, tn.sk, "cnt_abc123")
	s.stop()

	s2 := startService(t, e)
	if after := s2.content(t, tn.sk, "cnt_abc123"); !reflect.DeepEqual(before, after) {
		t.Fatalf("figures changed across restart:\n%v\n%v", before, after)
	}
	b := s2.batch(t, tn.pk, `{"events":[
		{"eventId":"e2","event":"playStart","contentId":"cnt_abc123","data":{"startupTime":100}},
		{"eventId":"s1","event":"swipe","contentId":"cnt_def456","data":{"fromContentId":"cnt_abc123","watchTime":2}},
		{"eventId":"e4","event":"like","contentId":"cnt_abc123"}]}`)
	if fmt.Sprint(b.statuses()) != "[duplicate duplicate accepted]" {
		t.Fatalf("after restart: %v", b.statuses())
	}
	if r := s2.event(t, tn.pk, `{"eventId":"e3","event":"save","contentId":"cnt_abc123"}`); r.status != 200 || !strings.Contains(string(r.body), `"eventId":"e3"`) {
		t.Fatalf("single duplicate: %d %s", r.status, r.body)
	}
	a := s2.content(t, tn.sk, "cnt_abc123")
	if count(t, a, "like") != 2 || count(t, a, "playStart") != 1 || count(t, a, "save") != 1 || num(t, a, "swipes.out") != 1 || num(t, a, "total") != 4 {
		t.Fatalf("cnt_abc123 = %v", a)
	}
	if d := s2.content(t, tn.sk, "cnt_def456"); num(t, d, "swipes.in") != 1 {
		t.Fatalf("cnt_def456 = %v", d)
	}
	// The same eventId in another project is another event.
	other := newSDKTenant(t, e)
	if b := s2.batch(t, other.pk, `{"events":[{"eventId":"e1","event":"like","contentId":"cnt_abc123"}]}`); b.statuses()[0] != "accepted" {
		t.Fatalf("other project: %v", b.statuses())
	}
}

// Publishable keys may only send events; content registration and reads
// need a secret key.
func TestSDKKeysAndContents(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	render := adminJSON(t, e, "render", "create", "--project", tn.project)["id"].(string)
	for _, tc := range []struct {
		method, path, body string
	}{
		{"GET", "/v1/contents/cnt_abc123/engagement", ""},
		{"POST", "/v1/contents", `{"id":"cnt_new"}`},
		{"GET", "/v1/renders/" + render + "/engagement", ""},
		{"POST", "/v1/renders/" + render + "/events", `{"eventType":"viewed"}`},
	} {
		r := do(t, tc.method, s.base+tc.path, tn.pk, tc.body)
		if r.status != http.StatusForbidden || r.errorCode(t) != "forbidden" || !strings.Contains(string(r.body), "publishable keys may only send SDK events") {
			t.Fatalf("publishable key on %s %s: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
	for _, key := range []string{tn.pk, tn.sk} {
		if r := s.event(t, key, `{"event":"like","contentId":"cnt_abc123"}`); r.status != 200 {
			t.Fatalf("event: %d %s", r.status, r.body)
		}
	}
	if r := s.event(t, "", `{"event":"like","contentId":"cnt_abc123"}`); r.status != 401 {
		t.Fatalf("no key: %d", r.status)
	}

	r := do(t, "POST", s.base+"/v1/contents", tn.sk, `{"id":"cnt_new"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create content: %d %s", r.status, r.body)
	}
	if d := r.json(t)["data"].(map[string]any); d["id"] != "cnt_new" || d["projectId"] != tn.project {
		t.Fatalf("created %s", r.body)
	}
	if r := s.event(t, tn.pk, `{"event":"like","contentId":"cnt_new"}`); r.status != 200 {
		t.Fatalf("event on new content: %d %s", r.status, r.body)
	}
	r = do(t, "POST", s.base+"/v1/contents", tn.sk, "")
	if id, _ := r.json(t)["data"].(map[string]any)["id"].(string); r.status != 201 || !strings.HasPrefix(id, "cnt_") {
		t.Fatalf("generated id: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"id":"cnt_new"}`, 409, "conflict"},
		{`{"id":"` + render + `"}`, 409, "conflict"},
		{`{"id":"a.b"}`, 400, "invalid_request"},
		{`{"id":7}`, 400, "invalid_request"},
		{`[]`, 400, "invalid_request"},
	} {
		if r := do(t, "POST", s.base+"/v1/contents", tn.sk, tc.body); r.status != tc.status || r.errorCode(t) != tc.code {
			t.Fatalf("%s: %d %s", tc.body, r.status, r.body)
		}
	}
	other := newSDKTenant(t, e, "cnt_theirs")
	for _, path := range []string{"/v1/contents/cnt_nope/engagement", "/v1/contents/cnt_theirs/engagement", "/v1/contents/" + render + "/engagement", "/v1/contents/a.%3E/engagement"} {
		if r := do(t, "GET", s.base+path, tn.sk, ""); r.status != 404 || r.errorCode(t) != "not_found" {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
	}
	_ = other
	sum := s.content(t, tn.sk, "cnt_new")
	if count(t, sum, "like") != 1 || sum["contentId"] != "cnt_new" || len(sum["counts"].(map[string]any)) != 11 {
		t.Fatalf("summary %v", sum)
	}
	if sum["completionRate"] != nil || sum["startupTime"].(map[string]any)["p50"] != nil {
		t.Fatalf("figures without a denominator must be null: %v", sum)
	}
}

// The hand-computed figures of actors/testdata, end to end.
func TestSDKAggregatesFromTestdata(t *testing.T) {
	raw, err := os.ReadFile("../../actors/testdata/video_events.json")
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		ReceivedAt time.Time `json:"receivedAt"`
	}
	json.Unmarshal(raw, &in)
	var want map[string]any
	wb, _ := os.ReadFile("../../actors/testdata/video_expected.json")
	json.Unmarshal(wb, &want)
	delete(want, "_comment")

	e := newEnv(t)
	s := startServiceAt(t, e, in.ReceivedAt)
	tn := newSDKTenant(t, e, "cnt_a", "cnt_b")
	if b := s.batch(t, tn.pk, string(raw)); b.Data.Received != 27 || b.Data.Failed != 0 {
		t.Fatalf("received %d failed %d: %v", b.Data.Received, b.Data.Failed, b.statuses())
	}
	for item, w := range want {
		got := s.content(t, tn.sk, item)
		if d := jsonDiff(item, w, got); d != "" {
			t.Errorf("%s\n got %v", d, got)
		}
	}
}

// jsonDiff compares decoded JSON values; numbers agree to 1e-12 relative.
func jsonDiff(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %v, want an object", path, got)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				return fmt.Sprintf("%s.%s: unexpected", path, k)
			}
		}
		for k := range w {
			if d := jsonDiff(path+"."+k, w[k], g[k]); d != "" {
				return d
			}
		}
		return ""
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > 1e-12*math.Max(1, math.Abs(w)) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, w)
		}
		return ""
	default:
		if !reflect.DeepEqual(want, got) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
		return ""
	}
}
