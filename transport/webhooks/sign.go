// Package webhooks delivers signed webhooks (the Standard Webhooks
// specification) to the endpoints a project registers: it signs, guards
// against server-side request forgery, and delivers at least once from a
// durable JetStream consumer with retries, Retry-After, a dead letter and
// per-endpoint limits.
package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every endpoint secret: "whsec_" + base64 of the key,
// as the specification and its libraries expect.
const SecretPrefix = "whsec_"

// secretBytes is the key length: 256 bits, the HMAC-SHA256 block's worth.
const secretBytes = 32

// NewSecret returns a new random endpoint secret, "whsec_…".
func NewSecret() string {
	var b [secretBytes]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return short)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// ErrSecret is a secret that is not "whsec_" + standard base64 of 24 to 64
// bytes.
var ErrSecret = errors.New("webhook secret must be whsec_ followed by base64 of 24 to 64 bytes")

// ParseSecret returns the key of a "whsec_…" secret.
func ParseSecret(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
	if err != nil || !strings.HasPrefix(s, SecretPrefix) || len(k) < 24 || len(k) > 64 {
		return nil, ErrSecret
	}
	return k, nil
}

// Sign returns the webhook-signature header of one delivery: "v1," + base64
// HMAC-SHA256 of "id.timestamp.body" under each key, space-separated. While
// a rotated secret's overlap lasts both the new and the old key sign, so a
// receiver that knows either accepts.
func Sign(keys [][]byte, id string, ts time.Time, body []byte) string {
	unix := strconv.FormatInt(ts.Unix(), 10)
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(id))
		m.Write([]byte{'.'})
		m.Write([]byte(unix))
		m.Write([]byte{'.'})
		m.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}
