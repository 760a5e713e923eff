package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := Load(nil, lookup(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.DataDir != "./data" || c.Partitions != 8 || c.NATSListen != "127.0.0.1:4222" ||
		c.SyncAlways || c.SyncInterval != time.Second || c.PublicBaseURL != "http://localhost:8080" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestEnvAndFlags(t *testing.T) {
	env := map[string]string{
		"ENGAGED_HTTP_ADDR":       "127.0.0.1:9000",
		"ENGAGED_NATS_LISTEN":     "", // set but empty: no listener
		"ENGAGED_SYNC":            "always",
		"ENGAGED_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
		"ENGAGED_PARTITIONS":      "8",
	}
	c, err := Load([]string{"-partitions", "16"}, lookup(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:9000" || c.NATSListen != "" || !c.SyncAlways || c.Partitions != 16 {
		t.Fatalf("got %+v", c)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.168.1.1/32" {
		t.Fatalf("proxies %v", c.TrustedProxies)
	}
}

// A bad value fails start-up with a message naming the variable.
func TestInvalidValuesNameTheVariable(t *testing.T) {
	tests := []struct{ env, value string }{
		{"ENGAGED_PARTITIONS", "0"},
		{"ENGAGED_PARTITIONS", "many"},
		{"ENGAGED_SYNC", "sometimes"},
		{"ENGAGED_SNAPSHOT_INTERVAL", "-1s"},
		{"ENGAGED_IDLE_TIMEOUT", "soon"},
		{"ENGAGED_TRUSTED_PROXIES", "10.0.0.0/33"},
		{"ENGAGED_MAX_BODY_BYTES", "12"},
		{"ENGAGED_STREAM_MAX_BYTES", "0"},
		{"ENGAGED_STREAM_MAX_AGE", "1m"},
		{"ENGAGED_HTTP_ADDR", ""},
		{"ENGAGED_PUBLIC_URL", "ftp://x"},
		{"ENGAGED_MAILBOX", "0"},
		{"ENGAGED_UPDATE_INTERVAL", "-1ms"},
		{"ENGAGED_UPDATE_INTERVAL", "2m"},
		{"ENGAGED_SSE_MAX_STREAMS", "0"},
		{"ENGAGED_SSE_MAX_LIFETIME", "1ms"},
		{"ENGAGED_SSE_HEARTBEAT", "often"},
		{"ENGAGED_SSE_MAX_STREAMS_PER_KEY", "0"},
		{"ENGAGED_MAX_HEADER_BYTES", "100"},
		{"ENGAGED_SERIES_RETENTION_DAYS", "0"},
	}
	for _, tc := range tests {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			_, err := Load(nil, lookup(map[string]string{tc.env: tc.value}), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.env) {
				t.Fatalf("err = %v, want one naming %s", err, tc.env)
			}
		})
	}
}

func TestResolveDatabaseURL(t *testing.T) {
	c := Defaults()
	c.DataDir = t.TempDir()
	if _, err := c.ResolveDatabaseURL(); err == nil || !strings.Contains(err.Error(), "ENGAGED_DATABASE_URL") {
		t.Fatalf("err = %v", err)
	}
	c.DatabaseURL = "postgres://x"
	if u, _ := c.ResolveDatabaseURL(); u != "postgres://x" {
		t.Fatal(u)
	}
}

func TestLiveUpdateSettings(t *testing.T) {
	c, err := Load(nil, lookup(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.UpdateInterval != 100*time.Millisecond || c.SSEMaxStreams != 1000 || c.SSEMaxLifetime != time.Hour ||
		c.SSEHeartbeat != 15*time.Second || c.SSEMaxStreamsKey != 100 || c.MaxHeaderBytes != 8192 {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = Load([]string{"-sse-max-streams-per-key", "8"}, lookup(map[string]string{
		"ENGAGED_UPDATE_INTERVAL": "0", "ENGAGED_SSE_MAX_STREAMS": "3", "ENGAGED_SSE_MAX_LIFETIME": "2s", "ENGAGED_SSE_HEARTBEAT": "50ms",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.UpdateInterval != 0 || c.SSEMaxStreams != 3 || c.SSEMaxLifetime != 2*time.Second || c.SSEHeartbeat != 50*time.Millisecond || c.SSEMaxStreamsKey != 8 {
		t.Fatalf("got %+v", c)
	}
}
