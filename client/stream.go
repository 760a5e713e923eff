package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Stream follows one item's server-sent event stream and yields its typed
// updates: first the current summary, then one per live update. When the
// server ends the connection (its lifetime, a restart, a slow-client
// reset) the stream reconnects with Last-Event-ID after the server's retry
// delay; it ends when its context ends or on an error answer other than
// 429 and 5xx. It has no goroutine of its own: Next reads the connection.
type Stream[T any] struct {
	c      *Client
	ctx    context.Context
	path   string
	res    *http.Response
	rd     *bufio.Reader
	lastID string
	retry  time.Duration
}

// StreamRender opens GET /v1/renders/:id/engagement/stream (secret key).
// The first connection is made here, so a bad key or id is an *Error now.
func (c *Client) StreamRender(ctx context.Context, renderID string) (*Stream[RenderUpdate], error) {
	return openStream[RenderUpdate](ctx, c, "/v1/renders/"+url.PathEscape(renderID)+"/engagement/stream")
}

// StreamContent opens GET /v1/contents/:id/engagement/stream (secret key).
func (c *Client) StreamContent(ctx context.Context, contentID string) (*Stream[ContentUpdate], error) {
	return openStream[ContentUpdate](ctx, c, "/v1/contents/"+url.PathEscape(contentID)+"/engagement/stream")
}

func openStream[T any](ctx context.Context, c *Client, path string) (*Stream[T], error) {
	s := &Stream[T]{c: c, ctx: ctx, path: path, retry: time.Second}
	if err := s.connect(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Stream[T]) connect() error {
	req, err := s.c.request(s.ctx, http.MethodGet, s.path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if s.lastID != "" {
		req.Header.Set("Last-Event-ID", s.lastID)
	}
	res, err := s.c.stream.Do(req)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		return decodeError(res, b)
	}
	s.res, s.rd = res, bufio.NewReader(res.Body)
	return nil
}

// Next blocks until the next update and returns it. It returns the
// context's error once the context ends, or an *Error when a reconnection
// was refused for good (401, 403, 404).
func (s *Stream[T]) Next() (T, error) {
	var zero T
	for {
		if err := s.ctx.Err(); err != nil {
			s.Close()
			return zero, err
		}
		if s.rd == nil {
			err := s.connect()
			var ae *Error
			if errors.As(err, &ae) && !retryable(ae.Status) {
				return zero, err
			}
			if err != nil {
				sleep(s.ctx, retryWait(ae, s.retry))
				continue
			}
		}
		data, err := s.readEvent()
		if err != nil { // the connection ended: reconnect
			s.Close()
			continue
		}
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return zero, err
		}
		return v, nil
	}
}

// readEvent reads lines up to the end of the next event that has data,
// noting id and retry; comments (heartbeats) are skipped.
func (s *Stream[T]) readEvent() ([]byte, error) {
	var data []byte
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if data != nil {
				return data, nil
			}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, value...)
		case "id":
			s.lastID = value
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil && ms >= 0 {
				s.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

// Close ends the current connection. Next reconnects unless the stream's
// context has ended; cancel the context to stop for good.
func (s *Stream[T]) Close() {
	if s.res != nil {
		s.res.Body.Close()
		s.res, s.rd = nil, nil
	}
}
