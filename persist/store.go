// Package persist keeps engaged's durable records in Postgres through pgx:
// schema migrations, projects, API keys, items and the actor snapshots.
// Driver errors are translated here into *actors.Error codes. One read
// model lives here too, because it is a copy of rows only this package
// reads: the top-N index (topindex.go).
package persist

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/engagedhq/engaged/actors"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a pool of Postgres connections. It is safe for concurrent use;
// Close it once.
type Store struct {
	pool *pgxpool.Pool
}

// defaultMaxConns is the pool's size unless the URL sets pool_max_conns.
const defaultMaxConns = 16

// Open connects to url and applies pending migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default, max(4, cores), made a snapshot round's write,
		// key refreshes, item lookups and batched snapshot loads queue
		// for one another on 2 cores (issue 18's cold profile: requests
		// waiting in pool acquire). A URL's pool_max_conns still wins.
		cfg.MaxConns = max(cfg.MaxConns, defaultMaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that Postgres answers.
func (s *Store) Ping(ctx context.Context) error { return translate(s.pool.Ping(ctx)) }

// migrate applies every migration not yet recorded, each in its own
// transaction, in file-name order. An advisory lock keeps two processes
// starting together from applying the same one twice.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	const lockID = 0x656e6761676564 // "engaged"
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockID); err != nil {
		return fmt.Errorf("migrate lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockID)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	seen := map[int]string{}
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", base)
		}
		// Versions are recorded by number: a second file with the same
		// number would be skipped as applied, silently. Branches that
		// each add "the next" migration meet here.
		if other, ok := seen[version]; ok {
			return fmt.Errorf("migrations %s and %s share version %d", other, base, version)
		}
		seen[version] = base
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, version, base)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

// translate turns driver errors into coded errors at this edge: the one
// place that decides which database failures a client sees as what. Every
// sign that Postgres is down, restarting or out of connections is
// EUnavailable (503 + Retry-After), like any other outage: a restart shows
// as refused connections, SQLSTATE 57P03 ("the database system is starting
// up" / "shutting down") while connecting, 57P01 on the connections it
// terminates, and resets or EOFs on connections that were in use.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &actors.Error{Code: actors.ENotFound, Message: "not found"}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return &actors.Error{Code: actors.EConflict, Message: "already exists"}
		case "23503":
			return &actors.Error{Code: actors.ENotFound, Message: "not found"}
		case "22P02":
			return &actors.Error{Code: actors.ENotFound, Message: "not found"}
		}
		if unavailableState(pgErr.Code) {
			return unavailable(err)
		}
		return err
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || isConnErr(err) {
		return unavailable(err)
	}
	return err
}

// unavailable is the client's 503 with the driver's error beside it, for
// whoever logs the cause; errors.As still finds the *actors.Error.
func unavailable(cause error) error {
	return fmt.Errorf("%w (%w)", &actors.Error{Code: actors.EUnavailable, Reason: actors.ReasonDatabase, Message: "database unavailable", RetryAfter: time.Second}, cause)
}

// unavailableState reports whether a SQLSTATE means "not now" rather than
// "not this": connection exceptions (class 08), insufficient resources such
// as too many connections (53), operator intervention: shutting down,
// crashed, starting up (57P), and a serialization failure or deadlock that
// a retry clears (40001, 40P01).
func unavailableState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "57P"):
		return true
	case code == "40001", code == "40P01":
		return true
	}
	return false
}

// isConnErr reports whether err is the connection failing rather than the
// statement: a failed connect (refused while Postgres restarts), a network
// error or a reset, or a connection closed under the statement.
func isConnErr(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}
