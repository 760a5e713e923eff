package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// `engaged healthcheck` is the image's HEALTHCHECK: it passes while the
// service is ready and fails once it is gone.
func TestHealthcheck(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	port := s.base[strings.LastIndex(s.base, ":")+1:]
	probe := env{"ENGAGED_HTTP_ADDR": ":" + port}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck"}, probe.lookup, &out, &out); err != nil {
		t.Fatalf("healthcheck of a ready service: %v", err)
	}
	if !strings.Contains(out.String(), `"ready"`) {
		t.Fatalf("healthcheck printed %q", out.String())
	}
	if err := run(context.Background(), []string{"healthcheck", s.base + "/v1/no-such-route"}, probe.lookup, &out, &out); err == nil {
		t.Fatal("healthcheck passed on a non-200 answer")
	}
	s.stop()
	if err := run(context.Background(), []string{"healthcheck"}, probe.lookup, &out, &out); err == nil {
		t.Fatal("healthcheck passed with the service stopped")
	}
}
