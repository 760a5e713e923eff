package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// The public side: GET /s/:shareId (viewer page), GET /s/:shareId/download,
// POST /s/:shareId/print. No key: the share id is the capability. An
// unknown share, a malformed id and a share of a deleted project all get the
// same 404 page, so these routes never tell whether a render or a project
// exists; a revoked share gets 410. None of those records anything.

// maxPublicBody bounds the body of the public POST route (it needs none).
const maxPublicBody = 1024

// maxUserAgent bounds the User-Agent stored with a public event: the
// header is the client's to choose, and it ends up in every summary read.
const maxUserAgent = 512

// publicShare applies the public rate limits, then resolves :shareId to a
// live share. Errors are coded: rate_limited, not_found, gone.
func (s *Server) publicShare(ctx context.Context, c *fiber.Ctx) (actors.Share, error) {
	st, err := s.store()
	if err != nil {
		return actors.Share{}, err
	}
	if err := s.takePublic(s.sh.byIP, s.sourceIP(c)); err != nil {
		return actors.Share{}, err
	}
	notFound := actors.Errorf(actors.ENotFound, "no such link")
	id, ok := wire.UUID(c.Params("shareId"))
	if !ok {
		return actors.Share{}, notFound
	}
	if err := s.takePublic(s.sh.byShare, "s:"+id); err != nil {
		return actors.Share{}, err
	}
	sh, err := st.PublicShare(ctx, id)
	if actors.ErrorCode(err) == actors.ENotFound {
		return actors.Share{}, notFound
	}
	if err != nil {
		return actors.Share{}, err
	}
	if sh.RevokedAt != nil {
		return actors.Share{}, actors.Errorf(actors.EGone, "this link has been revoked")
	}
	if !actors.ValidID(sh.ProjectID) || !actors.ValidID(sh.RenderID) {
		return actors.Share{}, errors.New("share " + sh.ID + " names an invalid item")
	}
	return sh, nil
}

// takePublic spends a token of key's bucket in set, or returns rate_limited
// with the wait until the next token. The buckets refill on the real clock,
// not the server's: they measure request rates, not event times.
func (s *Server) takePublic(set *limiterSet, key string) error {
	if d := set.take(key, time.Now()); d > 0 {
		s.sh.stats.rateLimited.Add(1)
		return &actors.Error{Code: actors.ERateLimited, Message: "too many requests", RetryAfter: d}
	}
	return nil
}

// recordRecipient records a recipient event through share sh, with as much
// of the client address as its project keeps.
func (s *Server) recordRecipient(ctx context.Context, c *fiber.Ctx, sh actors.Share, typ actors.EventType, metadata []byte) (bool, error) {
	ip, ipKey := s.clientIP(c, sh.IPCapture)
	ev := actors.RenderEvent{
		ID:        uuid.Must(uuid.NewV7()).String(),
		EventType: typ,
		ActorKind: actors.Recipient,
		ShareID:   ptr(sh.ID),
		SourceIP:  ip,
		UserAgent: userAgent(c),
		Metadata:  metadata,
		CreatedAt: actors.NewTime(s.now()),
		IPKey:     ipKey,
	}
	return s.record(ctx, actors.ItemID{Project: sh.ProjectID, Item: sh.RenderID}, ev)
}

// recordPublic records typ through share sh for a person; for a robot
// (bot, from botFilter, not empty) it records a robot's event instead,
// which the render counts in botViews only.
func (s *Server) recordPublic(ctx context.Context, c *fiber.Ctx, sh actors.Share, typ actors.EventType, bot string) error {
	if bot != "" {
		return s.recordBot(ctx, actors.ItemID{Project: sh.ProjectID, Item: sh.RenderID}, typ, &sh.ID, bot)
	}
	_, err := s.recordRecipient(ctx, c, sh, typ, nil)
	return err
}

// recordBot publishes a robot's request for item k as an event marked Bot:
// the actor counts it in botViews and nowhere else. It carries no address
// and no User-Agent: nothing about a robot is shown.
func (s *Server) recordBot(ctx context.Context, k actors.ItemID, typ actors.EventType, shareID *string, reason string) error {
	s.countBot(reason)
	ev := actors.RenderEvent{
		ID: uuid.Must(uuid.NewV7()).String(), EventType: typ, ActorKind: actors.Recipient,
		ShareID: shareID, CreatedAt: actors.NewTime(s.now()), Bot: true,
	}
	_, err := s.record(ctx, k, ev)
	return err
}

// countBot counts a public request served to a robot, by reason.
func (s *Server) countBot(reason string) {
	switch reason {
	case botCrawler:
		s.sh.stats.botsCrawler.Add(1)
	case botPrefetch:
		s.sh.stats.botsPrefetch.Add(1)
	case botEmptyUA:
		s.sh.stats.botsEmptyUA.Add(1)
	}
}

// userAgent returns the request's User-Agent cut to maxUserAgent bytes of
// valid UTF-8, as a copy, or nil if there is none.
func userAgent(c *fiber.Ctx) *string {
	ua := c.Get(fiber.HeaderUserAgent)
	if ua == "" {
		return nil
	}
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
		for len(ua) > 0 && !utf8.ValidString(ua) {
			ua = ua[:len(ua)-1]
		}
	}
	return ptr(strings.ToValidUTF8(strings.Clone(ua), "\uFFFD"))
}

// getSharePage serves GET /s/:shareId: the viewer page. It records viewed
// (recipient), deduped on (shareId, viewed, sourceIp) for 5 minutes; a HEAD
// request (link previews, uptime checks) records nothing, and a robot's
// request (bots.go) is counted apart.
func (s *Server) getSharePage(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	sh, err := s.publicShare(ctx, c)
	if err != nil {
		return s.htmlError(c, err)
	}
	if c.Method() != fiber.MethodHead {
		if err := s.recordPublic(ctx, c, sh, actors.Viewed, s.sh.bots.share(c)); err != nil {
			return s.htmlError(c, err)
		}
	}
	doc, _ := documentURL(sh)
	base := s.sh.publicPath + "/s/" + sh.ID
	return s.html(c, fiber.StatusOK, viewerPage, &viewerData{DownloadPath: base + "/download", PrintPath: base + "/print", DocumentURL: doc})
}

// getShareDownload serves GET /s/:shareId/download: records downloaded (a
// robot's request is counted apart) and redirects to the render's document URL. A render without one gets a 404
// page and nothing is recorded.
func (s *Server) getShareDownload(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	sh, err := s.publicShare(ctx, c)
	if err != nil {
		return s.htmlError(c, err)
	}
	doc, ok := documentURL(sh)
	if !ok {
		return s.htmlError(c, actors.Errorf(actors.ENotFound, "no document"))
	}
	if c.Method() != fiber.MethodHead {
		if err := s.recordPublic(ctx, c, sh, actors.Downloaded, s.sh.bots.share(c)); err != nil {
			return s.htmlError(c, err)
		}
	}
	publicHeaders(c, "")
	return c.Redirect(doc, fiber.StatusFound)
}

// postSharePrint serves POST /s/:shareId/print, which the viewer page's
// print button calls: records printed and answers {"recorded": bool}.
// Errors use the JSON envelope, since a script reads them.
func (s *Server) postSharePrint(c *fiber.Ctx) error {
	if len(c.Request().Body()) > maxPublicBody {
		return actors.Errorf(actors.ETooLarge, "request body exceeds %d bytes", maxPublicBody)
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	sh, err := s.publicShare(ctx, c)
	if err != nil {
		return err
	}
	recorded, err := s.recordRecipient(ctx, c, sh, actors.Printed, nil)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"recorded": recorded})
}

// documentURL returns the render's document URL if it is an absolute
// http(s) URL; nothing else is ever put in a page or a redirect.
func documentURL(sh actors.Share) (string, bool) {
	if sh.DocumentURL == nil {
		return "", false
	}
	u, err := url.Parse(*sh.DocumentURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return u.String(), true
}

// publicHeaders are set on every public page. The share id in the page's
// URL is a capability, so no Referer may carry it to the document's host;
// nonce, if set, is the one inline script and style the page may run.
func publicHeaders(c *fiber.Ctx, nonce string) {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set("X-Robots-Tag", "noindex, nofollow")
	csp := "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	if nonce != "" {
		csp += "; script-src 'nonce-" + nonce + "'; style-src 'nonce-" + nonce + "'; connect-src 'self'; frame-src http: https:"
	}
	c.Set(fiber.HeaderContentSecurityPolicy, csp)
}

func (s *Server) html(c *fiber.Ctx, status int, t *template.Template, data pageData) error {
	var nb [16]byte
	_, _ = rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	data.setNonce(nonce)
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return err
	}
	publicHeaders(c, nonce)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// htmlError answers err as an HTML page with the status errors.go
// gives its code. Internal errors are logged here and shown as a generic
// page.
func (s *Server) htmlError(c *fiber.Ctx, err error) error {
	c.Locals(localError, err)
	var e *actors.Error
	if !errors.As(err, &e) {
		s.logger.Error("internal error", "method", c.Method(), "path", c.Path(), "request_id", requestID(c), "err", err)
		e = &actors.Error{Code: actors.EInternal}
	}
	d := errorData{Title: "Something went wrong", Message: "Please try again later."}
	switch e.Code {
	case actors.ENotFound:
		d = errorData{Title: "Link not found", Message: "This link does not exist, or the document is not available. Check that you have the whole link."}
	case actors.EGone:
		d = errorData{Title: "Link revoked", Message: "The owner of this document has revoked this link."}
	case actors.EHeadersTooBig, actors.EURITooLong:
		d = errorData{Title: "Request too large", Message: "This request's address or headers are too long for this server. Check the link, or clear this site's cookies."}
	case actors.ERateLimited, actors.EUnavailable:
		secs := setRetryAfter(c, e)
		d = errorData{Title: "Please wait", Message: "Too many requests or a busy server. Try again in " + strconv.Itoa(secs) + " seconds."}
	}
	return s.html(c, status(e.Code), errorPage, &d)
}

type pageData interface{ setNonce(string) }

type viewerData struct {
	Nonce        string
	DownloadPath string // path-absolute, so a trailing slash in the page URL does not matter
	PrintPath    string
	DocumentURL  string
}

func (d *viewerData) setNonce(n string) { d.Nonce = n }

type errorData struct {
	Nonce, Title, Message string
}

func (d *errorData) setNonce(n string) { d.Nonce = n }

// pageStyle is shared by the viewer and the error pages.
const pageStyle = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa;display:flex;flex-direction:column;min-height:100vh}
header{display:flex;align-items:center;justify-content:space-between;gap:1rem;padding:.75rem 1.25rem;background:#fff;border-bottom:1px solid #d0d7de}
h1{font-size:1.1rem;margin:0;font-weight:600}
nav{display:flex;gap:.5rem}
.btn{font:inherit;font-size:.95rem;padding:.45rem .9rem;border-radius:6px;border:1px solid #d0d7de;background:#fff;color:#1f2328;text-decoration:none;cursor:pointer}
.btn.primary{background:#1f6feb;border-color:#1f6feb;color:#fff}
main{flex:1;display:flex}
iframe{flex:1;border:0;width:100%;min-height:80vh;background:#fff}
.msg{margin:auto;max-width:32rem;padding:2rem;text-align:center}
.msg h1{font-size:1.4rem;margin-bottom:.5rem}
`

var viewerPage = template.Must(template.New("viewer").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow"><title>Shared document</title>
<style nonce="{{.Nonce}}">` + pageStyle + `</style></head>
<body>
<header><h1>Shared document</h1>
<nav>{{if .DocumentURL}}<a class="btn" href="{{.DownloadPath}}" rel="noreferrer">Download</a>{{end}}
<button class="btn primary" id="print" type="button" data-print="{{.PrintPath}}">Print</button></nav></header>
<main>{{if .DocumentURL}}<iframe src="{{.DocumentURL}}" title="Document" referrerpolicy="no-referrer"></iframe>
{{else}}<div class="msg"><h1>Not available yet</h1><p>The document behind this link is not available yet.</p></div>{{end}}</main>
<script nonce="{{.Nonce}}">
document.getElementById("print").addEventListener("click", async (e) => {
  try { await fetch(e.currentTarget.dataset.print, {method: "POST"}); } catch (_) {}
  const f = document.querySelector("iframe");
  try { f.contentWindow.print(); } catch (_) { window.print(); }
});
</script>
</body></html>
`))

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow"><title>{{.Title}}</title>
<style nonce="{{.Nonce}}">` + pageStyle + `</style></head>
<body><main><div class="msg"><h1>{{.Title}}</h1><p>{{.Message}}</p></div></main></body></html>
`))
