package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// deliver sends one batch until the server has answered it for good:
// delivered (received or duplicate), or rejected (reported to OnError and
// dropped). 429, 503, other 5xx and network errors are retried, after
// Retry-After when the server gives one, else after an exponential backoff
// with full jitter. It reports true only when Close abandoned the batch.
//
// Every attempt sends the same eventIds, so the server counts an event
// once however many attempts reached it.
func (c *Client) deliver(batch []Event) (abandoned bool) {
	for attempt := 0; ; attempt++ {
		reply, err := c.postBatch(batch)
		if err == nil {
			c.reportRejected(batch, reply)
			return false
		}
		var ae *Error
		if errors.As(err, &ae) && !retryable(ae.Status) {
			for _, ev := range batch {
				c.reject(Rejection{Event: ev, Status: ae.Status, Code: ae.Code, Message: ae.Message, Issues: ae.Issues})
			}
			return false
		}
		wait := c.backoff(attempt)
		if ae != nil && ae.RetryAfter > 0 {
			wait = ae.RetryAfter
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.sendCtx.Done():
			t.Stop()
			return true
		}
	}
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// backoff is the wait before retry attempt+1: uniform in [0, MinBackoff·2^attempt],
// capped at MaxBackoff ("full jitter"), so many clients retrying after the
// same outage spread out instead of arriving together.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.MaxBackoff
	if attempt < 30 {
		d = min(d, c.opts.MinBackoff<<attempt)
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func (c *Client) reportRejected(batch []Event, reply BatchReply) {
	for i, r := range reply.Data.Results {
		if r.Status != "rejected" || i >= len(batch) {
			continue
		}
		rj := Rejection{Event: batch[i], Status: http.StatusOK}
		if r.Error != nil {
			rj.Code, rj.Message, rj.Issues = r.Error.Code, r.Error.Message, r.Error.Issues
		}
		c.reject(rj)
	}
}

func (c *Client) reject(r Rejection) {
	if c.opts.OnError != nil {
		c.opts.OnError(r)
	}
}

// postBatch makes one attempt at POST /v1/events/batch. sentAt is the time
// of this attempt, so the server can remove the clock skew of this machine
// from each event's timestamp.
func (c *Client) postBatch(batch []Event) (BatchReply, error) {
	body, err := json.Marshal(struct {
		Events []Event   `json:"events"`
		SentAt time.Time `json:"sentAt"`
	}{batch, time.Now()})
	if err != nil {
		return BatchReply{}, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "event not encodable: " + err.Error()}
	}
	var reply BatchReply
	err = c.do(c.sendCtx, http.MethodPost, "/v1/events/batch", bytes.NewReader(body), &reply)
	return reply, err
}

// SendBatch sends events in one request now, without the queue and without
// retries, and returns the server's verdicts (one per event, in order).
func (c *Client) SendBatch(ctx context.Context, events []Event) (BatchReply, error) {
	body, err := json.Marshal(struct {
		Events []Event `json:"events"`
	}{events})
	if err != nil {
		return BatchReply{}, err
	}
	var reply BatchReply
	err = c.do(ctx, http.MethodPost, "/v1/events/batch", bytes.NewReader(body), &reply)
	return reply, err
}

func retryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h.Get("Retry-After")); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}
