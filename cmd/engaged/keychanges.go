package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/config"
	"github.com/engagedhq/engaged/persist"
	"github.com/engagedhq/engaged/transport/jetlog"
	"github.com/engagedhq/engaged/transport/live"
)

// announcingStore is the records store as the admin API and the admin CLI
// change it: once a key is revoked, a project deleted or a setting that keys
// carry (allowed origins, autoCreateContent, ipCapture) changed
// in Postgres, it publishes the change on NATS
// (live.KeySubject), and every instance drops its cached answers for the
// keys concerned at once. If the change cannot be published it is still
// made; instances then see it at their next key refresh
// (httpapi.keyRefresh) and the failure is logged.
type announcingStore struct {
	*persist.Store
	nc     *nats.Conn   // nil: nothing is published (the CLI found no NATS)
	logger *slog.Logger // nil: a command that changes no key's rights (project create) publishes nothing
}

func (s announcingStore) announce(ctx context.Context, c live.KeyChange) {
	if s.logger == nil {
		return
	}
	if s.nc == nil {
		s.logger.Warn("key change not published (no NATS connection): instances see it within their key refresh", "keyId", c.KeyID, "projectId", c.ProjectID)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := live.PublishKeyChange(ctx, s.nc, c); err != nil {
		s.logger.Warn("key change not published: instances see it within their key refresh", "keyId", c.KeyID, "projectId", c.ProjectID, "err", err)
	}
}

func (s announcingStore) RevokeKey(ctx context.Context, id string) error {
	if err := s.Store.RevokeKey(ctx, id); err != nil {
		return err
	}
	s.announce(ctx, live.KeyChange{KeyID: id})
	return nil
}

func (s announcingStore) DeleteProject(ctx context.Context, id string) error {
	if err := s.Store.DeleteProject(ctx, id); err != nil {
		return err
	}
	s.announce(ctx, live.KeyChange{ProjectID: id})
	return nil
}

func (s announcingStore) SetAllowedOrigins(ctx context.Context, id string, origins []string) ([]string, error) {
	stored, err := s.Store.SetAllowedOrigins(ctx, id, origins)
	if err != nil {
		return nil, err
	}
	s.announce(ctx, live.KeyChange{ProjectID: id})
	return stored, nil
}

// cliNATS connects the admin CLI to the service's NATS, to announce key
// changes: ENGAGED_NATS_URL, else the embedded server's listener
// (ENGAGED_NATS_LISTEN). It returns nil, and the caller publishes nothing
// (instances then see the change at their next key refresh), if it cannot
// connect.
func cliNATS(cfg config.Config) *nats.Conn {
	url := cfg.NATSURL
	if url == "" {
		if cfg.NATSListen == "" {
			return nil
		}
		url = "nats://" + cfg.NATSListen
	}
	nc, err := jetlog.Connect(jetlog.ConnectOptions{
		URL: url, Name: "engaged-admin",
		CredsFile: cfg.NATSCreds, NKeyFile: cfg.NATSNKey,
		TLSCAFile: cfg.NATSTLSCA, TLSCertFile: cfg.NATSTLSCert, TLSKeyFile: cfg.NATSTLSKey,
	})
	if err != nil {
		return nil
	}
	return nc
}

// SetAutoCreateContent and SetIPCapture change settings that cached key
// answers carry (actors.Principal), so they are announced like origins.
func (s announcingStore) SetAutoCreateContent(ctx context.Context, id string, on bool) (bool, error) {
	stored, err := s.Store.SetAutoCreateContent(ctx, id, on)
	if err != nil {
		return false, err
	}
	s.announce(ctx, live.KeyChange{ProjectID: id})
	return stored, nil
}

func (s announcingStore) SetIPCapture(ctx context.Context, id string, mode actors.IPCapture) (actors.IPCapture, error) {
	stored, err := s.Store.SetIPCapture(ctx, id, mode)
	if err != nil {
		return "", err
	}
	s.announce(ctx, live.KeyChange{ProjectID: id})
	return stored, nil
}
