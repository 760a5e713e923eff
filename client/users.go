package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// UserEvent is one event of a user's history (GET /v1/users/:userId/history).
type UserEvent struct {
	EventID   string    `json:"eventId"`
	Type      string    `json:"type"`
	ContentID string    `json:"contentId"`
	Timestamp time.Time `json:"timestamp"`
}

// ContentSignals is a content's ranking signals (GET /v1/contents/:id/signals);
// a nil figure has no denominator or is not measured yet (docs/SIGNALS.md).
type ContentSignals struct {
	ContentID      string   `json:"contentId"`
	Window         string   `json:"window"`
	Plays          int64    `json:"plays"`
	CompletionRate *float64 `json:"completionRate"`
	WatchFraction  *float64 `json:"watchFraction"`
	RebufferRatio  *float64 `json:"rebufferRatio"`
	LikesPerPlay   *float64 `json:"likesPerPlay"`
	SharesPerPlay  *float64 `json:"sharesPerPlay"`
	SavesPerPlay   *float64 `json:"savesPerPlay"`
	SwipeAwayRate  *float64 `json:"swipeAwayRate"`
}

// Seen reports, for each content id (1 to 500), whether user userID has
// seen it (an impression or a playStart): POST /v1/users/:userId/seen,
// secret key. docs/USERS.md gives its bounds and false-positive rate.
func (c *Client) Seen(ctx context.Context, userID string, contentIDs []string) ([]bool, error) {
	in := struct {
		ContentIDs []string `json:"contentIds"`
	}{contentIDs}
	var env struct {
		Data struct {
			Seen []bool `json:"seen"`
		} `json:"data"`
	}
	err := c.do(ctx, http.MethodPost, "/v1/users/"+url.PathEscape(userID)+"/seen", in, &env)
	return env.Data.Seen, err
}

// UserHistory returns up to limit (1 to 50; 0: the server's default) of
// user userID's latest events, newest first: GET /v1/users/:userId/history,
// secret key.
func (c *Client) UserHistory(ctx context.Context, userID string, limit int) ([]UserEvent, error) {
	path := "/v1/users/" + url.PathEscape(userID) + "/history"
	if limit > 0 {
		path += "?limit=" + strconv.Itoa(limit)
	}
	var env struct {
		Data struct {
			Events []UserEvent `json:"events"`
		} `json:"data"`
	}
	err := c.do(ctx, http.MethodGet, path, nil, &env)
	return env.Data.Events, err
}

// ContentSignals reads GET /v1/contents/:id/signals (secret key) over
// window ("" or "all", "1h", "24h").
func (c *Client) ContentSignals(ctx context.Context, contentID, window string) (ContentSignals, error) {
	path := "/v1/contents/" + url.PathEscape(contentID) + "/signals"
	if window != "" {
		path += "?window=" + url.QueryEscape(window)
	}
	var env struct {
		Data ContentSignals `json:"data"`
	}
	err := c.do(ctx, http.MethodGet, path, nil, &env)
	return env.Data, err
}
