package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// TopQuery is a top-N question (GET /v1/projects/:projectId/top); zero
// fields take the server's defaults (window 24h, limit 10, minPlays 10 for
// rates). docs/RANKINGS.md lists the metrics.
type TopQuery struct {
	Kind     string // "render" or "content"
	Metric   string
	Window   string // "1h", "24h", "7d", "30d"
	Limit    int    // 1 to 100
	MinPlays *int64 // rates only; nil: the server's default
}

func (q TopQuery) values() url.Values {
	v := url.Values{"kind": {q.Kind}, "metric": {q.Metric}}
	if q.Window != "" {
		v.Set("window", q.Window)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.MinPlays != nil {
		v.Set("minPlays", strconv.FormatInt(*q.MinPlays, 10))
	}
	return v
}

// TopList is a ranking: Items by value descending, then id ascending.
// AsOf: every event stored before it is counted; nil until every partition
// has recorded a time.
type TopList struct {
	Kind   string     `json:"kind"`
	Metric string     `json:"metric"`
	Window string     `json:"window"`
	AsOf   *time.Time `json:"asOf"`
	Items  []TopItem  `json:"items"`
}

// TopItem is one ranked item.
type TopItem struct {
	ID    string  `json:"id"`
	Value float64 `json:"value"`
}

// Top reads GET /v1/projects/:projectId/top (secret key of that project).
func (c *Client) Top(ctx context.Context, projectID string, q TopQuery) (TopList, error) {
	var out TopList
	err := c.do(ctx, http.MethodGet, "/v1/projects/"+url.PathEscape(projectID)+"/top?"+q.values().Encode(), nil, &out)
	return out, err
}
