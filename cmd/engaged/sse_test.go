package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// rawDo is do without a *testing.T, for goroutines other than the test's.
func rawDo(method, url, key, body string, headers ...string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, b}, err
}

// sseEvent is one event of a text/event-stream, or one comment line.
type sseEvent struct {
	id, data string
	comment  bool
}

// sseClient reads a stream on its own goroutine into events, which it
// closes at the end of the stream.
type sseClient struct {
	res    *http.Response
	events chan sseEvent
	done   chan struct{}
	err    error // why the stream ended; read after done
}

func (s *service) streamURL(tn tenant) string {
	return s.base + "/v1/renders/" + tn.render + "/engagement/stream"
}

// openStream opens a stream and fails the test unless it answers 200.
func openStream(t *testing.T, url, key string, headers ...string) *sseClient {
	t.Helper()
	c, r := tryStream(t, url, key, headers...)
	if c == nil {
		t.Fatalf("stream: %d %s", r.status, r.body)
	}
	return c
}

// tryStream opens a stream; on a non-200 answer it returns the response.
func tryStream(t *testing.T, url, key string, headers ...string) (*sseClient, response) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return nil, response{res.StatusCode, res.Header, b}
	}
	c := &sseClient{res: res, events: make(chan sseEvent, 1024), done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.close)
	return c, response{}
}

func (c *sseClient) read() {
	defer close(c.done)
	defer close(c.events)
	br := bufio.NewReader(c.res.Body)
	var ev sseEvent
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			c.err = err
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.id != "" || ev.data != "" {
				c.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			c.events <- sseEvent{comment: true, data: strings.TrimPrefix(line, ":")}
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func (c *sseClient) close() {
	c.res.Body.Close()
	<-c.done
}

// next returns the next event that is not a comment.
func (c *sseClient) next(t *testing.T) sseEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatalf("stream ended: %v", c.err)
			}
			if !ev.comment {
				return ev
			}
		case <-timeout:
			t.Fatal("no event within 10s")
		}
	}
}

// waitComment waits for a comment line (a heartbeat).
func (c *sseClient) waitComment(t *testing.T) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatalf("stream ended: %v", c.err)
			}
			if ev.comment {
				return ev.data
			}
		case <-timeout:
			t.Fatal("no comment within 10s")
		}
	}
}

// waitEnd waits until the server ends the stream.
func (c *sseClient) waitEnd(t *testing.T) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case _, ok := <-c.events:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("stream still open after 15s")
		}
	}
}

// summaryOf decodes an event and checks that its id is the payload's seq.
func summaryOf(t *testing.T, ev sseEvent) (seq uint64, body map[string]any) {
	t.Helper()
	if err := json.Unmarshal([]byte(ev.data), &body); err != nil {
		t.Fatalf("event data %q: %v", ev.data, err)
	}
	seq, err := strconv.ParseUint(ev.id, 10, 64)
	if err != nil {
		t.Fatalf("event id %q", ev.id)
	}
	if got, _ := body["seq"].(float64); uint64(got) != seq {
		t.Fatalf("event id %s, payload seq %v", ev.id, body["seq"])
	}
	return seq, body
}

func totalOf(body map[string]any) int64 { v, _ := body["total"].(float64); return int64(v) }

// sameAsReadBody checks that a payload is exactly the engagement read plus seq.
func sameAsReadBody(t *testing.T, s *service, tn tenant, body map[string]any) {
	t.Helper()
	sameAsRead(t, s, tn, update{body: body})
}

func TestSSEStream(t *testing.T) {
	// Goroutines of earlier tests are not this test's business.
	leaks := goleak.IgnoreCurrent()
	e := newEnv(t).with("ENGAGED_UPDATE_INTERVAL", "0", "ENGAGED_SSE_HEARTBEAT", "50ms", "ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := newTenant(t, e)

	c := openStream(t, s.streamURL(tn), tn.key)
	if ct := c.res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q", ct)
	}
	if id := c.res.Header.Get("X-Request-Id"); !strings.HasPrefix(id, "req_") {
		t.Fatalf("X-Request-Id %q", id)
	}
	// First event: the current summary, before any event exists.
	seq0, first := summaryOf(t, c.next(t))
	if seq0 != 0 || totalOf(first) != 0 {
		t.Fatalf("first event: id %d %v", seq0, first)
	}
	sameAsReadBody(t, s, tn, first)

	for i := 0; i < 3; i++ {
		recorded(t, s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i)))
	}
	last, body := seq0, first
	for totalOf(body) != 3 {
		var seq uint64
		seq, body = summaryOf(t, c.next(t))
		if seq <= last {
			t.Fatalf("event ids not rising: %d after %d", seq, last)
		}
		last = seq
	}
	sameAsReadBody(t, s, tn, body)
	if hb := c.waitComment(t); hb != " heartbeat" {
		t.Fatalf("comment %q", hb)
	}

	// A reconnecting client (Last-Event-ID) gets the current summary first,
	// which covers whatever it missed.
	again := openStream(t, s.streamURL(tn), tn.key, "Last-Event-ID", strconv.FormatUint(seq0, 10))
	seq, body := summaryOf(t, again.next(t))
	if seq != last || totalOf(body) != 3 {
		t.Fatalf("after Last-Event-ID %d: id %d total %d, want id %d total 3", seq0, seq, totalOf(body), last)
	}

	// A revoked key's stream ends (at a heartbeat once the auth cache expires).
	k2 := adminJSON(t, e, "key", "create", "--project", tn.project)
	revoked := openStream(t, s.streamURL(tn), k2["key"].(string))
	revoked.next(t)
	adminJSON(t, e, "key", "revoke", k2["id"].(string))
	revoked.waitEnd(t)
	// The others stay.
	recorded(t, s.post(t, tn, `{"eventType":"printed"}`))
	for _, cl := range []*sseClient{c, again} {
		if _, body := summaryOf(t, cl.next(t)); totalOf(body) != 4 {
			t.Fatalf("after the revocation: total %d", totalOf(body))
		}
	}

	// Shutdown ends open streams and leaves no goroutine behind.
	s.stop()
	c.waitEnd(t)
	again.waitEnd(t)
	c.close()
	again.close()
	revoked.close()
	http.DefaultClient.CloseIdleConnections()
	goleak.VerifyNone(t, leaks,
		// Process-wide or library-owned, not the service's to stop: fasthttp's
		// date updater and its worker-pool cleaner (sleeps 10 s before it
		// sees the stop).
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.init.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"))
}

func TestSSEErrors(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newTenant(t, e)
	other := newTenant(t, e)
	pk := adminJSON(t, e, "key", "create", "--project", tn.project, "--kind", "publishable")["key"].(string)
	for _, tc := range []struct {
		name, url, key string
		status         int
		code           string
	}{
		{"no key", s.streamURL(tn), "", 401, "unauthorized"},
		{"publishable key", s.streamURL(tn), pk, 403, "forbidden"},
		{"other project's render", s.streamURL(other), tn.key, 404, "not_found"},
		{"not a uuid", s.base + "/v1/renders/nope/engagement/stream", tn.key, 404, "not_found"},
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
}

func TestSSELimits(t *testing.T) {
	e := newEnv(t).with("ENGAGED_SSE_MAX_STREAMS", "2")
	s := startService(t, e)
	tn := newTenant(t, e)

	a := openStream(t, s.streamURL(tn), tn.key)
	b := openStream(t, s.streamURL(tn), tn.key)
	a.next(t)
	b.next(t)
	c, r := tryStream(t, s.streamURL(tn), tn.key)
	if c != nil {
		t.Fatal("third stream opened with ENGAGED_SSE_MAX_STREAMS=2")
	}
	if r.status != 503 || r.errorCode(t) != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("third stream: %d %s %v", r.status, r.body, r.header)
	}
	// A client that leaves frees its slot at once (not at the next heartbeat,
	// which is 15s away).
	a.close()
	var d *sseClient
	eventually(t, 10*time.Second, func() error {
		if d, _ = tryStream(t, s.streamURL(tn), tn.key); d == nil {
			return errors.New("slot not freed after the client closed its stream")
		}
		return nil
	})
	d.next(t)

	// Shutdown does not wait for open streams: it ends them.
	s.stop()
	b.waitEnd(t)
	d.waitEnd(t)
}

func TestSSELifetime(t *testing.T) {
	e := newEnv(t).with("ENGAGED_SSE_MAX_LIFETIME", "300ms")
	s := startService(t, e)
	tn := newTenant(t, e)
	c := openStream(t, s.streamURL(tn), tn.key)
	c.next(t)
	c.waitEnd(t)
	if !errors.Is(c.err, io.EOF) {
		t.Fatalf("stream ended with %v, want a clean end", c.err)
	}
}

// A client that stops reading is dropped once a write to it blocks for 10 s
// (each stream holds at most one pending summary meanwhile); the others, and
// the event writes, go on as if it did not exist.
func TestSSESlowClientDropped(t *testing.T) {
	e := newEnv(t).with("ENGAGED_UPDATE_INTERVAL", "0", "ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := newTenant(t, e)

	// The slow client asks for the stream and then reads nothing; its tiny
	// receive buffer makes the server's writes block early.
	addr := strings.TrimPrefix(s.base, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(1024)
	fmt.Fprintf(conn, "GET /v1/renders/%s/engagement/stream HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", tn.render, addr, tn.key)

	fast := openStream(t, s.streamURL(tn), tn.key)
	fast.next(t)
	// Big summaries (25 recent events with 7 KB of metadata each) fill the
	// socket buffers after a few updates.
	pad := strings.Repeat("x", 7000)
	const n = 80
	for i := 0; i < n; i++ {
		recorded(t, s.post(t, tn, `{"eventType":"viewed","metadata":{"pad":"`+pad+`"}}`, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i)))
	}
	for {
		_, body := summaryOf(t, fast.next(t))
		if totalOf(body) == n {
			break
		}
	}

	// The slow client finds its stream ended after what the socket held.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	var events int
	var lastTotal int64
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("slow client was not dropped: still open after %d events (last total %d)", events, lastTotal)
			}
			break // EOF or reset: dropped
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			events++
			var body map[string]any
			if err := json.Unmarshal([]byte(data), &body); err != nil {
				t.Fatalf("event %d: %v", events, err)
			}
			lastTotal = totalOf(body)
		}
	}
	if lastTotal >= n {
		t.Fatalf("slow client received every update (%d events); it should have been dropped", events)
	}
	t.Logf("slow client got %d of %d updates before it was dropped", events, n+1)

	// The fast client is still served.
	recorded(t, s.post(t, tn, `{"eventType":"printed"}`))
	if _, body := summaryOf(t, fast.next(t)); totalOf(body) != n+1 {
		t.Fatalf("fast client after the drop: %v", body["total"])
	}
}
