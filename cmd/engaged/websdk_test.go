package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser path over plain HTTP: preflights answered before
// authentication on the SDK routes only, the Origin checked against the
// project's allowed origins, a publishable key in a text/plain body (what
// navigator.sendBeacon sends), and a secret key there refused.

const pageOrigin = "http://127.0.0.1:9"

func header(t *testing.T, r response, name, want string) {
	t.Helper()
	if got := r.header.Get(name); got != want {
		t.Errorf("%s = %q, want %q (status %d, %s)", name, got, want, r.status, r.body)
	}
}

func TestCORSPreflight(t *testing.T) {
	// A small body limit: the body over it below then fits in the socket
	// buffers, and the client reads the 413 instead of racing the server's
	// close with a write still in progress (a reset).
	e := newEnv(t).with("ENGAGED_MAX_BODY_BYTES", "4096", "ENGAGED_MAX_METADATA_BYTES", "2048")
	s := startService(t, e)
	tn := newSDKTenant(t, e)

	for _, path := range []string{"/v1/events", "/v1/events/batch"} {
		r := do(t, "OPTIONS", s.base+path, "", "", "Origin", pageOrigin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
		if r.status != 204 {
			t.Fatalf("preflight %s: %d %s", path, r.status, r.body)
		}
		header(t, r, "Access-Control-Allow-Origin", pageOrigin)
		header(t, r, "Access-Control-Allow-Methods", "POST")
		header(t, r, "Access-Control-Allow-Headers", "Authorization, Content-Type")
		header(t, r, "Access-Control-Max-Age", "7200")
	}

	// The response itself lets the page read it, errors included, and
	// exposes the headers the SDK needs.
	r := do(t, "POST", s.base+"/v1/events", tn.pk, `{"event":"like","contentId":"cnt_abc123"}`, "Origin", pageOrigin)
	if r.status != 200 {
		t.Fatalf("event from a page: %d %s", r.status, r.body)
	}
	header(t, r, "Access-Control-Allow-Origin", pageOrigin)
	header(t, r, "Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
	r = do(t, "POST", s.base+"/v1/events/batch", "pk_nope", `{"events":[]}`, "Origin", pageOrigin)
	if r.status != 401 || r.errorCode(t) != "unauthorized" {
		t.Fatalf("bad key: %d %s", r.status, r.body)
	}
	header(t, r, "Access-Control-Allow-Origin", pageOrigin)
	// A body over the limit is refused before any route runs (README).
	r = do(t, "POST", s.base+"/v1/events/batch", tn.pk, `{"pad":"`+strings.Repeat("a", 8<<10)+`"}`, "Origin", pageOrigin)
	if r.status != 413 || r.errorCode(t) != "payload_too_large" {
		t.Fatalf("body over the limit: %d %.200s", r.status, r.body)
	}
	header(t, r, "Access-Control-Allow-Origin", "")

	// Secret-key routes stay closed to pages: a preflight is 403 without
	// allow headers (not 401: it never carries a key), and a response
	// never carries CORS headers.
	for _, path := range []string{"/v1/contents/cnt_abc123/engagement", "/v1/contents", "/v1/renders/x/events"} {
		r := do(t, "OPTIONS", s.base+path, "", "", "Origin", pageOrigin,
			"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
		if r.status != 403 || r.errorCode(t) != "forbidden" {
			t.Fatalf("preflight %s: %d %s", path, r.status, r.body)
		}
		header(t, r, "Access-Control-Allow-Origin", "")
		header(t, r, "Access-Control-Allow-Headers", "")
	}
	r = do(t, "GET", s.base+"/v1/contents/cnt_abc123/engagement", tn.sk, "", "Origin", pageOrigin)
	if r.status != 200 {
		t.Fatalf("read: %d %s", r.status, r.body)
	}
	header(t, r, "Access-Control-Allow-Origin", "")
}

// A project that lists its origins gets events only from pages there; a
// request without an Origin (a server, an app) is not a page's.
func TestCORSAllowedOrigins(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	p := adminJSON(t, e, "project", "create", "--name", "shop", "--allowed-origins", "HTTPS://Shop.Example:443, "+pageOrigin)
	if got := p["allowedOrigins"].([]any); len(got) != 2 || got[0] != "https://shop.example" || got[1] != pageOrigin {
		t.Fatalf("allowedOrigins: %v", p)
	}
	pk := adminJSON(t, e, "key", "create", "--project", p["id"].(string), "--kind", "publishable")["key"].(string)
	sk := adminJSON(t, e, "key", "create", "--project", p["id"].(string))["key"].(string)
	adminJSON(t, e, "content", "create", "--project", p["id"].(string), "--id", "cnt_shop")
	var errOut bytes.Buffer
	if err := run(context.Background(), []string{"admin", "project", "create", "--name", "x", "--allowed-origins", "shop.example/path"},
		e.lookup, &bytes.Buffer{}, &errOut); err == nil || !strings.Contains(err.Error(), "not a web origin") {
		t.Fatalf("bad origin flag: %v", err)
	}

	ev := `{"event":"like","contentId":"cnt_shop"}`
	for _, origin := range []string{"https://shop.example", pageOrigin, ""} {
		if r := do(t, "POST", s.base+"/v1/events", pk, ev, "Origin", origin); r.status != 200 {
			t.Fatalf("origin %q: %d %s", origin, r.status, r.body)
		}
	}
	for _, r := range []response{
		do(t, "POST", s.base+"/v1/events", pk, ev, "Origin", "https://evil.example"),
		do(t, "POST", s.base+"/v1/events/batch", "", `{"apiKey":"`+pk+`","events":[`+ev+`]}`,
			"Origin", "http://shop.example", "Content-Type", "text/plain;charset=UTF-8"),
		do(t, "POST", s.base+"/v1/events", pk, ev, "Origin", "null"),
	} {
		if r.status != 403 || r.errorCode(t) != "forbidden" {
			t.Fatalf("disallowed origin: %d %s", r.status, r.body)
		}
	}
	if n := count(t, s.content(t, sk, "cnt_shop"), "like"); n != 3 {
		t.Fatalf("likes: %d, want 3 (the refused ones not recorded)", n)
	}
	// The default project allows any origin.
	if r := do(t, "POST", s.base+"/v1/events", tn.pk, `{"event":"like","contentId":"cnt_abc123"}`, "Origin", "https://evil.example"); r.status != 200 {
		t.Fatalf("default project: %d %s", r.status, r.body)
	}
}

// What navigator.sendBeacon sends: a text/plain body with the publishable
// key in it and no Authorization header.
func TestSDKKeyInBody(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	plain := []string{"Content-Type", "text/plain;charset=UTF-8", "Origin", pageOrigin}

	r := do(t, "POST", s.base+"/v1/events", "", `{"apiKey":"`+tn.pk+`","event":"like","contentId":"cnt_abc123","eventId":"b1"}`, plain...)
	if r.status != 200 {
		t.Fatalf("single: %d %s", r.status, r.body)
	}
	r = do(t, "POST", s.base+"/v1/events/batch", "", `{"apiKey":"`+tn.pk+`","events":[`+
		`{"event":"like","contentId":"cnt_abc123","eventId":"b1"},{"event":"save","contentId":"cnt_abc123","eventId":"b2"}]}`, plain...)
	if r.status != 200 || !strings.Contains(string(r.body), `"received":2,"failed":0`) {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	header(t, r, "Access-Control-Allow-Origin", pageOrigin)

	for _, tc := range []struct {
		name, key, body string
		status          int
		code            string
	}{
		{"secret key in the body", "", `{"apiKey":"` + tn.sk + `","event":"like","contentId":"cnt_abc123"}`, 400, "invalid_request"},
		{"secret key in a batch body", "", `{"apiKey":"` + tn.sk + `","events":[{"event":"like","contentId":"cnt_abc123"}]}`, 400, "invalid_request"},
		{"apiKey not a string", "", `{"apiKey":7,"event":"like","contentId":"cnt_abc123"}`, 400, "invalid_request"},
		{"unknown publishable key", "", `{"apiKey":"pk_nope","event":"like","contentId":"cnt_abc123"}`, 401, "unauthorized"},
		{"no key at all", "", `{"event":"like","contentId":"cnt_abc123"}`, 401, "unauthorized"},
		{"not JSON", "", `apiKey=` + tn.pk, 400, "invalid_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/v1/events"
			if strings.Contains(tc.body, `"events"`) {
				path += "/batch"
			}
			r := do(t, "POST", s.base+path, tc.key, tc.body, plain...)
			if r.status != tc.status || r.errorCode(t) != tc.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if tc.code == "invalid_request" && !strings.Contains(string(r.body), `"fieldErrors":{"apiKey":[`) {
				t.Fatalf("no apiKey field error: %s", r.body)
			}
		})
	}
	sum := s.content(t, tn.sk, "cnt_abc123")
	if count(t, sum, "like") != 1 || count(t, sum, "save") != 1 {
		t.Fatalf("counts: %v", sum["counts"])
	}
}

// The web SDK is served by the service: JavaScript, cacheable, importable
// from any origin.
func TestWebSDKServed(t *testing.T) {
	s := startService(t, newEnv(t))
	r := do(t, "GET", s.base+"/sdk/engaged.js", "", "", "Origin", pageOrigin)
	if r.status != 200 || !strings.Contains(string(r.body), "export function track(") {
		t.Fatalf("sdk: %d %.200s", r.status, r.body)
	}
	header(t, r, "Content-Type", "text/javascript; charset=utf-8")
	header(t, r, "Access-Control-Allow-Origin", "*")
	if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=86400") {
		t.Errorf("Cache-Control %q", cc)
	}
	tag := r.header.Get("ETag")
	if r := do(t, "GET", s.base+"/sdk/engaged.js", "", "", "If-None-Match", tag); tag == "" || r.status != 304 || len(r.body) != 0 {
		t.Fatalf("revalidation with %q: %d", tag, r.status)
	}
}

// sdkPage is the page of another origin that uses the web SDK: it imports
// the module from the service and starts it with the query's options.
const sdkPage = `<!doctype html>
<meta charset="utf-8"><title>web SDK test page</title>
<script type="module">
// The beacons leave as the page goes away, where the tab's network log no
// longer sees them: the page notes each one it hands to the browser.
const sendBeacon = navigator.sendBeacon.bind(navigator);
navigator.sendBeacon = (url, blob) => {
  const seen = JSON.parse(localStorage.getItem("test.beacons") || "[]");
  seen.push({ url, type: blob.type, size: blob.size });
  localStorage.setItem("test.beacons", JSON.stringify(seen));
  return sendBeacon(url, blob);
};
const q = new URLSearchParams(location.search);
const engaged = await import(q.get("service") + "/sdk/engaged.js");
engaged.init({ apiKey: q.get("key"), host: q.get("host") || undefined, batchSize: Number(q.get("size")), batchInterval: Number(q.get("interval")) });
window.engaged = engaged;
// queued counts the events in the SDK's localStorage queue.
window.queued = () => Object.keys(localStorage).filter((k) => k.startsWith("engaged."))
  .reduce((n, k) => n + JSON.parse(localStorage.getItem(k)).length, 0);
window.ready = true;
</script>`

// sentRequest is one request the page made to the SDK routes, as Chromium
// reports it.
type sentRequest struct {
	id         network.RequestID
	typ        network.ResourceType // Fetch, Ping (sendBeacon), Preflight
	method     string
	body       string
	status     int64
	authorized bool
}

// requestLog records the page's requests to /v1/events/batch, and its
// console, as Chromium reports them.
type requestLog struct {
	mu      sync.Mutex // guards reqs and console
	reqs    []*sentRequest
	console []string
}

// listen is the tab's event listener; it runs on chromedp's reader
// goroutine, so it only records.
func (l *requestLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			args = append(args, string(a.Value)+a.Description)
		}
		l.console = append(l.console, string(ev.Type)+": "+strings.Join(args, " "))
	case *network.EventRequestWillBeSent:
		if !strings.HasSuffix(ev.Request.URL, "/v1/events/batch") {
			return
		}
		r := &sentRequest{id: ev.RequestID, typ: ev.Type, method: ev.Request.Method}
		for _, e := range ev.Request.PostDataEntries {
			r.body += string(e.Bytes)
		}
		_, r.authorized = ev.Request.Headers["Authorization"]
		l.reqs = append(l.reqs, r)
	case *network.EventResponseReceived:
		for _, r := range l.reqs {
			if r.id == ev.RequestID {
				r.status = ev.Response.Status
			}
		}
	}
}

// posts returns the POSTs of the given type that got an answer of status.
func (l *requestLog) posts(typ network.ResourceType, status int64) []sentRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []sentRequest
	for _, r := range l.reqs {
		if r.method == "POST" && r.typ == typ && r.status == status {
			out = append(out, *r)
		}
	}
	return out
}

func (l *requestLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.reqs {
		fmt.Fprintf(&b, "%s %s %d %.120s\n", r.typ, r.method, r.status, r.body)
	}
	b.WriteString("console:\n" + strings.Join(l.console, "\n"))
	return b.String()
}

// freeAddr returns a loopback address nothing listens on, so a service can
// be stopped and started again on the same origin.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Debian's Chromium loads a page from a second loopback origin that uses the
// web SDK served by the service: events leave in batches of batchSize, a
// page hide flushes the rest through sendBeacon, and events tracked while
// the service is down wait in localStorage, survive a reload, and are
// delivered once it is back and the page hears "online". The engagement
// read then shows every event exactly once.
func TestWebSDKInBrowser(t *testing.T) {
	e := newEnv(t).with("ENGAGED_HTTP_ADDR", freeAddr(t))
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	ctx := browser(t)

	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, sdkPage)
	}))
	t.Cleanup(page.Close)
	if page.URL == s.base {
		t.Fatal("the page must be on another origin")
	}
	log := &requestLog{}
	if err := chromedp.Listen(ctx, log.listen); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	open := func(size, interval int) {
		t.Helper()
		u := fmt.Sprintf("%s/?service=%s&key=%s&size=%d&interval=%d", page.URL, url.QueryEscape(s.base), tn.pk, size, interval)
		if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
			t.Fatal(err)
		}
		poll(t, ctx, log, "SDK started", `window.ready === true`)
	}
	track := func(js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js+"; true")); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
	}
	want := map[string]int{} // counts the read must show for cnt_abc123
	likes := func(n int) string {
		want["like"] += n
		return fmt.Sprintf(`for (let i = 0; i < %d; i++) engaged.track("like", "cnt_abc123")`, n)
	}
	plays := func(n int) string {
		want["playStart"] += n
		return fmt.Sprintf(`for (let i = 0; i < %d; i++) engaged.track("playStart", "cnt_abc123", {startupTime: 100 + i})`, n)
	}

	// Batches: batchSize 5 and an interval too long to matter, so a batch
	// leaves when the fifth event is tracked, and two stay queued.
	open(5, 600_000)
	track(likes(3) + ";" + plays(2))
	poll(t, ctx, log, "first batch sent", `engaged.pending() === 0`)
	track(plays(5))
	poll(t, ctx, log, "second batch sent", `engaged.pending() === 0`)
	track(likes(2))
	fetched := log.posts(network.ResourceTypeFetch, 200)
	if len(fetched) != 2 {
		t.Fatalf("batch requests answered 200: %d, want 2\n%s", len(fetched), log)
	}
	for _, r := range fetched {
		if !r.authorized || strings.Count(r.body, `"eventId"`) != 5 || strings.Contains(r.body, "apiKey") {
			t.Fatalf("a batch request: authorized %v, body %s", r.authorized, r.body)
		}
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`engaged.pending()`)); err != nil || n != 2 {
		t.Fatalf("queued before the page hides: %d %v", n, err)
	}

	// A page hide: the tab leaves the page, and the two queued events go
	// out through sendBeacon (text/plain, the key in the body).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, func() error {
		if got := count(t, s.content(t, tn.sk, "cnt_abc123"), "like"); got != want["like"] {
			return fmt.Errorf("likes after the page hide: %d, want %d\n%s", got, want["like"], log)
		}
		return nil
	})
	open(5, 200)
	// A beacon's answer is never seen, so its events stayed queued and the
	// new page resends them (the server answers duplicate, counts once).
	poll(t, ctx, log, "beaconed events confirmed", `engaged.pending() === 0 && queued() === 0`)
	if n := len(log.posts(network.ResourceTypeFetch, 200)); n != 3 {
		t.Fatalf("batch requests answered 200: %d, want 3 (the beaconed events resent)\n%s", n, log)
	}
	beacons, err := chromedp.Run(ctx, chromedp.Evaluate[string](`localStorage.getItem("test.beacons")`))
	if want := fmt.Sprintf(`[{"url":"%s/v1/events/batch","type":"text/plain"`, s.base); err != nil || !strings.HasPrefix(beacons, want) || strings.Count(beacons, "url") != 1 {
		t.Fatalf("beacons: %s, want one %s…", beacons, want)
	}

	// The service goes away. Events tracked now are queued in localStorage,
	// retried with backoff, and kept across a reload of the page (whose
	// beacon the stopped service never gets).
	s.stop()
	track(likes(4) + ";" + plays(3))
	poll(t, ctx, log, "a send failed and the events stay queued",
		`engaged.pending() === 7 && queued() === 7`)
	open(5, 200)
	poll(t, ctx, log, "the queue survived the reload", `engaged.pending() === 7`)

	// Back on the same origin, with the same log and database; the page
	// hears that the network is back and drains its queue at once.
	s = startService(t, e)
	track(`window.dispatchEvent(new Event("online"))`)
	poll(t, ctx, log, "queue drained after the service came back", `engaged.pending() === 0 && queued() === 0`)

	sum := s.content(t, tn.sk, "cnt_abc123")
	total := 0
	for typ, n := range want {
		total += n
		if got := count(t, sum, typ); got != n {
			t.Errorf("%s: %d, want %d", typ, got, n)
		}
	}
	if got := int(sum["total"].(float64)); got != total {
		t.Fatalf("total %d, want %d: each event once\n%s", got, total, log)
	}
}

// poll waits for a JavaScript predicate in the page.
func poll(t *testing.T, ctx context.Context, log *requestLog, what, predicate string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(20*time.Second)))
	// Right after a navigation the poll may address the old page's
	// JavaScript context, which is gone: ask the new one.
	for err != nil && strings.Contains(err.Error(), "Cannot find context") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		err = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(time.Until(deadline))))
	}
	if err != nil {
		n, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`String(window.engaged && engaged.pending())`))
		t.Fatalf("%s: %v (pending %s)\nrequests:\n%s", what, err, n, log)
	}
}

// scriptedAPI stands in for the events API on the page's own origin, to
// make the answers the real service gives only under load or failure:
// each POST takes the next scripted answer, and 200 when none is left.
type scriptedAPI struct {
	mu     sync.Mutex // guards script and bodies
	script []scripted
	bodies []string
}

type scripted struct {
	status     int
	retryAfter string
	body       string
}

func (a *scriptedAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/events/batch" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, sdkPage)
		return
	}
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.bodies = append(a.bodies, string(b))
	reply := scripted{status: 200, body: `{"data":{"received":1,"failed":0,"results":[]},"meta":{"requestId":"req_1"}}`}
	if len(a.script) > 0 {
		reply, a.script = a.script[0], a.script[1:]
	}
	a.mu.Unlock()
	if reply.retryAfter != "" {
		w.Header().Set("Retry-After", reply.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(reply.status)
	io.WriteString(w, reply.body)
}

func (a *scriptedAPI) then(replies ...scripted) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.script = append(a.script, replies...)
}

func (a *scriptedAPI) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.bodies...)
}

// The web SDK's answers to failure, in Chromium: 429 and 503 wait out
// Retry-After (an explicit flush does not jump it; "online" does), a 5xx
// without one is retried with backoff, and every retry carries the same
// eventId; events the server refused (a 4xx, or "rejected" in a batch
// result) are dropped, not retried.
func TestWebSDKRetriesInBrowser(t *testing.T) {
	s := startService(t, newEnv(t)) // serves the module
	ctx := browser(t)
	api := &scriptedAPI{}
	page := httptest.NewServer(api)
	t.Cleanup(page.Close)
	log := &requestLog{}
	if err := chromedp.Listen(ctx, log.listen); err != nil {
		t.Fatal(err)
	}
	u := fmt.Sprintf("%s/?service=%s&host=%s&key=pk_test&size=1&interval=600000", page.URL, url.QueryEscape(s.base), url.QueryEscape(page.URL))
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, log, "SDK started", `window.ready === true`)
	eval := func(js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(async () => { `+js+` ; return true })()`, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
	}
	requestsAre := func(n int) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			if got := len(api.requests()); got != n {
				return fmt.Errorf("requests: %d, want %d\n%s", got, n, log)
			}
			return nil
		})
	}
	sameEvent := func(from int) {
		t.Helper()
		reqs := api.requests()
		for _, r := range reqs[from+1:] {
			if eventIDs(t, r) != eventIDs(t, reqs[from]) {
				t.Fatalf("a retry changed the events: %s, then %s", reqs[from], r)
			}
		}
	}

	sent := 0
	for _, status := range []int{429, 503} {
		api.then(scripted{status: status, retryAfter: "3600", body: `{"error":{"code":"unavailable","message":"busy"},"meta":{"requestId":"req_1"}}`})
		eval(`engaged.track("like", "cnt_1")`)
		requestsAre(sent + 1)
		eval(`await engaged.flush()`) // inside the server's wait: nothing is sent
		// Twice the longest first backoff (1 s): an SDK that ignored
		// Retry-After would have retried by now.
		time.Sleep(2 * time.Second)
		requestsAre(sent + 1)
		poll(t, ctx, log, "event kept", `engaged.pending() === 1`)
		eval(`window.dispatchEvent(new Event("online"))`)
		requestsAre(sent + 2)
		poll(t, ctx, log, "delivered after online", `engaged.pending() === 0`)
		sameEvent(sent)
		sent += 2
	}

	// A 500 without Retry-After: retried after a backoff, on its own.
	api.then(scripted{status: 500, body: `{}`}, scripted{status: 500, body: `{}`})
	eval(`engaged.track("like", "cnt_1")`)
	requestsAre(sent + 3)
	poll(t, ctx, log, "delivered after the backoff", `engaged.pending() === 0`)
	sameEvent(sent)
	sent += 3

	// Refused events are dropped: a whole batch refused, then one event
	// rejected in a batch result.
	api.then(scripted{status: 400, body: `{"error":{"code":"invalid_request","message":"no"},"meta":{"requestId":"req_1"}}`},
		scripted{status: 200, body: `{"data":{"received":0,"failed":1,"results":[{"status":"rejected","eventId":"x","error":{"code":"invalid_request","message":"no"}}]},"meta":{"requestId":"req_1"}}`})
	eval(`engaged.track("like", "cnt_1")`)
	requestsAre(sent + 1)
	poll(t, ctx, log, "refused batch dropped", `engaged.pending() === 0`)
	eval(`engaged.track("like", "cnt_1")`)
	requestsAre(sent + 2)
	poll(t, ctx, log, "rejected event dropped", `engaged.pending() === 0`)
	eval(`await engaged.flush()`)
	requestsAre(sent + 2)
}

// eventIDs returns the eventIds of a batch body, in order.
func eventIDs(t *testing.T, body string) string {
	t.Helper()
	var b struct {
		Events []struct {
			EventID string `json:"eventId"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil || len(b.Events) == 0 {
		t.Fatalf("batch body %q: %v", body, err)
	}
	var ids []string
	for _, e := range b.Events {
		ids = append(ids, e.EventID)
	}
	return strings.Join(ids, ",")
}
