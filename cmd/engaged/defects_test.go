package main

// Regression tests for the defects of issue 11, each through the real
// server (embedded JetStream, throwaway Postgres).

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/persist/pgtest"
	"github.com/engagedhq/engaged/transport/httpapi"
)

// Defect 1: a watch time as small as 5e-324 (valid: 0–86,400) with a long
// rebuffer made rebuffer.ratio +Inf, and the read answered 500. Figures
// stay finite; below a second of watch time the two per-watch-time figures
// are null.
func TestDefectContentFiguresFinite(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	stream := openStream(t, s.contentStreamURL("cnt_def456"), tn.sk)
	stream.next(t)
	for _, tc := range []struct{ item, watch string }{{"cnt_abc123", "5e-324"}, {"cnt_def456", "1e-308"}} {
		received(t, s.event(t, tn.pk, `{"event":"completion","contentId":"`+tc.item+`","data":{"watchTime":`+tc.watch+`}}`))
		received(t, s.event(t, tn.pk, `{"event":"rebuffer","contentId":"`+tc.item+`","data":{"duration":86400000,"currentTime":1}}`))
		r := do(t, "GET", s.base+"/v1/contents/"+tc.item+"/engagement", tn.sk, "")
		if r.status != 200 {
			t.Fatalf("%s: engagement read: %d %s", tc.item, r.status, r.body)
		}
		reb := r.json(t)["data"].(map[string]any)["rebuffer"].(map[string]any)
		if reb["ratio"] != nil || reb["frequency"] != nil || reb["count"] != 1.0 {
			t.Fatalf("%s: rebuffer = %v, want ratio and frequency null", tc.item, reb)
		}
	}
	// The item's live stream goes on (it stopped at the +Inf summary).
	for {
		_, body := summaryOf(t, stream.next(t))
		if totalOf(body) == 2 {
			break
		}
	}
	// With a second watched, the ratio is a number again.
	received(t, s.event(t, tn.pk, `{"event":"completion","contentId":"cnt_abc123","data":{"watchTime":2}}`))
	reb := do(t, "GET", s.base+"/v1/contents/cnt_abc123/engagement", tn.sk, "").json(t)["data"].(map[string]any)["rebuffer"].(map[string]any)
	if reb["ratio"] != 86400/2.0 || reb["frequency"] != 30.0 {
		t.Fatalf("after 2 s watched: rebuffer = %v", reb)
	}
}

// Defect 6: Content-Encoding: deflate in its standard zlib-wrapped form
// (RFC 9110, CompressionStream('deflate')) was refused; raw deflate still
// works.
func TestDefectDeflateBothForms(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := newTenant(t, e)
	body := `{"eventType":"downloaded","metadata":{"via":"deflate"}}`
	var zb, rb bytes.Buffer
	zw := zlib.NewWriter(&zb)
	zw.Write([]byte(body))
	zw.Close()
	fw, _ := flate.NewWriter(&rb, flate.DefaultCompression)
	fw.Write([]byte(body))
	fw.Close()
	for i, b := range []string{zb.String(), rb.String()} {
		r := s.post(t, tn, b, "Content-Encoding", "deflate", "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
		if !recorded(t, r) {
			t.Fatalf("body %d not recorded", i)
		}
	}
	if got := s.engagement(t, tn).Counts["downloaded"]; got != 2 {
		t.Fatalf("downloaded = %d, want 2", got)
	}
	// A body that is neither is still the client's error.
	if r := s.post(t, tn, "not deflate at all", "Content-Encoding", "deflate"); r.status != 400 || r.errorCode(t) != "invalid_json" {
		t.Fatalf("garbage deflate: %d %s", r.status, r.body)
	}
}

// rawRequest sends req (a whole HTTP/1.1 request) on a new connection and
// reads the answer. The server stops reading an oversized request early and
// closes the connection, so the write may fail; the answer is read anyway.
func rawRequest(t *testing.T, base, req string) response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	go io.WriteString(conn, req) // may fail once the server has answered and closed
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, b}
}

// Defect 3: a request head larger than the read buffer answered 500
// internal, from anyone. Now: 431 (414 when the request line alone is too
// long) in the envelope, the HTML page on the public share pages, and the
// server goes on.
func TestDefectOversizedHeaders(t *testing.T) {
	e := newEnv(t).with("ENGAGED_MAX_HEADER_BYTES", "4096")
	s := startService(t, e)
	tn := newTenant(t, e)
	host := strings.TrimPrefix(s.base, "http://")
	var many strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&many, "X-Header-%03d: value-value\r\n", i) // 300 × 28 bytes
	}
	cases := []struct {
		name, req string
		status    int
		code      string
	}{
		{"5 KB header", "GET /v1/renders/" + tn.render + "/engagement HTTP/1.1\r\nHost: " + host + "\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\n\r\n", 431, "headers_too_large"},
		{"100 KB bearer token", "GET /v1/renders/" + tn.render + "/engagement HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + strings.Repeat("a", 100_000) + "\r\n\r\n", 431, "headers_too_large"},
		{"300 headers", "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n" + many.String() + "\r\n", 431, "headers_too_large"},
		{"100 KB URL", "GET /v1/renders/" + strings.Repeat("a", 100_000) + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n", 414, "uri_too_long"},
		{"100 KB URL, POST with a body", "POST /v1/events?" + strings.Repeat("a", 100_000) + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 2\r\n\r\n{}", 414, "uri_too_long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rawRequest(t, s.base, tc.req)
			if r.status != tc.status || r.errorCode(t) != tc.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
	t.Run("public page", func(t *testing.T) {
		r := rawRequest(t, s.base, "GET /s/0193c2cf-0000-7000-8000-000000000000 HTTP/1.1\r\nHost: "+host+"\r\nCookie: "+strings.Repeat("c", 6000)+"\r\n\r\n")
		if r.status != 431 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !bytes.Contains(r.body, []byte("too long")) {
			t.Fatalf("%d %s %s", r.status, r.header.Get("Content-Type"), r.body)
		}
	})
	// Through an ordinary client too, which sees the answer.
	req, _ := http.NewRequest("GET", s.base+"/v1/renders/"+tn.render+"/engagement", nil)
	req.Header.Set("Authorization", "Bearer "+tn.key)
	req.Header.Set("X-Big", strings.Repeat("b", 5000))
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatalf("net/http client: %v", err)
	} else {
		res.Body.Close()
		if res.StatusCode != 431 {
			t.Fatalf("net/http client: %d", res.StatusCode)
		}
	}
	// The server goes on, and logged no internal error.
	s.engagement(t, tn)
	if strings.Contains(s.log.String(), "internal error") {
		t.Fatalf("logged an internal error:\n%s", s.log.String())
	}
}

// Defect 2, per key: one key may hold ENGAGED_SSE_MAX_STREAMS_PER_KEY
// streams; the next gets the 503 envelope of "too many streams", while
// another key of the same project still gets one.
func TestDefectSSEPerKeyLimit(t *testing.T) {
	e := newEnv(t).with("ENGAGED_SSE_MAX_STREAMS_PER_KEY", "2")
	s := startService(t, e)
	tn := newTenant(t, e)
	other := adminJSON(t, e, "key", "create", "--project", tn.project)["key"].(string)
	a := openStream(t, s.streamURL(tn), tn.key)
	openStream(t, s.streamURL(tn), tn.key).next(t)
	a.next(t)
	c, r := tryStream(t, s.streamURL(tn), tn.key)
	if c != nil {
		t.Fatal("third stream of one key opened with ENGAGED_SSE_MAX_STREAMS_PER_KEY=2")
	}
	if r.status != 503 || r.errorCode(t) != "unavailable" || r.header.Get("Retry-After") == "" || !bytes.Contains(r.body, []byte("for this key")) {
		t.Fatalf("third stream: %d %s %v", r.status, r.body, r.header)
	}
	openStream(t, s.streamURL(tn), other).next(t)
	a.close()
	eventually(t, 10*time.Second, func() error {
		if d, _ := tryStream(t, s.streamURL(tn), tn.key); d == nil {
			return fmt.Errorf("the key's slot was not freed after its client left")
		}
		return nil
	})
}

// Defect 2, bytes: each stream queued up to 64 whole summaries (a render's
// is ~200 KB with 25 recent events of 7 KB metadata), so a few stalled
// readers took hundreds of MB. Now a stream keeps only the newest pending
// summary. The service runs in this process, so its heap is measured here.
func TestDefectSSEStalledReadersBounded(t *testing.T) {
	e := newEnv(t).with("ENGAGED_UPDATE_INTERVAL", "0", "ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := newTenant(t, e)
	pad := strings.Repeat("x", 7000)
	for i := 0; i < 25; i++ { // fill the recent list first: every summary is then ~180 KB
		recorded(t, s.post(t, tn, `{"eventType":"viewed","metadata":{"pad":"`+pad+`"}}`, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i)))
	}
	addr := strings.TrimPrefix(s.base, "http://")
	const stalled = 10
	for i := 0; i < stalled; i++ {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.(*net.TCPConn).SetReadBuffer(1024)
		fmt.Fprintf(conn, "GET /v1/renders/%s/engagement/stream HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", tn.render, addr, tn.key)
		// Read the status line, so the stream is open, then nothing more.
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.Contains(line, " 200 ") {
			t.Fatalf("stalled stream %d: %q %v", i, line, err)
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	// The stalled streams are dropped once a write has blocked for 10 s, so
	// the heap is sampled after every event, not only at the end.
	var grown int64
	const n = 40
	for i := 0; i < n; i++ {
		recorded(t, s.post(t, tn, `{"eventType":"printed","metadata":{"pad":"`+pad+`"}}`, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i)))
		grown = max(grown, int64(heap())-int64(before))
	}
	if got := s.engagement(t, tn).Total; got != 25+n {
		t.Fatalf("total = %d", got)
	}
	// Bound: per stalled stream, one summary pending and one being written.
	const limit = stalled * 2 * 200 << 10
	t.Logf("heap grew by up to %d KB with %d stalled readers after %d updates of ~180 KB (limit %d KB)", grown>>10, stalled, n, limit>>10)
	if grown > limit+8<<20 {
		t.Fatalf("heap grew by %d MB with %d stalled SSE readers", grown>>20, stalled)
	}
}

// Defect 5: while Postgres restarts, requests got 500 (SQLSTATE 57P03 "the
// database system is starting up", refused and reset connections). They are
// 503 unavailable with Retry-After, like any outage. Requests of every kind
// that touches Postgres run while it is stopped and started twice.
func TestDefectPostgresRestartNo500(t *testing.T) {
	cluster, url := pgtest.NewCluster(t)
	e := newEnv(t).with("ENGAGED_DATABASE_URL", url, "ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_REQUEST_TIMEOUT", "2s")
	tn := shareTenant(t, e)
	s := startService(t, e)
	share := s.createShare(t, tn)

	var mu sync.Mutex
	statuses := map[string]map[int]int{}
	var bad []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	work := func(name string, req func(i int) (response, error)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := req(i)
				if err != nil {
					continue // the client's own timeout; not an answer
				}
				mu.Lock()
				if statuses[name] == nil {
					statuses[name] = map[int]int{}
				}
				statuses[name][r.status]++
				if r.status >= 500 && (r.status != 503 || r.header.Get("Retry-After") == "") {
					bad = append(bad, fmt.Sprintf("%s: %d %v %s", name, r.status, r.header.Get("Retry-After"), r.body))
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	work("partner event", func(i int) (response, error) {
		return rawDo("POST", s.base+"/v1/renders/"+tn.render+"/events", tn.key, `{"eventType":"viewed"}`, "X-Forwarded-For", fmt.Sprintf("10.1.%d.%d", i/256%256, i%256))
	})
	work("engagement read", func(int) (response, error) {
		return rawDo("GET", s.base+"/v1/renders/"+tn.render+"/engagement", tn.key, "")
	})
	work("share create", func(int) (response, error) {
		return rawDo("POST", s.base+"/v1/renders/"+tn.render+"/shares", tn.key, "")
	})
	work("public page", func(i int) (response, error) {
		return rawDo("GET", s.base+"/s/"+share.ID, "", "", "X-Forwarded-For", fmt.Sprintf("10.2.%d.%d", i/256%256, i%256))
	})
	for round := 0; round < 2; round++ {
		time.Sleep(300 * time.Millisecond)
		cluster.Stop(t)
		time.Sleep(1500 * time.Millisecond) // past the one-second key cache
		cluster.Start(t)
	}
	eventually(t, 15*time.Second, func() error {
		if r := do(t, "GET", s.base+"/readyz", "", ""); r.status != 200 {
			return fmt.Errorf("not ready after Postgres came back: %s", r.body)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("statuses: %v", statuses)
	if len(bad) > 0 {
		t.Fatalf("%d answers were a 5xx other than 503 with Retry-After, e.g.\n%s", len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	unavailable := 0
	for _, m := range statuses {
		unavailable += m[503]
	}
	if unavailable == 0 {
		t.Fatal("no request met the outage: the test proved nothing")
	}
	if strings.Contains(s.log.String(), "internal error") {
		t.Fatalf("logged an internal error:\n%s", s.log.String())
	}
}

// Defect 4: invalid UTF-8 inside a metadata bag was stored verbatim and made
// the engagement read, the SSE data lines and the NATS updates invalid
// JSON. One rule on every route that stores a bag: each invalid byte becomes
// U+FFFD (as SDK strings always were), and the event is accepted.
func TestDefectInvalidUTF8Metadata(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_UPDATE_INTERVAL", "0")
	s := startService(t, e)
	tn := shareTenant(t, e)
	sdk := newSDKTenant(t, e)
	nc := s.natsConn(t)
	stream := openStream(t, s.streamURL(tn), tn.key)
	stream.next(t)

	const bad = "bad \xff\xfe"
	const want = "bad \uFFFD\uFFFD"
	bag := `{"note":"` + bad + `"}`
	recorded(t, s.post(t, tn, `{"eventType":"downloaded","metadata":`+bag+`}`))
	if r := do(t, "POST", s.base+"/v1/renders/"+tn.render+"/shares", tn.key, `{"metadata":`+bag+`}`); r.status != 201 {
		t.Fatalf("share with the bag: %d %s", r.status, r.body)
	}
	msg, err := nc.Request("engaged.system.events", []byte(`{"id":"0193c2d0-0000-7000-8000-0000000000f1","projectId":"`+tn.project+
		`","renderId":"`+tn.render+`","eventType":"email_sent","metadata":`+bag+`}`), 10*time.Second)
	if err != nil || !bytes.Contains(msg.Data, []byte(`"recorded":true`)) {
		t.Fatalf("system event: %v %s", err, msg.Data)
	}
	received(t, s.event(t, sdk.pk, `{"event":"like","contentId":"cnt_abc123","data":{"note":"`+bad+`"}}`))

	r := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/engagement", tn.key, "")
	if r.status != 200 || !utf8.Valid(r.body) || !json.Valid(r.body) {
		t.Fatalf("engagement read is not valid UTF-8 JSON: %d %q", r.status, r.body)
	}
	sum := s.engagement(t, tn)
	if len(sum.Recent) != 3 {
		t.Fatalf("recent: %+v", sum.Recent)
	}
	for _, ev := range sum.Recent {
		var md map[string]string
		if err := json.Unmarshal(ev.Metadata, &md); err != nil || md["note"] != want {
			t.Fatalf("%s metadata = %s, want note %q", ev.EventType, ev.Metadata, want)
		}
	}
	// Every SSE data line is valid JSON too, up to the summary with all three.
	for {
		ev := stream.next(t)
		if !utf8.ValidString(ev.data) || !json.Valid([]byte(ev.data)) {
			t.Fatalf("SSE data is not valid UTF-8 JSON: %q", ev.data)
		}
		if _, body := summaryOf(t, ev); totalOf(body) == 3 {
			break
		}
	}
	if c := do(t, "GET", s.base+"/v1/contents/cnt_abc123/engagement", sdk.sk, ""); c.status != 200 || !utf8.Valid(c.body) {
		t.Fatalf("content read: %d %q", c.status, c.body)
	}
}

// panickyEngine makes the handlers panic on one render's engagement read.
type panickyEngine struct {
	httpapi.Engine
	render string
}

func (p panickyEngine) ReadJSON(ctx context.Context, k actors.ItemID) ([]byte, error) {
	if k.Item == p.render {
		panic("test: handler panic")
	}
	return p.Engine.ReadJSON(ctx, k)
}

// panickySink makes an item's actor panic whenever it publishes a live
// update of that item.
type panickySink struct {
	actors.UpdateSink
	item string
}

// Wanted: its item is always wanted, so that its updates are published (and
// panic) with no subscriber.
func (p panickySink) Wanted(k actors.ItemID) bool {
	return k.Item == p.item || p.UpdateSink.Wanted(k)
}

func (p panickySink) Publish(k actors.ItemID, u actors.Update) {
	if k.Item == p.item {
		panic("test: actor panic")
	}
	p.UpdateSink.Publish(k, u)
}

// Recover everywhere, through the real server: a panicking handler answers
// the 500 envelope, is logged with its stack and request id, and the next
// request is served; a panicking actor costs its item nothing but that
// update: the process goes on, and the item's figures stay exact.
func TestDefectPanicsContained(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_UPDATE_INTERVAL", "0")
	tn := newTenant(t, e)
	bad := adminJSON(t, e, "render", "create", "--project", tn.project)["id"].(string)
	s := startServiceWith(t, e, options{
		now:         time.Now,
		wrapEngine:  func(en httpapi.Engine) httpapi.Engine { return panickyEngine{en, bad} },
		wrapUpdates: func(u actors.UpdateSink) actors.UpdateSink { return panickySink{u, tn.render} },
	})

	r := do(t, "GET", s.base+"/v1/renders/"+bad+"/engagement", tn.key, "")
	if r.status != 500 || r.errorCode(t) != "internal" {
		t.Fatalf("panicking handler: %d %s", r.status, r.body)
	}
	id := r.header.Get("X-Request-Id")
	logged := s.log.String()
	if !strings.Contains(logged, "panic in handler") || !strings.Contains(logged, id) || !strings.Contains(logged, "goroutine ") {
		t.Fatalf("the panic is not logged with its stack and request id %s:\n%s", id, logged)
	}
	s.engagement(t, tn) // the next request is served

	// The actor of tn.render panics at every live update, after applying.
	for i := 0; i < 5; i++ {
		if !recorded(t, s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))) {
			t.Fatalf("event %d not recorded", i)
		}
	}
	if got := s.engagement(t, tn).Counts["viewed"]; got != 5 {
		t.Fatalf("viewed = %d after actor panics, want 5", got)
	}
	if !strings.Contains(s.log.String(), "panic in actor") {
		t.Fatalf("actor panic not logged:\n%s", s.log.String())
	}
	// The process is alive and serves everything else.
	if r := do(t, "GET", s.base+"/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
	// Both panics are counted where an operator looks.
	mf := s.scrape(t)
	for _, where := range []string{"http", "actor"} {
		if n := value(mf, "engaged_panics_total", "where", where); n < 1 {
			t.Fatalf("engaged_panics_total{where=%q} = %v, want at least 1", where, n)
		}
	}
}
