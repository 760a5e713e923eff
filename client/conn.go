package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// conn is one server and one credential: it makes requests and decodes
// their answers, for Client and Admin alike.
type conn struct {
	base      string // scheme://host[:port][/path], no trailing slash
	key       string // sent as "Authorization: Bearer <key>"
	http      *http.Client
	stream    *http.Client // http without a timeout: a stream lasts as long as its context
	timeout   time.Duration
	userAgent string
}

func newConn(baseURL, key string, opts []Option) (conn, settings, error) {
	s := defaults()
	for _, o := range opts {
		o(&s)
	}
	if err := s.check(); err != nil {
		return conn{}, s, fmt.Errorf("engaged: %w", err)
	}
	base, err := checkBase(baseURL)
	if err != nil {
		return conn{}, s, fmt.Errorf("engaged: %w", err)
	}
	if key == "" || !headerSafe(key) || bytes.ContainsAny([]byte(key), " \t") {
		return conn{}, s, errors.New("engaged: the key is empty or has spaces or control characters")
	}
	hc := s.httpClient
	if hc == nil {
		hc = &http.Client{}
	}
	sc := *hc
	sc.Timeout = 0
	return conn{base: base, key: key, http: hc, stream: &sc, timeout: s.timeout, userAgent: s.userAgent}, s, nil
}

// request builds a request with the key and the user agent.
func (c *conn) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// do makes one request, bounded by the timeout, sending in (when not nil)
// as JSON, and decodes a 2xx JSON answer into out (when not nil), or
// returns the error envelope as an *Error.
func (c *conn) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("engaged: %s %s: encode body: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.request(ctx, method, path, body)
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return decodeError(res, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("engaged: %s %s: bad answer: %w", method, path, err)
	}
	return nil
}
