package wire

import (
	"bytes"

	"engaged/actors"
)

// The admin API's request bodies (operator token). They check shape and
// types only; the records store checks the values (a name's length, a
// document URL), so the CLI, which reaches the store directly, gets the
// same answers.

// DecodeProject decodes the body of POST /admin/v1/projects, {"name"}.
func DecodeProject(b []byte) (string, error) {
	obj, err := Object(b)
	if err != nil {
		return "", err
	}
	is := &actors.Issues{FormErrors: []string{}}
	name, _ := stringMember(is, "name", obj["name"], true)
	if !is.Empty() {
		return "", Invalid(is)
	}
	return name, nil
}

// DecodeKey decodes the optional body of POST /admin/v1/projects/:id/keys,
// {"kind"?}; the kind defaults to secret.
func DecodeKey(b []byte) (actors.KeyKind, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return actors.SecretKey, nil
	}
	obj, err := Object(b)
	if err != nil {
		return "", err
	}
	is := &actors.Issues{FormErrors: []string{}}
	kind := actors.SecretKey
	if s, ok := stringMember(is, "kind", obj["kind"], false); ok {
		kind = actors.KeyKind(s)
	}
	if !is.Empty() {
		return "", Invalid(is)
	}
	return kind, nil
}

// DecodeRender decodes the optional body of POST
// /admin/v1/projects/:id/renders, {"documentUrl"?}.
func DecodeRender(b []byte) (string, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return "", nil
	}
	obj, err := Object(b)
	if err != nil {
		return "", err
	}
	is := &actors.Issues{FormErrors: []string{}}
	u, _ := stringMember(is, "documentUrl", obj["documentUrl"], false)
	if !is.Empty() {
		return "", Invalid(is)
	}
	return u, nil
}
