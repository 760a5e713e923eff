package wire

import (
	"fmt"
	"slices"
	"time"

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

// DecodeReplayRange decodes the body of POST /v1/webhooks/:id/replay,
// {"from", "to"}: two RFC 3339 times, from before to, to not after now, and
// at most maxSpan apart; both are truncated to milliseconds, the precision
// of event timestamps.
func DecodeReplayRange(b []byte, now time.Time, maxSpan time.Duration) (from, to time.Time, err error) {
	obj, err := Object(b)
	if err != nil {
		return from, to, err
	}
	is := &actors.Issues{FormErrors: []string{}}
	parse := func(key string) (time.Time, bool) {
		s, ok := stringMember(is, key, obj[key], true)
		if !ok {
			return time.Time{}, false
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			is.Add(key, "Invalid datetime: an RFC 3339 time is expected")
			return time.Time{}, false
		}
		return t.UTC().Truncate(time.Millisecond), true
	}
	from, okF := parse("from")
	to, okT := parse("to")
	if okF && okT {
		switch {
		case !from.Before(to):
			is.Add("to", "to must be after from")
		case to.Sub(from) > maxSpan:
			is.Add("to", fmt.Sprintf("the range must span at most %g days", maxSpan.Hours()/24))
		}
	}
	if okT && to.After(now) {
		is.Add("to", "to must not be in the future")
	}
	if !is.Empty() {
		return time.Time{}, time.Time{}, Invalid(is)
	}
	return from, to, nil
}
