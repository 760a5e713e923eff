package actors

import "time"

// KeyKind is the kind of an API key: a secret key (sk_…) reads and writes for
// its project; a publishable key (pk_…) may only send SDK events.
type KeyKind string

const (
	SecretKey      KeyKind = "secret"
	PublishableKey KeyKind = "publishable"
)

// Principal is who a request authenticated as.
type Principal struct {
	KeyID     string
	ProjectID string
	Kind      KeyKind
}

// Item kinds. Renders and SDK content items share one id space per project,
// so an item id names exactly one actor.
const (
	RenderItem  = "render"
	ContentItem = "content"
)

// Item is a registered render or content item.
type Item struct {
	ID          string    `json:"id"`
	ProjectID   string    `json:"projectId"`
	Kind        string    `json:"kind"`
	DocumentURL *string   `json:"documentUrl"`
	CreatedAt   time.Time `json:"createdAt"`
}
