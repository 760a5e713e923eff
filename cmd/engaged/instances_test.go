package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Two instances share one JetStream and one Postgres. JetStream pins each
// partition to one of them; the other answers its requests by catching up
// from the log. Verdicts (dedupe across instances included) and reads agree
// on both, and every acknowledged event is counted once.
func TestTwoInstances(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	a := startService(t, e)
	m := natsRE.FindStringSubmatch(a.log.String())
	if m == nil {
		t.Fatalf("no NATS address in the log:\n%s", a.log.String())
	}
	b := startService(t, e.with("ENGAGED_NATS_URL", m[1], "ENGAGED_DATA_DIR", t.TempDir()))
	tn := newTenant(t, e)
	others := make([]tenant, 6) // more renders, so both instances are likely to own some partitions
	for i := range others {
		others[i] = tenant{project: tn.project, key: tn.key, render: adminJSON(t, e, "render", "create", "--project", tn.project)["id"].(string)}
	}

	services := []*service{a, b}
	for i := 0; i < 20; i++ {
		s := services[i%2]
		for _, r := range append([]tenant{tn}, others...) {
			if !recorded(t, s.post(t, r, `{"eventType":"viewed"}`, "X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i))) {
				t.Fatalf("event %d on instance %d not recorded", i, i%2)
			}
		}
	}
	// The same (type, ip) inside five minutes is a duplicate on either
	// instance, whichever one recorded the first.
	for i, s := range services {
		if recorded(t, s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", "10.0.0.3")) {
			t.Fatalf("duplicate recorded on instance %d", i)
		}
	}
	for _, r := range append([]tenant{tn}, others...) {
		ra, rb := a.engagementJSON(t, r), b.engagementJSON(t, r)
		if ra != rb {
			t.Fatalf("instances disagree on %s:\n%s\n%s", r.render, ra, rb)
		}
		if got := a.engagement(t, r).Counts["viewed"]; got != 20 {
			t.Fatalf("viewed = %d on %s, want 20", got, r.render)
		}
	}
	// With b gone, a goes on alone (its partitions move to a once their
	// pins expire) and loses nothing b acknowledged.
	b.stop()
	if !recorded(t, a.post(t, tn, `{"eventType":"printed"}`)) {
		t.Fatal("printed after b stopped not recorded")
	}
	if got := a.engagement(t, tn); got.Counts["viewed"] != 20 || got.Counts["printed"] != 1 {
		t.Fatalf("after b stopped: %+v", got.Counts)
	}
}

// Partitions move between two instances while both take events and serve
// reads, so both hold live actors of items they do not own when a
// partition arrives. Every acknowledged event is counted exactly once on
// both instances, and again after both restart; nothing is counted that the
// log does not hold.
func TestPartitionMovesCountExactly(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_TRUSTED_PROXIES", "127.0.0.1",
		"ENGAGED_PARTITIONS", "2", "ENGAGED_SNAPSHOT_INTERVAL", "50ms")
	a := startService(t, e)
	url := natsRE.FindStringSubmatch(a.log.String())[1]
	eb := e.with("ENGAGED_NATS_URL", url, "ENGAGED_DATA_DIR", t.TempDir())
	b := startService(t, eb)
	tn := newTenant(t, e)
	renders := []tenant{tn}
	for len(renders) < 4 {
		renders = append(renders, tenant{project: tn.project, key: tn.key, render: adminJSON(t, e, "render", "create", "--project", tn.project)["id"].(string)})
	}

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stream, err := js.Stream(ctx, "ENGAGED")
	if err != nil {
		t.Fatal(err)
	}

	// Load on both instances: events with distinct addresses (each one is
	// recorded) and reads; meanwhile the partitions are unpinned again and
	// again, so JetStream hands them to whichever instance pulls next.
	var (
		mu      sync.Mutex
		acked   = map[string]int64{} // render -> 200 {"recorded":true}
		unknown int                  // 503s: stored or not, the client cannot tell
		reasons = map[string]int{}   // their messages
		next    int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w, s := range []*service{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := renders[(w+i)%len(renders)]
				mu.Lock()
				next++
				ip := fmt.Sprintf("10.%d.%d.%d", next/65536, next/256%256, next%256)
				mu.Unlock()
				res := do(t, "POST", s.base+"/v1/renders/"+r.render+"/events", r.key, `{"eventType":"viewed"}`, "X-Forwarded-For", ip)
				mu.Lock()
				switch {
				case res.status == 200 && string(res.body) == `{"recorded":true}`:
					acked[r.render]++
				case res.status == 503:
					unknown++
					reasons[fmt.Sprint(res.json(t)["error"].(map[string]any)["message"])]++
				default:
					mu.Unlock()
					t.Errorf("post: %d %s", res.status, res.body)
					return
				}
				mu.Unlock()
				if i%4 == 0 {
					do(t, "GET", s.base+"/v1/renders/"+r.render+"/engagement", r.key, "")
				}
			}
		}()
	}
	for i := 0; i < 40; i++ {
		time.Sleep(75 * time.Millisecond)
		for part := 0; part < 2; part++ {
			_ = stream.UnpinConsumer(ctx, fmt.Sprintf("part-%d", part), "engaged") // no pin yet is fine
		}
	}
	close(stop)
	wg.Wait()
	moves := strings.Count(a.log.String()+b.log.String(), "partition taken over by another instance")
	if moves == 0 {
		t.Fatal("no partition moved between the instances; the test proves nothing")
	}
	for _, s := range []*service{a, b} {
		if l := s.log.String(); strings.Contains(l, "replay failed") || strings.Contains(l, "msg=\"catch up\"") {
			t.Errorf("a replay failed:\n%s", l)
		}
	}

	// stored returns how many events the log holds for r.
	stored := func(r tenant) int64 {
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter("engaged.events.*."+r.project+"."+r.render))
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, c := range info.State.Subjects {
			n += c
		}
		return int64(n)
	}
	check := func(when string, services ...*service) {
		t.Helper()
		var total, totalAcked int64
		for _, r := range renders {
			want := stored(r)
			if want < acked[r.render] {
				t.Fatalf("%s: the log holds %d events of %s, %d were acknowledged", when, want, r.render, acked[r.render])
			}
			total, totalAcked = total+want, totalAcked+acked[r.render]
			for i, s := range services {
				eventually(t, 10*time.Second, func() error {
					if got := s.engagement(t, r).Counts["viewed"]; got != want {
						return fmt.Errorf("%s: instance %d counts %d of %s, the log holds %d (%d acknowledged)", when, i, got, r.render, want, acked[r.render])
					}
					return nil
				})
			}
		}
		if total > totalAcked+int64(unknown) {
			t.Fatalf("%s: the log holds %d events, only %d acknowledged and %d unanswered", when, total, totalAcked, unknown)
		}
	}
	t.Logf("%d partition moves, %d events acknowledged, %d answered 503 %v", moves, func() (n int64) {
		for _, v := range acked {
			n += v
		}
		return n
	}(), unknown, reasons)
	check("after the moves", a, b)

	b.stop()
	a.stop()
	nc.Close()
	a = startService(t, e)
	b = startService(t, eb.with("ENGAGED_NATS_URL", natsRE.FindStringSubmatch(a.log.String())[1]))
	nc, err = nats.Connect(natsRE.FindStringSubmatch(a.log.String())[1])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	if stream, err = js.Stream(ctx, "ENGAGED"); err != nil {
		t.Fatal(err)
	}
	check("after restarting both", a, b)
}
