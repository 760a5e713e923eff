package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/persist/pgtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds engaged once per test run, for tests that must kill -9 a
// real process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "engaged-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "engaged")
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		out, err := exec.Command(goBin, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// process is `engaged serve` as a child process.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	log    *lockedBuffer
	base   string
}

func startProcess(t *testing.T, e env) *process {
	t.Helper()
	p := &process{log: &lockedBuffer{}}
	p.cmd = exec.Command(binary(t), "serve")
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range e {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stderr = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	p.exited = exited
	go func() { p.cmd.Wait(); close(exited) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-exited })
	eventually(t, 20*time.Second, func() error {
		if m := listenRE.FindStringSubmatch(p.log.String()); m != nil {
			p.base = "http://" + m[1]
			return nil
		}
		select {
		case <-exited:
			t.Fatalf("engaged exited:\n%s", p.log.String())
		default:
		}
		return fmt.Errorf("engaged did not start:\n%s", p.log.String())
	})
	return p
}

// kill9 kills the process without any chance to snapshot.
func (p *process) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

func (p *process) service(t *testing.T) *service { return &service{t: t, base: p.base} }

// kill -9 at any point after a 2xx: the counts come back exact, no loss
// (acknowledged means stored in JetStream) and no double count (the actors
// skip what their snapshot already holds, however the log is redelivered).
func TestCrashLosesNothingAndCountsOnce(t *testing.T) {
	e := newEnv(t).with("ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_SNAPSHOT_INTERVAL", "300ms")
	tn := newTenant(t, e)
	want := 0
	post := func(s *service, n int) {
		for i := 0; i < n; i++ {
			r := s.post(t, tn, `{"eventType":"viewed"}`, "X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", want/65536, want/256%256, want%256))
			if !recorded(t, r) {
				t.Fatalf("event %d not recorded", want)
			}
			want++
		}
	}
	for round, pause := range []time.Duration{0, 50 * time.Millisecond, time.Second} {
		p := startProcess(t, e)
		s := p.service(t)
		if got := s.engagement(t, tn).Counts["viewed"]; got != int64(want) {
			t.Fatalf("round %d: after restart viewed = %d, want %d\n%s", round, got, want, p.log.String())
		}
		post(s, 40)
		// 0: kill right after the last 2xx, before any snapshot;
		// 50ms: likely mid-round; 1s: after snapshots, before acks expire.
		time.Sleep(pause)
		p.kill9(t)
	}
	p := startProcess(t, e)
	if got := p.service(t).engagement(t, tn).Counts["viewed"]; got != int64(want) {
		t.Fatalf("final: viewed = %d, want %d", got, want)
	}
}

// The data plane runs without Postgres: under load, a 15 s outage leaves
// requests for a key and a render this instance has seen answered 2xx
// (≥ 99 %), and a ranking asked before it still answered, while snapshots
// and acknowledgements wait; once Postgres is back and after a kill -9,
// every event acknowledged is counted exactly once.
func TestPostgresOutage(t *testing.T) {
	cluster, url := pgtest.NewCluster(t)
	e := newEnv(t).with("ENGAGED_DATABASE_URL", url, "ENGAGED_TRUSTED_PROXIES", "127.0.0.1",
		"ENGAGED_SNAPSHOT_INTERVAL", "200ms", "ENGAGED_REQUEST_TIMEOUT", "2s")
	tn := newTenant(t, e)
	p := startProcess(t, e)
	s := p.service(t)

	var (
		mu              sync.Mutex
		outage          bool
		ok, failed      int // answers during the outage
		acked           int // events answered 200 (recorded or, on a retry, a duplicate of itself)
		bad             []string
		stop            = make(chan struct{})
		wg              sync.WaitGroup
		workers, events = 4, 0
	)
	answer := func(r response, err error) bool {
		mu.Lock()
		defer mu.Unlock()
		success := err == nil && r.status/100 == 2
		if outage {
			if success {
				ok++
			} else {
				failed++
			}
		}
		if err == nil && r.status >= 500 && (r.status != 503 || r.header.Get("Retry-After") == "") {
			bad = append(bad, fmt.Sprintf("%d %s", r.status, r.body))
		}
		return success
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// One event, with its own address, sent until it is
				// answered 200: a retry of an event that was stored is
				// a duplicate, not a second count.
				ip := fmt.Sprintf("10.%d.%d.%d", w, i/256%256, i%256)
				for {
					r, err := rawDo("POST", s.base+"/v1/renders/"+tn.render+"/events", tn.key, `{"eventType":"printed"}`, "X-Forwarded-For", ip)
					if answer(r, err) {
						mu.Lock()
						acked++
						mu.Unlock()
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				answer(rawDo("GET", s.base+"/v1/renders/"+tn.render+"/engagement", tn.key, ""))
			}
		}()
	}
	// A ranking asked before the outage is answered from the ranking
	// index's memory during it (persist/topindex.go).
	ranking := func() error {
		r, err := rawDo("GET", s.base+"/v1/projects/"+tn.project+"/top?kind=render&metric=printed&window=24h", tn.key, "")
		if err != nil {
			return err
		}
		if r.status != 200 || !strings.Contains(string(r.body), `"id":"`+tn.render+`"`) {
			return fmt.Errorf("ranking: %d %s", r.status, r.body)
		}
		return nil
	}
	time.Sleep(time.Second)
	eventually(t, 10*time.Second, ranking)
	cluster.Stop(t)
	mu.Lock()
	outage, events = true, acked
	mu.Unlock()
	// Past the answer cache's 5 s of stale answers, so the index answers.
	time.Sleep(7 * time.Second)
	if err := ranking(); err != nil {
		t.Errorf("during the outage: %v", err)
	}
	time.Sleep(8 * time.Second)
	mu.Lock()
	outage, events = false, acked-events
	mu.Unlock()
	cluster.Start(t)
	eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		return c.Close(ctx)
	})
	time.Sleep(time.Second) // snapshots and acknowledgements resume
	close(stop)
	wg.Wait()
	t.Logf("during the 15 s outage: %d of %d answers 2xx (%.2f %%), %d events acknowledged", ok, ok+failed, 100*float64(ok)/float64(max(1, ok+failed)), events)
	if len(bad) > 0 {
		t.Fatalf("answers other than 2xx or 503 with Retry-After: %v", bad[:min(5, len(bad))])
	}
	if ok+failed == 0 || float64(ok) < 0.99*float64(ok+failed) {
		t.Fatalf("during the outage only %d of %d answers were 2xx, want ≥ 99 %%\n%s", ok, ok+failed, p.log.String())
	}
	if got := s.engagement(t, tn).Counts["printed"]; got != int64(acked) {
		t.Fatalf("after the outage printed = %d, want %d acknowledged", got, acked)
	}
	p.kill9(t)
	p2 := startProcess(t, e)
	if got := p2.service(t).engagement(t, tn).Counts["printed"]; got != int64(acked) {
		t.Fatalf("after kill -9 and restart printed = %d, want %d acknowledged\n%s", got, acked, strings.Join(scanLines(p.log.String()), "\n"))
	}
}
