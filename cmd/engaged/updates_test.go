package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
)

// subscribeUpdates connects to the service's embedded NATS (started with
// ENGAGED_NATS_LISTEN=127.0.0.1:0) the way `nats sub` would and subscribes
// to subject.
func subscribeUpdates(t *testing.T, s *service, subject string) *nats.Subscription {
	t.Helper()
	nc := s.natsConn(t)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return sub
}

// update is one received live update.
type update struct {
	subject string
	seq     uint64         // from the Engaged-Seq header
	body    map[string]any // the payload, decoded
	total   int64
}

func nextUpdate(t *testing.T, sub *nats.Subscription) update {
	t.Helper()
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no update: %v", err)
	}
	var u update
	u.subject = m.Subject
	if u.seq, err = strconv.ParseUint(m.Header.Get("Engaged-Seq"), 10, 64); err != nil {
		t.Fatalf("update without Engaged-Seq header: %v", m.Header)
	}
	if err := json.Unmarshal(m.Data, &u.body); err != nil {
		t.Fatalf("update payload %q: %v", m.Data, err)
	}
	if got, _ := u.body["seq"].(float64); uint64(got) != u.seq {
		t.Fatalf("payload seq %v, header %d", u.body["seq"], u.seq)
	}
	total, _ := u.body["total"].(float64)
	u.total = int64(total)
	return u
}

// sameAsRead checks that an update is exactly the engagement read plus seq
// (and series).
func sameAsRead(t *testing.T, s *service, tn tenant, u update) {
	t.Helper()
	var read map[string]any
	if err := json.Unmarshal([]byte(s.engagementJSON(t, tn)), &read); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{}
	// An update also carries the newest minute and hour buckets (series),
	// which the read does not.
	if _, ok := u.body["series"]; !ok && totalOf(u.body) > 0 {
		t.Fatalf("update without series: %v", u.body)
	}
	for k, v := range u.body {
		if k != "seq" && k != "series" {
			body[k] = v
		}
	}
	if !reflect.DeepEqual(body, read) {
		t.Fatalf("update is not the engagement read plus seq:\nupdate %v\nread   %v", u.body, read)
	}
}

// The first update after a quiet interval goes out at once: with a
// one-minute interval, only the leading edge can deliver it within the
// ten seconds nextUpdate waits.
func TestUpdatesFirstIsImmediate(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_UPDATE_INTERVAL", "1m")
	s := startService(t, e)
	tn := newTenant(t, e)
	other := newTenant(t, e)
	sub := subscribeUpdates(t, s, "engaged.updates.>")

	recorded(t, s.post(t, tn, `{"eventType":"viewed","metadata":{"n":0}}`))
	u := nextUpdate(t, sub)
	if want := "engaged.updates." + tn.project + "." + tn.render; u.subject != want {
		t.Fatalf("subject %q, want %q", u.subject, want)
	}
	if u.total != 1 {
		t.Fatalf("first update total %d, want 1", u.total)
	}
	sameAsRead(t, s, tn, u)

	// Items are throttled each on its own: another item's first update is
	// immediate too, inside tn's interval.
	recorded(t, s.post(t, other, `{"eventType":"printed"}`))
	u = nextUpdate(t, sub)
	if u.subject != "engaged.updates."+other.project+"."+other.render || u.total != 1 {
		t.Fatalf("other item's update: %s total %d", u.subject, u.total)
	}
	sameAsRead(t, s, other, u)
}

// Events inside the interval are coalesced into one trailing update of the
// exact final state.
func TestUpdatesTrailingEdge(t *testing.T) {
	const interval = time.Second
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_UPDATE_INTERVAL", interval.String(),
		"ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := newTenant(t, e)
	sub := subscribeUpdates(t, s, "engaged.updates.>")

	start := time.Now()
	recorded(t, s.post(t, tn, `{"eventType":"viewed","metadata":{"n":0}}`))
	const burst = 4
	for i := 1; i <= burst; i++ {
		recorded(t, s.post(t, tn, fmt.Sprintf(`{"eventType":"viewed","metadata":{"n":%d}}`, i), "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i)))
	}
	fitsWindow := time.Since(start) < interval
	u1 := nextUpdate(t, sub)
	u2 := u1
	if fitsWindow {
		// The first update was published after start; every later event
		// was applied before start+interval, inside the interval the first
		// update opened. So the only other update allowed is the trailing
		// one, with the final state.
		if u1.total != 1 {
			t.Fatalf("first update total %d, want 1", u1.total)
		}
		u2 = nextUpdate(t, sub)
		if u2.total != 1+burst {
			t.Fatalf("updates: total %d then %d; want the trailing update to carry the final %d", u1.total, u2.total, 1+burst)
		}
		if u2.seq <= u1.seq {
			t.Fatalf("seq went from %d to %d", u1.seq, u2.seq)
		}
	} else {
		t.Logf("the burst took longer than %s; checking only that it ends with the final state", interval)
		for u2.total != 1+burst {
			u2 = nextUpdate(t, sub)
		}
	}
	sameAsRead(t, s, tn, u2)
}

// An update still pending when the item is passivated goes out then: a
// burst's final state is never swallowed by an idle item.
func TestUpdatesFlushedAtPassivation(t *testing.T) {
	const idle = time.Second
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_UPDATE_INTERVAL", "1m",
		"ENGAGED_IDLE_TIMEOUT", idle.String(), "ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := newTenant(t, e)
	sub := subscribeUpdates(t, s, "engaged.updates.>")

	start := time.Now()
	recorded(t, s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", "192.0.2.1"))
	recorded(t, s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", "192.0.2.2"))
	if time.Since(start) >= idle {
		t.Skipf("two posts took longer than the idle timeout (%s); the item may have passivated in between", idle)
	}
	if u := nextUpdate(t, sub); u.total != 1 {
		t.Fatalf("first update total %d, want 1", u.total)
	}
	// The second event is inside the one-minute interval: only the flush at
	// passivation (after a second of idleness) can publish it in time.
	if u := nextUpdate(t, sub); u.total != 2 {
		t.Fatalf("update at passivation total %d, want 2", u.total)
	}
}

// A long burst: never more than one update per interval, strictly rising
// sequences, and the last update is the final state.
func TestUpdatesAtMostOnePerInterval(t *testing.T) {
	const interval = 200 * time.Millisecond
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_UPDATE_INTERVAL", interval.String(),
		"ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := newTenant(t, e)
	sub := subscribeUpdates(t, s, "engaged.updates."+tn.project+".>")

	const n = 60
	start := time.Now()
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func() {
			for i := w; i < n; i += 4 {
				r := s.postNoFail(tn, `{"eventType":"downloaded"}`, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
				if r != nil {
					errs <- r
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < 4; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var got []update
	for len(got) == 0 || got[len(got)-1].total != n {
		got = append(got, nextUpdate(t, sub))
		if k := len(got); k > 1 && got[k-1].seq <= got[k-2].seq {
			t.Fatalf("seq not rising: %d after %d", got[k-1].seq, got[k-2].seq)
		}
	}
	elapsed := time.Since(start)
	// Updates are at least one interval apart (timers never fire early), so
	// k updates need (k-1) intervals.
	if max := int(elapsed/interval) + 1; len(got) > max {
		t.Fatalf("%d updates in %s: more than one per %s", len(got), elapsed, interval)
	}
	sameAsRead(t, s, tn, got[len(got)-1])
	t.Logf("%d events -> %d updates in %s", n, len(got), elapsed)
}

// postNoFail is post for goroutines other than the test's: it returns an
// error instead of failing.
func (s *service) postNoFail(tn tenant, body string, headers ...string) error {
	r, err := rawDo("POST", s.base+"/v1/renders/"+tn.render+"/events", tn.key, body, headers...)
	if err != nil {
		return err
	}
	if r.status != 200 {
		return fmt.Errorf("post: %d %s", r.status, r.body)
	}
	return nil
}

// Rebuilding an item from the log (activation replay) publishes nothing;
// the first live event after it publishes the complete state, also when it
// is that event which activates the item.
func TestReplayPublishesNothing(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_UPDATE_INTERVAL", "0", "ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	readFirst := newTenant(t, e)
	postFirst := newTenant(t, e)
	for _, tn := range []tenant{readFirst, postFirst} {
		for i := 0; i < 3; i++ {
			recorded(t, s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i)))
		}
	}
	s.stop()

	// Without snapshots, activation must replay all three events from the log.
	conn, err := pgx.Connect(context.Background(), e["ENGAGED_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	tag, err := conn.Exec(context.Background(), "DELETE FROM snapshots")
	conn.Close(context.Background())
	if err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("delete snapshots: %v %v", tag, err)
	}

	s2 := startService(t, e)
	for _, tc := range []struct {
		name string
		tn   tenant
		read bool
	}{{"activated by a read", readFirst, true}, {"activated by the live event", postFirst, false}} {
		t.Run(tc.name, func(t *testing.T) {
			sub := subscribeUpdates(t, s2, "engaged.updates."+tc.tn.project+".>")
			if tc.read {
				if got := s2.engagement(t, tc.tn).Total; got != 3 {
					t.Fatalf("replayed total %d, want 3", got)
				}
			}
			recorded(t, s2.post(t, tc.tn, `{"eventType":"printed"}`))
			// Updates of one item arrive in order, so a replayed state
			// published during activation would come first.
			u := nextUpdate(t, sub)
			if u.total != 4 {
				t.Fatalf("first update after the restart has total %d, want 4 (replay published?)", u.total)
			}
			sameAsRead(t, s2, tc.tn, u)
		})
	}
}
