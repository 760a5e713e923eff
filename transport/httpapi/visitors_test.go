package httpapi

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

type fakeSalts struct {
	down  bool
	calls int
}

func (f *fakeSalts) VisitorSalt(_ context.Context, project string, now time.Time) ([]byte, error) {
	f.calls++
	if f.down {
		return nil, errors.New("postgres down")
	}
	return []byte(project + now.UTC().Format("2006-01-02")), nil
}

// The salt cache asks the store once per (project, day), keeps serving
// today's salt, falls back to yesterday's while the store is down at
// midnight, and has nothing to give for a project it never saw.
func TestSaltCache(t *testing.T) {
	f := &fakeSalts{}
	c := newSaltCache(f)
	ctx := context.Background()
	day1 := time.Date(2026, 12, 6, 23, 59, 0, 0, time.UTC)
	if s := c.salt(ctx, "p", day1); !bytes.Equal(s, []byte("p2026-12-06")) || f.calls != 1 {
		t.Fatalf("salt %q after %d calls", s, f.calls)
	}
	if s := c.salt(ctx, "p", day1.Add(30*time.Second)); !bytes.Equal(s, []byte("p2026-12-06")) || f.calls != 1 {
		t.Fatalf("cached salt %q after %d calls", s, f.calls)
	}
	f.down = true
	day2 := day1.Add(2 * time.Minute)
	if s := c.salt(ctx, "p", day2); !bytes.Equal(s, []byte("p2026-12-06")) || f.calls != 2 {
		t.Fatalf("store down at midnight: salt %q after %d calls", s, f.calls)
	}
	if s := c.salt(ctx, "p", day2); !bytes.Equal(s, []byte("p2026-12-06")) || f.calls != 2 {
		t.Fatalf("retried within a second: salt %q, %d calls", s, f.calls)
	}
	if s := c.salt(ctx, "other", day2); s != nil {
		t.Fatalf("salt %q for a project never seen while the store is down", s)
	}
	f.down = false
	time.Sleep(saltRetry)
	if s := c.salt(ctx, "p", day2); !bytes.Equal(s, []byte("p2026-12-07")) {
		t.Fatalf("store back: salt %q", s)
	}
	// Three days on, the entries of days before yesterday are dropped.
	c.salt(ctx, "p", day2.Add(48*time.Hour))
	c.mu.Lock()
	n := len(c.salts)
	c.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d salts kept, want 1", n)
	}
}
