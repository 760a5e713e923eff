package httpapi

import (
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/x-way/crawlerdetect"
)

// Robots on the public routes. A share link pasted in Slack, Teams or
// Outlook is fetched by link unfurlers and safe-link scanners before any
// person opens it, and browsers prefetch links they expect to be followed;
// counted as viewed, downloaded or email_opened they would inflate the
// owner's most important numbers. Such requests are answered exactly as
// any other, but counted apart (botViews in the engagement summary), never
// as the event.
//
// Crawlers are recognised by crawlerdetect, a Go port of the maintained
// Crawler-Detect pattern list (about 1,400 patterns: Slackbot, Teams'
// SkypeUriPreview, Outlook's BingPreview and Microsoft Office fetchers,
// Googlebot, facebookexternalhit, HeadlessChrome, …), not a pattern of ours.
// Two policies are ours, both documented in docs/PRIVACY.md:
//   - generic HTTP client libraries (curl, Go, Python, …), which the list
//     also flags, keep counting unless BotOptions.GenericClients: a
//     partner's server-side integration uses them;
//   - on the pixel, the mail clients and privacy proxies that load images
//     when a message is opened are the open itself, not a robot.

// BotOptions configures which public requests count as robots.
type BotOptions struct {
	// GenericClients counts generic HTTP client libraries (curl/…,
	// Go-http-client/…, python-requests/…) as robots too
	// (ENGAGED_BOT_GENERIC_CLIENTS).
	GenericClients bool
}

// Why a request was judged a robot: the bounded label of the /stats
// counters and of the log.
const (
	botCrawler  = "crawler"  // the User-Agent is on the crawler list
	botPrefetch = "prefetch" // the browser says it is prefetching, not navigating
	botEmptyUA  = "empty_user_agent"
)

// botFilter decides whether a public request is a robot. Safe for
// concurrent use: crawlerdetect guards its patterns with a lock and only
// reads them.
type botFilter struct {
	list    *crawlerdetect.CrawlerDetect
	generic bool

	// The list is one regular expression of ~1,400 alternatives: tens to
	// hundreds of microseconds a User-Agent (BenchmarkBotFilterUserAgent),
	// while the same few User-Agents make most requests. Verdicts are
	// remembered, bounded.
	mu   sync.Mutex // guards seen
	seen *simplelru.LRU[string, bool]
}

// botVerdicts bounds the remembered User-Agents (~600 B each at most).
const botVerdicts = 4096

func newBotFilter(o BotOptions) *botFilter {
	seen, _ := simplelru.NewLRU[string, bool](botVerdicts, nil) // only fails for a size <= 0
	return &botFilter{list: crawlerdetect.New(), generic: o.GenericClients, seen: seen}
}

// isCrawler is list.IsCrawler through the remembered verdicts.
func (f *botFilter) isCrawler(ua string) bool {
	f.mu.Lock()
	v, ok := f.seen.Get(ua)
	f.mu.Unlock()
	if ok {
		return v
	}
	v = f.list.IsCrawler(ua)
	f.mu.Lock()
	f.seen.Add(strings.Clone(ua), v) // ua may be Fiber's buffer
	f.mu.Unlock()
	return v
}

// genericClients are the first product tokens of generic HTTP client
// libraries, lower case. The crawler list flags them all; without
// BotOptions.GenericClients they count as people. Matched on the first
// token only, so a crawler that mentions a library later in its string
// ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient …)") is still
// a crawler.
var genericClients = map[string]bool{
	"curl": true, "wget": true, "go-http-client": true, "python-requests": true,
	"python-httpx": true, "python-urllib": true, "aiohttp": true, "axios": true,
	"node-fetch": true, "undici": true, "okhttp": true, "apache-httpclient": true,
	"java": true, "guzzlehttp": true, "libwww-perl": true, "httpie": true,
	"postmanruntime": true, "reqwest": true, "restsharp": true, "ruby": true,
	"faraday": true, "dart": true,
}

// isGenericClient reports whether ua's first product token names a generic
// HTTP client library.
func isGenericClient(ua string) bool {
	tok := strings.TrimSpace(ua)
	if i := strings.IndexAny(tok, "/ "); i >= 0 {
		tok = tok[:i]
	}
	return genericClients[strings.ToLower(tok)]
}

// mailClientTokens name mail clients in the User-Agent they load images
// with; the crawler list flags some of them ("Microsoft Outlook",
// "MSOffice") because they also fetch link previews. On the pixel they are
// the reader's own client.
var mailClientTokens = []string{"Microsoft Outlook", "MSOffice", "ms-office", "MacOutlook", "Outlook-iOS", "Outlook-Android"}

// prefetch reports whether the request declares itself a prefetch or
// prerender: Sec-Purpose (Chromium, Firefox), Purpose (older Chromium),
// X-Moz (older Firefox), X-Purpose (Safari's previews).
func prefetch(c *fiber.Ctx) bool {
	for _, h := range [...]string{"Sec-Purpose", "Purpose", "X-Moz", "X-Purpose"} {
		v := strings.ToLower(c.Get(h))
		if strings.Contains(v, "prefetch") || strings.Contains(v, "prerender") || strings.Contains(v, "preview") {
			return true
		}
	}
	return false
}

// share returns why a request for the share page or download is a robot,
// or "" for a person.
func (f *botFilter) share(c *fiber.Ctx) string {
	if prefetch(c) {
		return botPrefetch
	}
	return f.userAgent(c.Get(fiber.HeaderUserAgent))
}

// pixel returns why a pixel request is a robot, or "" for an open. A mail
// privacy proxy (mailProxy) is an open, flagged as one by the caller.
func (f *botFilter) pixel(c *fiber.Ctx, proxy string) string {
	if prefetch(c) {
		return botPrefetch
	}
	if proxy != "" {
		return ""
	}
	ua := c.Get(fiber.HeaderUserAgent)
	for _, t := range mailClientTokens {
		if strings.Contains(ua, t) {
			return ""
		}
	}
	return f.userAgent(ua)
}

func (f *botFilter) userAgent(ua string) string {
	if strings.TrimSpace(ua) == "" {
		// No browser and no mail client sends none; scripts do. Counted
		// like the generic clients, which are scripts too.
		if f.generic {
			return botEmptyUA
		}
		return ""
	}
	if !f.isCrawler(ua) {
		return ""
	}
	if !f.generic && isGenericClient(ua) {
		return ""
	}
	return botCrawler
}
