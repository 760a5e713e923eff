package actors

import "time"

// Project owns keys and items.
type Project struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	// AllowedOrigins are the web origins whose pages may send SDK events;
	// null (nil) or empty: any origin.
	AllowedOrigins []string `json:"allowedOrigins"`
	// AutoCreateContent: an SDK event about a content id nobody registered
	// registers it, within the server's per-project cap and rate
	// (config.AutoCreate); off, such an event is rejected.
	AutoCreateContent bool `json:"autoCreateContent"`
	// IPCapture is how much of a client address the project keeps (privacy.go).
	IPCapture IPCapture `json:"ipCapture"`
}

// APIKey describes a key without its secret, which is shown once, when it is
// created, and never stored.
type APIKey struct {
	ID        string     `json:"id"`
	ProjectID string     `json:"projectId"`
	Kind      KeyKind    `json:"kind"`
	Prefix    string     `json:"prefix"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt"`
}

// Page asks for one page of a list: at most Limit entries (0 =
// DefaultLimit) after Cursor ("" = from the start), the value a previous
// page returned. A list is never read whole: a project may hold a million
// renders.
type Page struct {
	Limit  int
	Cursor string
}

// The bounds of Page.Limit.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)
