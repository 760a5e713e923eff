package wire

import (
	"strings"

	"github.com/engagedhq/engaged/actors"
)

// DecodeIPCapture reads the "ipCapture" member of an admin body: optional
// in POST /admin/v1/projects (empty result: not given), required in PUT
// /admin/v1/projects/:id/ip-capture. The value is checked here, since the
// store would only say the same: full, truncated or none.
func DecodeIPCapture(b []byte, required bool) (actors.IPCapture, error) {
	obj, err := Object(b)
	if err != nil {
		return "", err
	}
	is := &actors.Issues{FormErrors: []string{}}
	s, ok := stringMember(is, "ipCapture", obj["ipCapture"], required)
	if !is.Empty() {
		return "", Invalid(is)
	}
	if !ok {
		return "", nil
	}
	if s == "" {
		is.Add("ipCapture", "Expected 'full' | 'truncated' | 'none'")
		return "", Invalid(is)
	}
	return actors.ParseIPCapture(s)
}

// DecodeIPCaptureSetting decodes the body of PUT
// /admin/v1/projects/:id/ip-capture, {"ipCapture": "full"|"truncated"|"none"}.
func DecodeIPCaptureSetting(b []byte) (actors.IPCapture, error) { return DecodeIPCapture(b, true) }

// DecodeErasure decodes the body of POST /v1/privacy/erasures: exactly one
// of "userId", "deviceId" or "email", a non-empty string of at most
// MaxStringLen bytes. It returns the member's name (actors.EraseUserID, …)
// and its value.
func DecodeErasure(b []byte) (kind, identifier string, err error) {
	obj, err := Object(b)
	if err != nil {
		return "", "", err
	}
	is := &actors.Issues{FormErrors: []string{}, FieldErrors: map[string][]string{}}
	for _, key := range []string{actors.EraseUserID, actors.EraseDeviceID, actors.EraseEmail} {
		s, ok := stringMember(is, key, obj[key], false)
		if !ok {
			continue
		}
		switch {
		case s == "" || len(s) > MaxStringLen:
			is.Add(key, "String must contain between 1 and 256 character(s)")
		case key == actors.EraseEmail && !strings.Contains(s, "@"):
			is.Add(key, "Invalid email")
		case kind != "":
			is.FormErrors = append(is.FormErrors, "Give exactly one of userId, deviceId, email")
		default:
			kind, identifier = key, s
		}
	}
	if is.Empty() && kind == "" {
		is.FormErrors = append(is.FormErrors, "Give exactly one of userId, deviceId, email")
	}
	if !is.Empty() {
		return "", "", Invalid(is)
	}
	return kind, identifier, nil
}
