package wire

import "github.com/engagedhq/engaged/actors"

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
