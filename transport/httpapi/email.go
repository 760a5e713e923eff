package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/mail"
	"github.com/engagedhq/engaged/transport/wire"
)

// Mailer sends one e-mail (mail.SMTPMailer, mail.LogMailer). Send returns
// nil only once the mail server (or the log) has taken the message; a
// *mail.Error says why it did not. Implementations must be safe for
// concurrent use.
type Mailer interface {
	Send(ctx context.Context, m *mail.Message) error
}

// mailTimeout bounds one SMTP conversation. It is longer than a request's
// usual timeout because mail servers are slow to greet (anti-spam delays).
const mailTimeout = 30 * time.Second

// emailJSON is the answer of POST /v1/renders/:id/emails.
type emailJSON struct {
	ID       string      `json:"id"`
	RenderID string      `json:"renderId"`
	ShareID  string      `json:"shareId"`
	ShareURL string      `json:"shareUrl"`
	To       string      `json:"to"`
	PixelURL string      `json:"pixelUrl"`
	SentAt   actors.Time `json:"sentAt"`
}

// postEmail serves POST /v1/renders/:id/emails {"to", "shareId"?}: sends a
// share link by e-mail with a tracking pixel, then records email_sent
// (system) and, if it minted the share, share_created. Without shareId a new
// share is created for the message. If the mail server refuses or cannot be
// reached the answer is 502 mail_failed and nothing is recorded or kept.
func (s *Server) postEmail(c *fiber.Ctx) error {
	st, err := s.store()
	if err != nil {
		return err
	}
	if s.sh.Mailer == nil || len(s.sh.PixelKey) == 0 {
		return errors.New("e-mail is not configured (no mailer or pixel key)")
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.render(ctx, c)
	if err != nil {
		return err
	}
	b, err := body(c, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := wire.DecodeEmail(b)
	if err != nil {
		return err
	}
	to := req.To

	var sh actors.Share
	created := false
	if req.ShareID != "" {
		sh, err = st.GetShare(ctx, k.Project, k.Item, req.ShareID)
		if actors.ErrorCode(err) == actors.ENotFound {
			return wire.FieldError("shareId", "No share with that id on this render")
		}
		if err != nil {
			return err
		}
		if sh.RevokedAt != nil {
			return wire.FieldError("shareId", "The share has been revoked")
		}
	} else {
		if sh, err = st.CreateShare(ctx, k.Project, k.Item); err != nil {
			return err
		}
		created = true
	}
	msgID := uuid.Must(uuid.NewV7())
	undo := func() {
		cctx, ccancel := cleanupCtx(ctx)
		defer ccancel()
		if err := st.DeleteEmailMessage(cctx, msgID.String()); err != nil {
			s.logger.Warn("delete unsent message", "message", msgID.String(), "err", err)
		}
		if created {
			if err := st.DeleteShare(cctx, sh.ID); err != nil {
				s.logger.Warn("delete unsent message's share", "share", sh.ID, "err", err)
			}
		}
	}
	if _, err := st.CreateEmailMessage(ctx, actors.EmailMessage{ID: msgID.String(), ProjectID: k.Project, RenderID: k.Item, ShareID: ptr(sh.ID), Recipient: to}); err != nil {
		undo()
		return err
	}

	out := emailJSON{
		ID: msgID.String(), RenderID: k.Item, ShareID: sh.ID, ShareURL: s.shareURL(sh.ID), To: to,
		PixelURL: s.sh.PublicBaseURL + "/p/" + signPixel(s.sh.PixelKey, msgID) + ".gif",
	}
	m := s.shareMail(out)
	mctx, mcancel := context.WithTimeout(s.baseCtx, mailTimeout)
	err = s.sh.Mailer.Send(mctx, m)
	mcancel()
	if err != nil {
		undo()
		s.sh.stats.mailFailed.Add(1)
		return mailFailed(err)
	}
	s.sh.stats.mailSent.Add(1)

	// The request's context may be spent by a slow mail server; what is
	// left gets a fresh one.
	ctx2, cancel2 := s.requestCtx()
	defer cancel2()
	sentAt, err := st.MarkEmailSent(ctx2, msgID.String())
	if err != nil {
		s.logger.Warn("mark e-mail sent", "message", msgID.String(), "err", err)
		sentAt = s.now()
	}
	out.SentAt = actors.NewTime(sentAt)
	meta, _ := json.Marshal(map[string]string{"messageId": out.ID, "to": to})
	sent := actors.RenderEvent{
		ID: uuid.Must(uuid.NewV7()).String(), EventType: actors.EmailSent, ActorKind: actors.System,
		ShareID: ptr(sh.ID), Metadata: meta, CreatedAt: out.SentAt,
	}
	evs := []actors.RenderEvent{sent}
	if created {
		cmeta, _ := json.Marshal(map[string]string{"messageId": out.ID})
		evs = []actors.RenderEvent{{
			ID: uuid.Must(uuid.NewV7()).String(), EventType: actors.ShareCreated, ActorKind: actors.System,
			ShareID: ptr(sh.ID), Metadata: cmeta, CreatedAt: actors.NewTime(sh.CreatedAt),
		}, sent}
	}
	if _, _, err := s.recordAll(ctx2, k, sent.ID, evs...); err != nil {
		return &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonLog, RetryAfter: time.Second,
			Message: "the e-mail was sent (message " + out.ID + ") but its event could not be stored; sending again sends a second e-mail"}
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

// mailFailed turns a send error into the client's error.
func mailFailed(err error) error {
	var me *mail.Error
	msg := "the mail server could not be reached"
	if errors.As(err, &me) && me.Code != 0 {
		msg = "the mail server refused the message (SMTP " + strconv.Itoa(me.Code) + ")"
	}
	if errors.As(err, &me) && me.Temporary {
		return &actors.Error{Code: actors.EMailFailed, Message: msg + "; this may be temporary, try again later", RetryAfter: 30 * time.Second}
	}
	return actors.Errorf(actors.EMailFailed, "%s", msg)
}

// shareMail composes the e-mail for one share link.
func (s *Server) shareMail(e emailJSON) *mail.Message {
	host := "localhost"
	if u, err := url.Parse(s.sh.PublicBaseURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	text := "Hello,\n\nA document has been shared with you. Open it here:\n\n" + e.ShareURL +
		"\n\nIf you were not expecting this message, you can ignore it.\n"
	link := html.EscapeString(e.ShareURL)
	body := `<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#1f2328">` +
		`<p>Hello,</p><p>A document has been shared with you.</p>` +
		`<p><a href="` + link + `" style="display:inline-block;padding:.5em 1em;background:#1f6feb;color:#fff;border-radius:6px;text-decoration:none">Open the document</a></p>` +
		`<p style="color:#57606a;font-size:13px">Or copy this link: ` + link + `</p>` +
		`<p style="color:#57606a;font-size:13px">If you were not expecting this message, you can ignore it.</p>` +
		`<img src="` + html.EscapeString(e.PixelURL) + `" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">` +
		`</body></html>`
	return &mail.Message{
		From: s.sh.MailFrom, To: e.To, Subject: "A document has been shared with you",
		Text: text, HTML: body, MessageID: e.ID + "@" + host, Date: s.now(),
	}
}

// getPixel serves GET /p/:token (the pixelUrl, …/p/<token>.gif). It always
// answers a 1×1 GIF that no cache keeps. A valid token records email_opened
// (recipient, the message's share), with opens fetched by mail privacy
// proxies flagged in metadata, and robots' fetches (bots.go) counted
// apart; a bad or tampered token, or one whose
// message or project is gone, records nothing and answers exactly like a
// recorded open, so the pixel tells nobody which tokens are real. An open
// that could not be stored answers 503 (429 when rate limited), still
// with the GIF.
func (s *Server) getPixel(c *fiber.Ctx) error {
	status := s.pixelOpen(c)
	c.Set(fiber.HeaderContentType, "image/gif")
	c.Set(fiber.HeaderCacheControl, "no-store, no-cache, must-revalidate, private, max-age=0")
	c.Set(fiber.HeaderPragma, "no-cache")
	c.Set(fiber.HeaderExpires, "0")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.Status(status).Send(pixelGIF)
}

// pixelOpen records the open behind the request, if any, and returns the
// HTTP status to answer with.
func (s *Server) pixelOpen(c *fiber.Ctx) int {
	st, err := s.store()
	if err != nil || len(s.sh.PixelKey) == 0 || c.Method() == fiber.MethodHead {
		return fiber.StatusOK
	}
	id, ok := verifyPixel(s.sh.PixelKey, c.Params("token"))
	if !ok {
		s.sh.stats.pixelsInvalid.Add(1)
		return fiber.StatusOK
	}
	ip := s.sourceIP(c)
	ua := userAgent(c)
	var uaStr string
	if ua != nil {
		uaStr = *ua
	}
	proxy, signal := mailProxy(uaStr, ip)
	bot := s.sh.bots.pixel(c, proxy)
	// A privacy proxy fetches for many recipients from few addresses: it is
	// exempt from the per-IP limit, not from the per-message one.
	limited := func(err error) int {
		setRetryAfter(c, err)
		return fiber.StatusTooManyRequests
	}
	if proxy == "" {
		if err := s.takePublic(s.sh.byIP, ip); err != nil {
			return limited(err)
		}
	}
	if err := s.takePublic(s.sh.byShare, "m:"+id.String()); err != nil {
		return limited(err)
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	m, err := st.PublicEmailMessage(ctx, id.String())
	if actors.ErrorCode(err) == actors.ENotFound {
		return fiber.StatusOK
	}
	if err == nil && (!actors.ValidID(m.ProjectID) || !actors.ValidID(m.RenderID)) {
		err = errors.New("message " + m.ID + " names an invalid item")
	}
	if err != nil {
		s.sh.stats.opensNotRecorded.Add(1)
		s.logger.Warn("pixel lookup", "message", id.String(), "err", err)
		setRetryAfter(c, err)
		return fiber.StatusServiceUnavailable
	}
	if bot != "" {
		// After the lookup, so that a robot's fetch of a forged token is
		// not counted either.
		if err := s.recordBot(ctx, actors.ItemID{Project: m.ProjectID, Item: m.RenderID}, actors.EmailOpened, m.ShareID, bot); err != nil {
			s.sh.stats.opensNotRecorded.Add(1)
			s.logger.Warn("pixel robot not counted", "message", m.ID, "err", err)
			setRetryAfter(c, err)
			return fiber.StatusServiceUnavailable
		}
		return fiber.StatusOK
	}
	md := map[string]string{"messageId": m.ID}
	if proxy != "" {
		md["privacyProxy"], md["proxySignal"] = proxy, signal
	}
	meta, _ := json.Marshal(md)
	kept, ipKey := s.clientIP(c, m.IPCapture)
	ev := actors.RenderEvent{
		ID: uuid.Must(uuid.NewV7()).String(), EventType: actors.EmailOpened, ActorKind: actors.Recipient,
		ShareID: m.ShareID, SourceIP: kept, UserAgent: ua, Metadata: meta, CreatedAt: actors.NewTime(s.now()), IPKey: ipKey,
	}
	if _, err := s.record(ctx, actors.ItemID{Project: m.ProjectID, Item: m.RenderID}, ev); err != nil {
		s.sh.stats.opensNotRecorded.Add(1)
		s.logger.Warn("pixel open not stored", "message", m.ID, "err", err)
		setRetryAfter(c, err)
		return fiber.StatusServiceUnavailable
	}
	return fiber.StatusOK
}
