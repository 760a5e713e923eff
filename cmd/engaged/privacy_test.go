package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// grepTree returns the files under dir whose bytes contain needle.
func grepTree(t *testing.T, dir, needle string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil // a file JetStream removed meanwhile
		}
		if bytes.Contains(b, []byte(needle)) {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// A project's ipCapture is set at creation (CLI) and later (HTTP admin
// API), applies from then on to what the summary shows and what the log
// holds, and dedupe still tells clients of one /24 apart.
func TestIPCapturePerProject(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_ADMIN_TOKEN", testAdminToken)
	s := startService(t, e)

	// The default keeps the address, as the render API document says.
	full := shareTenant(t, e)
	if p := s.adminOK(t, 200, "GET", "/projects", "")["projects"].([]any)[0].(map[string]any); p["ipCapture"] != "full" {
		t.Fatalf("default project: %v", p)
	}
	s.post(t, full, `{"eventType":"viewed"}`, "X-Forwarded-For", "192.0.2.44")
	if ip := s.engagement(t, full).Recent[0].SourceIP; ip == nil || *ip != "192.0.2.44" {
		t.Fatalf("full: sourceIp %v", ip)
	}

	p := adminJSON(t, e, "project", "create", "--name", "private", "--ip-capture", "truncated")
	if p["ipCapture"] != "truncated" {
		t.Fatalf("project create --ip-capture truncated printed %v", p)
	}
	k := adminJSON(t, e, "key", "create", "--project", p["id"].(string))
	r := adminJSON(t, e, "render", "create", "--project", p["id"].(string), "--document-url", docURL)
	tn := tenant{project: p["id"].(string), keyID: k["id"].(string), key: k["key"].(string), render: r["id"].(string)}
	sh := s.createShare(t, tn)

	// Two clients of one /24 are two views; the same client again is
	// deduped. Both show as their network.
	for _, ip := range []string{"203.0.113.7", "203.0.113.8", "203.0.113.7"} {
		s.page(t, sh.ID, "", "X-Forwarded-For", ip, "User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
	}
	recorded(t, s.post(t, tn, `{"eventType":"printed"}`, "X-Forwarded-For", "2001:db8:abcd:12::99"))
	sum := s.engagement(t, tn)
	wantCounts(t, sum.Counts, map[string]int64{"viewed": 2, "printed": 1, "share_created": 1})
	want := []string{"2001:db8:abcd::", "203.0.113.0", "203.0.113.0"}
	for i, w := range want {
		if ip := sum.Recent[i].SourceIP; ip == nil || *ip != w {
			t.Fatalf("truncated: recent[%d].sourceIp = %v, want %s", i, ip, w)
		}
	}

	// Changed through the HTTP admin API: none from then on, on every route.
	if r := s.adminDo(t, "PUT", "/projects/"+tn.project+"/ip-capture", `{"ipCapture":"partial"}`); r.status != 400 || r.errorCode(t) != "invalid_request" {
		t.Fatalf("bad ipCapture: %d %s", r.status, r.body)
	}
	if got := s.adminOK(t, 200, "PUT", "/projects/"+tn.project+"/ip-capture", `{"ipCapture":"none"}`); got["ipCapture"] != "none" || got["id"] != tn.project {
		t.Fatalf("set ip-capture: %v", got)
	}
	s.page(t, sh.ID, "/download", "X-Forwarded-For", "198.51.100.20")
	if v := s.engagement(t, tn).Recent[0]; v.EventType != "downloaded" || v.SourceIP != nil {
		t.Fatalf("none, share page: %+v", v)
	}
	// The partner route reads the setting through the key cache: within a second.
	private := []string{"203.0.113.7", "203.0.113.8", "198.51.100.20", "2001:db8:abcd:12::99"}
	eventually(t, 5*time.Second, func() error {
		ip := fmt.Sprintf("198.51.100.%d", 21+len(private)) // a new client each time: never deduped
		private = append(private, ip)
		if !recorded(t, s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", ip)) {
			t.Fatalf("a view from a new address %s was deduped", ip)
		}
		if v := s.engagement(t, tn).Recent[0]; v.SourceIP != nil {
			return fmt.Errorf("none, partner route: sourceIp %s", *v.SourceIP)
		}
		return nil
	})

	// What the log and the snapshots hold is what the project keeps: the
	// full addresses of the private project are nowhere in the data
	// directory (the JetStream store), while the full project's is.
	for _, ip := range private {
		if hits := grepTree(t, e["ENGAGED_DATA_DIR"], ip); len(hits) > 0 {
			t.Fatalf("%s is stored in %s", ip, strings.Join(hits, ", "))
		}
	}
	if hits := grepTree(t, e["ENGAGED_DATA_DIR"], "192.0.2.44"); len(hits) == 0 {
		t.Fatal("the scan finds nothing even for a full project (wrong directory?)")
	}
}
