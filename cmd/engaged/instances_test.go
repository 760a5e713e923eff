package main

import (
	"fmt"
	"testing"
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
