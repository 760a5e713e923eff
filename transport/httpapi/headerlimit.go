package httpapi

import (
	"bytes"
	"errors"
	"net"
	"regexp"

	"github.com/valyala/fasthttp"

	"github.com/engagedhq/engaged/actors"
)

// A request whose request line and headers do not fit in fasthttp's read
// buffer (Options.MaxHeaderBytes) never reaches Fiber's router: fasthttp
// gives up reading it with *fasthttp.ErrSmallBuffer, calls the server's
// ErrorHandler, writes that answer with "Connection: close" and closes the
// connection. Fiber's own ErrorHandler turns the error into a bare 431 for
// every case; readErrorHandler decides instead between 414 (the request line
// alone is longer than the buffer) and 431, in the JSON envelope, or as the
// HTML error page for the public share pages.
//
// Whether the client sees the answer depends on the client: fasthttp stops
// reading after the buffer, so a client still sending the rest of a huge
// request may get a connection reset (the peer's TCP stack discards an
// answer that arrives while unread request bytes are pending) instead of
// the 431/414. Nothing reaches the router and nothing is logged as an error.

// lineConn counts the bytes read since the last '\n', so that when the read
// buffer fills, readErrorHandler can tell whether it held a whole request
// line (then the headers are too large) or not (the URL is too long): the
// buffer holds the last ReadBufferSize bytes read, from the start of the
// current request.
type lineConn struct {
	net.Conn
	run   int  // bytes read since the last '\n'; only fasthttp's serving goroutine touches it
	asked bool // any byte read at all
}

func (c *lineConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.asked = c.asked || n > 0
	if i := bytes.LastIndexByte(p[:n], '\n'); i >= 0 {
		c.run = n - i - 1
	} else {
		c.run += n
	}
	return n, err
}

// NetConn returns the wrapped connection (as tls.Conn.NetConn does), for
// code that needs the *net.TCPConn, such as sse's connection reset.
func (c *lineConn) NetConn() net.Conn { return c.Conn }

type lineListener struct{ net.Listener }

func (l lineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lineConn{Conn: c}, nil
}

// publicRequestRE finds a request for a public share page in the start of
// the buffer that fasthttp quotes in ErrSmallBuffer's message. If a later
// fasthttp words it differently, those requests get the JSON envelope,
// which is still a 431/414.
var publicRequestRE = regexp.MustCompile(`contents: "[A-Z]+ /s/`)

// readErrorHandler is fasthttp's ErrorHandler: the answer to a request it
// could not read. Everything but an oversized head goes to Fiber's own
// handler (next), which maps it to a fiber.Error for errorHandler.
func (s *Server) readErrorHandler(next func(*fasthttp.RequestCtx, error)) func(*fasthttp.RequestCtx, error) {
	return func(fctx *fasthttp.RequestCtx, err error) {
		if lc, ok := fctx.Conn().(*lineConn); ok && !lc.asked {
			// A connection that never sent a byte reached its read
			// timeout (an HTTP client's spare connection, dialled and
			// then not needed). fasthttp would answer it anyway, an
			// answer to no request that clients log as unsolicited; close
			// it instead, so that the answer goes nowhere.
			lc.Conn.Close()
			return
		}
		var small *fasthttp.ErrSmallBuffer
		if !errors.As(err, &small) {
			next(fctx, err)
			return
		}
		e := actors.Errorf(actors.EHeadersTooBig, "request headers exceed %d bytes", s.app.Config().ReadBufferSize)
		if lc, ok := fctx.Conn().(*lineConn); ok && lc.run >= s.app.Config().ReadBufferSize {
			e = actors.Errorf(actors.EURITooLong, "request line exceeds %d bytes", s.app.Config().ReadBufferSize)
		}
		c := s.app.AcquireCtx(fctx)
		defer s.app.ReleaseCtx(c)
		if publicRequestRE.MatchString(err.Error()) {
			_ = s.htmlError(c, e)
			return
		}
		_ = errorHandler(s.logger)(c, e)
	}
}
