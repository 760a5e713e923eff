package httpapi

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// GET / is a page that leads a first visitor to the dashboard, the OpenAPI
// document and the docs, and each link it gives on this server answers.
func TestLandingPage(t *testing.T) {
	s := NewServer(Options{MaxBodyBytes: 1 << 20, MaxHeaderBytes: 8192}, nil, nil)
	res, err := s.app.Test(httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, link := range []string{`href="/dashboard"`, `href="/openapi.json"`, `href="https://github.com/engagedhq/engaged#readme"`} {
		if !strings.Contains(string(b), link) {
			t.Errorf("the page lacks %s", link)
		}
	}
	for _, path := range []string{"/openapi.json", "/dashboard", "/sdk/engaged.js", "/healthz"} {
		res, err := s.app.Test(httptest.NewRequest("GET", path, nil))
		if err != nil || res.StatusCode != 200 {
			t.Errorf("the page links %s, which answers %v %v", path, res.StatusCode, err)
		}
	}
	// Only the root: other unknown paths stay the JSON 404.
	res, err = s.app.Test(httptest.NewRequest("GET", "/nope", nil))
	if err != nil || res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /nope: %v %v", res.StatusCode, err)
	}
}
