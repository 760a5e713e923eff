package client

import (
	"encoding/json"
	"time"
)

// Event is one SDK event (POST /v1/events/batch; docs/SDK-EVENTS-API.md).
// Event and ContentID are required; the type-specific fields go in Data.
// ContentID must be registered, unless the project has autoCreateContent on.
type Event struct {
	Event     string `json:"event"`               // impression, playStart, …, or custom_…
	ContentID string `json:"contentId,omitempty"` // a content id of the key's project
	// EventID dedupes retries: Track sets it (evt_<UUIDv7>) when empty, once,
	// so every resend of the event carries the same id.
	EventID   string `json:"eventId,omitempty"`
	UserID    string `json:"userId,omitempty"`
	DeviceID  string `json:"deviceId,omitempty"`
	SessionID string `json:"sessionId,omitempty"`
	// Timestamp is when it happened; Track sets it to the time of the call
	// when zero, so an event sent late (after retries) keeps its own time.
	Timestamp time.Time `json:"timestamp,omitzero"`
	Data      any       `json:"data,omitempty"` // a JSON object: map[string]any, a struct or json.RawMessage
}

// Issues are per-field validation messages (zod's flatten() shape), keyed
// by the field's path ("contentId", "data.position").
type Issues struct {
	FormErrors  []string            `json:"formErrors"`
	FieldErrors map[string][]string `json:"fieldErrors"`
}

// RenderCounts are a render's seven counters.
type RenderCounts struct {
	Viewed       int64 `json:"viewed"`
	Downloaded   int64 `json:"downloaded"`
	Printed      int64 `json:"printed"`
	EmailOpened  int64 `json:"email_opened"`
	EmailSent    int64 `json:"email_sent"`
	ShareCreated int64 `json:"share_created"`
	ShareRevoked int64 `json:"share_revoked"`
}

// RenderEvent is one of a render's recent events.
type RenderEvent struct {
	ID        string          `json:"id"`
	EventType string          `json:"eventType"`
	ActorKind string          `json:"actorKind"` // recipient, partner or system
	ShareID   *string         `json:"shareId"`
	SourceIP  *string         `json:"sourceIp"`
	UserAgent *string         `json:"userAgent"`
	Metadata  json.RawMessage `json:"metadata"` // an object, or null
	CreatedAt time.Time       `json:"createdAt"`
}

// RenderSummary is GET /v1/renders/:id/engagement.
type RenderSummary struct {
	Counts    RenderCounts  `json:"counts"`
	LinkOpens int64         `json:"linkOpens"`
	Total     int64         `json:"total"`
	BotViews  int64         `json:"botViews"` // robots' requests, never counted as events
	Uniques   RenderUniques `json:"uniques"`
	Recent    []RenderEvent `json:"recent"` // newest first, at most 25
}

// RenderUniques is a render's all-time unique viewers; Approximate once the
// count is an estimate (past 500).
type RenderUniques struct {
	Viewers     int64 `json:"viewers"`
	Approximate bool  `json:"approximate"`
}

// ContentUniques is a content item's all-time unique users and sessions.
type ContentUniques struct {
	Users       int64 `json:"users"`
	Sessions    int64 `json:"sessions"`
	Approximate bool  `json:"approximate"`
}

// LiveSeries is what a live update carries of an item's series: every
// metric's value in its newest minute and hour (zeros left out).
type LiveSeries struct {
	Minute LiveBucket `json:"minute"`
	Hour   LiveBucket `json:"hour"`
}

// LiveBucket is one bucket of every metric, T its start.
type LiveBucket struct {
	T      time.Time        `json:"t"`
	Values map[string]int64 `json:"values"`
}

// RenderUpdate is one live update of a render: its summary and the log
// sequence it reflects (strictly rising per item).
type RenderUpdate struct {
	Seq uint64 `json:"seq"`
	RenderSummary
	Series *LiveSeries `json:"series,omitempty"`
}

// ContentCounts are an SDK content item's events per documented type.
type ContentCounts struct {
	Impression    int64 `json:"impression"`
	PlayStart     int64 `json:"playStart"`
	WatchProgress int64 `json:"watchProgress"`
	Completion    int64 `json:"completion"`
	Swipe         int64 `json:"swipe"`
	Like          int64 `json:"like"`
	Share         int64 `json:"share"`
	Save          int64 `json:"save"`
	Rebuffer      int64 `json:"rebuffer"`
	QualityChange int64 `json:"qualityChange"`
	Error         int64 `json:"error"`
}

// ContentSummary is the data of GET /v1/contents/:id/engagement. A ratio or
// average without a denominator is nil.
type ContentSummary struct {
	ContentID      string           `json:"contentId"`
	Counts         ContentCounts    `json:"counts"`
	CustomCounts   map[string]int64 `json:"customCounts"`
	Total          int64            `json:"total"`
	Impressions    int64            `json:"impressions"`
	Plays          int64            `json:"plays"`
	Completions    int64            `json:"completions"`
	CompletionRate *float64         `json:"completionRate"`
	Loops          int64            `json:"loops"`
	WatchTime      struct {
		Total   float64  `json:"total"`   // seconds
		Average *float64 `json:"average"` // seconds per play
	} `json:"watchTime"`
	StartupTime struct {
		Samples int64    `json:"samples"`
		Average *float64 `json:"average"` // ms
		P50     *int64   `json:"p50"`
		P95     *int64   `json:"p95"`
	} `json:"startupTime"`
	Rebuffer struct {
		Count     int64    `json:"count"`
		Time      int64    `json:"time"` // ms
		Ratio     *float64 `json:"ratio"`
		Frequency *float64 `json:"frequency"`
	} `json:"rebuffer"`
	QualityChanges int64 `json:"qualityChanges"`
	Errors         struct {
		Total  int64            `json:"total"`
		ByCode map[string]int64 `json:"byCode"`
	} `json:"errors"`
	Likes            int64            `json:"likes"`
	Shares           int64            `json:"shares"`
	SharesByPlatform map[string]int64 `json:"sharesByPlatform"`
	Saves            int64            `json:"saves"`
	Swipes           struct {
		In  int64 `json:"in"`
		Out int64 `json:"out"`
	} `json:"swipes"`
	LastEventAt *time.Time     `json:"lastEventAt"`
	Uniques     ContentUniques `json:"uniques"`
}

// ContentUpdate is one live update of a content item.
type ContentUpdate struct {
	Seq uint64 `json:"seq"`
	ContentSummary
	Series *LiveSeries `json:"series,omitempty"`
}

// Result is the server's verdict on one event of a batch.
type Result struct {
	Status    string     `json:"status"` // accepted, adjusted, duplicate or rejected
	EventID   *string    `json:"eventId"`
	Timestamp *time.Time `json:"timestamp,omitempty"`
	Error     *struct {
		Code    string  `json:"code"` // invalid_request, too_old, rate_limited or content_limit (autoCreateContent)
		Message string  `json:"message"`
		Issues  *Issues `json:"issues,omitempty"`
	} `json:"error,omitempty"`
}

// BatchReply is the answer to POST /v1/events/batch.
type BatchReply struct {
	Data struct {
		Received int      `json:"received"`
		Failed   int      `json:"failed"`
		Results  []Result `json:"results"`
	} `json:"data"`
	Meta Meta `json:"meta"`
}

// Meta is the envelope's meta object.
type Meta struct {
	RequestID string `json:"requestId"`
}
