package mail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/engagedhq/engaged/transport/mail/smtptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSMTPMailer(t *testing.T) {
	srv := smtptest.Start(t)
	m, err := NewSMTPMailer(srv.URL(), "docs.example.test")
	if err != nil {
		t.Fatal(err)
	}
	msg := &Message{
		From: "Docs <docs@example.test>", To: "ada@example.com", Subject: "Ein Dokument für Sie",
		Text: "Hello\n.\nA line that is long enough to need a soft line break in quoted-printable, because it has more than 76 characters: https://docs.example.test/s/x",
		HTML: `<p>Hello</p><img src="https://docs.example.test/p/tok.gif">`, MessageID: "m1@docs.example.test", Date: time.Now(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].From != "docs@example.test" || len(got[0].To) != 1 || got[0].To[0] != "ada@example.com" {
		t.Fatalf("received %+v", got)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(got[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	if subj, _ := dec.DecodeHeader(parsed.Header.Get("Subject")); subj != msg.Subject || parsed.Header.Get("Message-Id") != "<m1@docs.example.test>" {
		t.Fatalf("headers %v", parsed.Header)
	}
	_, params, _ := mime.ParseMediaType(parsed.Header.Get("Content-Type"))
	mr := multipart.NewReader(parsed.Body, params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, strings.ReplaceAll(string(b), "\r\n", "\n"))
	}
	if len(parts) != 2 || parts[0] != msg.Text || parts[1] != msg.HTML {
		t.Fatalf("parts %q", parts)
	}

	for _, tc := range []struct {
		name      string
		setup     func()
		temporary bool
		code      int
	}{
		{"recipient refused", func() { srv.RejectRecipients("550 5.1.1 no such user") }, false, 550},
		{"data deferred", func() { srv.RejectRecipients(""); srv.FailData("451 4.3.0 later") }, true, 451},
	} {
		tc.setup()
		err := m.Send(ctx, msg)
		var me *Error
		if !errors.As(err, &me) || me.Temporary != tc.temporary || me.Code != tc.code {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("refused messages were stored: %d", n)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	dead, _ := NewSMTPMailer("smtp://"+addr, "")
	var me *Error
	if err := dead.Send(ctx, msg); !errors.As(err, &me) || !me.Temporary || me.Code != 0 {
		t.Fatalf("unreachable server: %v", err)
	}
	if _, err := NewSMTPMailer("http://x", ""); err == nil {
		t.Fatal("accepted an http URL")
	}
}

func TestLogMailer(t *testing.T) {
	var buf bytes.Buffer
	l := LogMailer{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	if err := l.Send(context.Background(), &Message{To: "ada@example.com", Text: "open https://x.test/s/1"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "ada@example.com") || !strings.Contains(buf.String(), "https://x.test/s/1") {
		t.Fatalf("log: %s", buf.String())
	}
}
