package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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

// With Postgres down, whatever the service acknowledges is still counted
// exactly once when Postgres is back, across a crash.
func TestPostgresOutage(t *testing.T) {
	cluster, url := pgtest.NewCluster(t)
	e := newEnv(t).with("ENGAGED_DATABASE_URL", url, "ENGAGED_TRUSTED_PROXIES", "127.0.0.1", "ENGAGED_SNAPSHOT_INTERVAL", "200ms")
	tn := newTenant(t, e)
	p := startProcess(t, e)
	s := p.service(t)
	acked := 0
	post := func(n int) (unavailable int) {
		for i := 0; i < n; i++ {
			r := s.post(t, tn, `{"eventType":"printed"}`, "X-Forwarded-For", fmt.Sprintf("10.0.%d.%d", acked/256, acked%256))
			switch r.status {
			case 200:
				acked++
			case 503:
				if r.header.Get("Retry-After") == "" {
					t.Fatal("503 without Retry-After")
				}
				unavailable++
			default:
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		}
		return unavailable
	}
	post(10)
	cluster.Stop(t)
	before := acked
	refused := post(20)                 // some pass on cached keys, the rest are 503; none may be lost
	time.Sleep(1200 * time.Millisecond) // snapshot rounds fail meanwhile, and cached keys expire
	refused += post(5)
	t.Logf("during the outage: %d acknowledged, %d refused with 503", acked-before, refused)
	if refused < 5 {
		t.Fatalf("only %d requests refused once the key cache expired with Postgres down", refused)
	}
	cluster.Start(t)
	eventually(t, 10*time.Second, func() error {
		r := do(t, "GET", s.base+"/readyz", "", "")
		if r.status != 200 {
			return fmt.Errorf("not ready after Postgres came back: %s", r.body)
		}
		return nil
	})
	post(10)
	p.kill9(t)
	p2 := startProcess(t, e)
	got := p2.service(t).engagement(t, tn).Counts["printed"]
	if got != int64(acked) {
		t.Fatalf("printed = %d, want %d acknowledged\n%s", got, acked, strings.Join(scanLines(p.log.String()), "\n"))
	}
}
