// Package pgtest runs a throwaway Postgres cluster for tests: initdb into a
// temporary directory, a server on a Unix socket only, one fresh database per
// test. No mocks: tests run against the real server.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// and call pgtest.NewDatabase(t) for a URL of an empty database.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

var (
	adminURL string // set by Main
	counter  atomic.Int64
)

// Main starts a cluster, runs the tests and stops the cluster. It returns the
// exit code for os.Exit.
func Main(m *testing.M) int {
	stop, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	code := m.Run()
	stop()
	return code
}

// BinDir finds the directory of initdb and pg_ctl: $PATH first, then
// Debian's /usr/lib/postgresql/<version>/bin.
func BinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		// Resolve links: Debian's wrappers or links live apart from pg_ctl.
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", fmt.Errorf("initdb not found: install Debian's postgresql package (see .ci/run)")
}

func start() (stop func(), err error) {
	c, err := newCluster()
	if err != nil {
		return nil, err
	}
	adminURL = c.url("postgres")
	return c.remove, nil
}

// Cluster is a private Postgres cluster that a test may stop and start, to
// see what the service does while its database is down.
type Cluster struct {
	bin, dir string
	cred     *syscall.Credential
}

// NewCluster starts a private cluster for tb and returns it with the URL of
// its empty database "engaged". It is removed when tb ends.
func NewCluster(tb testing.TB) (*Cluster, string) {
	tb.Helper()
	c, err := newCluster()
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(c.remove)
	if err := c.pgctl("psql", "-h", c.dir, "-U", "postgres", "-qc", "CREATE DATABASE engaged", "postgres"); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return c, c.url("engaged")
}

func newCluster() (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	// Short path: a Unix socket path must fit in 107 bytes.
	dir, err := os.MkdirTemp("", "pgt")
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir, cred: cred}
	if err := c.pgctl("initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) data() string         { return filepath.Join(c.dir, "data") }
func (c *Cluster) url(db string) string { return "postgres://postgres@/" + db + "?host=" + c.dir }

func (c *Cluster) pgctl(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return nil
}

func (c *Cluster) start() error {
	// fsync off: the cluster is thrown away, and the OS keeps its page cache
	// when Postgres is killed. synchronous_commit stays on, or Stop (an
	// immediate shutdown) would lose commits still in WAL buffers.
	opts := fmt.Sprintf("-k %s -c listen_addresses= -c fsync=off -c full_page_writes=off -c max_connections=200", c.dir)
	return c.pgctl("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-o", opts, "-w", "start")
}

// Stop stops the server, as an outage would (connections are cut).
func (c *Cluster) Stop(tb testing.TB) {
	tb.Helper()
	if err := c.pgctl("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop"); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
}

// Start starts a stopped server again.
func (c *Cluster) Start(tb testing.TB) {
	tb.Helper()
	if err := c.start(); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
}

func (c *Cluster) remove() {
	_ = c.pgctl("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop")
	os.RemoveAll(c.dir)
}

// credential returns the user to run Postgres as. initdb refuses root, so as
// root it runs as the "postgres" user if there is one, else as "nobody", and
// hands dir to that user.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("running as root and no unprivileged user for postgres: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// NewDatabase creates an empty database for tb and returns its URL. The
// database is dropped when tb ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	if adminURL == "" {
		tb.Fatal("pgtest: no cluster; call pgtest.Main from TestMain")
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), counter.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return strings.Replace(adminURL, "/postgres?", "/"+name+"?", 1)
}
