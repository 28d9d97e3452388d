// Package store is Glassbox's metadata store: one database, SQLite (the
// pure-Go modernc driver, for a single host) or PostgreSQL (pgx, for several
// gateway processes sharing one database), behind database/sql.
//
// It implements the repository interfaces that the domain packages declare:
// audit.Store, auth.TokenStore, endpoints.Store, capture.Index and
// monitor.ExecutionStore. Schema changes are versioned SQL migrations
// embedded in the binary, one folder per dialect (migrations/sqlite,
// migrations/postgres), applied by Open.
//
// Conventions shared by both dialects:
//   - Times are stored in UTC at microsecond precision (SQLite: INTEGER
//     microseconds since the Unix epoch; PostgreSQL: timestamptz) and are
//     returned as UTC time.Time values truncated to the microsecond.
//   - List-like fields (token roles, endpoint tags) are JSON text.
//   - "Not found" errors are *glassbox.Error with code glassbox.ENotFound.
//
// It is an adapter (rank 3): it imports the domain packages for their types
// and never the reverse.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/audit"
	"github.com/glassbox-dev/glassbox/internal/auth"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/endpoints"
)

// Interface guards: *DB is every store the domain packages declare.
var (
	_ audit.Store     = (*DB)(nil)
	_ auth.TokenStore = (*DB)(nil)
	_ endpoints.Store = (*DB)(nil)
	_ capture.Index   = (*DB)(nil)
)

// Dialects, as returned by DB.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Defaults of Options and of list calls.
const (
	// DefaultBusyTimeout is how long a SQLite writer waits for another
	// process's write lock before failing with SQLITE_BUSY.
	DefaultBusyTimeout = 10 * time.Second
	// DefaultListLimit is the page size of ListAudit and ListCaptures when
	// the filter's Limit is 0; MaxListLimit caps larger limits.
	DefaultListLimit = 100
	MaxListLimit     = 10000
)

// migrations holds the versioned schema of both dialects (read-only).
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Options tunes a DB. The zero value is valid; see DefaultOptions.
type Options struct {
	// Logger receives migration progress; nil discards it.
	Logger *slog.Logger
	// MaxOpenConns caps the reading connections of a SQLite database (the
	// writer is always a single connection per DB), or the whole pool of a
	// PostgreSQL database. 0 means max(4, GOMAXPROCS).
	MaxOpenConns int
	// BusyTimeout is how long SQLite waits for the write lock held by
	// another process. 0 means DefaultBusyTimeout. Ignored by PostgreSQL.
	BusyTimeout time.Duration
}

// DefaultOptions returns the options Open uses for zero fields.
func DefaultOptions() Options {
	return Options{
		MaxOpenConns: max(4, runtime.GOMAXPROCS(0)),
		BusyTimeout:  DefaultBusyTimeout,
	}
}

// DB is an open metadata store. It is safe for concurrent use, and several
// DBs (in one process or many) may share one database.
type DB struct {
	dialect string
	url     string
	opts    Options
	// rdb serves reads. wdb serves writes: on SQLite a pool of exactly one
	// connection whose transactions start with BEGIN IMMEDIATE, so a
	// process queues its own writers instead of retrying SQLITE_BUSY; on
	// PostgreSQL wdb and rdb are the same pool.
	rdb *sql.DB
	wdb *sql.DB
	q   queries
}

// Open opens the database named by rawURL and applies pending migrations.
//
// Accepted URLs:
//
//	sqlite:///abs/path/glassbox.db   absolute path (parent folders are created)
//	sqlite://relative/glassbox.db    relative to the working directory
//	postgres://user@host:5432/db?sslmode=disable   (or postgresql://)
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	def := DefaultOptions()
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = def.MaxOpenConns
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = def.BusyTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	db := &DB{url: rawURL, opts: opts}
	var err error
	switch {
	case strings.HasPrefix(rawURL, "sqlite://"):
		err = db.openSQLite(ctx, strings.TrimPrefix(rawURL, "sqlite://"))
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		err = db.openPostgres(ctx, rawURL)
	default:
		return nil, glassbox.Errorf(glassbox.EInvalid, "database url %q: want sqlite:///path/to/file.db or postgres://...", redact(rawURL))
	}
	if err != nil {
		return nil, err
	}
	db.q = newQueries(db.dialect)
	if err := db.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// openSQLite opens the writer and reader pools of the SQLite file at path.
func (db *DB) openSQLite(ctx context.Context, path string) error {
	switch {
	case path == "":
		return glassbox.Errorf(glassbox.EInvalid, "database url sqlite://: no file path")
	case strings.Contains(path, "?"):
		return glassbox.Errorf(glassbox.EInvalid, "database url sqlite://%s: query parameters are not supported", path)
	case strings.Contains(path, ":memory:"):
		return glassbox.Errorf(glassbox.EInvalid, "database url sqlite://%s: in-memory databases are not supported (use a file)", path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create database folder: %w", err)
		}
	}
	db.dialect = DialectSQLite
	busy := strconv.FormatInt(db.opts.BusyTimeout.Milliseconds(), 10)
	// Pragmas every connection needs. journal_mode is persistent in the file
	// and set by the writer; readers only need the rest.
	// The single writer gets a larger page cache (64 MiB) than each reader
	// (16 MiB): index maintenance of bulk upserts is where it pays.
	common := "?_pragma=busy_timeout(" + busy + ")&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", path+common+"&_pragma=cache_size(-65536)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+common+"&_pragma=cache_size(-16384)&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(db.opts.MaxOpenConns)
	r.SetMaxIdleConns(db.opts.MaxOpenConns)
	db.wdb, db.rdb = w, r
	return nil
}

// openPostgres opens one pool for reads and writes.
func (db *DB) openPostgres(ctx context.Context, rawURL string) error {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return glassbox.Errorf(glassbox.EInvalid, "database url %s: %v", redact(rawURL), err)
	}
	db.dialect = DialectPostgres
	p := stdlib.OpenDB(*cfg)
	p.SetMaxOpenConns(db.opts.MaxOpenConns)
	p.SetMaxIdleConns(db.opts.MaxOpenConns)
	p.SetConnMaxIdleTime(5 * time.Minute)
	if err := p.PingContext(ctx); err != nil {
		_ = p.Close()
		return fmt.Errorf("connect to %s: %w", redact(rawURL), err)
	}
	db.rdb, db.wdb = p, p
	return nil
}

// migrate applies the pending migrations of db's dialect with a goose
// provider of its own (no goose global state). On PostgreSQL a session
// advisory lock serializes processes migrating at once; on SQLite, where
// goose has no locker, a process that loses such a race retries after the
// winner has committed.
func (db *DB) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+db.dialect)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	popts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(db.opts.Logger.With("component", "store")),
	}
	dialect := goose.DialectSQLite3
	attempts := 5
	if db.dialect == DialectPostgres {
		dialect, attempts = goose.DialectPostgres, 1
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		popts = append(popts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.wdb, sub, popts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	for i := 1; ; i++ {
		_, err = p.Up(ctx)
		if err == nil || i >= attempts || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(i) * 100 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Close closes the database handles.
func (db *DB) Close() error {
	var errs []error
	if db.rdb != nil {
		errs = append(errs, db.rdb.Close())
	}
	if db.wdb != nil && db.wdb != db.rdb {
		errs = append(errs, db.wdb.Close())
	}
	return errors.Join(errs...)
}

// Dialect returns DialectSQLite or DialectPostgres.
func (db *DB) Dialect() string { return db.dialect }

// Reopen opens a second, independent DB on the same database with the same
// options, as another process would. Tests use it to check that concurrent
// processes share one audit chain and one endpoint revision.
func (db *DB) Reopen(ctx context.Context) (*DB, error) {
	return Open(ctx, db.url, db.opts)
}

// SQLDB returns the handle that writes (on SQLite, the single writer
// connection's pool). It bypasses every invariant of the store: it exists
// for tests that tamper with rows and for maintenance tools. Do not use it
// for ordinary reads or writes.
func (db *DB) SQLDB() *sql.DB { return db.wdb }

// redact hides the password of a URL for error messages.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

// ---- helpers shared by the repositories ----

// placeholder returns the n-th (1-based) bind parameter of the dialect,
// for statements whose parameters appear in argument order. On SQLite that
// is an anonymous "?": the driver looks up the name of every numbered
// parameter, which costs O(n^2) for a multi-row INSERT of thousands.
func placeholder(dialect string, n int) string {
	if dialect == DialectSQLite {
		return "?"
	}
	return "$" + strconv.Itoa(n)
}

// rebind rewrites the $N placeholders of q into the dialect's form (?N on
// SQLite). The SQL in this package contains no '$' other than placeholders.
func rebind(dialect, q string) string {
	if dialect != DialectSQLite {
		return q
	}
	return strings.ReplaceAll(q, "$", "?")
}

// query is a statement under construction with its arguments.
type query struct {
	dialect string
	sb      strings.Builder
	args    []any
}

// sql appends text.
func (b *query) sql(s string) *query {
	b.sb.WriteString(s)
	return b
}

// arg appends a placeholder bound to v.
func (b *query) arg(v any) *query {
	b.args = append(b.args, v)
	b.sb.WriteString(placeholder(b.dialect, len(b.args)))
	return b
}

// String returns the statement.
func (b *query) String() string { return b.sb.String() }

// timeArg returns t as a bind argument: UTC, truncated to the microsecond;
// an int64 of microseconds on SQLite.
func (db *DB) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if db.dialect == DialectSQLite {
		return t.UnixMicro()
	}
	return t
}

// nullTimeArg is timeArg for an optional time.
func (db *DB) nullTimeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.timeArg(*t)
}

// timeCol scans a time column of either dialect (NULL allowed).
type timeCol struct {
	t     time.Time
	valid bool
}

// Scan implements sql.Scanner.
func (c *timeCol) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		c.t, c.valid = time.Time{}, false
	case int64:
		c.t, c.valid = time.UnixMicro(x).UTC(), true
	case time.Time:
		c.t, c.valid = x.UTC().Truncate(time.Microsecond), true
	default:
		return fmt.Errorf("scan time: unsupported type %T", v)
	}
	return nil
}

// ptr returns the time or nil when the column was NULL.
func (c timeCol) ptr() *time.Time {
	if !c.valid {
		return nil
	}
	t := c.t
	return &t
}

// isUniqueViolation reports whether err is a primary key or unique
// constraint violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}

// listLimit turns a filter's Limit into a page size.
func listLimit(n int) (int, error) {
	switch {
	case n < 0:
		return 0, glassbox.Errorf(glassbox.EInvalid, "limit %d: must not be negative", n)
	case n == 0:
		return DefaultListLimit, nil
	case n > MaxListLimit:
		return MaxListLimit, nil
	}
	return n, nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE on SQLite) and
// commits it, or rolls it back if fn fails.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
