package wire

import (
	"slices"

	"github.com/engagedhq/engaged/actors"
)

// WebhookEventTypes are the types an endpoint may subscribe to:
// render.<eventType> for each counted render event and content.<type> for
// each documented SDK event type.
func WebhookEventTypes() []string {
	var out []string
	for _, t := range actors.RenderEventTypes {
		out = append(out, "render."+string(t))
	}
	for _, t := range actors.ContentEventTypes {
		out = append(out, "content."+string(t))
	}
	return out
}

// maxWebhookURL bounds an endpoint URL.
const maxWebhookURL = 2048

// DecodeWebhook decodes the body of POST /v1/webhooks, {"url", "eventTypes"}:
// a URL of at most 2,048 bytes (the SSRF guard checks it after) and one or
// more known event types, returned without repeats.
func DecodeWebhook(b []byte) (url string, types []string, err error) {
	obj, err := Object(b)
	if err != nil {
		return "", nil, err
	}
	is := &actors.Issues{FormErrors: []string{}}
	url, _ = stringMember(is, "url", obj["url"], true)
	if len(url) > maxWebhookURL {
		is.Add("url", "String must contain at most 2048 character(s)")
	}
	raw := stringsMember(is, "eventTypes", obj["eventTypes"], true)
	if raw != nil && len(raw) == 0 {
		is.Add("eventTypes", "Array must contain at least 1 element(s)")
	}
	known := WebhookEventTypes()
	for _, t := range raw {
		if !slices.Contains(known, t) {
			is.Add("eventTypes", "Unknown event type "+quoteShort(t))
			continue
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	if !is.Empty() {
		return "", nil, Invalid(is)
	}
	return url, types, nil
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "'" + s + "'"
}
