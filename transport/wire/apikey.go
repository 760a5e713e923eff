package wire

import (
	"bytes"
	"strings"

	"github.com/engagedhq/engaged/actors"
)

// APIKey returns the "apiKey" member of an SDK events body (one event, or
// the batch envelope), "" when there is none. It is how a browser's
// navigator.sendBeacon, which cannot set an Authorization header,
// authenticates. Only a publishable key may come this way: a secret key in
// a body is copied into page sources, logs and request captures, so one
// that looks like a secret key (sk_…) is refused with a field error, as is
// a value that is not a string. body must be valid JSON.
func APIKey(body []byte) (string, error) {
	// Most requests carry their key in the header and no such member: one
	// substring scan, not a walk, answers them. A client that writes the
	// name with escapes ("api\u004bey") is not looked for.
	if !bytes.Contains(body, []byte(`"apiKey"`)) {
		return "", nil
	}
	var raw []byte
	if Kind(body) != "object" || eachMember(body, func(key, val []byte) {
		if string(key) == "apiKey" {
			raw = val
		}
	}) != nil {
		return "", nil // not an object: the body's own decoder says so
	}
	is := &actors.Issues{FormErrors: []string{}}
	key, ok := stringMember(is, "apiKey", raw, false)
	if !is.Empty() {
		return "", Invalid(is)
	}
	if !ok {
		return "", nil
	}
	if strings.HasPrefix(strings.TrimSpace(key), "sk_") {
		return "", FieldError("apiKey", "A secret key must never be sent in the body (it would leak into pages and logs): "+
			"send a publishable key (pk_…) here, or the secret key in the Authorization header from a server")
	}
	return strings.TrimSpace(key), nil
}
