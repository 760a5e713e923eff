package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/valyala/fasthttp"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/config"
	"github.com/engagedhq/engaged/persist"
)

// benchOptions are the flags of engaged-bench.
type benchOptions struct {
	url           string
	natsURL       string
	scenarios     []string
	duration      time.Duration
	conns         int
	rate          int // requests/s, open loop; 0 = closed loop (as fast as answers come)
	items         int // the largest of sizes: the key space of every scenario but keyspace
	sizes         sizeList
	coldItems     int // renders pre-created for cold
	liveItems     int // first-touch: renders kept live, and as many touched first
	naiveItems    int
	memoryItems   int // memory-full: renders, and a quarter as many content items
	zipfS         float64
	churnItems    int // zipf-churn: renders pre-created, none warmed
	batch         int
	users         int // distinct userIds the SDK scenarios draw from
	ingestRate    int // background partner events/s during `read`
	readRate      int // reads/s of read-mixed
	jsonOut       bool
	progress      io.Writer
	forwardedIP   bool
	adminURL      string
	passivateWait time.Duration
}

const benchUsage = `usage: engaged-bench [flags] [scenario ...]

Drives a running engaged over real HTTP. Scenarios:
  ingest-single  partner events, POST /v1/renders/:id/events, with verdicts
  ingest-batch   SDK batches of --batch events over --items content items, POST /v1/events/batch;
                 each batch one viewer's: one userId of --users
  ingest-batch-anon  the same without userId: the cost of a userId is the ratio of the two
  sdk-single, sdk-single-anon  one SDK event per POST /v1/events, with and without a userId
  sdk-client     the same load sent through the Go client (client/): --connections
                 clients tracking events as fast as their queues take them
  read           GET /v1/renders/:id/engagement over --items renders, each given an event first
  read-mixed     read while partner events arrive at --ingest-rate (default: half of
                 the ingest-single rate measured earlier in the same run)
  visible        event-to-visible: partner event sent → its NATS live update, at --rate
                 (default 500/s) round-robin over the renders
  raw-js         plain async JetStream publishes of the same bytes (the ruler)
  memory         activate --items renders, report RSS per live actor and after passivation
                 (needs --admin-url: the server's ENGAGED_ADMIN_ADDR)
  memory-full    --memory-items renders with 25 recent events, 2 shares and their dedupe
                 entries, and a quarter as many content items with 300 events each; RSS
                 and heap per live item after they are passivated and read back
  keyspace       partner events (as ingest-single) at each --items size, each warmed
                 first; req/s against the first size (default sizes 1000,10000,100000)
  trivial        the HTTP ceiling: a Fiber handler in this tool answering a fixed 600-byte
                 JSON to the same requests; every row is also shown as a share of it
  cold           partner events, each to a render that never had one (--cold-items):
                 two rows, the first --duration and the next
  first-touch    first events to --live-items never-touched renders while --live-items
                 others are live
  zipf           partner events over --items renders picked Zipf(--zipf-s), warmed first
  zipf-churn     the same over --churn-items pre-created renders, none warmed, so first events,
                 passivations at ENGAGED_MAX_LIVE_ITEMS and reactivations churn; RSS sampled
                 every 2 s through --admin-url
  sdk-keyspace   ingest-batch over --items content items, each warmed first
  series-read    GET of a render's minute series over --items renders, each warmed first (issue 19: p99)
  top            GET /v1/projects/:projectId/top over --items content items with events in the
                 window (two each first, then waits for asOf): top-cached (one question) and
                 top-uncached (distinct questions from 2 connections: rates with a random minPlays)
  seen           POST /v1/users/:userId/seen with 500 content ids over --users users, each
                 given one impression first (batches of 100 users' events)
  naive          the baseline: a row-per-event Postgres server inside this tool, over
                 --naive-items renders, warm then cold
Default: ingest-batch ingest-single read read-mixed visible raw-js. It creates its own project, keys and renders
in the database the server uses (ENGAGED_DATABASE_URL or the private one).
`

// run is the whole load tool; main only calls it. lookupenv has the shape
// of os.LookupEnv.
func run(ctx context.Context, args []string, lookupenv func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("engaged-bench", flag.ContinueOnError)
	// Help goes to stdout, and a bad command line gets one line naming the
	// word rather than the whole usage: both are written below.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var o benchOptions
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "base URL of the engaged under test")
	fs.StringVar(&o.natsURL, "nats", "nats://127.0.0.1:4222", "NATS URL of the same server (raw-js)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each scenario runs")
	fs.IntVar(&o.conns, "connections", 64, "concurrent connections")
	fs.IntVar(&o.rate, "rate", 0, "target requests/s, open loop (0 = closed loop)")
	o.sizes = sizeList{1000}
	fs.Var(&o.sizes, "items", "key space: renders to spread load over; a list (1000,10000,100000) for keyspace, the largest for the others")
	fs.IntVar(&o.coldItems, "cold-items", 150_000, "cold: renders pre-created, one event each at most (stops early when used up)")
	fs.IntVar(&o.liveItems, "live-items", 100_000, "first-touch: renders kept live while as many others get their first events")
	fs.IntVar(&o.naiveItems, "naive-items", 10_000, "naive: renders the warm run spreads over")
	fs.IntVar(&o.memoryItems, "memory-items", 10_000, "memory-full: renders given full state")
	fs.Float64Var(&o.zipfS, "zipf-s", 1.1, "zipf: the exponent s (> 1)")
	fs.IntVar(&o.churnItems, "churn-items", 1_000_000, "zipf-churn: renders pre-created, drawn Zipf(--zipf-s), none warmed")
	fs.IntVar(&o.batch, "batch", 100, "events per batch request (ingest-batch)")
	fs.IntVar(&o.users, "users", 100_000, "distinct userIds the SDK scenarios draw from (ingest-batch, sdk-single)")
	fs.IntVar(&o.ingestRate, "ingest-rate", 0, "partner events/s sent in the background during read and read-mixed")
	fs.IntVar(&o.readRate, "read-rate", 2000, "reads/s of read-mixed (open loop) unless --rate is set")
	fs.BoolVar(&o.jsonOut, "json", false, "print results as JSON")
	fs.StringVar(&o.adminURL, "admin-url", "", "the server's operator listener (ENGAGED_ADMIN_ADDR) as a URL, for the memory scenarios' /stats")
	fs.DurationVar(&o.passivateWait, "passivate-wait", 2*time.Minute, "memory: how long to wait for idle actors to passivate")
	watch := fs.Bool("watch-updates", false, "subscribe to every live update (engaged.updates.>) on -nats for the whole run, as a dashboard on every item would; the server then encodes and publishes every update")
	fs.BoolVar(&o.forwardedIP, "forwarded-ip", true, "send a random X-Forwarded-For per event so the dedupe rule does not drop it (needs ENGAGED_TRUSTED_PROXIES on the server)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, benchUsage)
			fs.PrintDefaults()
			return nil
		}
		fmt.Fprintf(stderr, "engaged-bench: %v\nrun 'engaged-bench -h' for usage\n", err)
		return errUsage
	}
	o.scenarios = fs.Args()
	if len(o.scenarios) == 0 && len(o.sizes) > 1 {
		o.scenarios = []string{"keyspace"}
	}
	if len(o.scenarios) == 0 {
		o.scenarios = []string{"ingest-batch", "ingest-single", "read", "read-mixed", "visible", "raw-js"}
	}
	itemsSet := false
	fs.Visit(func(f *flag.Flag) { itemsSet = itemsSet || f.Name == "items" })
	if len(o.sizes) == 1 && !itemsSet && slices.Contains(o.scenarios, "keyspace") {
		o.sizes = sizeList{1000, 10_000, 100_000}
	}
	o.items = slices.Max(o.sizes)
	if o.zipfS <= 1 {
		return fmt.Errorf("-zipf-s must be above 1, not %v", o.zipfS)
	}
	o.progress = stderr
	o.url = strings.TrimRight(o.url, "/")

	cfg, err := config.Load(nil, lookupenv, stderr)
	if err != nil {
		return err
	}
	// The database the server uses: ENGAGED_DATABASE_URL, else the private
	// cluster that `make run` created.
	dbURL, err := cfg.ResolveDatabaseURL()
	if err != nil {
		return err
	}
	store, err := persist.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	// A pool of its own for what persist has no call for: bulk content
	// items and the naive baseline's table.
	dbCfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return fmt.Errorf("parse database url: %w", err)
	}
	dbCfg.MaxConns = 16 // the naive baseline's pool: as an ordinary service would size it
	db, err := pgxpool.NewWithConfig(ctx, dbCfg)
	if err != nil {
		return fmt.Errorf("connect postgres: %w", err)
	}
	defer db.Close()
	fx, err := newFixture(ctx, store, db, o.items)
	if err != nil {
		return fmt.Errorf("bench setup: %w", err)
	}
	if *watch {
		stop, err := watchUpdates(o.natsURL, stderr)
		if err != nil {
			return err
		}
		defer stop()
	}

	// Scenarios of several rows each (one per key space or variant).
	sweeps := map[string]func(context.Context, benchOptions, *persist.Store, *fixture) ([]benchResult, error){
		"keyspace": benchKeyspace, "cold": benchCold, "first-touch": benchFirstTouch, "zipf": benchZipf, "sdk-keyspace": benchSDKKeyspace, "naive": benchNaive,
		"series-read": benchSeriesRead, "zipf-churn": benchZipfChurn,
		"top": benchTop,
	}
	var results []benchResult
	var ingestMax float64      // req/s of the last ingest-single, for read-mixed
	var lastBatch *benchResult // the last ingest-batch, whose log bytes raw-js publishes again
	for _, sc := range o.scenarios {
		var r benchResult
		switch sc {
		case "ingest-single":
			r, err = benchIngestSingle(ctx, o, fx)
			ingestMax = r.ReqPerSec
		case "read":
			r, err = benchRead(ctx, o, fx)
		case "read-mixed":
			// Reads while partner events arrive at half the ingest maximum
			// measured just before (or --ingest-rate).
			mixed := o
			if mixed.ingestRate == 0 {
				mixed.ingestRate = max(1, int(ingestMax/2))
			}
			// Open loop on both sides: closed-loop reads would take every
			// spare cycle and starve the ingest they are meant to run beside.
			if mixed.rate == 0 {
				mixed.rate = o.readRate
			}
			r, err = benchRead(ctx, mixed, fx)
			r.Scenario = "read-mixed"
		case "ingest-batch", "ingest-batch-anon":
			r, err = benchIngestBatch(ctx, o, store, fx, sc == "ingest-batch-anon")
			lastBatch = &r
		case "sdk-single", "sdk-single-anon":
			r, err = benchSDKSingle(ctx, o, store, fx, sc == "sdk-single-anon")
		case "sdk-client":
			r, err = benchSDKClient(ctx, o, store, fx)
		case "trivial":
			r, err = benchTrivial(ctx, o, fx)
		case "raw-js":
			r, err = benchRawJetStream(ctx, o, lastBatch)
		case "visible":
			r, err = benchVisible(ctx, o, fx)
		case "memory":
			r, err = benchMemory(ctx, o, store, fx)
		case "memory-full":
			r, err = benchMemoryFull(ctx, o, store, fx)
		case "seen":
			r, err = benchSeen(ctx, o, store, fx)
		default:
			if many, ok := sweeps[sc]; ok {
				rs, err := many(ctx, o, store, fx)
				if err != nil {
					return fmt.Errorf("%s: %w", sc, err)
				}
				results = append(results, rs...)
				continue
			}
			return fmt.Errorf("unknown scenario %q", sc)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", sc, err)
		}
		results = append(results, r)
	}
	setVsTrivial(results)
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Results []benchResult `json:"results"`
			Targets []target      `json:"targets"`
		}{results, targets(results)})
	}
	printTable(stdout, results)
	printTargets(stdout, targets(results))
	return nil
}

// fixture is what the scenarios need: a project, keys and renders.
type fixture struct {
	db              *pgxpool.Pool // the server's database, for bulk inserts
	project, secret string
	renders         []string
	publishable     string   // ingest-batch
	contents        []string // ingest-batch
}

func newFixture(ctx context.Context, store *persist.Store, db *pgxpool.Pool, n int) (*fixture, error) {
	p, err := store.CreateProject(ctx, "bench "+time.Now().UTC().Format(time.RFC3339))
	if err != nil {
		return nil, err
	}
	_, secret, err := store.CreateKey(ctx, p.ID, actors.SecretKey)
	if err != nil {
		return nil, err
	}
	fx := &fixture{db: db, project: p.ID, secret: secret}
	fx.renders, err = fx.createRenders(ctx, store, n)
	if err != nil {
		return nil, err
	}
	return fx, nil
}

// createRenders registers n more renders in the fixture's project, 50,000
// per statement, and returns their ids.
func (fx *fixture) createRenders(ctx context.Context, store *persist.Store, n int) ([]string, error) {
	ids := make([]string, 0, n)
	for len(ids) < n {
		more, err := store.CreateRenders(ctx, fx.project, min(50_000, n-len(ids)))
		if err != nil {
			return nil, err
		}
		ids = append(ids, more...)
	}
	return ids, nil
}

// sizeList is the -items flag: one size, or a comma-separated list.
type sizeList []int

func (l *sizeList) String() string {
	var s []string
	for _, n := range *l {
		s = append(s, strconv.Itoa(n))
	}
	return strings.Join(s, ",")
}

func (l *sizeList) Set(v string) error {
	var out sizeList
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// benchResult is one scenario's figures. Latencies are in microseconds.
type benchResult struct {
	Scenario     string           `json:"scenario"`
	Duration     float64          `json:"durationSeconds"`
	Requests     int64            `json:"requests"`
	Events       int64            `json:"events"`
	ReqPerSec    float64          `json:"requestsPerSecond"`
	EvPerSec     float64          `json:"eventsPerSecond"`
	Bytes        int64            `json:"bytes"`
	Statuses     map[string]int64 `json:"statuses"`
	LatencyUS    latency          `json:"latencyMicros"`
	Note         string           `json:"note,omitempty"`
	Items        int              `json:"items,omitempty"`     // the key space, where a scenario sweeps it
	VsFirst      float64          `json:"vsFirst,omitempty"`   // keyspace: req/s as a share of the first size's
	VsTrivial    float64          `json:"vsTrivial,omitempty"` // req/s as a share of the trivial handler's, when it ran
	RSSPerItem   int64            `json:"rssPerItemBytes,omitempty"`
	payloadBytes int              // bytes the scenario's log messages average, for raw-js
	eventsPerMsg float64          // events per log message, for raw-js
	TargetRate   int              `json:"targetRate,omitempty"`
}

type latency struct {
	P50, P90, P99, P999, Max int64
}

// load runs fn from o.conns workers for o.duration. With o.rate > 0 it is
// open loop: a pacer issues tickets at the target rate and each latency is
// measured from the ticket's intended start, so a stalled server shows up as
// latency instead of silently lowering the offered load (coordinated
// omission). fn returns the outcome label (an HTTP status) and the number
// of events the request carried; an empty label (no request made) stops
// the worker, for scenarios with a fixed amount of work.
func load(ctx context.Context, o benchOptions, name string, rate int, fn func(w int, c *fasthttp.HostClient) (string, int)) benchResult {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	client := &fasthttp.HostClient{
		Addr:                          hostOf(o.url),
		MaxConns:                      o.conns,
		ReadTimeout:                   30 * time.Second,
		WriteTimeout:                  30 * time.Second,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
	}
	var tickets chan time.Time
	var pacer sync.WaitGroup
	if rate > 0 {
		tickets = make(chan time.Time, 1<<16)
		pacer.Add(1)
		go func() {
			defer pacer.Done()
			defer close(tickets)
			start := time.Now()
			interval := time.Second / time.Duration(rate)
			for i := int64(0); ; i++ {
				due := start.Add(time.Duration(i) * interval)
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				select {
				case tickets <- due:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	var (
		mu       sync.Mutex
		hist     = hdrhistogram.New(1, 60_000_000, 3)
		statuses = map[string]int64{}
		requests atomic.Int64
		events   atomic.Int64
		wg       sync.WaitGroup
	)
	start := time.Now()
	stopProgress := progress(o.progress, name, start, &requests, &events)
	for w := 0; w < o.conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := hdrhistogram.New(1, 60_000_000, 3)
			st := map[string]int64{}
			for ctx.Err() == nil {
				t0 := time.Now()
				if tickets != nil {
					var ok bool
					if t0, ok = <-tickets; !ok {
						break
					}
				}
				label, n := fn(w, client)
				if label == "" {
					break // the scenario ran out of work
				}
				if ctx.Err() != nil && label == "error" {
					break // cut off by the end of the run, not a server error
				}
				_ = h.RecordValue(max(1, time.Since(t0).Microseconds()))
				st[label]++
				requests.Add(1)
				events.Add(int64(n))
			}
			mu.Lock()
			hist.Merge(h)
			for k, v := range st {
				statuses[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	cancel()
	pacer.Wait()
	stopProgress()
	el := time.Since(start).Seconds()
	return benchResult{
		Scenario: name, Duration: el, Requests: requests.Load(), Events: events.Load(),
		ReqPerSec: float64(requests.Load()) / el, EvPerSec: float64(events.Load()) / el,
		Statuses: statuses, TargetRate: rate,
		LatencyUS: latency{hist.ValueAtQuantile(50), hist.ValueAtQuantile(90), hist.ValueAtQuantile(99), hist.ValueAtQuantile(99.9), hist.Max()},
	}
}

// each runs fn(i) once for every i in [0, n) from o.conns workers, or
// until o.duration is up (see untimed), whichever comes first.
func each(ctx context.Context, o benchOptions, name string, n int, fn func(i int, c *fasthttp.HostClient) (string, int)) benchResult {
	var next atomic.Int64
	return load(ctx, o, name, 0, func(_ int, c *fasthttp.HostClient) (string, int) {
		i := next.Add(1) - 1
		if i >= int64(n) {
			return "", 0
		}
		return fn(int(i), c)
	})
}

// untimed is o for a run that ends when its work is done (each), not at
// o.duration.
func (o benchOptions) untimed() benchOptions {
	o.duration = 24 * time.Hour
	return o
}

// failed counts the requests of r that did not answer 2xx.
func failed(r benchResult) int64 {
	var n int64
	for k, v := range r.Statuses {
		if !strings.HasPrefix(k, "2") {
			n += v
		}
	}
	return n
}

// progress prints a line a second while a scenario runs.
func progress(w io.Writer, name string, start time.Time, requests, events *atomic.Int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-t.C:
				n := requests.Load()
				fmt.Fprintf(w, "%-14s %5.1fs  %9d req  %9d req/s  %10d events\n", name, time.Since(start).Seconds(), n, n-last, events.Load())
				last = n
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func status(code int, err error) string {
	if err != nil {
		if errors.Is(err, fasthttp.ErrTimeout) {
			return "timeout"
		}
		return "error"
	}
	return strconv.Itoa(code)
}

var benchEventTypes = [...]string{"viewed", "downloaded", "printed"}

// partnerEvent sends one POST /v1/renders/:id/events to a random render.
func partnerEvent(o benchOptions, fx *fixture, c *fasthttp.HostClient) string {
	return partnerEventTo(o, fx, c, fx.renders[rand.IntN(len(fx.renders))], `{"source":"bench"}`)
}

// partnerEventTo sends one POST /v1/renders/:id/events to render rid with
// metadata, a JSON object.
func partnerEventTo(o benchOptions, fx *fixture, c *fasthttp.HostClient, rid, metadata string) string {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI(o.url + "/v1/renders/" + rid + "/events")
	req.Header.SetMethod("POST")
	req.Header.Set("Authorization", "Bearer "+fx.secret)
	req.Header.SetContentType("application/json")
	if o.forwardedIP {
		req.Header.Set("X-Forwarded-For", randomIP())
	}
	req.SetBodyString(`{"eventType":"` + benchEventTypes[rand.IntN(3)] + `","metadata":` + metadata + `}`)
	err := c.Do(req, res)
	return status(res.StatusCode(), err)
}

// randomIP is a client address for X-Forwarded-For: distinct addresses
// keep the 5-minute dedupe rule from dropping events.
func randomIP() string {
	return fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), rand.IntN(256))
}

func benchIngestSingle(ctx context.Context, o benchOptions, fx *fixture) (benchResult, error) {
	r := load(ctx, o, "ingest-single", o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		s := partnerEvent(o, fx, c)
		return s, 1
	})
	return r, nil
}

// getEngagement sends one GET /v1/renders/:id/engagement.
func getEngagement(o benchOptions, fx *fixture, c *fasthttp.HostClient, rid string) string {
	return getSecret(o, fx, c, "/v1/renders/"+rid+"/engagement")
}

// getSecret sends one GET of path with the secret key.
func getSecret(o benchOptions, fx *fixture, c *fasthttp.HostClient, path string) string {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI(o.url + path)
	req.Header.Set("Authorization", "Bearer "+fx.secret)
	err := c.Do(req, res)
	return status(res.StatusCode(), err)
}

func benchRead(ctx context.Context, o benchOptions, fx *fixture) (benchResult, error) {
	// Give every render an event first, so the figure is of reads of live
	// items with events, not of activations; and so that this instance owns
	// the partitions (a partition's consumer delivered here), without which
	// every read catches up from the log, as it must on an instance whose
	// state of the item may be behind.
	if err := warm(ctx, o, fx, fx.renders); err != nil {
		return benchResult{}, err
	}
	var bg sync.WaitGroup
	bgCtx, stopBG := context.WithCancel(ctx)
	var bgResult benchResult
	if o.ingestRate > 0 {
		bgOpts := o
		bgOpts.progress = io.Discard
		bgOpts.rate = 0
		bg.Add(1)
		go func() {
			defer bg.Done()
			bgResult = load(bgCtx, bgOpts, "background", o.ingestRate, func(_ int, c *fasthttp.HostClient) (string, int) {
				return partnerEvent(o, fx, c), 1
			})
		}()
	}
	r := load(ctx, o, "read", o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		return getEngagement(o, fx, c, fx.renders[rand.IntN(len(fx.renders))]), 0
	})
	stopBG()
	bg.Wait()
	if o.ingestRate > 0 {
		r.Note = fmt.Sprintf("while ingesting %.0f partner events/s in the background (target %d/s, p99 %.2f ms)",
			bgResult.ReqPerSec, o.ingestRate, float64(bgResult.LatencyUS.P99)/1000)
	}
	return r, nil
}

func printTable(w io.Writer, results []benchResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\treq/s\tvs trivial\tevents/s\trequests\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\tstatuses\t")
	ms := func(us int64) string { return strconv.FormatFloat(float64(us)/1000, 'f', 2, 64) }
	for _, r := range results {
		if r.LatencyUS == (latency{}) { // raw-js: throughput only
			fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f\t%d\t-\t-\t-\t-\t-\t%s\t\n", r.Scenario, r.ReqPerSec, share(r.VsTrivial), r.EvPerSec, r.Requests, statusList(r))
			continue
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Scenario, r.ReqPerSec, share(r.VsTrivial), r.EvPerSec, r.Requests,
			ms(r.LatencyUS.P50), ms(r.LatencyUS.P90), ms(r.LatencyUS.P99), ms(r.LatencyUS.P999), ms(r.LatencyUS.Max), statusList(r))
	}
	tw.Flush()
	for _, r := range results {
		if r.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Scenario, r.Note)
		}
	}
	printSweep(w, results, ms)
}

// setVsTrivial sets every row's share of the trivial handler's req/s, if
// the trivial scenario ran.
func setVsTrivial(results []benchResult) {
	var ceiling float64
	for _, r := range results {
		if r.Scenario == "trivial" {
			ceiling = r.ReqPerSec
		}
	}
	if ceiling == 0 {
		return
	}
	for i := range results {
		results[i].VsTrivial = results[i].ReqPerSec / ceiling
	}
}

// share prints a share of the trivial handler, or "-" if it did not run.
func share(x float64) string {
	if x == 0 {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// printSweep prints the keyspace rows again, each against the first size.
func printSweep(w io.Writer, results []benchResult, ms func(int64) string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := false
	for _, r := range results {
		if r.VsFirst == 0 {
			continue
		}
		if !header {
			fmt.Fprintln(w)
			fmt.Fprintln(tw, "items\treq/s\tp50 ms\tp99 ms\tvs first\t")
			header = true
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%s\t%s\t%.0f%%\t\n", r.Items, r.ReqPerSec, ms(r.LatencyUS.P50), ms(r.LatencyUS.P99), 100*r.VsFirst)
	}
	tw.Flush()
}

func hostOf(url string) string {
	return strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
}

func statusList(r benchResult) string {
	var st []string
	for k, v := range r.Statuses {
		st = append(st, k+":"+strconv.FormatInt(v, 10))
	}
	sort.Strings(st)
	return strings.Join(st, " ")
}

// watchUpdates subscribes to every live update until stop, which prints how
// many arrived. The server skips updates nobody subscribes to; this makes
// every one of them wanted, for a run that measures their full cost.
func watchUpdates(natsURL string, w io.Writer) (stop func(), err error) {
	nc, err := nats.Connect(natsURL, nats.Name("engaged-bench-watch"))
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", natsURL, err)
	}
	var n atomic.Int64
	sub, err := nc.Subscribe("engaged.updates.>", func(*nats.Msg) { n.Add(1) })
	if err == nil {
		_ = sub.SetPendingLimits(-1, -1) // count them all; the bench's own memory is not measured
		err = nc.Flush()
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("subscribe to updates: %w", err)
	}
	return func() {
		nc.Close()
		fmt.Fprintf(w, "updates received: %d\n", n.Load())
	}, nil
}
