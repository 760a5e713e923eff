package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engagedhq/engaged/persist"
	"github.com/engagedhq/engaged/persist/pgtest"
)

// A render created straight in Postgres while the service runs (as
// engaged-bench sets up its key space) and never looked up is in the item
// set after its poll, so its first event is accepted with Postgres stopped:
// the set answered, no query. With the set off the same event is the 503 it
// always was, and an id never registered is a 503 either way (only Postgres
// can say; the set is an accelerator, not the authority). Once Postgres is
// back, an unknown id is the 404 in the error envelope.
func TestItemSetServesWithoutPostgres(t *testing.T) {
	for _, tc := range []struct {
		max    string
		status int // of the new render's first event while Postgres is down
	}{
		{"2000000", 200},
		{"0", 503},
	} {
		t.Run("max="+tc.max, func(t *testing.T) {
			cluster, url := pgtest.NewCluster(t)
			// One partition: the new render's actor must activate with
			// Postgres down, which only the owner of its partition can
			// (from the log alone, knowing it has no snapshot:
			// docs/OPERATING-POSTGRES.md), and the first event makes this
			// instance the owner.
			e := newEnv(t).with("ENGAGED_DATABASE_URL", url, "ENGAGED_REQUEST_TIMEOUT", "2s", "ENGAGED_ITEM_SET_MAX", tc.max,
				"ENGAGED_PARTITIONS", "1")
			tn := newTenant(t, e)
			s := startService(t, e)
			// The key and the day's visitor salt are cached from here on.
			if !recorded(t, s.post(t, tn, `{"eventType":"viewed"}`)) {
				t.Fatal("first event not recorded")
			}
			ctx := context.Background()
			store, err := persist.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			// The claim is made, and the partition's snapshot keys are
			// loaded right after it (actors/known.go), once the first
			// snapshot is written.
			eventually(t, 10*time.Second, func() error {
				keys, err := store.SnapshotKeys(ctx, 0)
				if err != nil || len(keys) == 0 {
					return fmt.Errorf("no snapshot yet: %v", err)
				}
				return nil
			})
			ids, err := store.CreateRenders(ctx, tn.project, 1)
			store.Close()
			if err != nil {
				t.Fatal(err)
			}
			if tc.max != "0" {
				eventually(t, 10*time.Second, func() error {
					if st := itemSetStats(t, s); !st.Loaded || st.Entries != 2 {
						return fmt.Errorf("item set %+v, want loaded with 2 entries", st)
					}
					return nil
				})
			}
			before := itemSetStats(t, s)

			cluster.Stop(t)
			r := do(t, "POST", s.base+"/v1/renders/"+ids[0]+"/events", tn.key, `{"eventType":"viewed"}`)
			if r.status != tc.status {
				t.Fatalf("new render's first event with Postgres down: %d %s, want %d", r.status, r.body, tc.status)
			}
			if r.status == 503 && (r.errorCode(t) != "unavailable" || r.header.Get("Retry-After") == "") {
				t.Fatalf("503 without its envelope or Retry-After: %s", r.body)
			}
			unknown := "/v1/renders/" + uuid.Must(uuid.NewV7()).String() + "/events"
			if r := do(t, "POST", s.base+unknown, tn.key, `{"eventType":"viewed"}`); r.status != 503 || r.errorCode(t) != "unavailable" {
				t.Fatalf("unknown render with Postgres down: %d %s, want 503", r.status, r.body)
			}
			after := itemSetStats(t, s)
			if tc.max != "0" {
				if after.Hits != before.Hits+1 || after.Misses != before.Misses+1 {
					t.Fatalf("item set %+v then %+v: want one hit (the new render) and one miss (the unknown id)", before, after)
				}
				eventually(t, 10*time.Second, func() error {
					if n := strings.Count(s.log.String(), `msg="item set: read items (`); n != 1 {
						return fmt.Errorf("%d warnings of the poll in the outage, want 1", n)
					}
					return nil
				})
			} else if after != before {
				t.Fatalf("item set off: %+v then %+v", before, after)
			}

			cluster.Start(t)
			eventually(t, 10*time.Second, func() error {
				r := do(t, "POST", s.base+unknown, tn.key, `{"eventType":"viewed"}`)
				if r.status != 404 || r.errorCode(t) != "not_found" {
					return fmt.Errorf("unknown render with Postgres back: %d %s, want 404", r.status, r.body)
				}
				return nil
			})
			if !recorded(t, do(t, "POST", s.base+"/v1/renders/"+ids[0]+"/events", tn.key, `{"eventType":"printed"}`)) {
				t.Fatal("new render's event with Postgres back not recorded")
			}
		})
	}
}

// itemSetStats is the item set's part of the operator listener's /stats.
type itemSetCounts struct {
	Max, Entries int
	Loaded       bool
	Hits, Misses int64
}

func itemSetStats(t *testing.T, s *service) itemSetCounts {
	t.Helper()
	r := do(t, "GET", s.admin+"/stats", "", "")
	var out struct {
		ItemSet itemSetCounts `json:"itemSet"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("/stats: %d %s", r.status, r.body)
	}
	return out.ItemSet
}
