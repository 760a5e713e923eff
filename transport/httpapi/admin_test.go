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

// openapi-admin.json documents exactly the admin routes the server
// registers, and GET /v1/renders/:id, so the document cannot drift from
// the routes.
func TestAdminOpenAPIMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile("openapi-admin.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		Schemas map[string]json.RawMessage            `json:"schemas"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	// Every $ref names a schema of the file.
	for _, m := range regexp.MustCompile(`"#/components/schemas/(\w+)"`).FindAllStringSubmatch(string(b), -1) {
		if doc.Schemas[m[1]] == nil {
			t.Errorf("$ref to missing schema %s", m[1])
		}
	}

	// No request reaches the store here; the routes only need one to exist.
	s := NewServer(Options{MaxBodyBytes: 1 << 16, RequestTimeout: time.Second,
		Admin: AdminOptions{Token: strings.Repeat("t", 32), Store: nilAdminStore{}}}, fakeDir{}, nil)
	defer s.Shutdown(context.Background())
	var registered []string
	param := regexp.MustCompile(`:(\w+)`)
	for _, r := range s.app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" || !(strings.HasPrefix(r.Path, "/admin/v1/") || r.Path == "/v1/renders/:id") {
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
		t.Fatalf("openapi-admin.json documents\n%v\nthe server registers\n%v", documented, registered)
	}
}

// nilAdminStore satisfies AdminStore for route registration only; any call
// would panic.
type nilAdminStore struct{ AdminStore }
