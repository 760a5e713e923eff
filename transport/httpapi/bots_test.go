package httpapi

import (
	"bufio"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// userAgents reads testdata/user-agents.txt: real User-Agent strings by
// class (robot, person, generic, mail).
func userAgents(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("testdata/user-agents.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		class, ua, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		out[class] = append(out[class], ua)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// classify runs f's share and pixel judgements on a real request through
// Fiber with the given headers.
func classify(t *testing.T, f *botFilter, headers ...string) (share, pixel string) {
	t.Helper()
	app := fiber.New()
	app.Get("/", func(c *fiber.Ctx) error {
		return c.SendString(f.share(c) + "|" + f.pixel(c, ""))
	})
	req := httptest.NewRequest("GET", "/", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	share, pixel, _ = strings.Cut(string(b), "|")
	return share, pixel
}

func TestBotFilter(t *testing.T) {
	uas := userAgents(t)
	for _, class := range []string{"robot", "person", "generic", "mail"} {
		if len(uas[class]) == 0 {
			t.Fatalf("no %s user agents in testdata", class)
		}
	}
	for _, generic := range []bool{false, true} {
		f := newBotFilter(BotOptions{GenericClients: generic})
		want := map[string][2]string{ // class → (share, pixel)
			"robot":  {botCrawler, botCrawler},
			"person": {"", ""},
			"mail":   {botCrawler, ""},
		}
		if generic {
			want["generic"] = [2]string{botCrawler, botCrawler}
		} else {
			want["generic"] = [2]string{"", ""}
		}
		for class, list := range uas {
			for _, ua := range list {
				share, pixel := classify(t, f, "User-Agent", ua)
				if w := want[class]; share != w[0] || pixel != w[1] {
					t.Errorf("generic=%v %s %q: share %q pixel %q, want %q %q", generic, class, ua, share, pixel, w[0], w[1])
				}
			}
		}
		wantEmpty := ""
		if generic {
			wantEmpty = botEmptyUA
		}
		if share, _ := classify(t, f); share != wantEmpty {
			t.Errorf("generic=%v, no User-Agent: %q, want %q", generic, share, wantEmpty)
		}
	}
}

// A browser's prefetch or prerender is not a view, whatever its User-Agent.
func TestBotFilterPrefetch(t *testing.T) {
	f := newBotFilter(BotOptions{})
	chrome := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	for _, h := range [][2]string{
		{"Sec-Purpose", "prefetch"},
		{"Sec-Purpose", "prefetch;prerender"},
		{"Purpose", "prefetch"},
		{"X-Moz", "prefetch"},
		{"X-Purpose", "preview"},
	} {
		share, pixel := classify(t, f, "User-Agent", chrome, h[0], h[1])
		if share != botPrefetch || pixel != botPrefetch {
			t.Errorf("%s: %s: share %q pixel %q, want prefetch", h[0], h[1], share, pixel)
		}
	}
	if share, _ := classify(t, f, "User-Agent", chrome, "Sec-Fetch-Mode", "navigate"); share != "" {
		t.Errorf("a navigation: %q", share)
	}
}

func TestIsGenericClient(t *testing.T) {
	for ua, want := range map[string]bool{
		"curl/8.5.0": true, "Go-http-client/2.0": true, "python-requests/2.31": true, "Java/17.0.2": true,
		"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)": false,
		"Mozilla/5.0 curl": false, "": false,
	} {
		if got := isGenericClient(ua); got != want {
			t.Errorf("%q: %v, want %v", ua, got, want)
		}
	}
}

// The crawler list is one large regular expression run on a public
// request's User-Agent; this measures its cost for a browser (no match:
// the whole expression is tried) and for a crawler, uncached (the list
// itself) and cached (a User-Agent seen before).
func BenchmarkBotFilterUserAgent(b *testing.B) {
	f := newBotFilter(BotOptions{})
	for name, ua := range map[string]string{
		"browser": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"slack":   "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
	} {
		b.Run(name+"/list", func(b *testing.B) {
			for b.Loop() {
				f.list.IsCrawler(ua)
			}
		})
		b.Run(name+"/cached", func(b *testing.B) {
			for b.Loop() {
				f.userAgent(ua)
			}
		})
	}
}
