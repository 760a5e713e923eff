package wire

import (
	"testing"

	"github.com/engagedhq/engaged/actors"
)

// The admin decoders check shape and types; values are the store's to judge.
func TestAdminDecoders(t *testing.T) {
	if n, o, err := DecodeProject([]byte(`{"name":"demo","allowedOrigins":["https://a.example"]}`)); err != nil || n != "demo" || len(o.AllowedOrigins) != 1 || o.AutoCreateContent {
		t.Fatalf("project: %q, %+v, %v", n, o, err)
	}
	if _, o, err := DecodeProject([]byte(`{"name":"demo","autoCreateContent": true}`)); err != nil || !o.AutoCreateContent {
		t.Fatalf("project with autoCreateContent: %+v, %v", o, err)
	}
	for body, code := range map[string]actors.Code{`{}`: actors.EInvalid, `{"name":3}`: actors.EInvalid, `[]`: actors.EInvalid, `{`: actors.EInvalidJSON, ``: actors.EInvalidJSON,
		`{"name":"a","autoCreateContent":"yes"}`: actors.EInvalid} {
		if _, _, err := DecodeProject([]byte(body)); actors.ErrorCode(err) != code {
			t.Fatalf("project %q: %v, want %s", body, err, code)
		}
	}
	for body, want := range map[string]bool{`{"autoCreateContent":true}`: true, `{"autoCreateContent": false}`: false} {
		if on, err := DecodeAutoCreate([]byte(body)); err != nil || on != want {
			t.Fatalf("auto-create %s: %v, %v", body, on, err)
		}
	}
	for _, body := range []string{`{}`, `{"autoCreateContent":null}`, `{"autoCreateContent":1}`, `[]`} {
		if _, err := DecodeAutoCreate([]byte(body)); actors.ErrorCode(err) != actors.EInvalid {
			t.Fatalf("auto-create %s: %v, want invalid_request", body, err)
		}
	}
	for body, want := range map[string]actors.KeyKind{``: actors.SecretKey, `{}`: actors.SecretKey, `{"kind":null}`: actors.SecretKey, `{"kind":"publishable"}`: actors.PublishableKey} {
		if k, err := DecodeKey([]byte(body)); err != nil || k != want {
			t.Fatalf("key %q: %q, %v", body, k, err)
		}
	}
	if _, err := DecodeKey([]byte(`{"kind":1}`)); actors.ErrorCode(err) != actors.EInvalid {
		t.Fatalf("key kind 1: %v", err)
	}
	for body, want := range map[string]string{``: "", `{}`: "", `{"documentUrl":"https://x/y"}`: "https://x/y"} {
		if u, err := DecodeRender([]byte(body)); err != nil || u != want {
			t.Fatalf("render %q: %q, %v", body, u, err)
		}
	}
	if _, err := DecodeRender([]byte(`{"documentUrl":true}`)); actors.ErrorCode(err) != actors.EInvalid {
		t.Fatalf("render documentUrl true: %v", err)
	}
}
