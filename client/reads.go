package client

import (
	"context"
	"net/http"
	"net/url"
)

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
	in := struct {
		EventType string `json:"eventType"`
		Metadata  any    `json:"metadata,omitempty"`
	}{eventType, metadata}
	var out struct {
		Recorded bool `json:"recorded"`
	}
	err := c.do(ctx, http.MethodPost, "/v1/renders/"+url.PathEscape(renderID)+"/events", in, &out)
	return out.Recorded, err
}
