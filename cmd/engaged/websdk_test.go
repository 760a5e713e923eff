package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
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
	e := newEnv(t)
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
		{"secret key in the body beside a header key", tn.pk, `{"apiKey":"` + tn.sk + `","event":"like","contentId":"cnt_abc123"}`, 400, "invalid_request"},
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
