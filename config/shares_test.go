package config

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestShareSettings(t *testing.T) {
	c, err := Load(nil, lookup(map[string]string{"ENGAGED_PUBLIC_URL": "https://docs.example.com/"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MailFrom != "no-reply@docs.example.com" || c.SMTPURL != "" || c.PublicIPLimit != (RateLimit{60, time.Minute}) || c.PublicShareLimit != (RateLimit{600, time.Minute}) {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = Load(nil, lookup(map[string]string{
		"ENGAGED_SMTP_URL":           "smtps://user:pw@mail.example.com:465",
		"ENGAGED_MAIL_FROM":          "Docs <docs@example.com>",
		"ENGAGED_PUBLIC_IP_LIMIT":    "3/1h",
		"ENGAGED_PUBLIC_SHARE_LIMIT": "off",
		"ENGAGED_PIXEL_SECRET":       strings.Repeat("k", 32),
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicIPLimit != (RateLimit{3, time.Hour}) || c.PublicShareLimit.N != 0 || c.MailFrom != "Docs <docs@example.com>" {
		t.Fatalf("got %+v", c)
	}

	for _, tc := range []struct{ env, value string }{
		{"ENGAGED_SMTP_URL", "http://mail.example.com"},
		{"ENGAGED_SMTP_URL", "smtp://"},
		{"ENGAGED_SMTP_URL", "smtp://mail.example.com:99999"},
		{"ENGAGED_MAIL_FROM", "not an address"},
		{"ENGAGED_PIXEL_SECRET", "short"},
		{"ENGAGED_PUBLIC_IP_LIMIT", "60"},
		{"ENGAGED_PUBLIC_IP_LIMIT", "0/1m"},
		{"ENGAGED_PUBLIC_SHARE_LIMIT", "10/forever"},
	} {
		_, err := Load(nil, lookup(map[string]string{tc.env: tc.value}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.env) {
			t.Errorf("%s=%q: err = %v, want one naming the variable", tc.env, tc.value, err)
		}
	}
}

// Without ENGAGED_PIXEL_SECRET the key is generated once and survives a
// restart, so pixel URLs already sent keep working.
func TestPixelKeyIsKept(t *testing.T) {
	c := Defaults()
	c.DataDir = filepath.Join(t.TempDir(), "data")
	k1, err := c.PixelKey()
	if err != nil || len(k1) != 32 {
		t.Fatalf("key %x, %v", k1, err)
	}
	k2, err := c.PixelKey()
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second start got another key: %x vs %x, %v", k2, k1, err)
	}
	st, err := os.Stat(filepath.Join(c.DataDir, PixelKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", st, err)
	}
	c.PixelSecret = strings.Repeat("s", 32)
	if k, _ := c.PixelKey(); string(k) != c.PixelSecret {
		t.Fatal("ENGAGED_PIXEL_SECRET was not used")
	}
	os.WriteFile(filepath.Join(c.DataDir, PixelKeyFile), []byte("garbage"), 0o600)
	c.PixelSecret = ""
	if _, err := c.PixelKey(); err == nil {
		t.Fatal("a damaged key file was accepted")
	}
}
