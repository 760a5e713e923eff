package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// RateLimit is a token bucket: N requests per Per, in bursts of up to N.
// N == 0 means no limit.
type RateLimit struct {
	N   int
	Per time.Duration
}

func (r RateLimit) String() string {
	if r.N == 0 {
		return "off"
	}
	return strconv.Itoa(r.N) + "/" + r.Per.String()
}

// rate parses "N/duration" (60/1m) or "off".
func (p *parser) rate(name string, dst *RateLimit) {
	s, ok := p.raw[name]
	if !ok {
		return
	}
	s = strings.TrimSpace(s)
	if s == "off" {
		*dst = RateLimit{}
		return
	}
	ns, ds, found := strings.Cut(s, "/")
	n, err1 := strconv.Atoi(ns)
	d, err2 := time.ParseDuration(ds)
	if !found || err1 != nil || err2 != nil || n < 1 || n > 1_000_000 || d < time.Millisecond {
		p.fail(name, "%q is neither 'off' nor N/duration such as 60/1m", s)
		return
	}
	*dst = RateLimit{N: n, Per: d}
}

// minPixelSecret is the shortest ENGAGED_PIXEL_SECRET accepted: the tokens
// are HMAC-SHA256, and a short key would be the weakest part.
const minPixelSecret = 32

// checkShares validates the mail and pixel settings and fills MailFrom's
// default from the public URL.
func (c *Config) checkShares() error {
	if c.SMTPURL != "" {
		u, err := url.Parse(c.SMTPURL)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
			return errors.New("ENGAGED_SMTP_URL: must be smtp://[user:password@]host[:port] or smtps://…")
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("ENGAGED_SMTP_URL: bad port %q", p)
			}
		}
	}
	if c.MailFrom == "" {
		host := "localhost"
		if u, err := url.Parse(c.PublicBaseURL); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		c.MailFrom = "no-reply@" + host
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		return fmt.Errorf("ENGAGED_MAIL_FROM: %q is not an e-mail address", c.MailFrom)
	}
	if c.PixelSecret != "" && len(c.PixelSecret) < minPixelSecret {
		return fmt.Errorf("ENGAGED_PIXEL_SECRET: must be at least %d characters", minPixelSecret)
	}
	return nil
}

// PixelKeyFile is where the generated tracking-pixel key is kept, relative
// to the data directory.
const PixelKeyFile = "pixel.key"

// PixelKey returns the key that signs tracking-pixel tokens: PixelSecret if
// set, otherwise a random key generated on first start and kept (mode 0600)
// in DataDir/pixel.key, so that pixel URLs in e-mails already sent keep
// working after a restart. Several instances must share one key: set
// ENGAGED_PIXEL_SECRET for them, or share the data directory.
func (c Config) PixelKey() ([]byte, error) {
	if c.PixelSecret != "" {
		return []byte(c.PixelSecret), nil
	}
	path := filepath.Join(c.DataDir, PixelKeyFile)
	if key, err := readPixelKey(path); err == nil {
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("ENGAGED_DATA_DIR: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	// Written aside and linked into place: a second process starting at
	// the same moment either wins the link or reads the winner's key, and
	// nobody ever reads a half-written file.
	tmp, err := os.CreateTemp(c.DataDir, PixelKeyFile+".*")
	if err != nil {
		return nil, fmt.Errorf("pixel key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(hex.EncodeToString(raw[:]) + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("pixel key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("pixel key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("pixel key: %w", err)
	}
	return readPixelKey(path)
}

func readPixelKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("pixel key %s is damaged; delete it to make a new one (pixel URLs already sent stop recording opens)", path)
	}
	return key, nil
}
