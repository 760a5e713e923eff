// Package smtptest runs a small SMTP receiver on 127.0.0.1 for tests: it
// speaks enough of RFC 5321 (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
// for net/smtp, keeps what it received, and can be told to refuse.
package smtptest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte // as received, dot-unstuffed, CRLF line ends
}

// Server is a running receiver. Its methods are safe for concurrent use.
type Server struct {
	Addr string // host:port

	ln net.Listener
	wg sync.WaitGroup // accept loop and connections

	mu       sync.Mutex // guards the fields below
	msgs     []Message
	rcptFail string // reply to RCPT instead of 250, if set
	dataFail string // reply after DATA's end instead of 250, if set
	conns    map[net.Conn]struct{}
	closed   bool
}

// Start starts a receiver on 127.0.0.1:0; it stops when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	tb.Cleanup(s.Close)
	return s
}

// URL is the server's address as an ENGAGED_SMTP_URL.
func (s *Server) URL() string { return "smtp://" + s.Addr }

// RejectRecipients makes RCPT answer reply (e.g. "550 5.1.1 no such user").
// An empty reply accepts again.
func (s *Server) RejectRecipients(reply string) {
	s.mu.Lock()
	s.rcptFail = reply
	s.mu.Unlock()
}

// FailData makes the end of DATA answer reply (e.g. "451 4.3.0 try later").
func (s *Server) FailData(reply string) {
	s.mu.Lock()
	s.dataFail = reply
	s.mu.Unlock()
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Close stops the server, drops its connections and waits for them.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(lines ...string) bool {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		return w.Flush() == nil
	}
	if !reply("220 smtptest ESMTP ready") {
		return
	}
	var cur *Message
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			reply("250-smtptest greets "+arg, "250-8BITMIME", "250 SIZE 10485760")
		case "HELO":
			reply("250 smtptest")
		case "MAIL":
			cur = &Message{From: addr(arg)}
			reply("250 2.1.0 ok")
		case "RCPT":
			if cur == nil {
				reply("503 5.5.1 need MAIL first")
				continue
			}
			s.mu.Lock()
			fail := s.rcptFail
			s.mu.Unlock()
			if fail != "" {
				reply(fail)
				continue
			}
			cur.To = append(cur.To, addr(arg))
			reply("250 2.1.5 ok")
		case "DATA":
			if cur == nil || len(cur.To) == 0 {
				reply("503 5.5.1 need RCPT first")
				continue
			}
			reply("354 end with <CRLF>.<CRLF>")
			var data bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				l = strings.TrimPrefix(l, ".") // dot-unstuffing (RFC 5321 4.5.2)
				data.WriteString(l)
			}
			cur.Data = data.Bytes()
			s.mu.Lock()
			fail := s.dataFail
			if fail == "" {
				s.msgs = append(s.msgs, *cur)
			}
			s.mu.Unlock()
			cur = nil
			if fail != "" {
				reply(fail)
				continue
			}
			reply("250 2.0.0 queued")
		case "RSET":
			cur = nil
			reply("250 2.0.0 ok")
		case "NOOP":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply(fmt.Sprintf("502 5.5.2 %s not implemented", verb))
		}
	}
}

// addr extracts the address from "FROM:<a@b> SIZE=…" or "TO:<a@b>".
func addr(arg string) string {
	if i := strings.IndexByte(arg, '<'); i >= 0 {
		if j := strings.IndexByte(arg[i:], '>'); j > 0 {
			return arg[i+1 : i+j]
		}
	}
	_, v, _ := strings.Cut(arg, ":")
	return strings.TrimSpace(v)
}
