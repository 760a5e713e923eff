package actors

import "testing"

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Shop.Example":      "https://shop.example",
		"https://shop.example:443":  "https://shop.example",
		"http://shop.example:80/":   "http://shop.example",
		"https://shop.example:8443": "https://shop.example:8443",
		"http://127.0.0.1:5173":     "http://127.0.0.1:5173",
		"http://[::1]:80":           "http://[::1]",
		"http://[::1]:8080":         "http://[::1]:8080",
		" * ":                       "*",
	} {
		if got, err := NormalizeOrigin(in); err != nil || got != want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "null", "shop.example", "https://", "https://shop.example/a", "https://shop.example?q", "ws://shop.example", "https://u:p@shop.example"} {
		if got, err := NormalizeOrigin(bad); ErrorCode(err) != EInvalid {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want invalid", bad, got, err)
		}
	}
}

func TestAllowsOrigin(t *testing.T) {
	open := Principal{}
	listed := Principal{AllowedOrigins: []string{"https://shop.example", "http://[::1]:8080"}}
	star := Principal{AllowedOrigins: []string{"*"}}
	for _, tc := range []struct {
		p      Principal
		origin string
		want   bool
	}{
		{open, "https://evil.example", true},
		{open, "null", true},
		{listed, "https://shop.example", true},
		{listed, "https://SHOP.example:443", true}, // as normalised; browsers send it lower-cased without the port anyway
		{listed, "http://[::1]:8080", true},
		{listed, "http://shop.example", false},
		{listed, "https://shop.example.evil.example", false},
		{listed, "null", false},
		{star, "null", true},
	} {
		if got := tc.p.AllowsOrigin(tc.origin); got != tc.want {
			t.Errorf("%q allows %q = %v, want %v", tc.p.AllowedOrigins, tc.origin, got, tc.want)
		}
	}
}
