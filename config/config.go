// Package config loads engaged's one configuration value from flags and
// ENGAGED_* environment variables and validates it before anything starts.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the validated configuration of one engaged process. It is a plain
// value: load it once with Load and pass fields down; never keep it global.
type Config struct {
	HTTPAddr      string // ENGAGED_HTTP_ADDR: where the HTTP API listens
	PublicBaseURL string // ENGAGED_PUBLIC_URL: base of links handed to people (share pages, pixels)
	DataDir       string // ENGAGED_DATA_DIR: JetStream store (embedded mode) and the private Postgres
	DatabaseURL   string // ENGAGED_DATABASE_URL, or the private cluster under DataDir/pg

	NATSURL    string // ENGAGED_NATS_URL: external NATS; empty = embedded server
	NATSListen string // ENGAGED_NATS_LISTEN: client port of the embedded server; empty = in-process only

	// Credentials and TLS that engaged presents to an external, secured NATS
	// cluster (ENGAGED_NATS_URL); all files, read at start.
	NATSCreds   string // ENGAGED_NATS_CREDS: user JWT + seed (.creds) of an operator/JWT setup
	NATSNKey    string // ENGAGED_NATS_NKEY: NKey user seed file; excludes NATSCreds
	NATSTLSCA   string // ENGAGED_NATS_TLS_CA: PEM CA bundle that verifies the servers; empty = system roots
	NATSTLSCert string // ENGAGED_NATS_TLS_CERT: PEM client certificate, with NATSTLSKey
	NATSTLSKey  string // ENGAGED_NATS_TLS_KEY: PEM client private key, with NATSTLSCert

	Partitions   int           // ENGAGED_PARTITIONS: P in hash(project,item) mod P; fixed when the stream is created
	StreamMaxAge time.Duration // ENGAGED_STREAM_MAX_AGE: JetStream's own age limit, a safety net behind LogRetention
	// LogRetention (ENGAGED_LOG_RETENTION) is the log retention the service
	// manages: a message older than this is removed once a snapshot of its
	// item covers it (cmd/engaged/retention.go). 0 in a loaded Config never
	// happens: unset, it is half of StreamMaxAge.
	LogRetention time.Duration
	// RecentMaxAge (ENGAGED_RECENT_MAX_AGE): a render's recent events and a
	// user's history entries older than this are dropped by the retention
	// sweep; 0 keeps the newest 25 and 50 however old.
	RecentMaxAge   time.Duration
	StreamMaxBytes int64         // ENGAGED_STREAM_MAX_BYTES: log retention by size; -1 = unlimited
	StreamReplicas int           // ENGAGED_STREAM_REPLICAS: 1 for a single node, 3 on a cluster
	SyncAlways     bool          // ENGAGED_SYNC=always: fsync every write (embedded server)
	SyncInterval   time.Duration // ENGAGED_SYNC=<duration>: fsync at most this long after a write (embedded server)

	SnapshotInterval time.Duration // ENGAGED_SNAPSHOT_INTERVAL: how often dirty actors are written to Postgres
	IdleTimeout      time.Duration // ENGAGED_IDLE_TIMEOUT: an actor idle this long is snapshotted and stopped
	MaxLiveItems     int           // ENGAGED_MAX_LIVE_ITEMS: live actors past this are passivated, least recently used first
	ItemSetMax       int           // ENGAGED_ITEM_SET_MAX: items the item set holds at most (transport/httpapi/itemset.go); 0 = no set
	TopIndexMaxMB    int           // ENGAGED_TOP_INDEX_MAX_MB: memory the ranking index keeps at most (persist/topindex.go)
	MailboxSize      int           // ENGAGED_MAILBOX: bounded mailbox of each actor
	RequestTimeout   time.Duration // ENGAGED_REQUEST_TIMEOUT: how long a request may wait for JetStream and its actor

	SeriesRetentionDays int // ENGAGED_SERIES_RETENTION_DAYS: hourly series rows older than this are deleted (docs/SERIES.md)

	TrustedProxies   []netip.Prefix // ENGAGED_TRUSTED_PROXIES: peers whose X-Forwarded-For / X-Real-IP are believed
	MaxBodyBytes     int            // ENGAGED_MAX_BODY_BYTES: request body limit, after decompression too
	MaxMetadataBytes int            // ENGAGED_MAX_METADATA_BYTES: encoded size limit of an event's metadata
	MaxHeaderBytes   int            // ENGAGED_MAX_HEADER_BYTES: request line plus headers; past it 414/431
	SSEMaxStreamsKey int            // ENGAGED_SSE_MAX_STREAMS_PER_KEY: open server-sent event streams per API key

	// Content created by SDK events, for projects with autoCreateContent on
	// (docs/PROJECTS.md): what bounds it, so a public key cannot flood the database.
	AutoCreateMaxItems int       // ENGAGED_AUTOCREATE_MAX_ITEMS: no creation once a project holds this many items
	AutoCreateRate     RateLimit // ENGAGED_AUTOCREATE_RATE: creations per project per instance, a token bucket

	// Operating (docs/OPERATING.md): the operator listener, logs, drain.
	AdminAddr  string        // ENGAGED_ADMIN_ADDR: operator listener (/metrics, /stats, /readyz, pprof); empty = off
	LogFormat  string        // ENGAGED_LOG_FORMAT: "json" or "text"; empty = json unless stderr is a terminal
	LogLevel   slog.Level    // ENGAGED_LOG_LEVEL: debug, info, warn or error
	DrainDelay time.Duration // ENGAGED_DRAIN_DELAY: after SIGTERM, how long /readyz answers 503 while requests are still served

	// Share links, e-mail and the public page (shares.go).
	SMTPURL           string    // ENGAGED_SMTP_URL: smtp:// or smtps:// mail server; empty = e-mails are written to the log
	MailFrom          string    // ENGAGED_MAIL_FROM: From of share e-mails (default no-reply@<public host>)
	PixelSecret       string    // ENGAGED_PIXEL_SECRET: key that signs tracking-pixel tokens; empty = generated under DataDir
	PublicIPLimit     RateLimit // ENGAGED_PUBLIC_IP_LIMIT: public requests per client IP
	PublicShareLimit  RateLimit // ENGAGED_PUBLIC_SHARE_LIMIT: public requests per share link or e-mail
	BotGenericClients bool      // ENGAGED_BOT_GENERIC_CLIENTS: curl, Go, Python clients on the public routes count as robots

	UpdateInterval time.Duration // ENGAGED_UPDATE_INTERVAL: at most one live update per item per interval (0 = every change)
	SSEMaxStreams  int           // ENGAGED_SSE_MAX_STREAMS: open server-sent event streams per process
	SSEMaxLifetime time.Duration // ENGAGED_SSE_MAX_LIFETIME: a stream is closed after this long (clients reconnect)
	SSEHeartbeat   time.Duration // ENGAGED_SSE_HEARTBEAT: comment-line interval; also when a revoked key's streams end

	// Webhooks (transport/webhooks, docs/WEBHOOKS.md).
	WebhookRetrySchedule []time.Duration // ENGAGED_WEBHOOK_RETRY_SCHEDULE: waits before each retry; its length is the number of retries
	WebhookTimeout       time.Duration   // ENGAGED_WEBHOOK_TIMEOUT: one delivery attempt's limit
	WebhookAllowHosts    []string        // ENGAGED_WEBHOOKS_ALLOW_HOSTS: hosts or CIDRs webhooks may reach although private or loopback
	WebhookRetentionDays int             // ENGAGED_WEBHOOK_RETENTION_DAYS: kept deliveries (replay) and attempts older than this are deleted

	// The HTTP admin API (transport/httpapi/admin.go).
	AdminToken string // ENGAGED_ADMIN_TOKEN: operator token of /admin/v1; empty = the admin API is off (404)
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		HTTPAddr:           ":8080",
		DataDir:            "./data",
		NATSListen:         "127.0.0.1:4222",
		Partitions:         8,
		StreamMaxAge:       14 * 24 * time.Hour,
		StreamMaxBytes:     -1,
		StreamReplicas:     1,
		SyncInterval:       time.Second,
		SnapshotInterval:   2 * time.Second,
		IdleTimeout:        5 * time.Minute,
		MaxLiveItems:       200_000,
		ItemSetMax:         2_000_000,
		TopIndexMaxMB:      512,
		MailboxSize:        16,
		RequestTimeout:     5 * time.Second,
		MaxBodyBytes:       1 << 20,
		MaxMetadataBytes:   8 << 10,
		MaxHeaderBytes:     8 << 10,
		SSEMaxStreamsKey:   100,
		AutoCreateMaxItems: 100_000,
		AutoCreateRate:     RateLimit{N: 10, Per: time.Second},
		PublicIPLimit:      RateLimit{N: 60, Per: time.Minute},
		PublicShareLimit:   RateLimit{N: 600, Per: time.Minute},
		UpdateInterval:     100 * time.Millisecond,
		SSEMaxStreams:      1000,
		SSEMaxLifetime:     time.Hour,
		SSEHeartbeat:       15 * time.Second,
		AdminAddr:          "127.0.0.1:9090",
		LogLevel:           slog.LevelInfo,
		DrainDelay:         5 * time.Second,

		SeriesRetentionDays:  400,
		WebhookRetrySchedule: []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour},
		WebhookTimeout:       10 * time.Second,
		WebhookRetentionDays: 30,
	}
}

// Limits on the values above. They keep a typo from turning into an outage.
const (
	MinAdminToken = 32
	MaxPartitions = 1024
	maxMailbox    = 1 << 16
)

// Var describes one setting: its flag name, its variable, the type of its
// value, its default as written in docs/OPERATING.md and in `serve -h` ("" = empty),
// and its help. The tables of docs/OPERATING.md and the help are checked against it.
type Var struct {
	Flag, Env, Type, Default, Help string
}

// Vars lists every setting in the order docs/OPERATING.md documents them.
var Vars = []Var{
	{"max-header-bytes", "ENGAGED_MAX_HEADER_BYTES", "int", "8192", "request line plus headers limit in bytes (longer: 414 or 431)"},
	{"sse-max-streams-per-key", "ENGAGED_SSE_MAX_STREAMS_PER_KEY", "int", "100", "open server-sent event streams per API key"},
	{"http-addr", "ENGAGED_HTTP_ADDR", "addr", ":8080", "HTTP listen address"},
	{"public-url", "ENGAGED_PUBLIC_URL", "url", "http://localhost:<port>", "public base URL of links handed to people (share pages, pixels)"},
	{"data-dir", "ENGAGED_DATA_DIR", "path", "./data", "data directory (JetStream store, private Postgres)"},
	{"database-url", "ENGAGED_DATABASE_URL", "url", "", "Postgres URL (default: the private cluster under <data-dir>/pg)"},
	{"nats-url", "ENGAGED_NATS_URL", "url", "", "external NATS URL; empty runs NATS embedded"},
	{"nats-listen", "ENGAGED_NATS_LISTEN", "addr", "127.0.0.1:4222", "client address of the embedded NATS server; empty = in-process only"},
	{"nats-creds", "ENGAGED_NATS_CREDS", "path", "", "credentials file (user JWT and seed) for an external NATS in operator/JWT mode"},
	{"nats-nkey", "ENGAGED_NATS_NKEY", "path", "", "NKey user seed file for an external NATS (not with -nats-creds)"},
	{"nats-tls-ca", "ENGAGED_NATS_TLS_CA", "path", "", "PEM CA file that verifies an external NATS server's certificate; empty = system roots"},
	{"nats-tls-cert", "ENGAGED_NATS_TLS_CERT", "path", "", "PEM client certificate for an external NATS that verifies clients (with -nats-tls-key)"},
	{"nats-tls-key", "ENGAGED_NATS_TLS_KEY", "path", "", "PEM private key of -nats-tls-cert"},
	{"partitions", "ENGAGED_PARTITIONS", "int", "8", "event subject partitions (fixed when the stream is created)"},
	{"stream-max-age", "ENGAGED_STREAM_MAX_AGE", "duration", "336h", "JetStream's own age limit of the event log: a safety net, at least 2x ENGAGED_LOG_RETENTION"},
	{"recent-max-age", "ENGAGED_RECENT_MAX_AGE", "duration", "", "recent events and user history entries older than this are dropped by the log retention sweep (at most ENGAGED_LOG_RETENTION); empty = keep the newest 25 and 50"},
	{"log-retention", "ENGAGED_LOG_RETENTION", "duration", "", "event log retention managed by the service: older messages are removed once a snapshot covers them; empty = half of ENGAGED_STREAM_MAX_AGE"},
	{"stream-max-bytes", "ENGAGED_STREAM_MAX_BYTES", "int", "-1", "event log retention by size, -1 = unlimited"},
	{"stream-replicas", "ENGAGED_STREAM_REPLICAS", "int", "1", "event log replicas (1, or 3 on a cluster)"},
	{"sync", "ENGAGED_SYNC", "always|duration", "1s", "JetStream fsync: 'always' or an interval such as 1s (embedded server)"},
	{"snapshot-interval", "ENGAGED_SNAPSHOT_INTERVAL", "duration", "2s", "how often dirty item state is written to Postgres"},
	{"idle-timeout", "ENGAGED_IDLE_TIMEOUT", "duration", "5m", "idle time after which an item actor is passivated"},
	{"max-live-items", "ENGAGED_MAX_LIVE_ITEMS", "int", "200000", "live item actors kept in memory; past it the least recently used are snapshotted and passivated at each snapshot round"},
	{"item-set-max", "ENGAGED_ITEM_SET_MAX", "int", "2000000", "items whose existence each instance holds in memory, so that their events and reads ask Postgres nothing; past it the set stops growing; 0 = no set"},
	{"top-index-max-mb", "ENGAGED_TOP_INDEX_MAX_MB", "int", "512", "memory (estimated, MiB) each instance keeps for its in-memory copies of asked top-N windows; past it the least recently asked windows are dropped (docs/RANKINGS.md)"},
	{"series-retention-days", "ENGAGED_SERIES_RETENTION_DAYS", "int", "400", "days hourly series rows are kept in Postgres (docs/SERIES.md)"},
	{"mailbox", "ENGAGED_MAILBOX", "int", "16", "bounded mailbox size of each item actor"},
	{"request-timeout", "ENGAGED_REQUEST_TIMEOUT", "duration", "5s", "how long a request waits for JetStream and its actor"},
	{"trusted-proxies", "ENGAGED_TRUSTED_PROXIES", "CIDR list", "", "comma-separated CIDRs or IPs whose forwarding headers are trusted"},
	{"max-body-bytes", "ENGAGED_MAX_BODY_BYTES", "int", "1048576", "request body limit in bytes (also after decompression)"},
	{"max-metadata-bytes", "ENGAGED_MAX_METADATA_BYTES", "int", "8192", "encoded metadata limit per event in bytes"},
	{"autocreate-max-items", "ENGAGED_AUTOCREATE_MAX_ITEMS", "int", "100000", "projects with autoCreateContent: SDK events create no content once the project holds this many items"},
	{"autocreate-rate", "ENGAGED_AUTOCREATE_RATE", "N/duration|off", "10/1s", "projects with autoCreateContent: content created by SDK events per project per instance, in bursts of N"},
	// Operating (docs/OPERATING.md).
	{"admin-addr", "ENGAGED_ADMIN_ADDR", "addr|off", "127.0.0.1:9090", "operator listener: /metrics, /stats, /readyz with detail, /debug/pprof/; off or empty = none. Keep it off the public network"},
	{"log-format", "ENGAGED_LOG_FORMAT", "json|text", "", "log format; empty = json, or text when stderr is a terminal"},
	{"log-level", "ENGAGED_LOG_LEVEL", "debug|info|warn|error", "info", "least severe log level written (the access log is info)"},
	{"drain-delay", "ENGAGED_DRAIN_DELAY", "duration", "5s", "after SIGTERM: /readyz answers 503 this long while requests are still served, then shutdown"},
	{"smtp-url", "ENGAGED_SMTP_URL", "url", "", "mail server for share e-mails, smtp://[user:pass@]host[:port] or smtps://…; empty = write e-mails to the log"},
	{"mail-from", "ENGAGED_MAIL_FROM", "address", "no-reply@<host of ENGAGED_PUBLIC_URL>", "From address of share e-mails"},
	{"pixel-secret", "ENGAGED_PIXEL_SECRET", "string", "", "key (at least 32 characters) that signs tracking-pixel tokens; empty = generated once under the data dir"},
	{"public-ip-limit", "ENGAGED_PUBLIC_IP_LIMIT", "N/duration|off", "60/1m", "public page/pixel requests per client IP, N/duration (e.g. 60/1m) or off"},
	{"public-share-limit", "ENGAGED_PUBLIC_SHARE_LIMIT", "N/duration|off", "600/1m", "public page/pixel requests per share link or e-mail, N/duration or off"},
	{"bot-generic-clients", "ENGAGED_BOT_GENERIC_CLIENTS", "bool", "false", "public share page, download and pixel: count generic HTTP clients (curl, Go-http-client, python-requests, …) as robots, not viewers (docs/PRIVACY.md)"},
	{"update-interval", "ENGAGED_UPDATE_INTERVAL", "duration", "100ms", "live updates: at most one per item per interval (0 = every change)"},
	{"sse-max-streams", "ENGAGED_SSE_MAX_STREAMS", "int", "1000", "open server-sent event streams per process"},
	{"sse-max-lifetime", "ENGAGED_SSE_MAX_LIFETIME", "duration", "1h", "a server-sent event stream is closed after this long"},
	{"sse-heartbeat", "ENGAGED_SSE_HEARTBEAT", "duration", "15s", "server-sent event heartbeat (and key re-check) interval"},
	{"webhook-retry-schedule", "ENGAGED_WEBHOOK_RETRY_SCHEDULE", "duration list", "5s,5m,30m,2h,5h,10h,10h", "webhooks: comma-separated waits before each retry after the first attempt; after the last, the delivery is dead-lettered"},
	{"webhook-timeout", "ENGAGED_WEBHOOK_TIMEOUT", "duration", "10s", "webhooks: limit of one delivery attempt, connect to response"},
	{"webhook-retention-days", "ENGAGED_WEBHOOK_RETENTION_DAYS", "int", "30", "webhooks: days kept deliveries (what a replay re-sends) and attempts stay in Postgres; longer than the retry schedule"},
	{"webhooks-allow-hosts", "ENGAGED_WEBHOOKS_ALLOW_HOSTS", "list", "", "webhooks: comma-separated hosts or CIDRs that endpoints may reach although loopback, private or link-local (tests, private deployments)"},
	{"admin-token", "ENGAGED_ADMIN_TOKEN", "string", "", "operator token (at least 32 characters) of the HTTP admin API /admin/v1; empty = off. Prefer the variable: a flag shows in ps"},
}

// Load builds the configuration from defaults, then ENGAGED_* variables, then
// flags in args (flags win). It returns an error naming the variable or flag
// of the first bad value; a command line that is not flags at all (an
// unknown flag, a missing value, a stray argument) is a *UsageError. On -h
// or --help it writes Usage to help and returns flag.ErrHelp.
//
// lookupenv has the shape of os.LookupEnv because a variable that is set but
// empty means something: ENGAGED_NATS_LISTEN= turns the embedded listener off.
func Load(args []string, lookupenv func(string) (string, bool), help io.Writer) (Config, error) {
	raw := map[string]string{}
	for _, v := range Vars {
		if s, ok := lookupenv(v.Env); ok {
			raw[v.Flag] = s
		}
	}
	fs := flag.NewFlagSet("engaged serve", flag.ContinueOnError)
	// The flag package's own messages and usage would go to one writer for
	// both help and errors; Usage (generated from Vars) and UsageError
	// take their place.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	set := map[string]*string{}
	for _, v := range Vars {
		set[v.Flag] = fs.String(v.Flag, "", v.Help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			Usage(help)
			return Config{}, err
		}
		return Config{}, &UsageError{Msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return Config{}, &UsageError{Msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	fs.Visit(func(f *flag.Flag) { raw[f.Name] = *set[f.Name] })
	return parse(raw)
}

// UsageError is a command line that cannot be read as flags; the command
// exits with status 2 and names the offending word.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usage writes every setting with its type, default and variable, generated
// from Vars so that help and docs/OPERATING.md cannot drift apart.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "usage: engaged serve [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every flag is also an ENGAGED_* variable; a flag wins over its variable.")
	fmt.Fprintln(w)
	for _, v := range Vars {
		def := v.Default
		if def == "" {
			def = "empty"
		}
		fmt.Fprintf(w, "  -%s %s\n    \t%s\n    \t(%s; default %s)\n", v.Flag, v.Type, v.Help, v.Env, def)
	}
}

// Unknown returns the ENGAGED_* variables in environ (os.Environ's shape)
// that are no setting: most likely typos, which would otherwise be ignored
// without a word.
func Unknown(environ []string) []string {
	known := map[string]bool{}
	for _, v := range Vars {
		known[v.Env] = true
	}
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ENGAGED_") && !known[k] {
			out = append(out, k)
		}
	}
	return out
}

func parse(raw map[string]string) (Config, error) {
	c := Defaults()
	p := parser{raw: raw}
	p.str("http-addr", &c.HTTPAddr)
	p.str("public-url", &c.PublicBaseURL)
	p.str("data-dir", &c.DataDir)
	p.str("database-url", &c.DatabaseURL)
	p.str("nats-url", &c.NATSURL)
	p.str("nats-listen", &c.NATSListen)
	p.natsSecurity(&c)
	p.integer("partitions", &c.Partitions, 1, MaxPartitions)
	p.duration("stream-max-age", &c.StreamMaxAge, time.Minute)
	p.duration("log-retention", &c.LogRetention, time.Second)
	p.duration("recent-max-age", &c.RecentMaxAge, time.Second)
	p.int64("stream-max-bytes", &c.StreamMaxBytes)
	p.integer("stream-replicas", &c.StreamReplicas, 1, 5)
	p.sync(&c)
	p.duration("snapshot-interval", &c.SnapshotInterval, 10*time.Millisecond)
	p.duration("idle-timeout", &c.IdleTimeout, time.Millisecond)
	p.integer("max-live-items", &c.MaxLiveItems, 1, 1<<30)
	p.integer("item-set-max", &c.ItemSetMax, 0, 1<<30)
	p.integer("top-index-max-mb", &c.TopIndexMaxMB, 1, 1<<20)
	p.integer("series-retention-days", &c.SeriesRetentionDays, 1, 36_600)
	p.integer("mailbox", &c.MailboxSize, 1, maxMailbox)
	p.duration("request-timeout", &c.RequestTimeout, 10*time.Millisecond)
	p.proxies(&c.TrustedProxies)
	p.integer("max-body-bytes", &c.MaxBodyBytes, 1024, 64<<20)
	p.integer("max-metadata-bytes", &c.MaxMetadataBytes, 2, 1<<20)
	p.integer("max-header-bytes", &c.MaxHeaderBytes, 1024, 1<<20)
	p.integer("sse-max-streams-per-key", &c.SSEMaxStreamsKey, 1, 1<<20)
	p.integer("autocreate-max-items", &c.AutoCreateMaxItems, 0, 1_000_000_000)
	p.rate("autocreate-rate", &c.AutoCreateRate)
	p.str("admin-addr", &c.AdminAddr)
	if c.AdminAddr == "off" {
		c.AdminAddr = ""
	}
	p.oneOf("log-format", &c.LogFormat, "json", "text")
	p.level("log-level", &c.LogLevel)
	p.duration("drain-delay", &c.DrainDelay, 0)
	p.str("smtp-url", &c.SMTPURL)
	p.str("mail-from", &c.MailFrom)
	p.str("pixel-secret", &c.PixelSecret)
	p.rate("public-ip-limit", &c.PublicIPLimit)
	p.rate("public-share-limit", &c.PublicShareLimit)
	p.boolean("bot-generic-clients", &c.BotGenericClients)
	p.duration("update-interval", &c.UpdateInterval, 0)
	p.integer("sse-max-streams", &c.SSEMaxStreams, 1, 1<<20)
	p.duration("sse-max-lifetime", &c.SSEMaxLifetime, 100*time.Millisecond)
	p.duration("sse-heartbeat", &c.SSEHeartbeat, 10*time.Millisecond)
	p.durations("webhook-retry-schedule", &c.WebhookRetrySchedule)
	p.duration("webhook-timeout", &c.WebhookTimeout, 100*time.Millisecond)
	p.list("webhooks-allow-hosts", &c.WebhookAllowHosts)
	p.integer("webhook-retention-days", &c.WebhookRetentionDays, 1, 36_600)
	p.str("admin-token", &c.AdminToken)
	if c.AdminToken != "" && len(c.AdminToken) < MinAdminToken {
		// It opens every project: a guessable one must not start.
		p.fail("admin-token", "must be at least %d characters", MinAdminToken)
	}
	if p.err != nil {
		return Config{}, p.err
	}
	if c.HTTPAddr == "" {
		return Config{}, errors.New("ENGAGED_HTTP_ADDR: must not be empty")
	}
	if c.DataDir == "" {
		return Config{}, errors.New("ENGAGED_DATA_DIR: must not be empty")
	}
	if c.StreamMaxBytes == 0 || c.StreamMaxBytes < -1 {
		return Config{}, errors.New("ENGAGED_STREAM_MAX_BYTES: must be -1 (unlimited) or positive")
	}
	if c.StreamMaxAge < 100*c.SnapshotInterval {
		// Recovery replays the log after the newest snapshot; the log must
		// outlast the snapshot interval by far.
		return Config{}, fmt.Errorf("ENGAGED_STREAM_MAX_AGE: %s is too short for ENGAGED_SNAPSHOT_INTERVAL %s (need at least 100x)", c.StreamMaxAge, c.SnapshotInterval)
	}
	var retries time.Duration
	for _, d := range c.WebhookRetrySchedule {
		retries += d
	}
	if time.Duration(c.WebhookRetentionDays)*24*time.Hour <= retries {
		// The dispatcher numbers a delivery's attempts from the kept ones:
		// they must outlive its retries.
		return Config{}, fmt.Errorf("ENGAGED_WEBHOOK_RETENTION_DAYS: %d days do not outlast ENGAGED_WEBHOOK_RETRY_SCHEDULE (%s in all)", c.WebhookRetentionDays, retries)
	}
	if c.LogRetention == 0 {
		c.LogRetention = c.StreamMaxAge / 2
	}
	if c.LogRetention > c.StreamMaxAge/2 {
		// The stream's own limit removes messages whether or not a snapshot
		// covers them: it must leave the sweep time to cover them first.
		return Config{}, fmt.Errorf("ENGAGED_LOG_RETENTION: %s must be at most half of ENGAGED_STREAM_MAX_AGE %s", c.LogRetention, c.StreamMaxAge)
	}
	if c.LogRetention < 10*c.SnapshotInterval {
		return Config{}, fmt.Errorf("ENGAGED_LOG_RETENTION: %s is too short for ENGAGED_SNAPSHOT_INTERVAL %s (need at least 10x)", c.LogRetention, c.SnapshotInterval)
	}
	if c.RecentMaxAge > c.LogRetention {
		// The sweep visits an item when its log messages pass the
		// retention; an age past that would not be met.
		return Config{}, fmt.Errorf("ENGAGED_RECENT_MAX_AGE: %s must be at most ENGAGED_LOG_RETENTION %s", c.RecentMaxAge, c.LogRetention)
	}
	if c.MaxMetadataBytes > c.MaxBodyBytes {
		return Config{}, errors.New("ENGAGED_MAX_METADATA_BYTES: must not exceed ENGAGED_MAX_BODY_BYTES")
	}
	if c.UpdateInterval > time.Minute {
		// The trailing update of a burst waits up to one interval.
		return Config{}, fmt.Errorf("ENGAGED_UPDATE_INTERVAL: %s is longer than a minute", c.UpdateInterval)
	}
	if c.PublicBaseURL == "" {
		c.PublicBaseURL = defaultPublicURL(c.HTTPAddr)
	}
	c.PublicBaseURL = strings.TrimRight(c.PublicBaseURL, "/")
	if !strings.HasPrefix(c.PublicBaseURL, "http://") && !strings.HasPrefix(c.PublicBaseURL, "https://") {
		return Config{}, fmt.Errorf("ENGAGED_PUBLIC_URL: %q is not an http(s) URL", c.PublicBaseURL)
	}
	if err := c.checkShares(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func defaultPublicURL(addr string) string {
	host, port, found := strings.Cut(addr, ":")
	if !found || host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + host + ":" + port
}

// PrivateDatabaseURLFile is where `make run` (scripts/pg.sh) records the URL of
// the private Postgres it created, relative to the data directory.
const PrivateDatabaseURLFile = "pg/database_url"

// ResolveDatabaseURL returns DatabaseURL, or the URL of the private cluster
// that `make run` created under DataDir. Server and admin commands both use
// it, so they always find the same database.
func (c Config) ResolveDatabaseURL() (string, error) {
	if c.DatabaseURL != "" {
		return c.DatabaseURL, nil
	}
	path := filepath.Join(c.DataDir, PrivateDatabaseURLFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("ENGAGED_DATABASE_URL is not set and there is no private Postgres at %s (start one with `make run` or `make pg`)", path)
	}
	return strings.TrimSpace(string(b)), nil
}

type parser struct {
	raw map[string]string
	err error
}

func (p *parser) fail(name, format string, args ...any) {
	if p.err != nil {
		return
	}
	env := name
	for _, v := range Vars {
		if v.Flag == name {
			env = v.Env + " (-" + v.Flag + ")"
		}
	}
	p.err = fmt.Errorf("%s: "+format, append([]any{env}, args...)...)
}

func (p *parser) str(name string, dst *string) {
	if s, ok := p.raw[name]; ok {
		*dst = strings.TrimSpace(s)
	}
}

func (p *parser) integer(name string, dst *int, lo, hi int) {
	s, ok := p.raw[name]
	if !ok {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < lo || n > hi {
		p.fail(name, "%q is not an integer in [%d, %d]", s, lo, hi)
		return
	}
	*dst = n
}

func (p *parser) int64(name string, dst *int64) {
	s, ok := p.raw[name]
	if !ok {
		return
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		p.fail(name, "%q is not an integer", s)
		return
	}
	*dst = n
}

func (p *parser) duration(name string, dst *time.Duration, min time.Duration) {
	s, ok := p.raw[name]
	if !ok {
		return
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < min {
		p.fail(name, "%q is not a duration of at least %s", s, min)
		return
	}
	*dst = d
}

func (p *parser) sync(c *Config) {
	s, ok := p.raw["sync"]
	if !ok {
		return
	}
	s = strings.TrimSpace(s)
	if s == "always" {
		c.SyncAlways = true
		return
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Millisecond {
		p.fail("sync", "%q is neither 'always' nor a duration of at least 1ms", s)
		return
	}
	c.SyncInterval = d
}

func (p *parser) proxies(dst *[]netip.Prefix) {
	s, ok := p.raw["trusted-proxies"]
	if !ok {
		return
	}
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if pr, err := netip.ParsePrefix(f); err == nil {
			out = append(out, pr.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			p.fail("trusted-proxies", "%q is neither an IP nor a CIDR", f)
			return
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	*dst = out
}

// natsSecurity reads the NATS credential and TLS files and checks what can be
// checked before connecting, so that a wrong path or a mismatched key pair
// names its variable at start instead of surfacing as a vague handshake
// failure, or as a silent fallback to an unauthenticated connection.
func (p *parser) natsSecurity(c *Config) {
	p.str("nats-creds", &c.NATSCreds)
	p.str("nats-nkey", &c.NATSNKey)
	p.str("nats-tls-ca", &c.NATSTLSCA)
	p.str("nats-tls-cert", &c.NATSTLSCert)
	p.str("nats-tls-key", &c.NATSTLSKey)
	if p.err != nil {
		return
	}
	files := []struct{ name, path string }{
		{"nats-creds", c.NATSCreds}, {"nats-nkey", c.NATSNKey},
		{"nats-tls-ca", c.NATSTLSCA}, {"nats-tls-cert", c.NATSTLSCert}, {"nats-tls-key", c.NATSTLSKey},
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if c.NATSURL == "" {
			// The embedded server is reached in-process and has no users.
			p.fail(f.name, "is for an external NATS; set ENGAGED_NATS_URL too")
			return
		}
		if _, err := os.ReadFile(f.path); err != nil {
			p.fail(f.name, "%v", err)
			return
		}
	}
	if c.NATSCreds != "" && c.NATSNKey != "" {
		p.fail("nats-nkey", "not together with ENGAGED_NATS_CREDS: a connection authenticates one way")
		return
	}
	if (c.NATSTLSCert == "") != (c.NATSTLSKey == "") {
		p.fail("nats-tls-cert", "a client certificate needs its key (ENGAGED_NATS_TLS_CERT and ENGAGED_NATS_TLS_KEY together)")
		return
	}
	if c.NATSTLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.NATSTLSCert, c.NATSTLSKey); err != nil {
			p.fail("nats-tls-cert", "%v", err)
			return
		}
	}
	if c.NATSTLSCA != "" {
		pem, _ := os.ReadFile(c.NATSTLSCA)
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			p.fail("nats-tls-ca", "%s holds no PEM certificate", c.NATSTLSCA)
		}
	}
}

func (p *parser) oneOf(name string, dst *string, allowed ...string) {
	s, ok := p.raw[name]
	if !ok {
		return
	}
	s = strings.TrimSpace(s)
	if s != "" && !slices.Contains(allowed, s) {
		p.fail(name, "%q is not one of %s", s, strings.Join(allowed, ", "))
		return
	}
	*dst = s
}

// durations reads a comma-separated list of durations, each at least 1ms;
// empty means no retries.
func (p *parser) durations(name string, dst *[]time.Duration) {
	s, ok := p.raw[name]
	if !ok {
		return
	}
	out := []time.Duration{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d < time.Millisecond || d > 7*24*time.Hour {
			p.fail(name, "%q is not a duration from 1ms to 168h", f)
			return
		}
		out = append(out, d)
	}
	*dst = out
}

// list reads a comma-separated list, blanks dropped.
func (p *parser) list(name string, dst *[]string) {
	s, ok := p.raw[name]
	if !ok {
		return
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	*dst = out
}

func (p *parser) boolean(name string, dst *bool) {
	s, ok := p.raw[name]
	if !ok {
		return
	}
	v, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		p.fail(name, "%q is not true or false", s)
		return
	}
	*dst = v
}

func (p *parser) level(name string, dst *slog.Level) {
	s, ok := p.raw[name]
	if !ok {
		return
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		p.fail(name, "%q is not one of debug, info, warn, error", s)
		return
	}
	*dst = l
}
