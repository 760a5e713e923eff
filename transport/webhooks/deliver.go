package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Endpoint is a registered receiver as the deliverer needs it.
type Endpoint struct {
	ID        string
	ProjectID string
	URL       string
	// Keys sign each delivery: the current secret's key, and the previous
	// one while a rotation's overlap lasts.
	Keys     [][]byte
	Disabled bool
}

// Delivery is one event for one endpoint: the payload of one message of
// the webhook stream. ID is the webhook-id header and stays the same on
// every attempt, so receivers can drop repeats.
type Delivery struct {
	EndpointID string          `json:"endpointId"`
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Timestamp  time.Time       `json:"timestamp"`
	Data       json.RawMessage `json:"data"` // a JSON value
	// Replay is set on a replayed delivery (ReplayID): its attempts are
	// counted apart from the original's; the webhook-id stays the same.
	Replay string `json:"replay,omitempty"`
}

// body is the request body the specification describes.
func (d *Delivery) body() []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":`)
	b.WriteString(strconv.Quote(d.Type)) // event types are ASCII names: Quote is JSON here
	b.WriteString(`,"timestamp":"`)
	b.WriteString(d.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteString(`","data":`)
	if len(d.Data) == 0 {
		b.WriteString("null")
	} else {
		b.Write(d.Data)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// Outcome is how one attempt ended.
type Outcome string

const (
	Delivered Outcome = "delivered" // 2xx
	Failed    Outcome = "failed"    // anything else: retried on the schedule
	Gone      Outcome = "gone"      // 410: the endpoint is disabled, no retry
	Refused   Outcome = "refused"   // the guard refused the address: retried, it may be a DNS change
)

// Result is one attempt.
type Result struct {
	Outcome    Outcome
	Status     int           // HTTP status, 0 without a response
	Err        string        // why it failed, for the attempts list; bounded
	RetryAfter time.Duration // the receiver's Retry-After, 0 if none
	Duration   time.Duration
}

// maxErrLen bounds the error text kept with an attempt.
const maxErrLen = 300

// client posts deliveries through the guard: no proxy from the
// environment, no redirects followed (a 3xx is a failure), the address
// checked on every connection.
func newClient(g *Guard, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			d := net.Dialer{Timeout: timeout, Control: g.control(host)}
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// attempt posts d to ep once.
func attempt(ctx context.Context, c *http.Client, ep *Endpoint, d *Delivery, now time.Time) Result {
	start := time.Now()
	body := d.body()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return Result{Outcome: Failed, Err: trim(err.Error())}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "engaged-webhooks/1")
	req.Header.Set("webhook-id", d.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(ep.Keys, d.ID, now, body))
	res, err := c.Do(req)
	if err != nil {
		out := Failed
		if errors.Is(err, ErrForbidden) {
			out = Refused
		}
		return Result{Outcome: out, Err: trim(err.Error()), Duration: time.Since(start)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
	res.Body.Close()
	r := Result{Status: res.StatusCode, Duration: time.Since(start)}
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		r.Outcome = Delivered
	case res.StatusCode == http.StatusGone:
		r.Outcome, r.Err = Gone, "410 Gone: endpoint disabled"
	default:
		r.Outcome, r.Err = Failed, fmt.Sprintf("HTTP %d", res.StatusCode)
		r.RetryAfter = retryAfter(res.Header.Get("Retry-After"), now)
	}
	return r
}

// retryAfter reads Retry-After: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func trim(s string) string {
	if len(s) > maxErrLen {
		return s[:maxErrLen]
	}
	return s
}
