package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// ErasureSubject names the one person an erasure is about: set exactly one
// field (docs/PRIVACY.md, "Erasure").
type ErasureSubject struct {
	UserID   string `json:"userId,omitempty"`
	DeviceID string `json:"deviceId,omitempty"`
	Email    string `json:"email,omitempty"` // a share recipient's address
}

// Erasure is an erasure request and its progress. The identifier itself is
// never shown.
type Erasure struct {
	ID              string     `json:"id"`
	Kind            string     `json:"kind"`   // userId, deviceId or email
	Status          string     `json:"status"` // pending, running, done, failed
	Step            string     `json:"step"`   // while running: log, records, webhooks
	ItemsTotal      int        `json:"itemsTotal"`
	ItemsDone       int        `json:"itemsDone"`
	MessagesDeleted int        `json:"messagesDeleted"`
	Error           *string    `json:"error"`
	CreatedAt       time.Time  `json:"createdAt"`
	FinishedAt      *time.Time `json:"finishedAt"`
}

// Done reports whether the erasure has ended, done or failed.
func (e Erasure) Done() bool { return e.Status == "done" || e.Status == "failed" }

// Erase asks for the erasure of one person's data: POST
// /v1/privacy/erasures, secret key. It answers at once with the pending
// request; Erasure reads its progress.
func (c *Client) Erase(ctx context.Context, s ErasureSubject) (Erasure, error) {
	var out Erasure
	err := c.do(ctx, http.MethodPost, "/v1/privacy/erasures", s, &out)
	return out, err
}

// Erasure reads erasure id: GET /v1/privacy/erasures/:id, secret key.
func (c *Client) Erasure(ctx context.Context, id string) (Erasure, error) {
	var out Erasure
	err := c.do(ctx, http.MethodGet, "/v1/privacy/erasures/"+url.PathEscape(id), nil, &out)
	return out, err
}
