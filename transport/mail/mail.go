// Package mail sends the e-mails of share links: through an SMTP server, or
// to the log when none is configured. The HTTP API composes each Message and
// decides what a failed send means to its client.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// Message is one e-mail with a plain-text and an HTML body.
type Message struct {
	From      string // RFC 5322 address, may have a display name
	To        string // bare address
	Subject   string
	Text      string
	HTML      string
	MessageID string // without angle brackets
	Date      time.Time
}

// Error is a failed send. Temporary reports a 4xx reply or a connection
// problem, which may succeed later; Code is the SMTP reply code, 0 if the
// server was not reached.
type Error struct {
	Temporary bool
	Code      int
	Err       error
}

func (e *Error) Error() string { return "send mail: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Bytes returns the message in RFC 5322 form: multipart/alternative with
// quoted-printable text and HTML parts, CRLF line ends.
func (m *Message) Bytes() ([]byte, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct{ ctype, content string }{{"text/plain; charset=utf-8", m.Text}, {"text/html; charset=utf-8", m.HTML}} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", part.ctype)
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, err
		}
		qw := quotedprintable.NewWriter(pw)
		if _, err := qw.Write([]byte(strings.ReplaceAll(part.content, "\n", "\r\n"))); err != nil {
			return nil, err
		}
		if err := qw.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	hdr := func(k, v string) { out.WriteString(k + ": " + v + "\r\n") }
	hdr("From", m.From)
	hdr("To", m.To)
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", m.Date.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+m.MessageID+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	out.WriteString("\r\n")
	out.Write(body.Bytes())
	return out.Bytes(), nil
}

// SMTPMailer sends through an SMTP server: smtp://host[:587] uses STARTTLS
// when the server offers it, smtps://host[:465] is TLS from the start. A
// user and password in the URL authenticate with PLAIN, which net/smtp
// refuses over an unencrypted connection to anything but localhost.
type SMTPMailer struct {
	addr     string // host:port
	host     string // for TLS verification and PLAIN
	implicit bool   // smtps
	auth     smtp.Auth
	helo     string
}

// NewSMTPMailer parses an ENGAGED_SMTP_URL. helo is the name this service
// gives in EHLO (the public host name).
func NewSMTPMailer(rawURL, helo string) (*SMTPMailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, errors.New("ENGAGED_SMTP_URL: must be smtp://[user:password@]host[:port] or smtps://…")
	}
	m := &SMTPMailer{host: u.Hostname(), implicit: u.Scheme == "smtps", helo: helo}
	port := u.Port()
	if port == "" {
		port = "587"
		if m.implicit {
			port = "465"
		}
	}
	m.addr = net.JoinHostPort(m.host, port)
	if u.User != nil {
		pw, _ := u.User.Password()
		m.auth = smtp.PlainAuth("", u.User.Username(), pw, m.host)
	}
	if m.helo == "" {
		m.helo = "localhost"
	}
	return m, nil
}

// Send runs one SMTP conversation: connect, EHLO, STARTTLS if offered, AUTH
// if configured, MAIL, RCPT, DATA, QUIT. ctx bounds all of it.
func (m *SMTPMailer) Send(ctx context.Context, msg *Message) error {
	from, err := mail.ParseAddress(msg.From)
	if err != nil {
		return &Error{Err: fmt.Errorf("from %q: %w", msg.From, err)}
	}
	data, err := msg.Bytes()
	if err != nil {
		return &Error{Err: err}
	}
	var conn net.Conn
	if m.implicit {
		d := &tls.Dialer{Config: &tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}}
		conn, err = d.DialContext(ctx, "tcp", m.addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", m.addr)
	}
	if err != nil {
		return &Error{Temporary: true, Err: fmt.Errorf("connect %s: %w", m.addr, err)}
	}
	defer conn.Close()
	// net/smtp has no context: a deadline on the connection bounds every
	// read and write, and closing on cancel ends a stuck conversation.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return smtpError("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(m.helo); err != nil {
		return smtpError("EHLO", err)
	}
	if !m.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(&tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}); err != nil {
				return smtpError("STARTTLS", err)
			}
		}
	}
	if m.auth != nil {
		if err := c.Auth(m.auth); err != nil {
			return smtpError("AUTH", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return smtpError("MAIL", err)
	}
	if err := c.Rcpt(msg.To); err != nil {
		return smtpError("RCPT", err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpError("DATA", err)
	}
	if _, err := w.Write(data); err != nil {
		return smtpError("DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpError("DATA", err)
	}
	// The message is accepted once DATA is; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

func smtpError(step string, err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return &Error{Temporary: tp.Code/100 == 4, Code: tp.Code, Err: fmt.Errorf("%s: %d %s", step, tp.Code, tp.Msg)}
	}
	return &Error{Temporary: true, Err: fmt.Errorf("%s: %w", step, err)}
}

// LogMailer writes each message to the log instead of sending it, so that a
// development setup without a mail server works (the links in the log can
// be opened by hand).
type LogMailer struct {
	Logger *slog.Logger
}

// Send logs m.
func (l LogMailer) Send(_ context.Context, m *Message) error {
	l.Logger.Info("e-mail not sent (ENGAGED_SMTP_URL is not set)", "to", m.To, "from", m.From, "subject", m.Subject,
		"message_id", m.MessageID, "text", m.Text)
	return nil
}
