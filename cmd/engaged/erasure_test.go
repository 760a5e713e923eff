package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/client"
	"github.com/engagedhq/engaged/transport/mail/smtptest"
)

// erasureTenant is one project with a secret key, a publishable key, a
// render with a document URL and two content items.
type erasureTenant struct {
	tenant
	pk string
}

func newErasureTenant(t *testing.T, e env) erasureTenant {
	t.Helper()
	tn := shareTenant(t, e)
	pk := adminJSON(t, e, "key", "create", "--project", tn.project, "--kind", "publishable")["key"].(string)
	for _, c := range []string{"cnt_a", "cnt_b"} {
		adminJSON(t, e, "content", "create", "--project", tn.project, "--id", c)
	}
	return erasureTenant{tenant: tn, pk: pk}
}

// erase posts an erasure and returns its id.
func (s *service) erase(t *testing.T, key, body string) string {
	t.Helper()
	r := do(t, "POST", s.base+"/v1/privacy/erasures", key, body)
	if r.status != 202 {
		t.Fatalf("erasure %s: %d %s", body, r.status, r.body)
	}
	m := r.json(t)
	if m["status"] != "pending" {
		t.Fatalf("erasure answer: %s", r.body)
	}
	return m["id"].(string)
}

// erasureDone waits until erasure id is done.
func (s *service) erasureDone(t *testing.T, key, id string) map[string]any {
	t.Helper()
	var m map[string]any
	eventually(t, 30*time.Second, func() error {
		r := do(t, "GET", s.base+"/v1/privacy/erasures/"+id, key, "")
		if r.status != 200 {
			t.Fatalf("erasure status: %d %s", r.status, r.body)
		}
		m = r.json(t)
		switch m["status"] {
		case "done":
			return nil
		case "failed":
			t.Fatalf("erasure failed: %s", r.body)
		}
		return fmt.Errorf("erasure %s: %s", id, r.body)
	})
	return m
}

// figures are the aggregates an erasure must leave as they were: the
// render's counts and total, and each content item's summary without its
// lastEventAt (kept anyway) — counts, watch time, uniques.
func (s *service) figures(t *testing.T, tn erasureTenant) string {
	t.Helper()
	sum := s.engagement(t, tn.tenant)
	out := fmt.Sprint(sum.Counts, sum.Total, sum.LinkOpens)
	for _, c := range []string{"cnt_a", "cnt_b"} {
		b, _ := json.Marshal(s.content(t, tn.sk(), c))
		out += " " + string(b)
	}
	return out
}

func (tn erasureTenant) sk() string { return tn.key }

// Issue 21 item 5, done when: a user's events (by userId, by deviceId) and a
// share recipient's (by e-mail) are erased; after a kill -9 and a restart
// that replays, no file under the data directory (the JetStream store
// included) and no byte of a pg_dump holds any of the identifiers; the
// counts are those before; the other user's data is intact.
func TestErasureLeavesNoTrace(t *testing.T) {
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Skip("pg_dump not found: the Postgres half of the scan needs it")
	}
	smtp := smtptest.Start(t)
	e := newEnv(t).with("ENGAGED_SMTP_URL", smtp.URL(), "ENGAGED_MAIL_FROM", "Docs <docs@example.test>",
		"ENGAGED_PUBLIC_URL", "https://docs.example.test", "ENGAGED_TRUSTED_PROXIES", "127.0.0.1",
		"ENGAGED_WEBHOOKS_ALLOW_HOSTS", "127.0.0.1")
	tn := newErasureTenant(t, e)
	rc := newHookReceiver(t, 0)
	const (
		user   = "erase-me-user-7f3a"
		device = "erase-me-device-9c1b"
		anon   = "erase-me-anon-device-2e8d" // a device that never logged in
		email  = "erase.me.4d2e@example.com"
		keep   = "keep-user-5b6c"
	)
	p := startProcess(t, e)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of the first process:\n%s", p.log.String())
		}
	})
	s := p.service(t)
	if r := do(t, "POST", s.base+"/v1/webhooks", tn.key, `{"url":"`+rc.URL+`/hook","eventTypes":["content.impression","content.like","render.email_sent","render.email_opened"]}`); r.status != 201 {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	now := time.Now().UTC()
	at := func(s int) string { return now.Add(time.Duration(-300+s) * time.Second).Format(time.RFC3339) }
	b := s.batch(t, tn.pk, fmt.Sprintf(`{"events":[
		{"eventId":"e1","event":"impression","contentId":"cnt_a","userId":%q,"deviceId":%q,"timestamp":%q,"data":{"position":0}},
		{"eventId":"e2","event":"playStart","contentId":"cnt_a","userId":%q,"deviceId":%q,"timestamp":%q,"data":{"startupTime":80}},
		{"eventId":"e3","event":"like","contentId":"cnt_b","userId":%q,"deviceId":%q,"timestamp":%q},
		{"eventId":"k1","event":"impression","contentId":"cnt_a","userId":%q,"timestamp":%q,"data":{"position":1}}]}`,
		user, device, at(1), user, device, at(2), user, device, at(3), keep, at(4)))
	if fmt.Sprint(b.statuses()) != "[accepted accepted accepted accepted]" {
		t.Fatalf("batch: %v", b.statuses())
	}
	for i, body := range []string{
		fmt.Sprintf(`{"eventId":"e4","event":"impression","contentId":"cnt_b","deviceId":%q,"timestamp":%q,"data":{"position":2}}`, anon, at(5)),
		fmt.Sprintf(`{"eventId":"k2","event":"playStart","contentId":"cnt_b","userId":%q,"timestamp":%q,"data":{"startupTime":120}}`, keep, at(6)),
	} {
		if r := s.event(t, tn.pk, body); r.status != 200 {
			t.Fatalf("event %d: %d %s", i, r.status, r.body)
		}
	}
	m := s.email(t, tn.tenant, fmt.Sprintf(`{"to":%q}`, email))
	s.pixel(t, m.PixelURL, "User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
	if !recorded(t, s.post(t, tn.tenant, `{"eventType":"downloaded"}`, "X-Forwarded-For", "198.51.100.9")) {
		t.Fatal("partner event not recorded")
	}
	// Delivered to the receiver, and kept in Postgres for replays.
	eventually(t, 20*time.Second, func() error {
		var n int
		for _, r := range rc.requests() {
			if strings.Contains(string(r.body), user) || strings.Contains(string(r.body), email) {
				n++
			}
		}
		if n < 3 {
			return fmt.Errorf("%d webhook deliveries of the subject", n)
		}
		return nil
	})
	if got := s.history(t, tn.key, user, ""); len(got) != 3 {
		t.Fatalf("history of the user before: %v", got)
	}
	if !strings.Contains(s.engagementJSON(t, tn.tenant), email) {
		t.Fatal("the recipient's address is not in the recent events: the test would prove nothing")
	}
	before := s.figures(t, tn)
	keepBefore := fmt.Sprint(s.history(t, tn.key, keep, ""), s.seen(t, tn.key, keep, "cnt_a", "cnt_b"))

	// Bad requests are 400s, never 5xx.
	for _, body := range []string{`{}`, `{"userId":"a","email":"b@example.com"}`, `{"userId":""}`, `{"email":"nope"}`, `{"userId":7}`, `[`} {
		if r := do(t, "POST", s.base+"/v1/privacy/erasures", tn.key, body); r.status != 400 {
			t.Fatalf("erasure %s: %d %s", body, r.status, r.body)
		}
	}
	if r := do(t, "POST", s.base+"/v1/privacy/erasures", tn.pk, `{"userId":"x"}`); r.status != 403 && r.status != 401 {
		t.Fatalf("erasure with a publishable key: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", s.base+"/v1/privacy/erasures/0193c2d0-1b2c-7d3e-8f40-5a6b7c8d9e0f", tn.key, ""); r.status != 404 {
		t.Fatalf("unknown erasure: %d %s", r.status, r.body)
	}

	// The scans below can fail: before the erasure, the store files hold
	// every identifier, and the dump the recipient.
	for _, n := range []string{user, device, anon, email} {
		if len(grepTree(t, e["ENGAGED_DATA_DIR"], n)) == 0 {
			t.Fatalf("%q is in no file under the data directory before the erasure: the scan would prove nothing", n)
		}
	}
	// The user's snapshot and the kept webhook bodies (bytea, dumped as hex)
	// hold the userId; the e-mail rows the recipient.
	if d := dumpDB(t, pgDump, e); !strings.Contains(d, email) || !strings.Contains(d, hex.EncodeToString([]byte(user))) {
		t.Fatal("the subject is not in the database dump before the erasure: the scan would prove nothing")
	}

	start := time.Now()
	ids := []string{
		s.erase(t, tn.key, fmt.Sprintf(`{"userId":%q}`, user)),
		s.erase(t, tn.key, fmt.Sprintf(`{"deviceId":%q}`, anon)),
	}
	// The Go client asks for the third.
	sc, _ := newClient(t, s.base, tn.key)
	ce, err := sc.Erase(context.Background(), client.ErasureSubject{Email: email})
	if err != nil || ce.Status != "pending" || ce.Kind != "email" {
		t.Fatalf("client Erase: %+v %v", ce, err)
	}
	ids = append(ids, ce.ID)
	deleted := 0.0
	for _, id := range ids {
		deleted += s.erasureDone(t, tn.key, id)["messagesDeleted"].(float64)
	}
	t.Logf("three erasures done in %s, %v log messages deleted", time.Since(start).Round(time.Millisecond), deleted)
	if ce, err = sc.Erasure(context.Background(), ce.ID); err != nil || ce.Status != "done" || ce.FinishedAt == nil {
		t.Fatalf("client Erasure: %+v %v", ce, err)
	}
	if deleted < 4 { // the batch's cnt_a and cnt_b messages, the user's, the anonymous device's, the e-mail's two
		t.Fatalf("only %v log messages deleted", deleted)
	}
	check := func(when string, s *service) {
		t.Helper()
		if got := s.figures(t, tn); got != before {
			t.Fatalf("%s: figures changed:\n got %s\nwant %s", when, got, before)
		}
		if got := s.history(t, tn.key, user, ""); len(got) != 0 {
			t.Fatalf("%s: the erased user's history: %v", when, got)
		}
		if got := fmt.Sprint(s.history(t, tn.key, keep, ""), s.seen(t, tn.key, keep, "cnt_a", "cnt_b")); got != keepBefore {
			t.Fatalf("%s: the other user's state changed:\n got %s\nwant %s", when, got, keepBefore)
		}
		sum := s.engagementJSON(t, tn.tenant)
		if strings.Contains(sum, email) || strings.Contains(sum, m.ID) {
			t.Fatalf("%s: the recipient is still in the summary: %s", when, sum)
		}
		if !strings.Contains(sum, "198.51.100.9") {
			t.Fatalf("%s: the other recent event is gone: %s", when, sum)
		}
	}
	check("after the erasure", s)
	p.kill9(t)
	// A request left running by a crashed instance (its lease run out) is
	// taken up by the next one to start.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := pgx.Connect(ctx, e["ENGAGED_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	const crashed = "0193c2d0-1b2c-7d3e-8f40-000000000001"
	if _, err := db.Exec(ctx, `INSERT INTO erasures (id, project_id, kind, identifier, identifier_hash, status, step, lease_until, attempts)
		VALUES ($1, $2, 'userId', 'never-seen-user', 'x', 'running', 'log', now() - interval '1 second', 1)`, crashed, tn.project); err != nil {
		t.Fatal(err)
	}
	p2 := startProcess(t, e)
	check("after kill -9 and restart", p2.service(t))
	if m := p2.service(t).erasureDone(t, tn.key, crashed); m["itemsTotal"].(float64) != 1 {
		t.Fatalf("the resumed erasure: %v", m)
	}
	p2.kill9(t)

	needles := []string{user, device, anon, email}
	for _, n := range needles {
		if hits := grepTree(t, e["ENGAGED_DATA_DIR"], n); len(hits) > 0 {
			t.Errorf("%q is still in %v", n, hits)
		}
	}
	dump := dumpDB(t, pgDump, e)
	if !strings.Contains(dump, tn.render) || !strings.Contains(dump, "(erased)") {
		t.Fatal("the dump holds neither the render nor an erased recipient: the scan would prove nothing")
	}
	for _, n := range needles {
		// bytea columns (snapshots, webhook bodies) dump as hex.
		if strings.Contains(dump, n) || strings.Contains(dump, hex.EncodeToString([]byte(n))) {
			t.Errorf("%q is still in the database dump", n)
		}
	}
}

// dumpDB returns a pg_dump of the test's database, data only.
func dumpDB(t *testing.T, pgDump string, e env) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, pgDump, "--data-only", e["ENGAGED_DATABASE_URL"]).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	return string(out)
}

// An erasure reaches every instance's copy of the items it scrubbed: on
// two instances, the one not owning a user's partition holds a read-only
// copy of the user's state after a read; once the erasure is done, neither
// instance answers the user's history or seen from before it.
func TestErasureDropsCopiesOnEveryInstance(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_PARTITIONS", "2", "ENGAGED_SNAPSHOT_INTERVAL", "50ms")
	a := startService(t, e)
	m := natsRE.FindStringSubmatch(a.log.String())
	if m == nil {
		t.Fatalf("no NATS address in the log:\n%s", a.log.String())
	}
	b := startService(t, e.with("ENGAGED_NATS_URL", m[1], "ENGAGED_DATA_DIR", t.TempDir()))
	tn := newSDKTenant(t, e, "c0", "c1")
	users := []string{"u-erase-0", "u-erase-1", "u-erase-2", "u-erase-3"} // over both partitions
	for _, u := range users {
		for j, s := range []*service{a, b} {
			if r := s.event(t, tn.pk, fmt.Sprintf(`{"eventId":"%s-%d","event":"impression","contentId":"c%d","userId":%q,"data":{"position":0}}`, u, j, j, u)); r.status != 200 {
				t.Fatalf("event: %d %s", r.status, r.body)
			}
		}
	}
	for _, u := range users {
		for k, s := range []*service{a, b} {
			if h := s.history(t, tn.sk, u, ""); len(h) != 2 {
				t.Fatalf("instance %d: %s history %+v before the erasure", k, u, h)
			}
		}
	}
	for _, u := range users {
		a.erasureDone(t, tn.sk, a.erase(t, tn.sk, fmt.Sprintf(`{"userId":%q}`, u)))
	}
	for _, u := range users {
		for k, s := range []*service{a, b} {
			if h := s.history(t, tn.sk, u, ""); len(h) != 0 {
				t.Fatalf("instance %d: %s history %+v after the erasure", k, u, h)
			}
			if got := fmt.Sprint(s.seen(t, tn.sk, u, "c0", "c1")); got != "[false false]" {
				t.Fatalf("instance %d: %s seen %s after the erasure", k, u, got)
			}
		}
	}
}
