package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apflow-wasm/apflow/host/store"
)

// ErrClosed is returned by every method called after Close. It is store.ErrClosed.
var ErrClosed = store.ErrClosed

// Options configure a Store.
type Options struct {
	// DSN is the PostgreSQL connection string, a URL (postgres://user:password@host:5432/db?sslmode=disable)
	// or key=value pairs, as libpq and pgx read them; pool_max_conns sets the size of
	// the connection pool (default: 4, or the number of CPUs if more). Required.
	DSN string
	// Logger receives the store's warnings; nil discards them.
	Logger hclog.Logger
	// Now is the clock that stamps updated_at; nil means time.Now.
	Now func() time.Time
	// MaxBatch is the largest number of queued Update and UpdateMany calls that share
	// one transaction (default 1024).
	MaxBatch int
}

// DefaultMaxBatch is the default of Options.MaxBatch.
const DefaultMaxBatch = 1024

// Store is the PostgreSQL implementation of store.Store. It is safe for concurrent use,
// and any number of Stores (in any number of processes) may share one database.
type Store struct {
	pool  *pgxpool.Pool
	opts  Options
	c     *committer
	trips *tripCounter

	mu     sync.RWMutex // guards closed; held (read) by every call in flight
	closed bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database, brings its schema to SchemaVersion (see package doc),
// and starts the committer. It fails with an error matching ErrSchemaTooNew when a newer
// apflow has migrated the database further.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.DSN == "" {
		return nil, errors.New("task store: Options.DSN is required")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	where := Redact(opts.DSN)
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		// pgx's parse errors may quote the connection string: say only where.
		return nil, fmt.Errorf("task store: invalid PostgreSQL connection string %s", where)
	}
	trips := &tripCounter{}
	cfg.ConnConfig.Tracer = trips
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("task store %s: %w", where, err)
	}
	ms, err := loadMigrations(migrationFiles)
	if err == nil {
		err = pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
			n, err := migrate(ctx, c.Conn(), ms)
			if n > 0 {
				opts.Logger.Info("migrated the database schema", "applied", n, "version", len(ms))
			}
			return err
		})
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("task store %s: %w", where, err)
	}
	s := &Store{pool: pool, opts: opts, trips: trips}
	s.c = newCommitter(s, opts.MaxBatch)
	return s, nil
}

// Redact returns dsn fit for messages and logs: a URL without its password and query,
// or, for key=value form, only the host and database name.
func Redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.RawQuery, u.Fragment = "", ""
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		return u.String()
	}
	var kept []string
	for _, kv := range strings.Fields(dsn) {
		if k, _, _ := strings.Cut(kv, "="); k == "host" || k == "port" || k == "dbname" {
			kept = append(kept, kv)
		}
	}
	return "(" + strings.Join(kept, " ") + ")"
}

// Close stops accepting calls, commits the queued writes, waits for the calls in flight
// and closes the connections. It is safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.c.queue.Close()
	s.pool.Close()
	return nil
}

// use runs fn unless the store is closed; Close waits for it.
// admit fails as a call would that does nothing else: with ctx's error, or ErrClosed
// after Close. A call given nothing to do answers it.
func (s *Store) admit(ctx context.Context) error {
	return s.use(ctx, func() error { return nil })
}

func (s *Store) use(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return fn()
}

// submit queues j and waits for its commit (groupcommit.Queue.Submit: a job still queued
// when ctx ends is dropped; a taken one is awaited).
func (s *Store) submit(ctx context.Context, j *job) error {
	return s.c.queue.Submit(ctx, j)
}

func (s *Store) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }
