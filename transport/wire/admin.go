package wire

import (
	"bytes"
	"encoding/json"

	"github.com/engagedhq/engaged/actors"
)

// The admin API's request bodies (operator token). They check shape and
// types only; the records store checks the values (a name's length, a
// document URL), so the CLI, which reaches the store directly, gets the
// same answers.

// ProjectSettings are the optional members of POST /admin/v1/projects.
type ProjectSettings struct {
	AllowedOrigins    []string
	AutoCreateContent bool
	IPCapture         actors.IPCapture // "": not given (the store's default, full)
}

// DecodeProject decodes the body of POST /admin/v1/projects,
// {"name", "allowedOrigins"?, "autoCreateContent"?, "ipCapture"?}.
func DecodeProject(b []byte) (name string, set ProjectSettings, err error) {
	obj, err := Object(b)
	if err != nil {
		return "", set, err
	}
	is := &actors.Issues{FormErrors: []string{}}
	name, _ = stringMember(is, "name", obj["name"], true)
	set.AllowedOrigins = stringsMember(is, "allowedOrigins", obj["allowedOrigins"], false)
	set.AutoCreateContent = boolMember(is, "autoCreateContent", obj["autoCreateContent"], false)
	if !is.Empty() {
		return "", set, Invalid(is)
	}
	if set.IPCapture, err = DecodeIPCapture(b, false); err != nil {
		return "", set, err
	}
	return name, set, nil
}

// DecodeAutoCreate decodes the body of PUT
// /admin/v1/projects/:id/auto-create-content, {"autoCreateContent": bool}.
func DecodeAutoCreate(b []byte) (bool, error) {
	obj, err := Object(b)
	if err != nil {
		return false, err
	}
	is := &actors.Issues{FormErrors: []string{}}
	on := boolMember(is, "autoCreateContent", obj["autoCreateContent"], true)
	if !is.Empty() {
		return false, Invalid(is)
	}
	return on, nil
}

// boolMember reads a boolean; absent or null is false.
func boolMember(is *actors.Issues, key string, v []byte, required bool) bool {
	v, ok := present(v)
	switch {
	case !ok && required:
		is.Add(key, "Required")
	case !ok:
	case Kind(v) != "boolean":
		is.Add(key, Expected("boolean", v))
	default:
		return bytes.TrimSpace(v)[0] == 't'
	}
	return false
}

// DecodeOrigins decodes the body of PUT
// /admin/v1/projects/:id/allowed-origins, {"allowedOrigins": [...]}; the
// records store checks each origin.
func DecodeOrigins(b []byte) ([]string, error) {
	obj, err := Object(b)
	if err != nil {
		return nil, err
	}
	is := &actors.Issues{FormErrors: []string{}}
	origins := stringsMember(is, "allowedOrigins", obj["allowedOrigins"], true)
	if !is.Empty() {
		return nil, Invalid(is)
	}
	return origins, nil
}

// stringsMember reads an array of strings.
func stringsMember(is *actors.Issues, key string, v []byte, required bool) []string {
	v, ok := present(v)
	if !ok {
		if required {
			is.Add(key, "Required")
		}
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil {
		is.Add(key, Expected("array", v))
		return nil
	}
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		s, err := String(r)
		if err != nil {
			is.Add(key, Expected("string", r))
			return nil
		}
		out = append(out, s)
	}
	return out
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
