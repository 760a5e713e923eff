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
}

// WebhookRotationOverlap is how long a rotated secret keeps signing beside
// the new one, so receivers can switch without losing a delivery.
const WebhookRotationOverlap = 24 * time.Hour

// MaxWebhooksPerProject bounds a project's endpoints: each one multiplies
// the deliveries of every event.
const MaxWebhooksPerProject = 20
