package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Issue 18 item 5: no event leaves the log before a snapshot covers it. With
// a log retention of seconds, the service's sweep removes old messages, and
// an item no snapshot covers (here: its snapshot row deleted after a kill
// -9, as after an ownership move whose acknowledgement covered another
// instance's deliveries) and that nobody activates after the restart still
// has every count once its messages are gone, and after another restart;
// with ENGAGED_RECENT_MAX_AGE the same sweep drops the old recent events.
func TestRetentionSweepKeepsUncoveredItems(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_NATS_LISTEN", "127.0.0.1:0",
		"ENGAGED_LOG_RETENTION", "2s", "ENGAGED_STREAM_MAX_AGE", "3m")
	a := newTenant(t, e)
	bRender := adminJSON(t, e, "render", "create", "--project", a.project)["id"].(string)
	b := tenant{project: a.project, keyID: a.keyID, key: a.key, render: bRender}
	// The first process keeps its log (retention 90 s); the later ones sweep
	// after 2 s.
	p := startProcess(t, e.with("ENGAGED_LOG_RETENTION", "90s"))
	s := p.service(t)
	post := func(tn tenant, n int) {
		for i := range n {
			if !recorded(t, s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", fmt.Sprintf("10.0.%d.%d", len(tn.render)%7, i))) {
				t.Fatalf("event %d not recorded", i)
			}
		}
	}
	post(a, 5)
	post(b, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := pgx.Connect(ctx, e["ENGAGED_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	// Snapshotted and acknowledged.
	stream1 := engagedStream(ctx, t, p.log.String())
	eventually(t, 10*time.Second, func() error {
		for lister := stream1.ListConsumers(ctx); ; {
			select {
			case ci, ok := <-lister.Info():
				if !ok {
					return lister.Err()
				}
				if ci.NumAckPending > 0 || ci.NumPending > 0 {
					return fmt.Errorf("consumer %s: %d unacknowledged, %d pending", ci.Name, ci.NumAckPending, ci.NumPending)
				}
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	held := func(stream jetstream.Stream, tn tenant) uint64 {
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter("engaged.events.*."+tn.project+"."+tn.render))
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, c := range info.State.Subjects {
			n += c
		}
		return n
	}
	if n := held(stream1, a); n != 5 {
		t.Fatalf("the log holds %d messages of render a, want 5", n)
	}
	if n := len(s.engagement(t, b).Recent); n != 3 {
		t.Fatalf("render b shows %d recent events, want 3", n)
	}
	// A graceful stop: its final round writes the consumers' acknowledgements
	// to their state, which a kill -9 could leave behind (a redelivery would
	// activate the renders, and the sweep would have nothing to prove).
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	if _, err := db.Exec(ctx, `DELETE FROM snapshots WHERE project_id = $1 AND item_id = $2`, a.project, a.render); err != nil {
		t.Fatal(err)
	}

	// ENGAGED_RECENT_MAX_AGE: the sweep drops the recent events too.
	p2 := startProcess(t, e.with("ENGAGED_RECENT_MAX_AGE", "1s"))
	stream := engagedStream(ctx, t, p2.log.String())
	if got := stream.CachedInfo().Config.MaxAge; got != 3*time.Minute {
		t.Fatalf("stream MaxAge %s, want the safety net of 3m", got)
	}
	// No read and no event of either render on this instance: only the
	// sweep can touch them.
	eventually(t, 20*time.Second, func() error {
		if na, nb := held(stream, a), held(stream, b); na+nb > 0 {
			return fmt.Errorf("the log still holds %d and %d messages of the renders", na, nb)
		}
		return nil
	})
	var seq int64
	if err := db.QueryRow(ctx, `SELECT seq FROM snapshots WHERE project_id = $1 AND item_id = $2`, a.project, a.render).Scan(&seq); err != nil {
		t.Fatalf("render a has no snapshot after the sweep: %v", err)
	}
	s2 := p2.service(t)
	for _, c := range []struct {
		tn   tenant
		want int64
	}{{a, 5}, {b, 3}} {
		sum := s2.engagement(t, c.tn)
		if sum.Counts["viewed"] != c.want || len(sum.Recent) != 0 {
			t.Fatalf("after the sweep: viewed %d (want %d), %d recent events (want none)", sum.Counts["viewed"], c.want, len(sum.Recent))
		}
	}
	p2.kill9(t)
	s3 := startProcess(t, e).service(t)
	for _, c := range []struct {
		tn   tenant
		want int64
	}{{a, 5}, {b, 3}} {
		sum := s3.engagement(t, c.tn)
		if sum.Counts["viewed"] != c.want || len(sum.Recent) != 0 {
			t.Fatalf("after another restart: viewed %d (want %d), %d recent events (want none)", sum.Counts["viewed"], c.want, len(sum.Recent))
		}
	}
}

// engagedStream opens the ENGAGED stream of the process whose log is log
// (started with ENGAGED_NATS_LISTEN).
func engagedStream(ctx context.Context, t *testing.T, log string) jetstream.Stream {
	t.Helper()
	m := natsRE.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no NATS URL in the log:\n%s", log)
	}
	nc, err := nats.Connect(m[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, "ENGAGED")
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

// An erasure finds the subject in an item's snapshot when the retention
// sweep has removed the log messages the item's recent events came from.
func TestErasureAfterRetentionSweep(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_NATS_LISTEN", "127.0.0.1:0",
		"ENGAGED_LOG_RETENTION", "2s", "ENGAGED_STREAM_MAX_AGE", "3m")
	tn := newTenant(t, e)
	const email = "swept.subject.3f9a@example.com"
	p := startProcess(t, e)
	s := p.service(t)
	if !recorded(t, s.post(t, tn, `{"eventType":"viewed","metadata":{"contact":"`+email+`"}}`, "X-Forwarded-For", "10.1.1.1")) ||
		!recorded(t, s.post(t, tn, `{"eventType":"printed"}`, "X-Forwarded-For", "10.1.1.2")) {
		t.Fatal("not recorded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream := engagedStream(ctx, t, p.log.String())
	eventually(t, 20*time.Second, func() error {
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter("engaged.events.*."+tn.project+"."+tn.render))
		if err != nil {
			return err
		}
		if len(info.State.Subjects) > 0 {
			return fmt.Errorf("the log still holds the render's messages: %v", info.State.Subjects)
		}
		return nil
	})
	before := s.engagement(t, tn)
	if !strings.Contains(s.engagementJSON(t, tn), email) {
		t.Fatal("the recent event with the address is gone before the erasure: the test would prove nothing")
	}
	s.erasureDone(t, tn.key, s.erase(t, tn.key, `{"email":"`+email+`"}`))
	p.kill9(t)
	s2 := startProcess(t, e).service(t)
	after := s2.engagement(t, tn)
	if strings.Contains(s2.engagementJSON(t, tn), email) || len(after.Recent) != 1 || fmt.Sprint(after.Counts) != fmt.Sprint(before.Counts) {
		t.Fatalf("after the erasure and a restart: %s (counts before %v)", s2.engagementJSON(t, tn), before.Counts)
	}
}
