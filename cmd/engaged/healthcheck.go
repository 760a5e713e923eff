package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/engagedhq/engaged/config"
)

// healthcheck asks a running engaged's /readyz (NATS connected, Postgres
// answering) and fails unless it says 200. It exists for container
// HEALTHCHECKs: the image has no shell, curl or wget, only this binary.
// Without an argument it asks the port of ENGAGED_HTTP_ADDR on loopback.
func healthcheck(ctx context.Context, args []string, lookupenv func(string) (string, bool), stdout io.Writer) error {
	url := ""
	switch len(args) {
	case 0:
		addr := config.Defaults().HTTPAddr
		if v, ok := lookupenv("ENGAGED_HTTP_ADDR"); ok && v != "" {
			addr = v
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("healthcheck: ENGAGED_HTTP_ADDR %q: %w", addr, err)
		}
		url = "http://" + net.JoinHostPort("127.0.0.1", port) + "/readyz"
	case 1:
		url = args[0]
	default:
		return fmt.Errorf("healthcheck: at most one argument (a /readyz URL), got %d", len(args))
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d: %s", url, res.StatusCode, body)
	}
	fmt.Fprintf(stdout, "%s\n", body)
	return nil
}
