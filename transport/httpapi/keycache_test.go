package httpapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// switchDir is a Directory whose Postgres can be taken down and whose keys
// can be revoked; it counts the key queries that reached it.
type switchDir struct {
	fakeDir
	mu      sync.Mutex
	down    bool
	revoked map[string]bool
	queries int
}

func (d *switchDir) Authenticate(ctx context.Context, secret string) (actors.Principal, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queries++
	if d.down {
		return actors.Principal{}, &actors.Error{Code: actors.EUnavailable, Message: "database unavailable", RetryAfter: time.Second}
	}
	if d.revoked[secret] {
		return actors.Principal{}, errUnauthorized()
	}
	return d.fakeDir.Authenticate(ctx, secret)
}

func (d *switchDir) set(down bool, revoke string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = down
	if revoke != "" {
		d.revoked[revoke] = true
	}
}

// A key seen before keeps its last answer while Postgres is down, one
// query per keyRetry tries again, and a key never seen gets the 503.
func TestKeyCacheServesLastAnswerWhilePostgresIsDown(t *testing.T) {
	c := newKeyCache(10)
	t0 := time.Now()
	a, ask, gen := c.get("sk_a", t0)
	if a != nil || !ask {
		t.Fatalf("empty cache: got %v, ask %v", a, ask)
	}
	p := actors.Principal{KeyID: "k1", ProjectID: "p1", Kind: actors.SecretKey}
	c.put("sk_a", &keyAnswer{p: p, due: t0.Add(keyRefresh)}, gen)
	if a, ask, _ := c.get("sk_a", t0.Add(keyRefresh/2)); ask || a.p.KeyID != p.KeyID {
		t.Fatalf("fresh answer: got %+v, ask %v", a, ask)
	}
	// Due: one caller asks, the others keep the answer meanwhile.
	due := t0.Add(keyRefresh)
	if a, ask, _ := c.get("sk_a", due); !ask || a.p.KeyID != p.KeyID {
		t.Fatalf("due answer: got %+v, ask %v; want the answer and ask", a, ask)
	}
	if a, ask, _ := c.get("sk_a", due.Add(keyRetry/2)); ask || a.p.KeyID != p.KeyID {
		t.Fatalf("while another asks: got %+v, ask %v", a, ask)
	}
	if _, ask, _ := c.get("sk_a", due.Add(keyRetry)); !ask {
		t.Fatal("no new try after keyRetry")
	}
}

// A change that comes while a lookup is out wins over the lookup's answer,
// which may predate it.
func TestKeyCacheForgetBeatsLookupInFlight(t *testing.T) {
	c := newKeyCache(10)
	now := time.Now()
	_, _, gen := c.get("sk_a", now)
	c.forget("k1", "")
	c.put("sk_a", &keyAnswer{p: actors.Principal{KeyID: "k1"}, due: now.Add(keyRefresh)}, gen)
	if a, ask, _ := c.get("sk_a", now); a != nil || !ask {
		t.Fatalf("an answer from before the change was kept: %+v", a)
	}
}

// Through the server: a known key works with Postgres down; once its
// revocation is heard (ForgetKeys) it never works again during the outage,
// and a key of another project is not affected.
func TestRevokedKeyDoesNotComeBackDuringOutage(t *testing.T) {
	d := &switchDir{revoked: map[string]bool{}}
	s := NewServer(Options{RequestTimeout: time.Second}, d, nil)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	if _, err := s.lookupKey("sk_test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.lookupKey("sk_nope"); actors.ErrorCode(err) != actors.EUnauthorized {
		t.Fatalf("unknown key: %v", err)
	}
	d.set(true, "")
	// Force the refresh: the entry is due now.
	s.keys.mu.Lock()
	a, _ := s.keys.entries.Peek("sk_test")
	a.due = time.Time{}
	s.keys.mu.Unlock()
	if p, err := s.lookupKey("sk_test"); err != nil || p.KeyID != "k1" {
		t.Fatalf("known key with Postgres down: %+v, %v", p, err)
	}
	if _, err := s.lookupKey("sk_other"); actors.ErrorCode(err) != actors.EUnavailable {
		t.Fatalf("key never seen with Postgres down: %v, want 503", err)
	}
	d.set(true, "sk_test")
	s.ForgetKeys("k1", "")
	for range 3 {
		if _, err := s.lookupKey("sk_test"); err == nil {
			t.Fatal("a revoked key came back during the outage")
		}
	}
	d.set(false, "")
	if _, err := s.lookupKey("sk_test"); actors.ErrorCode(err) != actors.EUnauthorized {
		t.Fatalf("revoked key with Postgres back: %v, want 401", err)
	}
	d.mu.Lock()
	n := d.queries
	d.mu.Unlock()
	if _, err := s.lookupKey("sk_test"); actors.ErrorCode(err) != actors.EUnauthorized {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.queries != n {
		t.Fatalf("a cached refusal queried Postgres again (%d → %d queries)", n, d.queries)
	}
}
