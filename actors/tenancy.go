package actors

import (
	"net/url"
	"strings"
	"time"
)

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
	// AllowedOrigins are the web origins whose pages may send SDK events
	// with the project's keys; empty means any origin, as publishable keys
	// are public anyway.
	AllowedOrigins []string
	// AutoCreateContent is the project's setting (Project.AutoCreateContent).
	AutoCreateContent bool
	// IPCapture is the project's setting for client addresses (privacy.go).
	IPCapture IPCapture
}

// AllowsOrigin reports whether a browser page of origin (the request's
// Origin header, as the browser sent it) may send SDK events for p's project.
func (p Principal) AllowsOrigin(origin string) bool {
	if len(p.AllowedOrigins) == 0 {
		return true
	}
	o, err := NormalizeOrigin(origin)
	for _, a := range p.AllowedOrigins {
		if a == "*" || (err == nil && a == o) {
			return true
		}
	}
	return false
}

// NormalizeOrigin checks that s is a web origin, scheme://host[:port] with
// http or https and nothing after the host, and returns it lower-cased with
// a default port dropped, as browsers send it in Origin; "*" stands for any
// origin. Anything else is an EInvalid error naming s.
func NormalizeOrigin(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "*" {
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", Errorf(EInvalid, "%q is not a web origin (scheme://host[:port], http or https, or *)", s)
	}
	host := strings.ToLower(u.Host)
	if port := u.Port(); (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + host, nil
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

// ParseOrigins parses a comma-separated list of origins (NormalizeOrigin
// each). An empty list is nil: any origin.
func ParseOrigins(csv string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(csv, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		o, err := NormalizeOrigin(s)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}
