package client

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"
)

// deliver sends one batch until the server has answered it for good:
// delivered (received or duplicate), or rejected (reported to WithOnError's function and
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
				c.reject(Rejection{Event: ev, Err: ae})
			}
			return false
		}
		if !sleep(c.sendCtx, retryWait(ae, c.backoff(attempt))) {
			return true
		}
	}
}

// backoff is the wait before retry attempt+1: uniform in [0, min·2^attempt],
// capped at max (WithBackoff) ("full jitter"), so many clients retrying after the
// same outage spread out instead of arriving together.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.maxBackoff
	if attempt < 30 {
		d = min(d, c.opts.minBackoff<<attempt)
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func (c *Client) reportRejected(batch []Event, reply BatchReply) {
	for i, r := range reply.Data.Results {
		if r.Status != "rejected" || i >= len(batch) {
			continue
		}
		e := &Error{Status: http.StatusOK, RequestID: reply.Meta.RequestID}
		if r.Error != nil {
			e.Code, e.Message, e.Issues = r.Error.Code, r.Error.Message, r.Error.Issues
		}
		c.reject(Rejection{Event: batch[i], Err: e})
	}
}

func (c *Client) reject(r Rejection) {
	if c.opts.onError != nil {
		c.opts.onError(r)
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
	err = c.do(c.sendCtx, http.MethodPost, "/v1/events/batch", json.RawMessage(body), &reply)
	return reply, err
}

// SendBatch sends events in one request now, without the queue and without
// retries, and returns the server's verdicts (one per event, in order).
func (c *Client) SendBatch(ctx context.Context, events []Event) (BatchReply, error) {
	var reply BatchReply
	err := c.do(ctx, http.MethodPost, "/v1/events/batch", struct {
		Events []Event `json:"events"`
	}{events}, &reply)
	return reply, err
}

// retryWait is how long to wait before retrying after err: the server's
// Retry-After when it gave one, else def.
func retryWait(err *Error, def time.Duration) time.Duration {
	if err != nil && err.RetryAfter > 0 {
		return err.RetryAfter
	}
	return def
}

// sleep waits d, or until ctx ends; it reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
