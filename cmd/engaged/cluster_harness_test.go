package main

// The cluster harness: three real nats-server processes with routes and
// JetStream, engaged instances as child processes, one throwaway Postgres,
// a load of partner render events and SDK events, and a reconciliation of
// what was acknowledged, what the stream holds and what every instance
// counts. TestCluster (cluster_test.go) and TestChaos (make chaos) both run
// on it; only their fault schedules differ.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/persist/pgtest"
)

var (
	natsBuildOnce sync.Once
	natsBinPath   string
	natsBuildErr  error
)

// natsBinary builds nats-server from the module in go.mod (offline, from the
// module cache) once per test run, so that a node can be killed with -9.
func natsBinary(t *testing.T) string {
	t.Helper()
	natsBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "engaged-nats-bin")
		if err != nil {
			natsBuildErr = err
			return
		}
		natsBinPath = filepath.Join(dir, "nats-server")
		out, err := exec.Command("go", "build", "-o", natsBinPath, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			natsBuildErr = fmt.Errorf("go build nats-server: %v\n%s", err, out)
		}
	})
	if natsBuildErr != nil {
		t.Fatal(natsBuildErr)
	}
	return natsBinPath
}

// freePorts returns n loopback ports free at the time of the call.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// natsNode is one nats-server process of the cluster. It keeps its ports and
// store across restarts.
type natsNode struct {
	name, conf, url string
	cmd             *exec.Cmd
	exited          chan struct{}
	log             *lockedBuffer
}

type natsCluster struct {
	t     *testing.T
	nodes []*natsNode
}

// startNATSCluster starts three JetStream nodes routed to each other on
// loopback and waits until JetStream answers.
func startNATSCluster(t *testing.T) *natsCluster {
	t.Helper()
	const n = 3
	ports := freePorts(t, 2*n)
	var routes []string
	for i := 0; i < n; i++ {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i]))
	}
	c := &natsCluster{t: t}
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		node := &natsNode{name: fmt.Sprintf("n%d", i+1), conf: filepath.Join(dir, "nats.conf"), url: fmt.Sprintf("nats://127.0.0.1:%d", ports[i])}
		// sync_interval as engaged's embedded default: a kill -9 loses
		// nothing written to the OS; the replicas cover the rest.
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
max_payload: 8MB
jetstream { store_dir: %q, sync_interval: 1s }
cluster { name: engaged, listen: 127.0.0.1:%d, routes: [%s] }
`, node.name, ports[i], filepath.Join(dir, "js"), ports[n+i], strings.Join(routes, ", "))
		if err := os.WriteFile(node.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, node)
	}
	for i := range c.nodes {
		c.start(i)
	}
	nc := c.connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)
	eventually(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err
	})
	return c
}

func (c *natsCluster) urls() string {
	var u []string
	for _, n := range c.nodes {
		u = append(u, n.url)
	}
	return strings.Join(u, ",")
}

// connect is a client of the whole cluster, for the test's own looks at the
// stream.
func (c *natsCluster) connect() *nats.Conn {
	c.t.Helper()
	nc, err := nats.Connect(c.urls(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		c.t.Fatal(err)
	}
	return nc
}

// start starts node i (again) and waits until it takes clients.
func (c *natsCluster) start(i int) {
	t := c.t
	t.Helper()
	n := c.nodes[i]
	n.log = &lockedBuffer{}
	n.cmd = exec.Command(natsBinary(t), "-c", n.conf)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	n.exited = exited
	cmd := n.cmd
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	eventually(t, 20*time.Second, func() error {
		select {
		case <-exited:
			t.Fatalf("nats-server %s exited:\n%s", n.name, n.log.String())
		default:
		}
		if !strings.Contains(n.log.String(), "Server is ready") {
			return fmt.Errorf("nats-server %s not ready:\n%s", n.name, n.log.String())
		}
		return nil
	})
}

// kill kills node i with SIGKILL.
func (c *natsCluster) kill(i int) {
	n := c.nodes[i]
	if err := n.cmd.Process.Kill(); err != nil {
		c.t.Fatal(err)
	}
	<-n.exited
}

func (c *natsCluster) index(name string) int {
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	c.t.Fatalf("no nats node %q", name)
	return -1
}

// streamLeader asks $JS.API.STREAM.INFO for the ENGAGED stream's leader; ""
// while there is none (or no answer in time).
func streamLeader(js jetstream.JetStream, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s, err := js.Stream(ctx, "ENGAGED")
	if err != nil {
		return ""
	}
	if ci := s.CachedInfo().Cluster; ci != nil {
		return ci.Leader
	}
	return ""
}

// instance is one engaged child process slot; restarts replace proc.
type instance struct {
	env  env
	proc *process
}

// harness is a cluster under load: its nodes, its instances, the tenants
// the load writes to and everything the load was told.
type harness struct {
	t         *testing.T
	nats      *natsCluster
	pg        *pgtest.Cluster
	nc        *nats.Conn
	js        jetstream.JetStream
	env       env
	instances []*instance
	procs     []*process // every engaged process started, for their logs
	renders   []tenant
	sdk       sdkTenant
	contents  []string
	client    *http.Client

	mu       sync.Mutex
	up       []bool            // which instances take load now
	ackedIP  map[string]string // render event (by its X-Forwarded-For) -> render, for 200 {"recorded":true}
	ackedEID map[string]string // SDK event id -> content, for "received"
	unknown  int               // events answered 503, cut off, or not at all: stored or not
	reasons  map[string]int    // why
	requests []requestOutcome  // every write request, for the failover figures
	next     int               // event counter: distinct addresses and event ids
	stopLoad chan struct{}
	loadDone sync.WaitGroup
}

type requestOutcome struct {
	start, end time.Time
	ok         bool
}

// newHarness starts the NATS cluster, Postgres and n engaged instances on
// partitions partitions, and creates the tenants.
func newHarness(t *testing.T, n, partitions int) *harness {
	t.Helper()
	h := &harness{t: t, nats: startNATSCluster(t), ackedIP: map[string]string{}, ackedEID: map[string]string{}, reasons: map[string]int{},
		client: &http.Client{Timeout: 15 * time.Second}}
	var url string
	h.pg, url = pgtest.NewCluster(t)
	h.nc = h.nats.connect()
	t.Cleanup(h.nc.Close)
	h.js, _ = jetstream.New(h.nc)
	h.env = env{
		"ENGAGED_DATABASE_URL":      url,
		"ENGAGED_HTTP_ADDR":         "127.0.0.1:0",
		"ENGAGED_NATS_URL":          h.nats.urls(),
		"ENGAGED_STREAM_REPLICAS":   "3",
		"ENGAGED_PARTITIONS":        fmt.Sprint(partitions),
		"ENGAGED_SNAPSHOT_INTERVAL": "200ms",
		"ENGAGED_TRUSTED_PROXIES":   "127.0.0.1",
		"ENGAGED_ADMIN_ADDR":        "127.0.0.1:0", // three instances on one host
		"ENGAGED_LOG_FORMAT":        "text",        // listenRE reads text
		"ENGAGED_DRAIN_DELAY":       "0",
	}
	tn := newTenant(t, h.env)
	h.renders = []tenant{tn}
	for len(h.renders) < 2*partitions {
		h.renders = append(h.renders, tenant{project: tn.project, key: tn.key, render: adminJSON(t, h.env, "render", "create", "--project", tn.project)["id"].(string)})
	}
	for i := 0; i < 2*partitions; i++ {
		h.contents = append(h.contents, fmt.Sprintf("cnt_c%d", i))
	}
	h.sdk = newSDKTenant(t, h.env, h.contents...)
	for i := 0; i < n; i++ {
		h.instances = append(h.instances, &instance{env: h.env.with("ENGAGED_DATA_DIR", t.TempDir())})
		h.up = append(h.up, false)
		h.startInstance(i)
	}
	return h
}

func (h *harness) startInstance(i int) {
	h.t.Helper()
	in := h.instances[i]
	in.proc = startProcess(h.t, in.env)
	h.mu.Lock()
	h.procs = append(h.procs, in.proc)
	h.up[i] = true
	h.mu.Unlock()
}

// down takes instance i out of the load before it is stopped.
func (h *harness) down(i int) {
	h.mu.Lock()
	h.up[i] = false
	h.mu.Unlock()
}

func (h *harness) kill9(i int) {
	h.down(i)
	h.instances[i].proc.kill9(h.t)
}

// term sends SIGTERM and waits for the graceful shutdown.
func (h *harness) term(i int) {
	h.t.Helper()
	h.down(i)
	p := h.instances[i].proc
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		h.t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(40 * time.Second):
		h.t.Fatalf("engaged did not stop on SIGTERM:\n%s", p.log.String())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		h.t.Errorf("engaged exited %d on SIGTERM:\n%s", code, p.log.String())
	}
}

// try is do without t.Fatal: an instance may die under a request.
func (h *harness) try(method, url, key, body string, headers ...string) (response, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := h.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, b}, err
}

// startLoad runs workers that post until stopLoadAndWait: one partner
// render event, or (every other request) an SDK batch of batch likes with
// client event ids, to a random instance that is up. A test that already
// failed stops loading, so one defect does not print thousands of lines.
func (h *harness) startLoad(workers, batch int) {
	h.stopLoad = make(chan struct{})
	for w := 0; w < workers; w++ {
		h.loadDone.Add(1)
		go func() {
			defer h.loadDone.Done()
			for i := 0; ; i++ {
				select {
				case <-h.stopLoad:
					return
				default:
				}
				if h.t.Failed() {
					return
				}
				if !h.post(w, i, batch) {
					time.Sleep(20 * time.Millisecond) // no instance up
				}
			}
		}()
	}
}

func (h *harness) stopLoadAndWait() {
	close(h.stopLoad)
	h.loadDone.Wait()
}

// post sends one request and records its outcome; false if no instance was
// up.
func (h *harness) post(w, i, batch int) bool {
	h.mu.Lock()
	var ups []int
	for j, u := range h.up {
		if u {
			ups = append(ups, j)
		}
	}
	if len(ups) == 0 {
		h.mu.Unlock()
		return false
	}
	proc := h.instances[ups[rand.IntN(len(ups))]].proc
	base := proc.base
	first := h.next
	if i%2 == 0 {
		h.next++
	} else {
		h.next += batch
	}
	h.mu.Unlock()

	start := time.Now()
	if i%2 == 0 {
		r := h.renders[(w+i)%len(h.renders)]
		ip := fmt.Sprintf("10.%d.%d.%d", first/65536%256, first/256%256, first%256)
		res, err := h.try("POST", base+"/v1/renders/"+r.render+"/events", r.key, `{"eventType":"viewed"}`, "X-Forwarded-For", ip)
		h.mu.Lock()
		defer h.mu.Unlock()
		ok := err == nil && res.status == 200 && string(res.body) == `{"recorded":true}`
		h.requests = append(h.requests, requestOutcome{start, time.Now(), ok})
		if ok {
			h.ackedIP[ip] = r.render
		} else {
			h.failed(proc, res, err, 1)
		}
		return true
	}
	var evs []string
	ids := map[string]string{}
	for j := 0; j < batch; j++ {
		id := fmt.Sprintf("e%d", first+j)
		c := h.contents[(first+j)%len(h.contents)]
		ids[id] = c
		evs = append(evs, fmt.Sprintf(`{"event":"like","contentId":%q,"eventId":%q}`, c, id))
	}
	res, err := h.try("POST", base+"/v1/events/batch", h.sdk.pk, `{"events":[`+strings.Join(evs, ",")+`]}`)
	h.mu.Lock()
	defer h.mu.Unlock()
	ok := err == nil && res.status == 200
	h.requests = append(h.requests, requestOutcome{start, time.Now(), ok})
	if !ok {
		h.failed(proc, res, err, batch)
		return true
	}
	var b batchReply
	if err := json.Unmarshal(res.body, &b); err != nil {
		h.t.Errorf("batch reply is not JSON: %s", res.body)
		return true
	}
	for _, r := range b.Data.Results {
		// Every event id is new: anything but accepted is a defect.
		if r.Status != "accepted" || r.EventID == nil {
			h.t.Errorf("batch answered %s", res.body)
			return true
		}
		h.ackedEID[*r.EventID] = ids[*r.EventID]
	}
	return true
}

// failed records n events whose fate the client cannot know. Only a 503
// (or a cut connection) is allowed: bad answers are test failures.
func (h *harness) failed(p *process, res response, err error, n int) {
	h.unknown += n
	switch {
	case err != nil:
		h.reasons["no answer"]++
	case res.status == 503:
		var m struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(res.body, &m) != nil || res.header.Get("Retry-After") == "" {
			h.t.Errorf("503 without an error envelope or Retry-After: %s", res.body)
		}
		h.reasons[m.Error.Message]++
	default:
		h.t.Errorf("write to %s answered %d: %s", p.base, res.status, res.body)
	}
}

// storedItem is what the stream holds for one item: its events by id (the
// render event's address, or the SDK event id), and how often each.
type storedItem map[string]int

// readStream reads every message of the stream with an ordered consumer.
// Right after a node restart the JetStream API may not answer for a while
// (a meta leader election): the read starts over until it succeeds.
func (h *harness) readStream() map[string]storedItem {
	h.t.Helper()
	var out map[string]storedItem
	eventually(h.t, 2*time.Minute, func() (err error) {
		out, err = h.readStreamOnce()
		return err
	})
	return out
}

func (h *harness) readStreamOnce() (map[string]storedItem, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := h.js.Stream(ctx, "ENGAGED")
	if err != nil {
		return nil, fmt.Errorf("stream info: %w", err)
	}
	last := s.CachedInfo().State.LastSeq
	out := map[string]storedItem{}
	if last == 0 {
		return out, nil
	}
	oc, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("ordered consumer: %w", err)
	}
	for seq := uint64(0); seq < last; {
		batch, err := oc.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("fetch after %d: %w", seq, err)
		}
		for msg := range batch.Messages() {
			md, _ := msg.Metadata()
			seq = md.Sequence.Stream
			m, err := actors.DecodeMessage(msg.Data())
			if err != nil {
				h.t.Fatalf("stream message %d: %v", seq, err)
			}
			f := strings.Split(msg.Subject(), ".") // engaged.events.<part>.<project>.<item>
			item := f[len(f)-1]
			if out[item] == nil {
				out[item] = storedItem{}
			}
			for _, e := range m.Render {
				out[item][*e.SourceIP]++
			}
			for _, e := range m.Content {
				out[item][e.ID]++
			}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("read through %d of %d: %w", seq, last, ctx.Err())
		}
	}
	return out, nil
}

// reconciliation is the outcome of one check.
type reconciliation struct {
	stage                   string
	acked, stored, unknown  int
	missing, double, excess int
	counted                 []int64 // per instance up, the sum of its counts
	exact                   bool
}

// reconcile checks, with no load running, that every acknowledged event is
// in the stream exactly once, that the stream holds no more than was
// acknowledged or left unanswered, and that every instance up counts
// exactly what the stream holds, item by item.
func (h *harness) reconcile(stage string) reconciliation {
	h.t.Helper()
	stopped := time.Now() // the load is stopped: every acknowledged event was stored before
	stream := h.readStream()
	rc := reconciliation{stage: stage, unknown: h.unknown, exact: true}
	want := map[string]int64{} // item -> events stored
	for item, evs := range stream {
		for id, n := range evs {
			rc.stored++
			want[item]++
			if n > 1 {
				rc.double++
				h.t.Errorf("%s: event %s of %s stored %d times", stage, id, item, n)
			}
		}
	}
	for ip, r := range h.ackedIP {
		rc.acked++
		if stream[r][ip] == 0 {
			rc.missing++
			h.t.Errorf("%s: acknowledged event from %s on %s is not in the stream", stage, ip, r)
		}
	}
	for id, c := range h.ackedEID {
		rc.acked++
		if stream[c][id] == 0 {
			rc.missing++
			h.t.Errorf("%s: acknowledged SDK event %s on %s is not in the stream", stage, id, c)
		}
	}
	if rc.stored > rc.acked+rc.unknown {
		rc.excess = rc.stored - rc.acked - rc.unknown
		h.t.Errorf("%s: the stream holds %d events; %d were acknowledged and %d left unanswered", stage, rc.stored, rc.acked, rc.unknown)
	}
	for i, in := range h.instances {
		if !h.up[i] {
			continue
		}
		var sum int64
		for _, r := range h.renders {
			got := h.eventuallyCount(stage, i, want[r.render], func() (int64, error) {
				res, err := h.try("GET", in.proc.base+"/v1/renders/"+r.render+"/engagement", r.key, "")
				if err != nil || res.status != 200 {
					return 0, fmt.Errorf("engagement: %v %d %s", err, res.status, res.body)
				}
				var s summary
				err = json.Unmarshal(res.body, &s)
				return s.Counts["viewed"], err
			})
			sum += got
		}
		for _, c := range h.contents {
			got := h.eventuallyCount(stage, i, want[c], func() (int64, error) {
				res, err := h.try("GET", in.proc.base+"/v1/contents/"+c+"/engagement", h.sdk.sk, "")
				if err != nil || res.status != 200 {
					return 0, fmt.Errorf("engagement: %v %d %s", err, res.status, res.body)
				}
				var s struct {
					Data struct{ Likes int64 } `json:"data"`
				}
				err = json.Unmarshal(res.body, &s)
				return s.Data.Likes, err
			})
			sum += got
		}
		rc.counted = append(rc.counted, sum)
		if sum != int64(rc.stored) {
			rc.exact = false
		}
	}
	if rc.missing+rc.double+rc.excess > 0 {
		rc.exact = false
	}
	if rc.exact && !h.reconcileSeries(stage, want) { // series and uniques (cluster_series_test.go)
		rc.exact = false
	}
	if rc.exact && !h.reconcileTop(stage, stopped) { // top-N (cluster_top_test.go)
		rc.exact = false
	}
	if h.t.Failed() {
		h.dumpErrors()
	}
	h.t.Logf("%s: %d acknowledged, %d stored, %d unanswered (%v), counted per instance %v, missing %d, double %d",
		stage, rc.acked, rc.stored, rc.unknown, h.reasons, rc.counted, rc.missing, rc.double)
	return rc
}

// eventuallyCount waits until instance i counts want (reads catch up from
// the log, a restarted owner replays it) and returns the last count.
func (h *harness) eventuallyCount(stage string, i int, want int64, get func() (int64, error)) int64 {
	wait := 20 * time.Second
	if h.t.Failed() {
		wait = time.Second // the rest only adds detail to the failure
	}
	deadline := time.Now().Add(wait)
	for {
		got, err := get()
		if err == nil && got == want {
			return got
		}
		if time.Now().After(deadline) {
			h.t.Errorf("%s: instance %d counts %d, the stream holds %d (%v)\n%s", stage, i, got, want, err, lastLines(h.instances[i].proc.log.String(), 20))
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	l := scanLines(s)
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// failover is what a fault did to the writes, from the requests' own
// timestamps: when the first write was acknowledged again after recovered
// (a new leader, a node back), and how many failed meanwhile.
type failover struct {
	firstOK time.Duration // after the recovery moment
	ok      int           // requests that ended after the fault with a 2xx
	failed  int           // requests that ended after the fault without a 2xx
}

func (h *harness) writesAfter(fault, recovered time.Time) failover {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := failover{firstOK: -1}
	sorted := append([]requestOutcome(nil), h.requests...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].end.Before(sorted[j].end) })
	for _, r := range sorted {
		if r.end.Before(fault) {
			continue
		}
		if !r.ok {
			f.failed++
			continue
		}
		f.ok++
		if f.firstOK < 0 && r.end.After(recovered) {
			f.firstOK = r.end.Sub(recovered)
		}
	}
	return f
}

// writesDuring counts the requests sent and answered within [from, to]: ok
// those that got a 2xx.
func (h *harness) writesDuring(from, to time.Time) failover {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := failover{firstOK: -1}
	for _, r := range h.requests {
		if r.start.Before(from) || r.end.After(to) {
			continue
		}
		if r.ok {
			f.ok++
		} else {
			f.failed++
		}
	}
	return f
}

// pins returns each partition consumer's pinned client id.
func (h *harness) pins(partitions int) []string {
	out := make([]string, partitions)
	for p := range out {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		c, err := h.js.Consumer(ctx, "ENGAGED", fmt.Sprintf("part-%d", p))
		cancel()
		if err != nil {
			continue
		}
		for _, g := range c.CachedInfo().PriorityGroups {
			out[p] = g.PinnedClientID
		}
	}
	return out
}

// killLeader kills the stream leader's node, and returns when a new leader
// is elected: the kill and the election times.
func (h *harness) killLeader() (node int, killed, elected time.Time) {
	h.t.Helper()
	var leader string
	eventually(h.t, 30*time.Second, func() error {
		if leader = streamLeader(h.js, time.Second); leader == "" {
			return fmt.Errorf("no stream leader")
		}
		return nil
	})
	node = h.nats.index(leader)
	killed = time.Now()
	h.nats.kill(node)
	eventually(h.t, 60*time.Second, func() error {
		if l := streamLeader(h.js, 300*time.Millisecond); l == "" || l == leader {
			return fmt.Errorf("no new stream leader yet")
		}
		return nil
	})
	return node, killed, time.Now()
}

// stepDown asks the stream leader to step down ($JS.API.STREAM.LEADER.STEPDOWN).
func (h *harness) stepDown() error {
	res, err := h.nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.ENGAGED", nil, 5*time.Second)
	if err != nil {
		return err
	}
	var r struct {
		Success bool
		Error   *struct{ Description string }
	}
	if err := json.Unmarshal(res.Data, &r); err != nil {
		return err
	}
	if !r.Success {
		return fmt.Errorf("stepdown: %s", res.Data)
	}
	return nil
}

// dumpErrors logs the error lines of every engaged process started.
func (h *harness) dumpErrors() {
	for _, p := range h.procs {
		for _, l := range scanLines(p.log.String()) {
			if strings.Contains(l, "level=ERROR") {
				h.t.Logf("%s: %s", p.base, l)
			}
		}
	}
}
