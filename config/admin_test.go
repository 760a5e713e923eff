package config

import (
	"io"
	"strings"
	"testing"
)

// The admin token is off by default and, when set, too short to guess is
// refused at start.
func TestAdminToken(t *testing.T) {
	c, err := Load(nil, lookup(map[string]string{}), io.Discard)
	if err != nil || c.AdminToken != "" {
		t.Fatalf("default: %q, %v", c.AdminToken, err)
	}
	if _, err := Load(nil, lookup(map[string]string{"ENGAGED_ADMIN_TOKEN": "short"}), io.Discard); err == nil || !strings.Contains(err.Error(), "ENGAGED_ADMIN_TOKEN") {
		t.Fatalf("short token: %v", err)
	}
	tok := strings.Repeat("t", MinAdminToken)
	if c, err := Load(nil, lookup(map[string]string{"ENGAGED_ADMIN_TOKEN": tok}), io.Discard); err != nil || c.AdminToken != tok {
		t.Fatalf("token: %q, %v", c.AdminToken, err)
	}
}
