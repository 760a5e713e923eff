package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds Debian's Chromium. The browser test is skipped only when
// there is none, and says so loudly: CI (.ci/run) installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "\n" + strings.Repeat("!", 78) + "\n" +
		"!!! SKIPPING THE BROWSER TEST: no Chromium found (install Debian's `chromium`;\n" +
		"!!! .ci/run does: apt-get install -y chromium)\n" +
		strings.Repeat("!", 78)
	fmt.Fprintln(os.Stderr, msg)
	t.Skip(msg)
	return ""
}

// browser starts a headless Chromium with a fresh profile and returns a tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	profile, err := os.MkdirTemp("", "engaged-chromium")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helpers may still write to the profile for a moment
		// after the browser stops.
		for i := 0; i < 50; i++ {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first Run starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// waitFor polls a JavaScript predicate in the page.
func waitFor(t *testing.T, ctx context.Context, what, predicate string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText + "\nstatus: " + document.querySelector("#status").innerText`))
		t.Fatalf("%s: %v\npage:\n%s", what, err, page)
	}
}

func counterIs(name string, v int) string {
	return fmt.Sprintf(`document.querySelector('[data-counter="%s"]').textContent === "%d"`, name, v)
}

// The dashboard, in a real browser, shows a render's counters and recent
// events and follows them live as events are posted through the API.
func TestDashboardInBrowser(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := newTenant(t, e)
	ctx := browser(t)

	// The key is typed once; the render id comes from the URL.
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/dashboard?render="+tn.render),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), tn.key),
		chromedp.Click(chromedp.ID("go")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "stream connected", `document.querySelector("#status-text").textContent === "live" && `+counterIs("total", 0))

	// The key stays in this tab's sessionStorage only: not in the URL, not in
	// localStorage, not in a cookie.
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
		`sessionStorage.getItem("engaged.secretKey") === %q && localStorage.length === 0 && document.cookie === "" && !location.href.includes(%q)`,
		tn.key, tn.key)))
	if err != nil || !ok {
		t.Fatalf("key storage check: %v %v", ok, err)
	}

	recorded(t, s.post(t, tn, `{"eventType":"viewed","metadata":{"source":"dashboard test"}}`, "X-Forwarded-For", "203.0.113.10", "User-Agent", "browser-test"))
	waitFor(t, ctx, "first event shown", counterIs("total", 1)+" && "+counterIs("viewed", 1))

	events := []string{
		`{"eventType":"viewed","metadata":{"campaign":"spring"}}`,
		`{"eventType":"downloaded","metadata":{"format":"pdf"}}`,
		`{"eventType":"printed"}`,
		`{"eventType":"downloaded","metadata":{"format":"docx","userId":"u_42"}}`,
	}
	for i, body := range events {
		recorded(t, s.post(t, tn, body, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1)))
	}
	waitFor(t, ctx, "counters follow the events",
		counterIs("total", 5)+" && "+counterIs("viewed", 2)+" && "+counterIs("downloaded", 2)+" && "+
			counterIs("printed", 1)+" && "+counterIs("linkOpens", 0)+" && "+counterIs("email_sent", 0)+" && "+
			`document.querySelectorAll("#recent tr").length === 5`)

	// The newest event is on top, and metadata is shown as text.
	top, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#recent tr:first-child")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(top, "downloaded") || !strings.Contains(top, `"userId":"u_42"`) {
		t.Fatalf("newest row: %q", top)
	}
	// What the page shows is what the API reads.
	sum := s.engagement(t, tn)
	seq, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("seq")))
	if err != nil || seq == "–" || sum.Total != 5 {
		t.Fatalf("seq %q (%v), total %d", seq, err, sum.Total)
	}

	// A still picture: wait for the change highlights to fade.
	waitFor(t, ctx, "highlights faded", `document.getAnimations().length === 0 && !document.querySelector(".changed")`)
	saveScreenshot(t, ctx, "dashboard.png")
}

// saveScreenshot saves the whole page as name in $TEST_OUTPUT, else in the
// test's artifact directory (kept with `go test -artifacts`).
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("TEST_OUTPUT")
	if dir == "" {
		dir = t.ArtifactDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// The top items page, in a real browser: a project's top contents and
// renders over the chosen window and metric, in the API's order, each
// linking to the item's own dashboard page.
func TestTopDashboardInBrowser(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	for i, id := range []string{"cnt_def456", "cnt_def456", "cnt_abc123"} {
		s.batch(t, tn.pk, fmt.Sprintf(`{"events":[{"eventId":"d%d","event":"playStart","contentId":"%s","data":{"startupTime":90}},{"eventId":"l%d","event":"like","contentId":"%s"}]}`, i, id, i, id))
	}
	render := adminJSON(t, e, "render", "create", "--project", tn.project)["id"].(string)
	if r := do(t, "POST", s.base+"/v1/renders/"+render+"/shares", tn.sk, ""); r.status != 201 {
		t.Fatalf("share: %d %s", r.status, r.body)
	}
	ctx := browser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/dashboard/top.html?project="+tn.project+"&window=1h"),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), tn.sk),
		chromedp.Click(chromedp.ID("go")),
	)
	if err != nil {
		t.Fatal(err)
	}
	rows := func(kind string) string {
		return `Array.from(document.querySelectorAll("#top-` + kind + ` tr")).map(r => r.innerText.replace(/\s+/g, " ").trim()).join("|")`
	}
	waitFor(t, ctx, "top contents by plays", rows("content")+` === "1 cnt_def456 2|2 cnt_abc123 1"`)
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("render-metric"), "share_created"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#render-metric").dispatchEvent(new Event("change"))`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "top renders by shares created", rows("render")+` === "1 `+render+` 1"`)
	// Another window and metric: the list follows.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("window"), "7d"), chromedp.SetValue(chromedp.ID("content-metric"), "likes"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#content-metric").dispatchEvent(new Event("change"))`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "likes over 7 days", rows("content")+` === "1 cnt_def456 2|2 cnt_abc123 1" && location.search.includes("window=7d")`)
	saveScreenshot(t, ctx, "dashboard-top.png")
	// Click through to the item's page.
	// A click by script: chromedp.Click's own follow-up fails once the
	// page navigates away under it.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`setTimeout(() => document.querySelector("#top-content tr:first-child a").click(), 0)`)); err != nil {
		t.Fatal(err)
	}
	// The page navigates: evaluations fail until the new one is loaded.
	var loc string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		loc, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState === "complete" ? location.href : ""`))
		if err == nil && loc == s.base+"/dashboard?content=cnt_def456" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("click-through: %q %v", loc, err)
		}
	}
	waitFor(t, ctx, "the item's page reads the content", `document.querySelector("#item").value === "cnt_def456"`)
}
