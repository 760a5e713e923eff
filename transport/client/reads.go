package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// do makes one request with the key and decodes a 2xx JSON answer into out
// (when not nil), or returns the error envelope as an *Error.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		return apiError(res, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("engaged: %s %s: bad answer: %w", method, path, err)
	}
	return nil
}

// apiError decodes the error envelope of a non-2xx answer.
func apiError(res *http.Response, b []byte) *Error {
	var env struct {
		Error struct {
			Code    string  `json:"code"`
			Message string  `json:"message"`
			Issues  *Issues `json:"issues"`
		} `json:"error"`
		Meta Meta `json:"meta"`
	}
	e := &Error{Status: res.StatusCode, RetryAfter: retryAfter(res.Header)}
	if json.Unmarshal(b, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message, e.Issues, e.RequestID = env.Error.Code, env.Error.Message, env.Error.Issues, env.Meta.RequestID
	} else {
		e.Code, e.Message = "http_"+fmt.Sprint(res.StatusCode), string(bytes.TrimSpace(b))
	}
	return e
}

// RenderEngagement reads GET /v1/renders/:id/engagement (secret key).
func (c *Client) RenderEngagement(ctx context.Context, renderID string) (RenderSummary, error) {
	var s RenderSummary
	err := c.do(ctx, http.MethodGet, "/v1/renders/"+url.PathEscape(renderID)+"/engagement", nil, &s)
	return s, err
}

// ContentEngagement reads GET /v1/contents/:id/engagement (secret key).
func (c *Client) ContentEngagement(ctx context.Context, contentID string) (ContentSummary, error) {
	var env struct {
		Data ContentSummary `json:"data"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/contents/"+url.PathEscape(contentID)+"/engagement", nil, &env)
	return env.Data, err
}

// RecordRenderEvent records a partner event, POST /v1/renders/:id/events
// (secret key): eventType viewed, downloaded or printed, metadata a JSON
// object or nil. It reports whether the event was recorded (false: the
// 5-minute dedupe dropped it). It does not retry: a 503 comes back as an
// *Error with RetryAfter for the caller to decide (the route has no event
// id; a resend within 5 minutes is deduped by type and source address).
func (c *Client) RecordRenderEvent(ctx context.Context, renderID, eventType string, metadata any) (bool, error) {
	b, err := json.Marshal(struct {
		EventType string `json:"eventType"`
		Metadata  any    `json:"metadata,omitempty"`
	}{eventType, metadata})
	if err != nil {
		return false, err
	}
	var out struct {
		Recorded bool `json:"recorded"`
	}
	err = c.do(ctx, http.MethodPost, "/v1/renders/"+url.PathEscape(renderID)+"/events", bytes.NewReader(b), &out)
	return out.Recorded, err
}
