package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// These tests drive the client's sending policy with a scripted HTTP
// server; the client against the real service, including kill -9, is in
// cmd/engaged (client_test.go).

type attempt struct {
	at  time.Time
	ids []string
}

type script struct {
	mu       sync.Mutex
	attempts []attempt
	answer   func(n int, w http.ResponseWriter, ids []string) // n: attempt number from 0
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body struct {
		Events []Event `json:"events"`
	}
	json.Unmarshal(b, &body)
	var ids []string
	for _, e := range body.Events {
		ids = append(ids, e.EventID)
	}
	s.mu.Lock()
	n := len(s.attempts)
	s.attempts = append(s.attempts, attempt{time.Now(), ids})
	s.mu.Unlock()
	s.answer(n, w, ids)
}

func accept(w http.ResponseWriter, ids []string) {
	var res []map[string]any
	for _, id := range ids {
		res = append(res, map[string]any{"status": "accepted", "eventId": id})
	}
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"received": len(ids), "failed": 0, "results": res}, "meta": map[string]any{"requestId": "req_1"}})
}

func fail(w http.ResponseWriter, status int, code string, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": code}, "meta": map[string]any{"requestId": "req_1"}})
}

func TestRetryAfterAndSameEventIDs(t *testing.T) {
	sc := &script{answer: func(n int, w http.ResponseWriter, ids []string) {
		switch n {
		case 0:
			fail(w, 503, "unavailable", "1")
		case 1:
			fail(w, 429, "rate_limited", "")
		default:
			accept(w, ids)
		}
	}}
	srv := httptest.NewServer(sc)
	defer srv.Close()
	c := mustNew(t, srv.URL, "pk_x", WithBatching(3, 5*time.Second), WithBackoff(time.Millisecond, time.Second))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := c.Track(ctx, Event{Event: "like", ContentID: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(sc.attempts) != 3 {
		t.Fatalf("%d attempts, want 3", len(sc.attempts))
	}
	for _, a := range sc.attempts[1:] {
		if len(a.ids) != 3 || a.ids[0] != sc.attempts[0].ids[0] || a.ids[2] != sc.attempts[0].ids[2] || a.ids[0] == a.ids[1] {
			t.Fatalf("retry sent other event ids: %v then %v", sc.attempts[0].ids, a.ids)
		}
	}
	// Retry-After: 1 is a lower bound on the wait, whatever the machine.
	if gap := sc.attempts[1].at.Sub(sc.attempts[0].at); gap < time.Second {
		t.Fatalf("retried %v after a 503 with Retry-After: 1", gap)
	}
}

func TestRejectedEventsReportedAndDropped(t *testing.T) {
	sc := &script{answer: func(n int, w http.ResponseWriter, ids []string) {
		if n == 0 {
			fail(w, 401, "unauthorized", "")
			return
		}
		w.Write([]byte(`{"data":{"received":1,"failed":1,"results":[{"status":"accepted","eventId":"a"},` +
			`{"status":"rejected","eventId":"b","error":{"code":"invalid_request","message":"bad","issues":{"formErrors":[],"fieldErrors":{"data.position":["Required"]}}}}]},"meta":{"requestId":"req_1"}}`))
	}}
	srv := httptest.NewServer(sc)
	defer srv.Close()
	var mu sync.Mutex
	var got []Rejection
	c := mustNew(t, srv.URL, "pk_x", WithBatching(2, 5*time.Second), WithOnError(func(r Rejection) { mu.Lock(); got = append(got, r); mu.Unlock() }))
	ctx := context.Background()
	c.Track(ctx, Event{Event: "like", ContentID: "c", EventID: "x1"})
	c.Track(ctx, Event{Event: "like", ContentID: "c", EventID: "x2"})
	c.Flush(ctx)
	c.Track(ctx, Event{Event: "like", ContentID: "c", EventID: "a"})
	c.Track(ctx, Event{Event: "impression", ContentID: "c", EventID: "b"})
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(sc.attempts) != 2 {
		t.Fatalf("%d attempts: a 401 must not be retried", len(sc.attempts))
	}
	if len(got) != 3 || got[0].Err.Status != 401 || !errors.Is(got[0].Err, ErrUnauthorized) || got[0].Event.EventID != "x1" || got[1].Event.EventID != "x2" ||
		got[2].Event.EventID != "b" || got[2].Err.Code != "invalid_request" || !errors.Is(got[2].Err, ErrInvalid) ||
		got[2].Err.Issues.FieldErrors["data.position"][0] != "Required" {
		t.Fatalf("rejections: %+v", got)
	}
}

func TestQueueBoundAndCloseGivesUp(t *testing.T) {
	release := make(chan struct{})
	sc := &script{answer: func(n int, w http.ResponseWriter, ids []string) {
		<-release
		fail(w, 503, "unavailable", "60")
	}}
	srv := httptest.NewServer(sc)
	defer srv.Close()
	defer close(release)
	c := mustNew(t, srv.URL, "pk_x", WithBatching(2, 5*time.Second), WithMaxQueue(4))
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		if err := c.Track(ctx, Event{Event: "like", ContentID: "c"}); err != nil {
			t.Fatal(i, err)
		}
	}
	if err := c.Track(ctx, Event{Event: "like", ContentID: "c"}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("fifth Track: %v, want ErrQueueFull", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel() // Close gives up at once: the server keeps answering 503
	err := c.Close(cctx)
	if err == nil || !errors.Is(err, context.Canceled) || err.Error() != "engaged: 4 events not delivered: context canceled" {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Track(ctx, Event{Event: "like", ContentID: "c"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Track after Close: %v", err)
	}
}

func TestIntervalSendsPartialBatch(t *testing.T) {
	got := make(chan []string, 1)
	sc := &script{answer: func(n int, w http.ResponseWriter, ids []string) { accept(w, ids); got <- ids }}
	srv := httptest.NewServer(sc)
	defer srv.Close()
	c := mustNew(t, srv.URL, "pk_x", WithBatching(100, 10*time.Millisecond))
	defer c.Close(context.Background())
	c.Track(context.Background(), Event{Event: "like", ContentID: "c"})
	if ids := <-got; len(ids) != 1 || len(ids[0]) != 36 {
		t.Fatalf("sent %v", ids)
	}
}

func mustNew(t *testing.T, base, key string, opts ...Option) *Client {
	t.Helper()
	c, err := New(base, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewChecksItsInput(t *testing.T) {
	for name, tc := range map[string]struct {
		base, key string
		opts      []Option
	}{
		"not a URL":          {base: "engaged.example.com", key: "pk_x"},
		"ftp":                {base: "ftp://engaged.example.com", key: "pk_x"},
		"query":              {base: "http://h/?a=b", key: "pk_x"},
		"no key":             {base: "http://h", key: ""},
		"operator token":     {base: "http://h", key: "hunter2"},
		"batch over 100":     {base: "http://h", key: "pk_x", opts: []Option{WithBatching(101, time.Second)}},
		"no batch interval":  {base: "http://h", key: "pk_x", opts: []Option{WithBatching(10, 0)}},
		"queue":              {base: "http://h", key: "pk_x", opts: []Option{WithMaxQueue(0)}},
		"backoff max < min":  {base: "http://h", key: "pk_x", opts: []Option{WithBackoff(time.Second, time.Millisecond)}},
		"timeout":            {base: "http://h", key: "pk_x", opts: []Option{WithTimeout(0)}},
		"newline in UA":      {base: "http://h", key: "pk_x", opts: []Option{WithUserAgent("a\nb")}},
		"newline in the key": {base: "http://h", key: "pk_x\nX-Evil: 1"},
	} {
		if c, err := New(tc.base, tc.key, tc.opts...); err == nil {
			c.Close(context.Background())
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		want   error
	}{
		{400, "invalid_request", ErrInvalid},
		{400, "too_old", ErrInvalid},
		{401, "unauthorized", ErrUnauthorized},
		{403, "forbidden", ErrForbidden},
		{404, "not_found", ErrNotFound},
		{409, "conflict", ErrConflict},
		{413, "payload_too_large", ErrTooLarge},
		{429, "rate_limited", ErrRateLimited},
		{200, "rate_limited", ErrRateLimited},
		{200, "content_limit", ErrLimit},
		{503, "unavailable", ErrUnavailable},
		{500, "internal", ErrInternal},
		{502, "http_502", ErrUnavailable}, // a proxy's page
		{418, "teapot", ErrInvalid},
	} {
		e := &Error{Status: tc.status, Code: tc.code}
		if !errors.Is(e, tc.want) {
			t.Errorf("%d %s: errors.Is(%v) is false; Unwrap gives %v", tc.status, tc.code, tc.want, e.Unwrap())
		}
	}
}

func TestUserAgentAndTimeout(t *testing.T) {
	release := make(chan struct{})
	ua := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua <- r.Header.Get("User-Agent")
		<-release
	}))
	defer srv.Close()
	defer close(release)
	c := mustNew(t, srv.URL, "sk_x", WithUserAgent("myapp/1.2"), WithTimeout(50*time.Millisecond))
	defer c.Close(context.Background())
	_, err := c.ContentEngagement(context.Background(), "c1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a server that never answers: %v, want the timeout", err)
	}
	if got := <-ua; got != "myapp/1.2" {
		t.Fatalf("User-Agent %q", got)
	}
}
