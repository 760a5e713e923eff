package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/gif"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/transport/mail/smtptest"
)

// The tests of share links, the public share page, e-mail, the tracking
// pixel and the internal subject, through the real routes of a real
// service (JetStream embedded, a throwaway Postgres, an in-process SMTP
// receiver).

const docURL = "https://files.example.test/r/doc.pdf"

// shareTenant is a project with a secret key and a render that has a
// document URL.
func shareTenant(t *testing.T, e env) tenant {
	t.Helper()
	p := adminJSON(t, e, "project", "create", "--name", "shares")["id"].(string)
	k := adminJSON(t, e, "key", "create", "--project", p)
	r := adminJSON(t, e, "render", "create", "--project", p, "--document-url", docURL)
	if r["documentUrl"] != docURL {
		t.Fatalf("render create printed %v", r)
	}
	return tenant{project: p, keyID: k["id"].(string), key: k["key"].(string), render: r["id"].(string)}
}

// noRedirect is a client that reports redirects instead of following them
// (the document host does not exist).
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func doRaw(t *testing.T, method, url, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	checkContract(t, req, []byte(body), res, b) // openapi_test.go
	return response{res.StatusCode, res.Header, b}
}

type shareResp struct {
	ID        string           `json:"id"`
	RenderID  string           `json:"renderId"`
	URL       string           `json:"url"`
	CreatedAt string           `json:"createdAt"`
	RevokedAt *string          `json:"revokedAt"`
	Counts    map[string]int64 `json:"counts"`
	LinkOpens int64            `json:"linkOpens"`
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response %d: %q: %v", r.status, r.body, err)
	}
	return v
}

func (s *service) createShare(t *testing.T, tn tenant) shareResp {
	t.Helper()
	r := do(t, "POST", s.base+"/v1/renders/"+tn.render+"/shares", tn.key, "")
	if r.status != 201 {
		t.Fatalf("create share: %d %s", r.status, r.body)
	}
	return decode[shareResp](t, r)
}

func (s *service) listShares(t *testing.T, tn tenant) map[string]shareResp {
	t.Helper()
	r := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/shares", tn.key, "")
	if r.status != 200 {
		t.Fatalf("list shares: %d %s", r.status, r.body)
	}
	list := decode[struct{ Shares []shareResp }](t, r).Shares
	out := map[string]shareResp{}
	for i, sh := range list {
		out[sh.ID] = sh
		if i > 0 && list[i-1].CreatedAt < sh.CreatedAt {
			t.Fatalf("shares not newest first: %s", r.body)
		}
	}
	return out
}

func (s *service) revoke(t *testing.T, tn tenant, shareID string) shareResp {
	t.Helper()
	r := do(t, "DELETE", s.base+"/v1/renders/"+tn.render+"/shares/"+shareID, tn.key, "")
	if r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	return decode[shareResp](t, r)
}

func (s *service) page(t *testing.T, shareID, suffix string, headers ...string) response {
	t.Helper()
	return doRaw(t, "GET", s.base+"/s/"+shareID+suffix, "", headers...)
}

func (s *service) print(t *testing.T, shareID string, headers ...string) response {
	t.Helper()
	return doRaw(t, "POST", s.base+"/s/"+shareID+"/print", "", headers...)
}

func (s *service) stats(t *testing.T) map[string]map[string]float64 {
	t.Helper()
	r := do(t, "GET", s.admin+"/stats", "", "") // the operator listener
	if r.status != 200 {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	// The numbers of each section (itemSet.loaded is a bool).
	out := map[string]map[string]float64{}
	for section, m := range decode[map[string]map[string]any](t, r) {
		out[section] = map[string]float64{}
		for k, v := range m {
			if f, ok := v.(float64); ok {
				out[section][k] = f
			}
		}
	}
	return out
}

// counts returns the seven counters of tn.
func (s *service) counts(t *testing.T, tn tenant) map[string]int64 {
	t.Helper()
	return s.engagement(t, tn).Counts
}

func wantCounts(t *testing.T, got map[string]int64, want map[string]int64) {
	t.Helper()
	for _, k := range []string{"viewed", "downloaded", "printed", "email_opened", "email_sent", "share_created", "share_revoked"} {
		if got[k] != want[k] {
			t.Fatalf("counts = %v, want %v", got, want)
		}
	}
}

func TestShareLinksAndPublicPage(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_PUBLIC_URL", "https://docs.example.test/")
	s := startService(t, e)
	tn := shareTenant(t, e)
	other := shareTenant(t, e)

	sh := s.createShare(t, tn)
	if len(sh.ID) != 36 || sh.ID[14] != '7' || sh.URL != "https://docs.example.test/s/"+sh.ID || sh.RenderID != tn.render ||
		sh.RevokedAt != nil || sh.Counts["share_created"] != 1 {
		t.Fatalf("created share = %+v (want a UUIDv7 and its public URL)", sh)
	}
	sum := s.engagement(t, tn)
	if sum.Counts["share_created"] != 1 || sum.Recent[0].ActorKind != "system" || sum.Recent[0].ShareID == nil || *sum.Recent[0].ShareID != sh.ID ||
		sum.Recent[0].SourceIP != nil {
		t.Fatalf("share_created event: %+v", sum.Recent[0])
	}

	// The viewer page records viewed, once per (share, type, IP) in 5 minutes.
	ua := []string{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", "X-Forwarded-For", "203.0.113.7"}
	r := s.page(t, sh.ID, "", ua...)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(r.body), `src="`+docURL+`"`) || !strings.Contains(string(r.body), `/s/`+sh.ID+`/download`) ||
		!strings.Contains(string(r.body), `/s/`+sh.ID+`/print`) {
		t.Fatalf("viewer page: %d %s", r.status, r.body)
	}
	for h, want := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if r.header.Get(h) != want {
			t.Fatalf("viewer page %s = %q", h, r.header.Get(h))
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'nonce-") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("CSP %q", csp)
	}
	sum = s.engagement(t, tn)
	v := sum.Recent[0]
	if sum.Counts["viewed"] != 1 || sum.LinkOpens != 1 || v.EventType != "viewed" || v.ActorKind != "recipient" || *v.ShareID != sh.ID ||
		*v.SourceIP != "203.0.113.7" || *v.UserAgent != ua[1] || v.Metadata != nil && string(v.Metadata) != "null" {
		t.Fatalf("viewed event: %+v (counts %v, linkOpens %d)", v, sum.Counts, sum.LinkOpens)
	}
	s.page(t, sh.ID, "", ua...) // same share, type and IP: deduped
	if r := doRaw(t, "HEAD", s.base+"/s/"+sh.ID, ""); r.status != 200 {
		t.Fatalf("HEAD: %d", r.status)
	}
	s.page(t, sh.ID, "", "X-Forwarded-For", "203.0.113.8") // another IP
	sh2 := s.createShare(t, tn)
	s.page(t, sh2.ID, "", ua...) // another share, same IP: counted (dedupe is per share)
	wantCounts(t, s.counts(t, tn), map[string]int64{"viewed": 3, "share_created": 2})

	// Download redirects to the document and is deduped the same way.
	for i := 0; i < 2; i++ {
		r := s.page(t, sh.ID, "/download", ua...)
		if r.status != 302 || r.header.Get("Location") != docURL || r.header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("download: %d %v", r.status, r.header)
		}
	}
	// Print, through the page's button route.
	for i, want := range []bool{true, false} {
		r := s.print(t, sh.ID, ua...)
		if got := recorded(t, r); got != want {
			t.Fatalf("print %d: recorded %v", i, got)
		}
	}
	// A partner view has no shareId: not a link open.
	recorded(t, s.post(t, tn, `{"eventType":"viewed"}`))
	sum = s.engagement(t, tn)
	wantCounts(t, sum.Counts, map[string]int64{"viewed": 4, "downloaded": 1, "printed": 1, "share_created": 2})
	if sum.LinkOpens != 3 {
		t.Fatalf("linkOpens = %d, want 3 (views through a share only)", sum.LinkOpens)
	}

	// Each share has its own counts.
	list := s.listShares(t, tn)
	if len(list) != 2 {
		t.Fatalf("list: %+v", list)
	}
	if c := list[sh.ID]; c.Counts["viewed"] != 2 || c.Counts["downloaded"] != 1 || c.Counts["printed"] != 1 || c.Counts["share_created"] != 1 || c.LinkOpens != 2 || c.URL != sh.URL {
		t.Fatalf("share 1: %+v", c)
	}
	if c := list[sh2.ID]; c.Counts["viewed"] != 1 || c.Counts["downloaded"] != 0 || c.LinkOpens != 1 {
		t.Fatalf("share 2: %+v", c)
	}

	// Revoke: one share_revoked, however often.
	rev := s.revoke(t, tn, sh.ID)
	if rev.RevokedAt == nil || rev.Counts["share_revoked"] != 1 {
		t.Fatalf("revoke: %+v", rev)
	}
	if again := s.revoke(t, tn, sh.ID); *again.RevokedAt != *rev.RevokedAt || again.Counts["share_revoked"] != 1 {
		t.Fatalf("revoke again: %+v", again)
	}
	before := s.engagementJSON(t, tn)
	wantCounts(t, s.counts(t, tn), map[string]int64{"viewed": 4, "downloaded": 1, "printed": 1, "share_created": 2, "share_revoked": 1})

	// A revoked share: 410 everywhere, nothing recorded, from a new IP too.
	fresh := []string{"X-Forwarded-For", "198.51.100.1"}
	for _, suffix := range []string{"", "/download"} {
		if r := s.page(t, sh.ID, suffix, fresh...); r.status != 410 || !strings.Contains(string(r.body), "revoked") {
			t.Fatalf("revoked share%s: %d %s", suffix, r.status, r.body)
		}
	}
	if r := s.print(t, sh.ID, fresh...); r.status != 410 || r.errorCode(t) != "gone" {
		t.Fatalf("print on revoked share: %d %s", r.status, r.body)
	}
	// Unknown, malformed and other-project shares: one and the same 404.
	for _, id := range []string{"01939c2c-0000-7000-8000-000000000000", "nope", strings.ToUpper(sh2.ID) + "x"} {
		if r := s.page(t, id, "", fresh...); r.status != 404 || !strings.Contains(string(r.body), "Link not found") {
			t.Fatalf("unknown share %q: %d %s", id, r.status, r.body)
		}
	}
	if after := s.engagementJSON(t, tn); after != before {
		t.Fatalf("revoked and unknown shares recorded something:\nbefore %s\nafter  %s", before, after)
	}
	// The other share still works.
	if r := s.page(t, sh2.ID, "", fresh...); r.status != 200 {
		t.Fatalf("live share after revoking another: %d", r.status)
	}

	// Secret routes: another project's share or render is not found.
	for _, tc := range []struct{ method, url string }{
		{"DELETE", s.base + "/v1/renders/" + tn.render + "/shares/01939c2c-0000-7000-8000-000000000000"},
		{"DELETE", s.base + "/v1/renders/" + tn.render + "/shares/not-a-uuid"},
		{"POST", s.base + "/v1/renders/" + other.render + "/shares"},
		{"GET", s.base + "/v1/renders/" + other.render + "/shares"},
	} {
		if r := do(t, tc.method, tc.url, tn.key, ""); r.status != 404 || r.errorCode(t) != "not_found" {
			t.Fatalf("%s %s: %d %s", tc.method, tc.url, r.status, r.body)
		}
	}
	osh := s.createShare(t, other)
	if r := do(t, "DELETE", s.base+"/v1/renders/"+tn.render+"/shares/"+osh.ID, tn.key, ""); r.status != 404 {
		t.Fatalf("revoking another render's share: %d", r.status)
	}
	if r := do(t, "POST", s.base+"/v1/renders/"+tn.render+"/shares", tn.key, `{"metadata":[1]}`); r.status != 400 || r.errorCode(t) != "invalid_request" {
		t.Fatalf("bad share body: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/shares", "", ""); r.status != 401 {
		t.Fatalf("shares without a key: %d", r.status)
	}

	// A render without a document: the page says so; download records nothing.
	bare := newTenant(t, e)
	bsh := s.createShare(t, bare)
	if r := s.page(t, bsh.ID, ""); r.status != 200 || !strings.Contains(string(r.body), "Not available yet") || strings.Contains(string(r.body), "/download") {
		t.Fatalf("page without document: %d %s", r.status, r.body)
	}
	if r := s.page(t, bsh.ID, "/download"); r.status != 404 {
		t.Fatalf("download without document: %d", r.status)
	}
	wantCounts(t, s.counts(t, bare), map[string]int64{"viewed": 1, "share_created": 1})

	// A deleted project's share looks exactly like an unknown one.
	adminJSON(t, e, "project", "delete", other.project)
	if r := s.page(t, osh.ID, "", fresh...); r.status != 404 {
		t.Fatalf("share of a deleted project: %d", r.status)
	}

	// Per-share counts and the revocation survive a restart.
	s.stop()
	s2 := startService(t, e)
	if got := s2.listShares(t, tn); got[sh.ID].Counts["viewed"] != 2 || got[sh.ID].RevokedAt == nil || got[sh2.ID].Counts["viewed"] != 2 {
		t.Fatalf("after restart: %+v", got)
	}
	if again := s2.revoke(t, tn, sh.ID); again.Counts["share_revoked"] != 1 {
		t.Fatalf("revoke after restart: %+v", again)
	}
	if r := s2.page(t, sh.ID, "", fresh...); r.status != 410 {
		t.Fatalf("revoked share after restart: %d", r.status)
	}
}

// A crash between the database update and the publish, or between the
// publish and noting it, still ends with exactly one share_revoked.
func TestRevokeOnceAcrossCrashes(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := shareTenant(t, e)
	ctx := context.Background()
	db, err := pgx.Connect(ctx, e["ENGAGED_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)

	// Crashed before the publish: revoked in the database, no event.
	a := s.createShare(t, tn)
	if _, err := db.Exec(ctx, `UPDATE shares SET revoked_at = now() WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	if r := s.page(t, a.ID, ""); r.status != 410 {
		t.Fatalf("revoked in the database only: %d", r.status)
	}
	if got := s.counts(t, tn)["share_revoked"]; got != 0 {
		t.Fatalf("share_revoked = %d before the retry", got)
	}
	s.revoke(t, tn, a.ID) // the client's retry publishes it
	if got := s.counts(t, tn)["share_revoked"]; got != 1 {
		t.Fatalf("share_revoked = %d after the retry, want 1", got)
	}

	// Crashed after the publish, before noting it: the retry publishes the
	// same message again, and it is not a second event.
	b := s.createShare(t, tn)
	s.revoke(t, tn, b.ID)
	if _, err := db.Exec(ctx, `UPDATE shares SET revoke_recorded_at = NULL WHERE id = $1`, b.ID); err != nil {
		t.Fatal(err)
	}
	if again := s.revoke(t, tn, b.ID); again.Counts["share_revoked"] != 1 {
		t.Fatalf("revoke retried after a crash: %+v", again)
	}
	if got := s.counts(t, tn)["share_revoked"]; got != 2 {
		t.Fatalf("share_revoked = %d, want 2 (one per share)", got)
	}
}

// sentMail is one message the SMTP receiver got, decoded.
type sentMail struct {
	from, to, subject, text, html string
}

func decodeMail(t *testing.T, m smtptest.Message) sentMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("message: %v\n%s", err, m.Data)
	}
	out := sentMail{from: m.From, to: strings.Join(m.To, ","), subject: msg.Header.Get("Subject")}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // quoted-printable is decoded by the reader
		switch {
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain"):
			out.text = string(b)
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/html"):
			out.html = string(b)
		}
	}
	return out
}

type emailResp struct {
	ID, RenderID, ShareID, ShareURL, To, PixelURL, SentAt string
}

func (s *service) email(t *testing.T, tn tenant, body string) emailResp {
	t.Helper()
	r := do(t, "POST", s.base+"/v1/renders/"+tn.render+"/emails", tn.key, body)
	if r.status != 201 {
		t.Fatalf("email: %d %s", r.status, r.body)
	}
	return decode[emailResp](t, r)
}

// pixel fetches a pixel URL from this service (its host is the public URL's).
func (s *service) pixel(t *testing.T, pixelURL string, headers ...string) response {
	t.Helper()
	u, err := url.Parse(pixelURL)
	if err != nil {
		t.Fatal(err)
	}
	r := doRaw(t, "GET", s.base+u.Path, "", headers...)
	img, err := gif.Decode(bytes.NewReader(r.body))
	if err != nil || img.Bounds().Dx() != 1 || img.Bounds().Dy() != 1 || r.header.Get("Content-Type") != "image/gif" {
		t.Fatalf("pixel %s: %d, not a 1x1 GIF (%v)", u.Path, r.status, err)
	}
	if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") || !strings.Contains(cc, "no-cache") {
		t.Fatalf("pixel Cache-Control %q", cc)
	}
	return r
}

func TestEmailAndTrackingPixel(t *testing.T) {
	smtp := smtptest.Start(t)
	e := newEnv(t).with("ENGAGED_SMTP_URL", smtp.URL(), "ENGAGED_MAIL_FROM", "Docs <docs@example.test>",
		"ENGAGED_PUBLIC_URL", "https://docs.example.test", "ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := shareTenant(t, e)

	m := s.email(t, tn, `{"to":"Ada Lovelace <ada@example.com>"}`)
	if len(m.ID) != 36 || m.To != "ada@example.com" || m.ShareURL != "https://docs.example.test/s/"+m.ShareID ||
		!strings.HasPrefix(m.PixelURL, "https://docs.example.test/p/") || m.SentAt == "" {
		t.Fatalf("email answer: %+v", m)
	}
	// The pixel URL names no id in the clear.
	for _, id := range []string{m.ID, m.ShareID, tn.render, tn.project, strings.ReplaceAll(m.ID, "-", "")} {
		if strings.Contains(m.PixelURL, id) {
			t.Fatalf("pixel URL %s contains the id %s", m.PixelURL, id)
		}
	}
	msgs := smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages received", len(msgs))
	}
	got := decodeMail(t, msgs[0])
	if got.from != "docs@example.test" || got.to != "ada@example.com" || got.subject == "" ||
		!strings.Contains(got.text, m.ShareURL) || !strings.Contains(got.html, `src="`+m.PixelURL+`"`) || !strings.Contains(got.html, m.ShareURL) {
		t.Fatalf("sent mail: %+v", got)
	}
	// No shareId: the e-mail minted its own share.
	sum := s.engagement(t, tn)
	wantCounts(t, sum.Counts, map[string]int64{"email_sent": 1, "share_created": 1})
	sent := sum.Recent[0]
	if sent.EventType != "email_sent" || sent.ActorKind != "system" || *sent.ShareID != m.ShareID ||
		string(sent.Metadata) != fmt.Sprintf(`{"messageId":"%s","to":"ada@example.com"}`, m.ID) {
		t.Fatalf("email_sent event: %+v %s", sent, sent.Metadata)
	}

	// Opening the e-mail loads the pixel.
	if r := s.pixel(t, m.PixelURL, "User-Agent", "Mozilla/5.0 (Windows NT 10.0) Thunderbird/128.0", "X-Forwarded-For", "203.0.113.9"); r.status != 200 {
		t.Fatalf("pixel: %d", r.status)
	}
	sum = s.engagement(t, tn)
	o := sum.Recent[0]
	if sum.Counts["email_opened"] != 1 || o.EventType != "email_opened" || o.ActorKind != "recipient" || *o.ShareID != m.ShareID ||
		*o.SourceIP != "203.0.113.9" || string(o.Metadata) != fmt.Sprintf(`{"messageId":"%s"}`, m.ID) {
		t.Fatalf("email_opened event: %+v %s", o, o.Metadata)
	}

	// Tampered and made-up tokens: the same GIF, nothing recorded.
	before := s.engagementJSON(t, tn)
	path := strings.TrimSuffix(m.PixelURL[strings.LastIndex(m.PixelURL, "/")+1:], ".gif")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tok := range []string{flip(path, 0), flip(path, 30), flip(path, len(path)-1), path[:len(path)-1], path + "A", "x", strings.Repeat("A", len(path))} {
		if r := s.pixel(t, "https://docs.example.test/p/"+tok+".gif"); r.status != 200 {
			t.Fatalf("tampered token %q: %d", tok, r.status)
		}
	}
	if after := s.engagementJSON(t, tn); after != before {
		t.Fatalf("a tampered pixel token recorded something")
	}
	if n := s.stats(t)["public"]["pixelsInvalid"]; n < 7 {
		t.Fatalf("pixelsInvalid = %v", n)
	}

	// Mail privacy proxies: counted, flagged.
	for _, tc := range []struct{ ua, ip, proxy, signal string }{
		{"Mozilla/5.0", "203.0.113.10", "apple_mail_privacy_protection", "user_agent"},
		{"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "66.249.84.1", "gmail_image_proxy", "user_agent"},
		{"Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15", "17.58.0.10", "apple_mail_privacy_protection", "ip"},
	} {
		s.pixel(t, m.PixelURL, "User-Agent", tc.ua, "X-Forwarded-For", tc.ip)
		o := s.engagement(t, tn).Recent[0]
		var md map[string]string
		json.Unmarshal(o.Metadata, &md)
		if o.EventType != "email_opened" || md["privacyProxy"] != tc.proxy || md["proxySignal"] != tc.signal || md["messageId"] != m.ID {
			t.Fatalf("open via %q: %+v %s", tc.ua, o, o.Metadata)
		}
	}

	// An existing share: no new share, one more email_sent.
	sh := s.createShare(t, tn)
	m2 := s.email(t, tn, fmt.Sprintf(`{"to":"bob@example.com","shareId":"%s"}`, strings.ToUpper(sh.ID)))
	if m2.ShareID != sh.ID {
		t.Fatalf("email with shareId: %+v", m2)
	}
	wantCounts(t, s.counts(t, tn), map[string]int64{"email_sent": 2, "share_created": 2, "email_opened": 4})
	s.pixel(t, m2.PixelURL)
	if c := s.listShares(t, tn)[sh.ID]; c.Counts["email_sent"] != 1 || c.Counts["email_opened"] != 1 {
		t.Fatalf("share's own e-mail counts: %+v", c)
	}

	// Bad requests change nothing and send nothing.
	s.revoke(t, tn, sh.ID)
	before = s.engagementJSON(t, tn)
	for _, tc := range []struct{ body, field string }{
		{`{}`, "to"},
		{`{"to":7}`, "to"},
		{`{"to":"not an address"}`, "to"},
		{`{"to":"a@b.example\r\nBcc: c@d.example"}`, "to"},
		{`{"to":"` + strings.Repeat("a", 250) + `@example.com"}`, "to"},
		{`{"to":"a@example.com","shareId":"nope"}`, "shareId"},
		{`{"to":"a@example.com","shareId":"01939c2c-0000-7000-8000-000000000000"}`, "shareId"},
		{`{"to":"a@example.com","shareId":"` + sh.ID + `"}`, "shareId"}, // revoked
	} {
		r := do(t, "POST", s.base+"/v1/renders/"+tn.render+"/emails", tn.key, tc.body)
		if r.status != 400 || r.errorCode(t) != "invalid_request" || !strings.Contains(string(r.body), `"`+tc.field+`"`) {
			t.Fatalf("%s: %d %s", tc.body, r.status, r.body)
		}
	}
	if r := do(t, "POST", s.base+"/v1/renders/"+tn.render+"/emails", tn.key, `{"to":`); r.status != 400 || r.errorCode(t) != "invalid_json" {
		t.Fatalf("bad json: %d %s", r.status, r.body)
	}
	if after := s.engagementJSON(t, tn); after != before || len(smtp.Messages()) != 2 {
		t.Fatalf("a bad request recorded or sent something (%d messages)", len(smtp.Messages()))
	}
}

func TestEmailSendFailures(t *testing.T) {
	smtp := smtptest.Start(t)
	e := newEnv(t).with("ENGAGED_SMTP_URL", smtp.URL())
	s := startService(t, e)
	tn := shareTenant(t, e)
	post := func() response {
		return do(t, "POST", s.base+"/v1/renders/"+tn.render+"/emails", tn.key, `{"to":"ada@example.com"}`)
	}

	smtp.RejectRecipients("550 5.1.1 no such user")
	r := post()
	if r.status != 502 || r.errorCode(t) != "mail_failed" || !strings.Contains(string(r.body), "550") || r.header.Get("Retry-After") != "" {
		t.Fatalf("rejected recipient: %d %s %v", r.status, r.body, r.header)
	}
	smtp.RejectRecipients("")
	smtp.FailData("451 4.3.0 try again later")
	r = post()
	if r.status != 502 || r.errorCode(t) != "mail_failed" || r.header.Get("Retry-After") == "" {
		t.Fatalf("temporary failure: %d %s %v", r.status, r.body, r.header)
	}
	// Nothing recorded, and the share minted for the failed messages is gone.
	wantCounts(t, s.counts(t, tn), map[string]int64{})
	if list := s.listShares(t, tn); len(list) != 0 {
		t.Fatalf("shares of failed messages were kept: %+v", list)
	}
	if n := s.stats(t)["mail"]["failed"]; n != 2 {
		t.Fatalf("mail failed = %v", n)
	}
	smtp.FailData("")
	s.email(t, tn, `{"to":"ada@example.com"}`)
	wantCounts(t, s.counts(t, tn), map[string]int64{"email_sent": 1, "share_created": 1})
	s.stop()

	// A mail server that cannot be reached.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "smtp://" + ln.Addr().String()
	ln.Close()
	s2 := startService(t, e.with("ENGAGED_SMTP_URL", dead))
	r = do(t, "POST", s2.base+"/v1/renders/"+tn.render+"/emails", tn.key, `{"to":"ada@example.com"}`)
	if r.status != 502 || r.errorCode(t) != "mail_failed" || !strings.Contains(string(r.body), "could not be reached") {
		t.Fatalf("unreachable server: %d %s", r.status, r.body)
	}
	wantCounts(t, s2.counts(t, tn), map[string]int64{"email_sent": 1, "share_created": 1})
}

func TestSystemSubject(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0")
	s := startService(t, e)
	tn := shareTenant(t, e)
	other := shareTenant(t, e)
	nc := s.natsConn(t)
	const subject = "engaged.system.events"
	request := func(body string) map[string]any {
		t.Helper()
		msg, err := nc.Request(subject, []byte(body), 10*time.Second)
		if err != nil {
			t.Fatalf("request %s: %v", body, err)
		}
		var out map[string]any
		if err := json.Unmarshal(msg.Data, &out); err != nil {
			t.Fatalf("reply %q: %v", msg.Data, err)
		}
		return out
	}
	ev := func(id, typ, share string, extra ...string) string {
		b := fmt.Sprintf(`{"id":"%s","projectId":"%s","renderId":"%s","eventType":"%s"`, id, tn.project, tn.render, typ)
		if share != "" {
			b += `,"shareId":"` + share + `"`
		}
		return b + strings.Join(extra, "") + "}"
	}
	const (
		id1   = "0193c2d0-0000-7000-8000-000000000001"
		id2   = "0193c2d0-0000-7000-8000-000000000002"
		id3   = "0193c2d0-0000-7000-8000-000000000003"
		id4   = "0193c2d0-0000-7000-8000-000000000004"
		id5   = "0193c2d0-0000-7000-8000-000000000005"
		share = "0193c2cf-0000-7000-8000-0000000000aa"
	)
	if r := request(ev(id1, "email_sent", "", `,"metadata":{"provider":"ses"}`)); r["ok"] != true || r["recorded"] != true {
		t.Fatalf("valid email_sent: %v", r)
	}
	sum := s.engagement(t, tn)
	if sum.Counts["email_sent"] != 1 || sum.Recent[0].ID != id1 || sum.Recent[0].ActorKind != "system" || string(sum.Recent[0].Metadata) != `{"provider":"ses"}` {
		t.Fatalf("after email_sent: %+v", sum)
	}
	// The publisher's retry with the same id is stored once.
	if r := request(ev(id1, "email_sent", "")); r["ok"] != true || r["duplicate"] != true {
		t.Fatalf("retry: %v", r)
	}
	if r := request(ev(id2, "share_created", share)); r["ok"] != true || r["recorded"] != true {
		t.Fatalf("share_created: %v", r)
	}
	if r := request(ev(id3, "share_revoked", share)); r["recorded"] != true {
		t.Fatalf("share_revoked: %v", r)
	}
	// Another id, same share: revoking twice is not a second event.
	if r := request(ev(id4, "share_revoked", share)); r["ok"] != true || r["recorded"] != false {
		t.Fatalf("second share_revoked: %v", r)
	}
	wantCounts(t, s.counts(t, tn), map[string]int64{"email_sent": 1, "share_created": 1, "share_revoked": 1})

	before := s.engagementJSON(t, tn)
	invalid := []struct{ name, body, code string }{
		{"not json", `{"id":`, "invalid_json"},
		{"not an object", `[1]`, "invalid_request"},
		{"missing id", `{"projectId":"` + tn.project + `","renderId":"` + tn.render + `","eventType":"email_sent"}`, "invalid_request"},
		{"id not a uuid", ev("e-1", "email_sent", ""), "invalid_request"},
		{"recipient type", ev(id5, "viewed", ""), "invalid_request"},
		{"unknown type", ev(id5, "liked", ""), "invalid_request"},
		{"share event without share", ev(id5, "share_created", ""), "invalid_request"},
		{"bad share id", ev(id5, "share_created", "a.b"), "invalid_request"},
		{"unknown field", ev(id5, "email_sent", "", `,"actorKind":"recipient"`), "invalid_request"},
		{"metadata not an object", ev(id5, "email_sent", "", `,"metadata":"x"`), "invalid_request"},
		{"unknown render", strings.Replace(ev(id5, "email_sent", ""), tn.render, "01939c2c-0000-7000-8000-000000000000", 1), "not_found"},
		{"other project's render", strings.Replace(ev(id5, "email_sent", ""), tn.render, other.render, 1), "not_found"},
		{"project id with a subject wildcard", strings.Replace(ev(id5, "email_sent", ""), tn.project, "a.>", 1), "invalid_request"},
	}
	for _, tc := range invalid {
		r := request(tc.body)
		errObj, _ := r["error"].(map[string]any)
		if r["ok"] != false || errObj["code"] != tc.code {
			t.Fatalf("%s: %v", tc.name, r)
		}
	}
	if after := s.engagementJSON(t, tn); after != before {
		t.Fatalf("an invalid message was applied:\nbefore %s\nafter  %s", before, after)
	}
	// Without a reply subject: applied or rejected just the same.
	nc.Publish(subject, []byte(`garbage`))
	nc.Publish(subject, []byte(ev(id5, "email_sent", "")))
	eventually(t, 10*time.Second, func() error {
		st := s.stats(t)["systemEvents"]
		if st["rejected"] != float64(len(invalid)+1) || st["accepted"] != 5 || st["duplicate"] != 1 {
			return fmt.Errorf("systemEvents = %v", st)
		}
		return nil
	})
	wantCounts(t, s.counts(t, tn), map[string]int64{"email_sent": 2, "share_created": 1, "share_revoked": 1})
	if other := s.engagement(t, other); other.Total != 0 {
		t.Fatalf("other project's render changed: %v", other.Counts)
	}
}

func TestPublicRateLimits(t *testing.T) {
	e := newEnv(t).with("ENGAGED_PUBLIC_IP_LIMIT", "3/1h", "ENGAGED_PUBLIC_SHARE_LIMIT", "5/1h", "ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := shareTenant(t, e)
	sh := s.createShare(t, tn)
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }

	// Per client IP: three requests, then 429 with Retry-After.
	for i := 0; i < 3; i++ {
		if r := s.page(t, sh.ID, "", from("203.0.113.1")...); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := s.page(t, sh.ID, "", from("203.0.113.1")...)
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("fourth request from one IP: %d %v", r.status, r.header)
	}
	if r := s.print(t, sh.ID, from("203.0.113.1")...); r.status != 429 || r.errorCode(t) != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("print over the IP limit: %d %s", r.status, r.body)
	}
	// Unknown shares spend the IP's budget too (no free enumeration).
	if r := s.page(t, "01939c2c-0000-7000-8000-000000000000", "", from("203.0.113.1")...); r.status != 429 {
		t.Fatalf("unknown share over the IP limit: %d", r.status)
	}
	// Per share: five requests in all (three were spent above), whatever the IPs.
	for i := 0; i < 2; i++ {
		if r := s.page(t, sh.ID, "/download", from(fmt.Sprintf("198.51.100.%d", i))...); r.status != 302 {
			t.Fatalf("download %d: %d", i, r.status)
		}
	}
	if r := s.page(t, sh.ID, "", from("198.51.100.99")...); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("sixth request on one share: %d", r.status)
	}
	// Another share from a fresh IP is not affected.
	sh2 := s.createShare(t, tn)
	if r := s.page(t, sh2.ID, "", from("192.0.2.1")...); r.status != 200 {
		t.Fatalf("other share: %d", r.status)
	}
	wantCounts(t, s.counts(t, tn), map[string]int64{"viewed": 2, "downloaded": 2, "share_created": 2})

	// The pixel: per IP, except privacy proxies; with the log mailer.
	m := s.email(t, tn, `{"to":"ada@example.com"}`)
	eventually(t, 5*time.Second, func() error {
		if !strings.Contains(s.log.String(), "e-mail not sent (ENGAGED_SMTP_URL is not set)") || !strings.Contains(s.log.String(), m.ShareURL) {
			return fmt.Errorf("the log mailer did not log the message:\n%s", s.log.String())
		}
		return nil
	})
	for i := 0; i < 3; i++ {
		s.pixel(t, m.PixelURL, from("192.0.2.50")...)
	}
	if r := s.pixel(t, m.PixelURL, from("192.0.2.50")...); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("fourth pixel from one IP: %d", r.status)
	}
	if r := s.pixel(t, m.PixelURL, "X-Forwarded-For", "192.0.2.50", "User-Agent", "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"); r.status != 200 {
		t.Fatalf("privacy proxy limited per IP: %d", r.status)
	}
	if got := s.counts(t, tn)["email_opened"]; got != 4 {
		t.Fatalf("email_opened = %d, want 4", got)
	}
	if n := s.stats(t)["public"]["rateLimited"]; n < 5 {
		t.Fatalf("rateLimited = %v", n)
	}
}

// Every counter and every actor kind through its real route.
func TestAllSevenCountersAndActorKinds(t *testing.T) {
	smtp := smtptest.Start(t)
	e := newEnv(t).with("ENGAGED_SMTP_URL", smtp.URL())
	s := startService(t, e)
	tn := shareTenant(t, e)

	sh := s.createShare(t, tn)                                                         // share_created (system)
	s.page(t, sh.ID, "")                                                               // viewed (recipient)
	s.page(t, sh.ID, "/download")                                                      // downloaded (recipient)
	recorded(t, s.print(t, sh.ID))                                                     // printed (recipient)
	recorded(t, s.post(t, tn, `{"eventType":"printed"}`))                              // printed (partner)
	m := s.email(t, tn, fmt.Sprintf(`{"to":"ada@example.com","shareId":"%s"}`, sh.ID)) // email_sent (system)
	s.pixel(t, m.PixelURL)                                                             // email_opened (recipient)
	s.revoke(t, tn, sh.ID)                                                             // share_revoked (system)

	sum := s.engagement(t, tn)
	want := map[string]int64{"viewed": 1, "downloaded": 1, "printed": 2, "email_opened": 1, "email_sent": 1, "share_created": 1, "share_revoked": 1}
	wantCounts(t, sum.Counts, want)
	if sum.Total != 8 || sum.LinkOpens != 1 || len(sum.Recent) != 8 {
		t.Fatalf("summary: %+v", sum)
	}
	kinds := map[string]int{}
	for _, ev := range sum.Recent {
		kinds[ev.ActorKind]++
	}
	if kinds["recipient"] != 4 || kinds["partner"] != 1 || kinds["system"] != 3 {
		t.Fatalf("actor kinds: %v", kinds)
	}
	t.Logf("engagement after every route: %s", s.engagementJSON(t, tn))
}

// The document URL is what the share page embeds and redirects to: only an
// absolute http(s) URL is accepted.
func TestAdminRenderDocumentURL(t *testing.T) {
	e := newEnv(t)
	p := adminJSON(t, e, "project", "create", "--name", "docs")["id"].(string)
	for _, bad := range []string{"javascript:alert(1)", "/relative/doc.pdf", "ftp://files.example.test/doc.pdf", "https://"} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"admin", "render", "create", "--project", p, "--document-url", bad}, e.lookup, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "--document-url") {
			t.Fatalf("--document-url %q: %v, printed %q", bad, err, out.String())
		}
	}
	if r := adminJSON(t, e, "render", "create", "--project", p, "--document-url", docURL); r["documentUrl"] != docURL {
		t.Fatalf("render create: %v", r)
	}
	if list := adminJSON(t, e, "render", "list", "--project", p)["renders"].([]any); len(list) != 1 {
		t.Fatalf("bad URLs created renders: %v", list)
	}
}
