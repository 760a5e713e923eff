package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// engaged serves against an external JetStream that admits only an NKey
// user: refused without ENGAGED_NATS_NKEY, working with it. (Each way of
// authenticating, TLS included, is tested against real servers in jetlog.)
func TestServeAgainstNKeySecuredNATS(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "engaged.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "secured", Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir(),
		Nkeys: []*server.NkeyUser{{Nkey: pub}},
	})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })

	e := newEnv(t).with("ENGAGED_NATS_URL", ns.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, []string{"serve"}, e.lookup, io.Discard, io.Discard)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("serve without the NKey: %v, want an authorization violation", err)
	}

	s := startService(t, e.with("ENGAGED_NATS_NKEY", seedFile))
	tn := newTenant(t, e)
	if !recorded(t, s.post(t, tn, `{"eventType":"viewed"}`)) {
		t.Fatal("event not recorded")
	}
	if got := s.engagement(t, tn).Counts["viewed"]; got != 1 {
		t.Fatalf("viewed = %d, want 1", got)
	}
}
