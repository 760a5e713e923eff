package httpapi

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// openapi.json documents exactly the routes the server registers, the
// admin API's included, so the document cannot gain or lose a route
// without the code (the end-to-end tests check the shapes of what goes
// through them).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas   map[string]json.RawMessage `json:"schemas"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			// Fiber answers HEAD for every GET; the document may say so.
			if m := strings.ToUpper(method); m != "HEAD" && m != "PARAMETERS" {
				documented = append(documented, m+" "+path)
			}
		}
	}
	// Every $ref names a schema or response of the file.
	for _, m := range regexp.MustCompile(`"#/components/(schemas|responses)/(\w+)"`).FindAllStringSubmatch(string(b), -1) {
		if (m[1] == "schemas" && doc.Components.Schemas[m[2]] == nil) || (m[1] == "responses" && doc.Components.Responses[m[2]] == nil) {
			t.Errorf("$ref to missing %s %s", m[1], m[2])
		}
	}

	// No request reaches the store here; the routes only need one to exist.
	s := NewServer(Options{MaxBodyBytes: 1 << 16, RequestTimeout: time.Second,
		Admin: AdminOptions{Token: strings.Repeat("t", 32), Store: nilAdminStore{}}}, fakeDir{}, nil)
	defer s.Shutdown(context.Background())
	var registered []string
	param := regexp.MustCompile(`:(\w+)`)
	for _, r := range s.app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		registered = append(registered, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	slices.Sort(documented)
	slices.Sort(registered)
	documented = slices.Compact(documented)
	registered = slices.Compact(registered)
	// Path parameter names are the document's choice; compare shapes.
	shape := func(l []string) []string {
		out := make([]string, len(l))
		for i, s := range l {
			out[i] = regexp.MustCompile(`\{\w+\}`).ReplaceAllString(s, "{}")
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(shape(documented), shape(registered)) {
		t.Fatalf("openapi.json documents\n%v\nthe server registers\n%v", documented, registered)
	}
}

// nilAdminStore satisfies AdminStore for route registration only; any call
// would panic.
type nilAdminStore struct{ AdminStore }
