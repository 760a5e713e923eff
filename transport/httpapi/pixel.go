package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
	"strings"

	"github.com/google/uuid"
)

// pixelGIF is a transparent 1×1 GIF (43 bytes).
var pixelGIF = []byte{
	'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff,
	'!', 0xf9, 4, 1, 0, 0, 0, 0, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 'D', 1, 0, ';',
}

// pixelMACLen is the length of the token's truncated HMAC-SHA256: 128 bits
// is far past guessing over HTTP.
const pixelMACLen = 16

// pixelDomain separates pixel MACs from any other use of the same key.
const pixelDomain = "engaged pixel v1\x00"

// signPixel returns the tracking token of e-mail message id: the message id
// (16 bytes) and an HMAC of it, in unpadded base64url (43 characters). Only
// this service's key can make one, so the URL names no guessable id.
func signPixel(key []byte, id uuid.UUID) string {
	var buf [16 + pixelMACLen]byte
	copy(buf[:16], id[:])
	copy(buf[16:], pixelMAC(key, id))
	return base64.RawURLEncoding.EncodeToString(buf[:])
}

// verifyPixel returns the message id of token, or false for anything that is
// not a token this key signed.
func verifyPixel(key []byte, token string) (uuid.UUID, bool) {
	token = strings.TrimSuffix(token, ".gif")
	if len(token) != base64.RawURLEncoding.EncodedLen(16+pixelMACLen) {
		return uuid.UUID{}, false
	}
	// Strict: the last character's two spare bits must be zero, so one
	// token has exactly one spelling.
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != 16+pixelMACLen {
		return uuid.UUID{}, false
	}
	var id uuid.UUID
	copy(id[:], b[:16])
	if !hmac.Equal(b[16:], pixelMAC(key, id)) {
		return uuid.UUID{}, false
	}
	return id, true
}

func pixelMAC(key []byte, id uuid.UUID) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(pixelDomain))
	h.Write(id[:])
	return h.Sum(nil)[:pixelMACLen]
}

// Mail privacy proxies fetch images on the recipient's behalf (Apple Mail
// Privacy Protection prefetches every image of a received message; Gmail
// fetches through its image proxy). Their opens are recorded but flagged in
// the event's metadata, because they do not show that a person read the
// message. Detection is a heuristic over signals the operators document or
// that mail senders observe:
//   - Gmail's proxy says "GoogleImageProxy" in its User-Agent (…via
//     ggpht.com GoogleImageProxy);
//   - Apple's prefetch sends the bare User-Agent "Mozilla/5.0" (no platform
//     or browser), and Apple owns 17.0.0.0/8;
//   - Google's image proxy fetches from 66.102.0.0/20, 66.249.80.0/20 and
//     74.125.0.0/16 (ranges of Google's published crawl/proxy space).
const (
	proxyApple = "apple_mail_privacy_protection"
	proxyGmail = "gmail_image_proxy"
)

var (
	appleRanges = []netip.Prefix{netip.MustParsePrefix("17.0.0.0/8")}
	gmailRanges = []netip.Prefix{
		netip.MustParsePrefix("66.102.0.0/20"),
		netip.MustParsePrefix("66.249.80.0/20"),
		netip.MustParsePrefix("74.125.0.0/16"),
	}
)

// mailProxy names the privacy proxy that fetched a pixel, and the signal it
// was recognised by ("user_agent" or "ip"), or returns empty strings.
func mailProxy(userAgent, ip string) (proxy, signal string) {
	ua := strings.TrimSpace(userAgent)
	switch {
	case strings.Contains(ua, "GoogleImageProxy"):
		return proxyGmail, "user_agent"
	case ua == "Mozilla/5.0":
		return proxyApple, "user_agent"
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", ""
	}
	a = a.Unmap()
	for _, p := range appleRanges {
		if p.Contains(a) {
			return proxyApple, "ip"
		}
	}
	for _, p := range gmailRanges {
		if p.Contains(a) {
			return proxyGmail, "ip"
		}
	}
	return "", ""
}
