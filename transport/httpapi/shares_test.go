package httpapi

import (
	"bytes"
	"fmt"
	"image/gif"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestPixelToken(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	id := uuid.Must(uuid.NewV7())
	tok := signPixel(key, id)
	if len(tok) != 43 || strings.Contains(tok, strings.ReplaceAll(id.String(), "-", "")) {
		t.Fatalf("token %q", tok)
	}
	for _, s := range []string{tok, tok + ".gif"} {
		if got, ok := verifyPixel(key, s); !ok || got != id {
			t.Fatalf("verify %q = %v, %v", s, got, ok)
		}
	}
	bad := map[string]string{
		"other key":      signPixel([]byte("another key, just as long as it.."), id),
		"empty":          "",
		"short":          tok[:42],
		"long":           tok + "A",
		"not base64":     strings.Repeat("*", 43),
		"other message":  signPixel(key, uuid.Must(uuid.NewV7()))[:22] + tok[22:],
		"spare bits set": tok[:42] + string(flipLow(tok[42])),
	}
	for i := 0; i < len(tok); i++ {
		b := []byte(tok)
		if b[i] == 'x' {
			b[i] = 'y'
		} else {
			b[i] = 'x'
		}
		bad[fmt.Sprintf("char %d changed", i)] = string(b)
	}
	for name, s := range bad {
		if _, ok := verifyPixel(key, s); ok {
			t.Errorf("%s: %q verified", name, s)
		}
	}
	img, err := gif.Decode(bytes.NewReader(pixelGIF))
	if err != nil || img.Bounds().Dx() != 1 || img.Bounds().Dy() != 1 {
		t.Fatalf("pixel GIF: %v %v", img, err)
	}
}

// flipLow changes the lowest bit of a base64url character's value, which in
// the last character of a 32-byte encoding is a spare bit.
func flipLow(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return alphabet[i^1]
}

func TestMailProxy(t *testing.T) {
	tests := []struct{ ua, ip, proxy, signal string }{
		{"Mozilla/5.0", "203.0.113.1", proxyApple, "user_agent"},
		{"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "203.0.113.1", proxyGmail, "user_agent"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15", "17.1.2.3", proxyApple, "ip"},
		{"", "66.249.88.7", proxyGmail, "ip"},
		{"", "::ffff:17.0.0.1", proxyApple, "ip"},
		{"Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", "203.0.113.1", "", ""},
		{"Mozilla/5.0 (iPhone)", "18.0.0.1", "", ""},
		{"", "not an ip", "", ""},
	}
	for _, tc := range tests {
		p, s := mailProxy(tc.ua, tc.ip)
		if p != tc.proxy || s != tc.signal {
			t.Errorf("mailProxy(%q, %q) = %q, %q; want %q, %q", tc.ua, tc.ip, p, s, tc.proxy, tc.signal)
		}
	}
}

func TestLimiterSet(t *testing.T) {
	now := time.Date(2026, 5, 3, 10, 0, 0, 0, time.UTC)
	l := newLimiterSet(RateLimit{N: 2, Per: time.Minute}, 3)
	for i := 0; i < 2; i++ {
		if d := l.take("a", now); d != 0 {
			t.Fatalf("take %d: wait %v", i, d)
		}
	}
	d := l.take("a", now)
	if d <= 0 || d > 30*time.Second {
		t.Fatalf("third take: wait %v, want about 30s", d)
	}
	// A refused take spends nothing: after the wait, one token is there.
	if d := l.take("a", now.Add(30*time.Second)); d != 0 {
		t.Fatalf("after the wait: %v", d)
	}
	if d := l.take("b", now); d != 0 {
		t.Fatalf("another key: %v", d)
	}
	// Bounded: the fourth key evicts the least recently used one.
	for _, k := range []string{"c", "d", "e"} {
		l.take(k, now)
	}
	if n := l.len(); n != 3 {
		t.Fatalf("%d buckets, want at most 3", n)
	}
	if d := l.take("a", now.Add(30*time.Second)); d != 0 {
		t.Fatal("an evicted key should start with a full bucket")
	}
	var off *limiterSet
	if off.take("x", now) != 0 || newLimiterSet(RateLimit{}, 1).take("x", now) != 0 {
		t.Fatal("no limit configured, yet limited")
	}
}
