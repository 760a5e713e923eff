package actors

import "testing"

func TestIPCaptureApply(t *testing.T) {
	for _, tc := range []struct {
		mode     IPCapture
		ip, want string // want "" = nil
	}{
		{IPFull, "203.0.113.7", "203.0.113.7"},
		{IPFull, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"},
		{IPTruncated, "203.0.113.7", "203.0.113.0"},
		{IPTruncated, "::ffff:203.0.113.7", "203.0.113.0"},
		{IPTruncated, "2001:db8:abcd:12:3:4:5:6", "2001:db8:abcd::"},
		{IPTruncated, "not an ip", ""},
		{IPNone, "203.0.113.7", ""},
	} {
		got := tc.mode.Apply(tc.ip)
		if (got == nil) != (tc.want == "") || got != nil && *got != tc.want {
			t.Errorf("%s %q: %v, want %q", tc.mode, tc.ip, got, tc.want)
		}
	}
	for s, want := range map[string]IPCapture{"": IPFull, "full": IPFull, " truncated ": IPTruncated, "none": IPNone} {
		if got, err := ParseIPCapture(s); err != nil || got != want {
			t.Errorf("ParseIPCapture(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"Full", "partial", "/24"} {
		if _, err := ParseIPCapture(s); ErrorCode(err) != EInvalid {
			t.Errorf("ParseIPCapture(%q): %v", s, err)
		}
	}
}
