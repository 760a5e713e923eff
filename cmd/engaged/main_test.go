package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/engagedhq/engaged/persist/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// env is a test's environment for run: a fresh database, a fresh data dir,
// random ports, fast snapshots.
type env map[string]string

func newEnv(t *testing.T) env {
	t.Helper()
	return env{
		"ENGAGED_DATABASE_URL":      pgtest.NewDatabase(t),
		"ENGAGED_DATA_DIR":          t.TempDir(),
		"ENGAGED_HTTP_ADDR":         "127.0.0.1:0",
		"ENGAGED_NATS_LISTEN":       "",
		"ENGAGED_PARTITIONS":        "4",
		"ENGAGED_SNAPSHOT_INTERVAL": "100ms",
		"ENGAGED_ADMIN_ADDR":        "127.0.0.1:0",
		"ENGAGED_LOG_FORMAT":        "text", // listenRE, natsRE and the tests' log checks read text
		"ENGAGED_DRAIN_DELAY":       "0",
	}
}

func (e env) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

func (e env) with(kv ...string) env {
	out := env{}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// lockedBuffer collects a server's log; run writes it from other goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listenRE = regexp.MustCompile(`msg=listening http=(\S+) admin=(\S+)`)

// natsRE finds the embedded NATS client URL in the log of a service started
// with ENGAGED_NATS_LISTEN=127.0.0.1:0.
var natsRE = regexp.MustCompile(`msg=listening .*nats=(nats://\S+)`)

// natsConn connects to s's embedded NATS server (the test's env sets
// ENGAGED_NATS_LISTEN); the connection is closed when the test ends.
func (s *service) natsConn(t *testing.T) *nats.Conn {
	t.Helper()
	m := natsRE.FindStringSubmatch(s.log.String())
	if m == nil {
		t.Fatalf("no NATS client URL in the log:\n%s", s.log.String())
	}
	nc, err := nats.Connect(m[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// service is one `engaged serve` started through run.
type service struct {
	t      *testing.T
	base   string // the public listener
	admin  string // the operator listener
	cancel context.CancelFunc
	done   chan error
	log    *lockedBuffer
}

func startService(t *testing.T, e env) *service {
	t.Helper()
	return startServiceWith(t, e, options{now: time.Now})
}

// startServiceAt starts a service whose clock stands still at at.
func startServiceAt(t *testing.T, e env, at time.Time) *service {
	t.Helper()
	return startServiceWith(t, e, options{now: func() time.Time { return at }})
}

func startServiceWith(t *testing.T, e env, o options) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{t: t, cancel: cancel, done: make(chan error, 1), log: &lockedBuffer{}}
	go func() { s.done <- runWith(ctx, o, []string{"serve"}, e.lookup, io.Discard, s.log) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(s.log.String()); m != nil {
			s.base, s.admin = "http://"+m[1], "http://"+m[2]
			operatorHosts.Store(m[2], true)
			break
		}
		select {
		case err := <-s.done:
			t.Fatalf("serve exited: %v\n%s", err, s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", s.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(s.stop)
	return s
}

// stop shuts the service down gracefully (final snapshots) and waits.
func (s *service) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		s.t.Errorf("serve did not stop:\n%s", s.log.String())
	}
}

// adminJSON runs `engaged admin args…` and decodes its one JSON object.
func adminJSON(t *testing.T, e env, args ...string) map[string]any {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"admin"}, args...), e.lookup, &out, &errOut); err != nil {
		t.Fatalf("admin %v: %v\n%s", args, err, errOut.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("admin %v printed %q: %v", args, out.String(), err)
	}
	return m
}

// tenant is a project with a secret key and a render.
type tenant struct {
	project, keyID, key, render string
}

func newTenant(t *testing.T, e env) tenant {
	t.Helper()
	p := adminJSON(t, e, "project", "create", "--name", "demo")["id"].(string)
	k := adminJSON(t, e, "key", "create", "--project", p)
	r := adminJSON(t, e, "render", "create", "--project", p)["id"].(string)
	return tenant{project: p, keyID: k["id"].(string), key: k["key"].(string), render: r}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %q", r.status, r.body)
	}
	return m
}

func (r response) errorCode(t *testing.T) string {
	t.Helper()
	m := r.json(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error envelope: %s", r.body)
	}
	if id, _ := m["meta"].(map[string]any)["requestId"].(string); !strings.HasPrefix(id, "req_") {
		t.Fatalf("error envelope without meta.requestId: %s", r.body)
	}
	return e["code"].(string)
}

func do(t *testing.T, method, url, key string, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	// Every exchange must match /openapi.json (openapi_test.go).
	checkContract(t, req, []byte(body), res, b)
	return response{res.StatusCode, res.Header, b}
}

func (s *service) post(t *testing.T, tn tenant, body string, headers ...string) response {
	t.Helper()
	return do(t, "POST", s.base+"/v1/renders/"+tn.render+"/events", tn.key, body, headers...)
}

func (s *service) engagement(t *testing.T, tn tenant) summary {
	t.Helper()
	r := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/engagement", tn.key, "")
	if r.status != 200 {
		t.Fatalf("engagement: %d %s", r.status, r.body)
	}
	var sum summary
	if err := json.Unmarshal(r.body, &sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

// engagementJSON returns the raw summary, for exact comparisons.
func (s *service) engagementJSON(t *testing.T, tn tenant) string {
	t.Helper()
	r := do(t, "GET", s.base+"/v1/renders/"+tn.render+"/engagement", tn.key, "")
	if r.status != 200 {
		t.Fatalf("engagement: %d %s", r.status, r.body)
	}
	return string(r.body)
}

// summary mirrors the documented response, decoded independently of the
// server's own types so a change there cannot hide here.
type summary struct {
	Counts    map[string]int64 `json:"counts"`
	LinkOpens int64            `json:"linkOpens"`
	Total     int64            `json:"total"`
	Recent    []struct {
		ID        string          `json:"id"`
		EventType string          `json:"eventType"`
		ActorKind string          `json:"actorKind"`
		ShareID   *string         `json:"shareId"`
		SourceIP  *string         `json:"sourceIp"`
		UserAgent *string         `json:"userAgent"`
		Metadata  json.RawMessage `json:"metadata"`
		CreatedAt string          `json:"createdAt"`
	} `json:"recent"`
}

func recorded(t *testing.T, r response) bool {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("post: %d %s", r.status, r.body)
	}
	v, ok := r.json(t)["recorded"].(bool)
	if !ok {
		t.Fatalf("no recorded in %s", r.body)
	}
	return v
}

// eventually polls f until it returns nil or the deadline passes.
func eventually(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func scanLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

var _ = fmt.Sprintf
