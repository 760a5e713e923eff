package persist

import (
	"context"
	"slices"
	"testing"

	"github.com/engagedhq/engaged/actors"
)

// A project's allowed origins are stored normalised and reach the
// principal of each of its keys; clearing them allows any origin again.
func TestAllowedOrigins(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	p, _ := s.CreateProject(ctx, "a")
	_, secret, err := s.CreateKey(ctx, p.ID, actors.PublishableKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authenticate(ctx, secret); err != nil || got.AllowedOrigins != nil {
		t.Fatalf("new project: %+v, %v", got, err)
	}
	stored, err := s.SetAllowedOrigins(ctx, p.ID, []string{"HTTPS://Shop.Example:443", "http://localhost:5173", "https://shop.example"})
	want := []string{"https://shop.example", "http://localhost:5173"}
	if err != nil || !slices.Equal(stored, want) {
		t.Fatalf("SetAllowedOrigins = %q, %v", stored, err)
	}
	got, err := s.Authenticate(ctx, secret)
	if err != nil || !slices.Equal(got.AllowedOrigins, want) {
		t.Fatalf("principal origins = %q, %v", got.AllowedOrigins, err)
	}
	if !got.AllowsOrigin("https://shop.example") || got.AllowsOrigin("https://evil.example") || got.AllowsOrigin("null") {
		t.Fatalf("AllowsOrigin with %q", got.AllowedOrigins)
	}
	for _, bad := range []string{"shop.example", "https://shop.example/path", "ftp://shop.example", "https://u@shop.example"} {
		if _, err := s.SetAllowedOrigins(ctx, p.ID, []string{bad}); actors.ErrorCode(err) != actors.EInvalid {
			t.Errorf("origin %q: %v", bad, err)
		}
	}
	if _, err := s.SetAllowedOrigins(ctx, newID(), nil); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("unknown project: %v", err)
	}
	if _, err := s.SetAllowedOrigins(ctx, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Authenticate(ctx, secret); got.AllowedOrigins != nil || !got.AllowsOrigin("https://evil.example") {
		t.Fatalf("cleared: %q", got.AllowedOrigins)
	}
}
