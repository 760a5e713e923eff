package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"
)

// The served document names the service's public URL as its one server,
// and is otherwise the embedded document unchanged.
func TestOpenAPIServers(t *testing.T) {
	for _, url := range []string{"https://engaged.example.com", "http://localhost:8080/base"} {
		s := NewServer(Options{MaxBodyBytes: 1 << 20, MaxHeaderBytes: 8192, Shares: ShareOptions{PublicBaseURL: url}}, nil, nil)
		res, err := s.app.Test(httptest.NewRequest("GET", "/openapi.json", nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: served document is not JSON: %v", url, err)
		}
		servers, _ := doc["servers"].([]any)
		if len(servers) != 1 || servers[0].(map[string]any)["url"] != url {
			t.Errorf("%s: servers %v", url, doc["servers"])
		}
		var want map[string]any
		if err := json.Unmarshal(OpenAPI, &want); err != nil {
			t.Fatal(err)
		}
		delete(want, "servers")
		delete(doc, "servers")
		w, _ := json.Marshal(want)
		g, _ := json.Marshal(doc)
		if !bytes.Equal(w, g) {
			t.Errorf("%s: the served document differs from openapi.json beyond servers", url)
		}
	}
	if got, err := OpenAPIFor(""); err != nil || !bytes.Equal(got, OpenAPI) {
		t.Errorf("no public URL: the document changed (%v)", err)
	}
}
