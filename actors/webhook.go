package actors

import "time"

// WebhookEndpoint is a project's registered webhook receiver. Secret signs
// deliveries ("whsec_…"); it is shown once, when created or rotated, and
// never in reads. While a rotation's overlap lasts, PreviousSecret signs
// too, until PreviousUntil.
type WebhookEndpoint struct {
	ID             string     `json:"id"`
	ProjectID      string     `json:"-"`
	URL            string     `json:"url"`
	EventTypes     []string   `json:"eventTypes"`
	CreatedAt      time.Time  `json:"createdAt"`
	DisabledAt     *time.Time `json:"disabledAt"`
	DisabledReason *string    `json:"disabledReason"`
	Secret         string     `json:"-"`
	PreviousSecret string     `json:"-"`
	PreviousUntil  *time.Time `json:"-"`
}

// WebhookAttempt is one attempt at delivering one event to one endpoint; a
// dead letter is the Final one.
type WebhookAttempt struct {
	EndpointID string    `json:"endpointId"`
	WebhookID  string    `json:"webhookId"`
	Type       string    `json:"type"`
	N          int       `json:"attempt"`
	At         time.Time `json:"at"`
	Outcome    string    `json:"outcome"`
	Status     int       `json:"status"`
	Error      *string   `json:"error"`
	DurationMS int64     `json:"durationMs"`
	Final      bool      `json:"final"`
	// ReplayID is set on the attempts of a replayed delivery
	// (POST /v1/webhooks/:id/replay); they are counted apart from the
	// original's.
	ReplayID string `json:"replayId,omitempty"`
}

// WebhookDelivery is a delivery as kept for replay: the webhook-id, type,
// event timestamp and data of the request body, for one endpoint.
type WebhookDelivery struct {
	EndpointID string
	WebhookID  string
	Type       string
	Timestamp  time.Time
	Data       []byte
}

// MaxWebhookReplaySpan bounds the range of one replay request.
const MaxWebhookReplaySpan = 7 * 24 * time.Hour

// MaxWebhookReplayDeliveries bounds the deliveries one replay request
// queues; a range with more is replayed in parts (the answer's nextFrom).
const MaxWebhookReplayDeliveries = 1000

// WebhookRotationOverlap is how long a rotated secret keeps signing beside
// the new one, so receivers can switch without losing a delivery.
const WebhookRotationOverlap = 24 * time.Hour

// MaxWebhooksPerProject bounds a project's endpoints: each one multiplies
// the deliveries of every event.
const MaxWebhooksPerProject = 20
