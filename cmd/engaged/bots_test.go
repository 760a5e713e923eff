package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// readUserAgents reads the real User-Agent strings the unit tests of the
// robot filter use (transport/httpapi/testdata), by class.
func readUserAgents(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("../../transport/httpapi/testdata/user-agents.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if class, ua, ok := strings.Cut(sc.Text(), "\t"); ok && !strings.HasPrefix(class, "#") {
			out[class] = append(out[class], ua)
		}
	}
	return out
}

// Link unfurlers, scanners, crawlers and browser prefetches get the share
// page, the download and the pixel as anyone does, but none of them counts
// as viewed, downloaded or email_opened; people and generic HTTP clients
// do.
func TestBotsAreNotViewers(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_PUBLIC_URL", "https://docs.example.test")
	s := startService(t, e)
	tn := shareTenant(t, e)
	sh := s.createShare(t, tn)
	m := s.email(t, tn, `{"to":"ada@example.com"}`) // the log mailer; its own share
	uas := readUserAgents(t)
	ip := 0
	from := func(ua string, more ...string) []string {
		ip++ // a fresh address each time: no dedupe, no per-IP limit
		return append([]string{"User-Agent", ua, "X-Forwarded-For", fmt.Sprintf("198.51.%d.%d", ip/250, ip%250+1)}, more...)
	}
	fetchAll := func(headers func() []string) {
		t.Helper()
		if r := s.page(t, sh.ID, "", headers()...); r.status != 200 || !strings.Contains(string(r.body), docURL) {
			t.Fatalf("share page: %d", r.status)
		}
		if r := s.page(t, sh.ID, "/download", headers()...); r.status != 302 || r.header.Get("Location") != docURL {
			t.Fatalf("download: %d", r.status)
		}
		s.pixel(t, m.PixelURL, headers()...)
	}
	base := map[string]int64{"email_sent": 1, "share_created": 2}

	robots := append([]string(nil), uas["robot"]...)
	for _, ua := range robots {
		fetchAll(func() []string { return from(ua) })
	}
	chrome := uas["person"][0]
	for _, h := range [][2]string{{"Sec-Purpose", "prefetch"}, {"Purpose", "prefetch"}, {"X-Moz", "prefetch"}} {
		fetchAll(func() []string { return from(chrome, h[0], h[1]) })
	}
	wantCounts(t, s.counts(t, tn), base)
	if got, want := botViews(t, s, tn), int64(3*len(robots)+9); got != want {
		t.Fatalf("botViews %d, want %d", got, want)
	}
	st := s.stats(t)["public"]
	if want := float64(3 * len(robots)); st["botsCrawler"] != want || st["botsPrefetch"] != 9 {
		t.Fatalf("stats: %v, want %v crawler and 9 prefetch requests", st, want)
	}

	// Mail clients fetch link previews (robots) but load the pixel when
	// the message is read (an open).
	for _, ua := range uas["mail"] {
		fetchAll(func() []string { return from(ua) })
	}
	want := map[string]int64{"email_opened": int64(len(uas["mail"]))}
	// People and generic HTTP clients count.
	for _, ua := range append(uas["person"], uas["generic"]...) {
		fetchAll(func() []string { return from(ua) })
		for _, k := range []string{"viewed", "downloaded", "email_opened"} {
			want[k]++
		}
	}
	for k, v := range base {
		want[k] = v
	}
	wantCounts(t, s.counts(t, tn), want)
	// The mail clients' share page and download fetches were robots'.
	if got, want := botViews(t, s, tn), int64(3*len(robots)+9+2*len(uas["mail"])); got != want {
		t.Fatalf("botViews %d, want %d", got, want)
	}
	// No robot shows among the recent events.
	for _, r := range s.engagement(t, tn).Recent {
		if r.UserAgent != nil && strings.Contains(*r.UserAgent, "bot") {
			t.Fatalf("a robot's request in recent: %+v", r)
		}
	}
}

// botViews reads the render's botViews from its engagement summary.
func botViews(t *testing.T, s *service, tn tenant) int64 {
	t.Helper()
	var v struct {
		BotViews *int64 `json:"botViews"`
	}
	if err := json.Unmarshal([]byte(s.engagementJSON(t, tn)), &v); err != nil || v.BotViews == nil {
		t.Fatalf("no botViews in the summary (%v)", err)
	}
	return *v.BotViews
}
