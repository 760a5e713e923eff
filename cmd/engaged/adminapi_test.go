package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

const testAdminToken = "admin-token-for-tests-0123456789abcdef"

// adminService starts a service with the admin API on.
func adminService(t *testing.T) (*service, env) {
	t.Helper()
	e := newEnv(t).with("ENGAGED_ADMIN_TOKEN", testAdminToken)
	return startService(t, e), e
}

// adminDo calls the admin API with the operator token.
func (s *service) adminDo(t *testing.T, method, path, body string) response {
	t.Helper()
	return do(t, method, s.base+"/admin/v1"+path, testAdminToken, body)
}

// adminOK calls the admin API and wants status want and a JSON object.
func (s *service) adminOK(t *testing.T, want int, method, path, body string) map[string]any {
	t.Helper()
	r := s.adminDo(t, method, path, body)
	if r.status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, want)
	}
	return r.json(t)
}

func ids(t *testing.T, list any) []string {
	t.Helper()
	var out []string
	for _, v := range list.([]any) {
		out = append(out, v.(map[string]any)["id"].(string))
	}
	return out
}

// Without ENGAGED_ADMIN_TOKEN the admin routes do not exist: 404, with or
// without a token, exactly like an unknown path.
func TestAdminAPIOffIs404(t *testing.T) {
	s := startService(t, newEnv(t))
	for _, key := range []string{"", testAdminToken} {
		for _, path := range []string{"/admin/v1/projects", "/admin/v1/projects/x/keys"} {
			r := do(t, "GET", s.base+path, key, "")
			if r.status != 404 || r.errorCode(t) != "not_found" {
				t.Fatalf("GET %s (token %q): %d %s, want 404 not_found", path, key, r.status, r.body)
			}
		}
	}
	r := do(t, "POST", s.base+"/admin/v1/projects", testAdminToken, `{"name":"x"}`)
	if r.status != 404 || r.errorCode(t) != "not_found" {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
}

// A missing, wrong or differently shaped token is 401 in the error
// envelope, on every route; API keys are not admin tokens.
func TestAdminAPIToken(t *testing.T) {
	s, e := adminService(t)
	tn := newTenant(t, e)
	tokens := map[string]string{
		"missing":      "",
		"wrong":        strings.Repeat("x", len(testAdminToken)),
		"prefix":       testAdminToken[:len(testAdminToken)-1],
		"longer":       testAdminToken + "x",
		"a secret key": tn.key,
		"upper-cased":  strings.ToUpper(testAdminToken),
	}
	routes := [][2]string{
		{"GET", "/projects"}, {"POST", "/projects"}, {"DELETE", "/projects/" + tn.project},
		{"GET", "/projects/" + tn.project + "/keys"}, {"POST", "/projects/" + tn.project + "/keys"},
		{"DELETE", "/keys/" + tn.keyID}, {"GET", "/projects/" + tn.project + "/renders"},
		{"POST", "/projects/" + tn.project + "/renders"}, {"GET", "/projects/" + tn.project + "/contents"},
		{"POST", "/projects/" + tn.project + "/contents"}, {"PUT", "/projects/" + tn.project + "/auto-create-content"},
	}
	for name, tok := range tokens {
		for _, rt := range routes {
			r := do(t, rt[0], s.base+"/admin/v1"+rt[1], tok, `{"name":"x"}`)
			if r.status != 401 || r.errorCode(t) != "unauthorized" {
				t.Fatalf("%s token, %s %s: %d %s, want 401", name, rt[0], rt[1], r.status, r.body)
			}
		}
	}
	r := do(t, "GET", s.base+"/admin/v1/projects", "", "", "Authorization", "Basic "+testAdminToken)
	if r.status != 401 {
		t.Fatalf("Basic scheme: %d %s", r.status, r.body)
	}
	// Nothing above deleted or revoked anything.
	if r := do(t, "GET", s.base+"/v1/renders/"+tn.render, tn.key, ""); r.status != 200 {
		t.Fatalf("key after the 401s: %d %s", r.status, r.body)
	}
	s.adminOK(t, 200, "GET", "/projects", "")
}

// A project's key never reads another project's render or content item,
// and the admin lists of a project show only its own items.
func TestAdminAPITenancy(t *testing.T) {
	s, _ := adminService(t)
	type proj struct{ id, key, render, content string }
	mk := func(name string) proj {
		p := s.adminOK(t, 201, "POST", "/projects", `{"name":"`+name+`"}`)["id"].(string)
		k := s.adminOK(t, 201, "POST", "/projects/"+p+"/keys", "")["key"].(string)
		r := s.adminOK(t, 201, "POST", "/projects/"+p+"/renders", `{"documentUrl":"https://example.com/`+name+`.pdf"}`)
		if r["documentUrl"] != "https://example.com/"+name+".pdf" || r["projectId"] != p || r["kind"] != "render" {
			t.Fatalf("render %v", r)
		}
		c := s.adminOK(t, 201, "POST", "/projects/"+p+"/contents", `{"id":"cnt_`+name+`"}`)["id"].(string)
		return proj{p, k, r["id"].(string), c}
	}
	a, b := mk("a"), mk("b")

	// The render's own route, with the documented fields.
	got := do(t, "GET", s.base+"/v1/renders/"+a.render, a.key, "")
	if got.status != 200 {
		t.Fatalf("own render: %d %s", got.status, got.body)
	}
	m := got.json(t)
	if m["id"] != a.render || m["documentUrl"] != "https://example.com/a.pdf" || len(m) != 3 {
		t.Fatalf("GET /v1/renders/:id = %s", got.body)
	}
	if ts, _ := m["createdAt"].(string); !strings.HasSuffix(ts, "Z") {
		t.Fatalf("createdAt %q", ts)
	}
	for _, path := range []string{
		"/v1/renders/" + b.render, "/v1/renders/" + b.render + "/engagement", "/v1/renders/" + b.render + "/shares",
		"/v1/contents/" + b.content + "/engagement",
	} {
		if r := do(t, "GET", s.base+path, a.key, ""); r.status != 404 || r.errorCode(t) != "not_found" {
			t.Fatalf("project a's key on b's %s: %d %s", path, r.status, r.body)
		}
	}
	pk := s.adminOK(t, 201, "POST", "/projects/"+a.id+"/keys", `{"kind":"publishable"}`)["key"].(string)
	if r := do(t, "GET", s.base+"/v1/renders/"+a.render, pk, ""); r.status != 403 || r.errorCode(t) != "forbidden" {
		t.Fatalf("publishable key on GET /v1/renders/:id: %d %s", r.status, r.body)
	}

	for _, p := range []proj{a, b} {
		if got := ids(t, s.adminOK(t, 200, "GET", "/projects/"+p.id+"/renders", "")["renders"]); !slices.Equal(got, []string{p.render}) {
			t.Fatalf("renders of %s: %v, want [%s]", p.id, got, p.render)
		}
		if got := ids(t, s.adminOK(t, 200, "GET", "/projects/"+p.id+"/contents", "")["contents"]); !slices.Equal(got, []string{p.content}) {
			t.Fatalf("contents of %s: %v, want [%s]", p.id, got, p.content)
		}
	}
	if got := ids(t, s.adminOK(t, 200, "GET", "/projects", "")["projects"]); !slices.Equal(got, []string{a.id, b.id}) {
		t.Fatalf("projects %v", got)
	}
	// Content ids are per project: b may reuse a's.
	s.adminOK(t, 201, "POST", "/projects/"+b.id+"/contents", `{"id":"cnt_a"}`)
	if r := s.adminDo(t, "POST", "/projects/"+b.id+"/contents", `{"id":"cnt_a"}`); r.status != 409 || r.errorCode(t) != "conflict" {
		t.Fatalf("duplicate content id: %d %s", r.status, r.body)
	}
}

// A key's secret is in the create response only; the list shows id, kind,
// prefix, createdAt and revokedAt. A revoked key stops working as soon as
// the instance hears of it on NATS (within the 5 s allowed here, before the
// key cache's 10 s refresh), and a deleted project's keys get 403.
func TestAdminAPIKeys(t *testing.T) {
	s, _ := adminService(t)
	p := s.adminOK(t, 201, "POST", "/projects", `{"name":"keys"}`)["id"].(string)
	k := s.adminOK(t, 201, "POST", "/projects/"+p+"/keys", `{"kind":"secret"}`)
	secret, _ := k["key"].(string)
	if !strings.HasPrefix(secret, "sk_") || k["kind"] != "secret" || k["projectId"] != p || k["revokedAt"] != nil ||
		!strings.HasPrefix(secret, k["prefix"].(string)) || k["createdAt"] == nil {
		t.Fatalf("created key %v", k)
	}
	r := s.adminOK(t, 201, "POST", "/projects/"+p+"/renders", "")["id"].(string)

	listed := s.adminDo(t, "GET", "/projects/"+p+"/keys", "")
	if listed.status != 200 || bytes.Contains(listed.body, []byte(secret)) || bytes.Contains(listed.body, []byte(secret[11:])) {
		t.Fatalf("key list shows the secret: %s", listed.body)
	}
	keys := listed.json(t)["keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
	want := []string{"createdAt", "id", "kind", "prefix", "projectId", "revokedAt"}
	var fields []string
	for f := range keys[0].(map[string]any) {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	if !slices.Equal(fields, want) {
		t.Fatalf("listed key fields %v, want %v", fields, want)
	}

	if got := do(t, "GET", s.base+"/v1/renders/"+r, secret, ""); got.status != 200 {
		t.Fatalf("new key: %d %s", got.status, got.body)
	}
	s.adminOK(t, 200, "DELETE", "/keys/"+k["id"].(string), "")
	eventually(t, 5*time.Second, func() error {
		if got := do(t, "GET", s.base+"/v1/renders/"+r, secret, ""); got.status != 401 {
			return errors.New("revoked key still answers " + string(got.body))
		}
		return nil
	})
	keys = s.adminOK(t, 200, "GET", "/projects/"+p+"/keys", "")["keys"].([]any)
	if keys[0].(map[string]any)["revokedAt"] == nil {
		t.Fatalf("revoked key listed without revokedAt: %v", keys)
	}
	s.adminOK(t, 200, "DELETE", "/keys/"+k["id"].(string), "") // revoking twice is fine

	k2 := s.adminOK(t, 201, "POST", "/projects/"+p+"/keys", "")["key"].(string)
	s.adminOK(t, 200, "DELETE", "/projects/"+p, "")
	eventually(t, 5*time.Second, func() error {
		if got := do(t, "GET", s.base+"/v1/renders/"+r, k2, ""); got.status != 403 {
			return errors.New("deleted project's key answers " + string(got.body))
		}
		return nil
	})
	if got := ids(t, s.adminOK(t, 200, "GET", "/projects", "")["projects"]); len(got) != 0 {
		t.Fatalf("deleted project still listed: %v", got)
	}
}

// Lists come in pages that together hold every item once, in creation
// order; bad page parameters are 400.
func TestAdminAPIPagination(t *testing.T) {
	s, _ := adminService(t)
	p := s.adminOK(t, 201, "POST", "/projects", `{"name":"many"}`)["id"].(string)
	var want []string
	for range 7 {
		want = append(want, s.adminOK(t, 201, "POST", "/projects/"+p+"/renders", "")["id"].(string))
	}
	var got []string
	path := "/projects/" + p + "/renders?limit=3"
	for pages := 1; ; pages++ {
		m := s.adminOK(t, 200, "GET", path, "")
		page := ids(t, m["renders"])
		if len(page) > 3 || pages > 3 {
			t.Fatalf("page %d: %v", pages, page)
		}
		got = append(got, page...)
		next, ok := m["nextCursor"].(string)
		if !ok {
			if m["nextCursor"] != nil || pages != 3 {
				t.Fatalf("page %d ends with nextCursor %v", pages, m["nextCursor"])
			}
			break
		}
		path = "/projects/" + p + "/renders?limit=3&cursor=" + next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages hold %v, want %v", got, want)
	}
	if m := s.adminOK(t, 200, "GET", "/projects/"+p+"/renders", ""); len(ids(t, m["renders"])) != 7 || m["nextCursor"] != nil {
		t.Fatalf("default page: %v", m)
	}
	for _, q := range []string{"limit=0x", "limit=-1", "limit=1001", "cursor=%21%21", "cursor=" + strings.Repeat("A", 200)} {
		r := s.adminDo(t, "GET", "/projects/"+p+"/renders?"+q, "")
		if r.status != 400 || r.errorCode(t) != "invalid_request" {
			t.Fatalf("?%s: %d %s, want 400 invalid_request", q, r.status, r.body)
		}
	}
}

// Bad input is a 4xx in the envelope, never a 5xx.
func TestAdminAPIBadInput(t *testing.T) {
	s, _ := adminService(t)
	p := s.adminOK(t, 201, "POST", "/projects", `{"name":"p"}`)["id"].(string)
	cases := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"not JSON", "POST", "/projects", `{`, 400, "invalid_json", ""},
		{"not an object", "POST", "/projects", `[]`, 400, "invalid_request", ""},
		{"no name", "POST", "/projects", `{}`, 400, "invalid_request", "name"},
		{"empty name", "POST", "/projects", `{"name":""}`, 400, "invalid_request", "name"},
		{"long name", "POST", "/projects", `{"name":"` + strings.Repeat("n", 201) + `"}`, 400, "invalid_request", "name"},
		{"name not a string", "POST", "/projects", `{"name":1}`, 400, "invalid_request", "name"},
		{"bad key kind", "POST", "/projects/" + p + "/keys", `{"kind":"root"}`, 400, "invalid_request", "kind"},
		{"ftp document", "POST", "/projects/" + p + "/renders", `{"documentUrl":"ftp://x/y"}`, 400, "invalid_request", "documentUrl"},
		{"relative document", "POST", "/projects/" + p + "/renders", `{"documentUrl":"/doc.pdf"}`, 400, "invalid_request", "documentUrl"},
		{"bad content id", "POST", "/projects/" + p + "/contents", `{"id":"a b"}`, 400, "invalid_request", "id"},
		{"malformed project", "POST", "/projects/nope/renders", ``, 404, "not_found", ""},
		{"unknown project", "GET", "/projects/01939c2c-0000-7000-8000-000000000001/keys", ``, 404, "not_found", ""},
		{"unknown key", "DELETE", "/keys/01939c2c-0000-7000-8000-000000000001", ``, 404, "not_found", ""},
		{"unknown admin route", "GET", "/nothing", ``, 404, "not_found", ""},
		{"wrong method", "PUT", "/projects", `{}`, 405, "method_not_allowed", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.adminDo(t, tc.method, tc.path, tc.body)
			if r.status != tc.status || r.errorCode(t) != tc.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if tc.field != "" {
				fe, _ := r.json(t)["error"].(map[string]any)["issues"].(map[string]any)["fieldErrors"].(map[string]any)
				if fe[tc.field] == nil {
					t.Fatalf("no fieldErrors.%s in %s", tc.field, r.body)
				}
			}
		})
	}
	s.adminOK(t, 200, "DELETE", "/projects/"+p, "")
	if r := s.adminDo(t, "DELETE", "/projects/"+p, ""); r.status != 404 {
		t.Fatalf("deleting twice: %d %s", r.status, r.body)
	}
	if r := s.adminDo(t, "POST", "/projects/"+p+"/renders", ""); r.status != 404 {
		t.Fatalf("render in a deleted project: %d %s", r.status, r.body)
	}
}

// adminRun runs `engaged admin args…` and returns stdout, stderr and the
// error.
func adminRun(e env, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"admin"}, args...), e.lookup, &out, &errOut)
	return out.String(), errOut.String(), err
}

// The CLI prints the same JSON through the database and through --url.
func TestAdminCLIBothModes(t *testing.T) {
	s, e := adminService(t)
	url := []string{"--url", s.base}
	both := func(args ...string) string {
		t.Helper()
		db, dbErr, err := adminRun(e, args...)
		if err != nil {
			t.Fatalf("admin %v: %v\n%s", args, err, dbErr)
		}
		web, webErr, err := adminRun(e, append(args, url...)...)
		if err != nil {
			t.Fatalf("admin %v --url: %v\n%s", args, err, webErr)
		}
		if db != web {
			t.Fatalf("admin %v:\ndatabase: %s\n--url:    %s", args, db, web)
		}
		return db
	}
	fields := func(args ...string) map[string]any {
		t.Helper()
		m := adminJSON(t, e, args...)
		delete(m, "id")
		delete(m, "createdAt")
		delete(m, "key")
		delete(m, "prefix")
		return m
	}
	// Creating: the same object but for ids, times and secrets.
	p := adminJSON(t, e, "project", "create", "--name", "cli")["id"].(string)
	for _, args := range [][]string{
		{"project", "create", "--name", "n"},
		{"project", "create", "--name", "o", "--allowed-origins", "https://a.example,HTTP://B.example:80"},
		{"project", "create", "--name", "a", "--auto-create-content"},
		{"key", "create", "--project", p, "--kind", "publishable"},
		{"render", "create", "--project", p, "--document-url", "https://example.com/d.pdf"},
		{"content", "create", "--project", p},
	} {
		a, b := fields(args...), fields(append(args, url...)...)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Fatalf("admin %v: database %s, --url %s", args, ja, jb)
		}
	}
	adminJSON(t, e, "content", "create", "--project", p, "--id", "cnt_x", "--url", s.base)
	k := adminJSON(t, e, "key", "create", "--project", p, "--url", s.base)
	adminJSON(t, e, "key", "revoke", k["id"].(string), "--url", s.base)

	// Allowed origins: set, listed, cleared the same way on both paths.
	both("project", "set-origins", p, "--allowed-origins", "https://shop.example")
	if out := both("project", "list"); !strings.Contains(out, `"allowedOrigins":["https://shop.example"]`) {
		t.Fatalf("project list after set-origins: %s", out)
	}
	both("project", "set-origins", p, "--allowed-origins", "")

	// autoCreateContent: set, listed, cleared the same way on both paths.
	both("project", "set-auto-create", p, "--auto-create-content", "true")
	if out := both("project", "list"); !strings.Contains(out, `"autoCreateContent":true`) {
		t.Fatalf("project list after set-auto-create: %s", out)
	}
	both("project", "set-auto-create", p, "--auto-create-content", "false")

	// Listing: byte for byte, every page.
	both("project", "list")
	both("project", "list", "--limit", "1")
	both("key", "list", "--project", p)
	both("render", "list", "--project", p)
	out := both("content", "list", "--project", p, "--limit", "1")
	var page struct {
		Contents   []map[string]any `json:"contents"`
		NextCursor string           `json:"nextCursor"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Contents) != 1 || page.NextCursor == "" {
		t.Fatalf("first page %s: %v", out, err)
	}
	both("content", "list", "--project", p, "--limit", "1", "--cursor", page.NextCursor)

	// Failing: the same message.
	for _, args := range [][]string{
		{"render", "list", "--project", "01939c2c-0000-7000-8000-000000000001"},
		{"render", "create", "--project", p, "--document-url", "ftp://x"},
		{"key", "create", "--project", p, "--kind", "root"},
		{"key", "revoke", "nope"},
		{"project", "set-origins", "01939c2c-0000-7000-8000-000000000001", "--allowed-origins", "https://a.example"},
		{"project", "set-auto-create", "01939c2c-0000-7000-8000-000000000001", "--auto-create-content", "true"},
		{"project", "set-auto-create", p, "--auto-create-content", "maybe"},
		{"content", "create", "--project", p, "--id", "cnt_x"},
		{"content", "list", "--project", p, "--cursor", "!!"},
	} {
		_, _, dbErr := adminRun(e, args...)
		_, _, webErr := adminRun(e, append(args, url...)...)
		if dbErr == nil || webErr == nil || dbErr.Error() != webErr.Error() || errors.Is(dbErr, errUsage) {
			t.Fatalf("admin %v: database %v, --url %v", args, dbErr, webErr)
		}
	}
	// --url needs the token, and the right one.
	if _, _, err := adminRun(newEnv(t), append([]string{"project", "list"}, url...)...); err == nil || !strings.Contains(err.Error(), "ENGAGED_ADMIN_TOKEN") {
		t.Fatalf("--url without a token: %v", err)
	}
	wrong := e.with("ENGAGED_ADMIN_TOKEN", strings.Repeat("w", 40))
	if _, _, err := adminRun(wrong, append([]string{"project", "list"}, url...)...); err == nil || !strings.Contains(err.Error(), "admin token") {
		t.Fatalf("--url with a wrong token: %v", err)
	}
}

// -h shows the command's own flags on stdout; misuse is errUsage naming the
// offending word, with nothing on stdout.
func TestAdminCLIHelpAndMisuse(t *testing.T) {
	e := newEnv(t)
	help := []struct {
		args        []string
		has, hasNot []string
	}{
		{[]string{"-h"}, []string{"project list", "content list", "key revoke"}, nil},
		{[]string{"key", "create", "-h"}, []string{"-project", "-kind", "-url", "-database-url"}, []string{"-name", "-document-url", "-limit"}},
		{[]string{"render", "list", "--help"}, []string{"-project", "-limit", "-cursor"}, []string{"-kind", "-document-url"}},
		{[]string{"project", "delete", "-h"}, []string{"PROJECT_ID", "-url"}, []string{"-project", "-name"}},
	}
	for _, tc := range help {
		out, errOut, err := adminRun(e, tc.args...)
		if err != nil || errOut != "" {
			t.Fatalf("admin %v: %v, stderr %q", tc.args, err, errOut)
		}
		for _, s := range tc.has {
			if !strings.Contains(out, s) {
				t.Fatalf("admin %v help lacks %q:\n%s", tc.args, s, out)
			}
		}
		for _, s := range tc.hasNot {
			if strings.Contains(out, s+" ") {
				t.Fatalf("admin %v help shows another command's %q:\n%s", tc.args, s, out)
			}
		}
	}
	misuse := []struct {
		args []string
		word string
	}{
		{[]string{}, "missing command"},
		{[]string{"nope", "list"}, `"nope"`},
		{[]string{"key"}, "missing verb"},
		{[]string{"key", "frob"}, `"frob"`},
		{[]string{"key", "create", "--project", "p", "--bogus"}, "bogus"},
		{[]string{"key", "create"}, "--project"},
		{[]string{"project", "create"}, "--name"},
		{[]string{"project", "delete"}, "PROJECT_ID"},
		{[]string{"project", "delete", "a", "b"}, `"b"`},
		{[]string{"project", "list", "extra"}, `"extra"`},
		{[]string{"render", "list", "--project", "p", "--limit", "many"}, "limit"},
		{[]string{"render", "list", "--project", "p", "--url", "ftp://x"}, "--url"},
	}
	for _, tc := range misuse {
		out, _, err := adminRun(e, tc.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.word) || out != "" {
			t.Fatalf("admin %v: %v (stdout %q), want a usage error naming %s", tc.args, err, out, tc.word)
		}
	}
}

// The real binary: -h exits 0 with help on stdout, misuse exits 2 naming
// the word on stderr.
func TestAdminCLIExitStatus(t *testing.T) {
	bin := binary(t)
	cmd := exec.Command(bin, "admin", "content", "list", "-h")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "-cursor") || errOut.Len() != 0 {
		t.Fatalf("-h: %v, stdout %q, stderr %q", err, out.String(), errOut.String())
	}
	out.Reset()
	cmd = exec.Command(bin, "admin", "content", "frob")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(errOut.String(), `"frob"`) || out.Len() != 0 {
		t.Fatalf("misuse: %v, stdout %q, stderr %q", err, out.String(), errOut.String())
	}
}
