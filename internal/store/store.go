package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect is the database engine behind a DB.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Pool settings. SQLite allows one writer at a time whatever the pool size
// (writers queue on the busy timeout); the pool is for concurrent readers.
const (
	postgresMaxOpen     = 20
	postgresMaxIdle     = 10
	sqliteMaxOpen       = 16
	sqliteMaxIdle       = 4
	connMaxIdleTime     = 5 * time.Minute
	connMaxLifetime     = 30 * time.Minute
	sqliteBusyTimeoutMS = 10000
)

// sqliteParams are added to every SQLite DSN. modernc.org/sqlite runs each
// _pragma on every new connection, so every pooled connection gets them.
var sqliteParams = url.Values{
	"_pragma": {
		fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeoutMS),
		"journal_mode(WAL)",
		"foreign_keys(1)",
		"synchronous(NORMAL)",
	},
	"_txlock": {"immediate"},
}

// DB is an open database. Create it with Open; it is safe for concurrent
// use.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	logger  *slog.Logger
	queries *prometheus.CounterVec

	mu      sync.Mutex
	handles map[string]*Handle
}

// Open opens a database. A postgres:// or postgresql:// URL selects
// PostgreSQL; anything else is the path of a SQLite file, whose folder is
// created if it does not exist. Open pings the database and returns an
// error if it does not answer; it does not migrate (see Migrate).
//
// A nil logger discards.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "store")

	var (
		sdb     *sql.DB
		dialect Dialect
		err     error
	)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		dialect = Postgres
		sdb, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		sdb.SetMaxOpenConns(postgresMaxOpen)
		sdb.SetMaxIdleConns(postgresMaxIdle)
	} else {
		dialect = SQLite
		sdb, err = openSQLite(dsn)
		if err != nil {
			return nil, err
		}
		sdb.SetMaxOpenConns(sqliteMaxOpen)
		sdb.SetMaxIdleConns(sqliteMaxIdle)
	}
	sdb.SetConnMaxIdleTime(connMaxIdleTime)
	sdb.SetConnMaxLifetime(connMaxLifetime)

	if err := sdb.PingContext(ctx); err != nil {
		// The ping error is the one worth returning.
		_ = sdb.Close()
		return nil, fmt.Errorf("store: ping %s: %w", dialect, err)
	}
	if dialect == SQLite {
		logger.InfoContext(ctx, "database opened", "dialect", dialect.String(), "path", dsn)
	} else {
		// The URL may hold a password: log neither it nor its query.
		logger.InfoContext(ctx, "database opened", "dialect", dialect.String())
	}
	return &DB{
		sql:     sdb,
		dialect: dialect,
		logger:  logger,
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "checkstack_db_queries_total",
			Help: "Database queries run, by the domain that ran them.",
		}, []string{"domain"}),
		handles: make(map[string]*Handle),
	}, nil
}

func openSQLite(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("store: open sqlite: empty path")
	}
	if strings.ContainsRune(path, '?') {
		// The driver splits the DSN at the first '?'.
		return nil, fmt.Errorf("store: open sqlite %s: the path must not contain '?'", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: open sqlite: create folder: %w", err)
		}
	}
	sdb, err := sql.Open("sqlite", path+"?"+sqliteParams.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	return sdb, nil
}

// Close closes the database. Handles must not be used after it.
func (db *DB) Close() error {
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Dialect reports the engine behind db.
func (db *DB) Dialect() Dialect { return db.dialect }

// For returns the handle through which domain runs its queries; they are
// counted under domain. Calls with the same domain return the same handle.
func (db *DB) For(domain string) *Handle {
	db.mu.Lock()
	defer db.mu.Unlock()
	if h, ok := db.handles[domain]; ok {
		return h
	}
	h := &Handle{
		db:     db,
		domain: domain,
		count:  new(atomic.Uint64),
		metric: db.queries.WithLabelValues(domain),
	}
	db.handles[domain] = h
	return h
}

// QueryCount reports how many queries have run through For(domain) handles
// so far.
func (db *DB) QueryCount(domain string) uint64 {
	db.mu.Lock()
	h, ok := db.handles[domain]
	db.mu.Unlock()
	if !ok {
		return 0
	}
	return h.count.Load()
}

// Collector exports the query counts as the counter
// checkstack_db_queries_total{domain}. Register it once.
func (db *DB) Collector() prometheus.Collector { return db.queries }

// Handle runs one domain's queries and counts them. Get it from DB.For; it
// is safe for concurrent use.
type Handle struct {
	db     *DB
	domain string
	count  *atomic.Uint64
	metric prometheus.Counter
}

// Dialect reports the engine behind the handle, for the rare query that
// must differ between engines.
func (h *Handle) Dialect() Dialect { return h.db.dialect }

func (h *Handle) prepare(query string) string {
	h.count.Add(1)
	h.metric.Inc()
	if h.db.dialect == Postgres {
		return rebind(query)
	}
	return query
}

// ExecContext runs a statement that returns no rows.
func (h *Handle) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return h.db.sql.ExecContext(ctx, h.prepare(query), args...)
}

// QueryContext runs a query that returns rows.
func (h *Handle) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return h.db.sql.QueryContext(ctx, h.prepare(query), args...)
}

// QueryRowContext runs a query that returns at most one row.
func (h *Handle) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return h.db.sql.QueryRowContext(ctx, h.prepare(query), args...)
}

// InTx runs fn in a transaction. It commits if fn returns nil and rolls back
// if fn returns an error (which InTx returns) or panics (InTx then panics
// again with the same value). On SQLite the transaction takes the write lock
// when it begins, waiting for other writers; so inside fn, run every query
// through tx, never through a handle, whose write would wait for fn's own
// transaction until the busy timeout.
func (h *Handle) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	stx, err := h.db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %s: begin: %w", h.domain, err)
	}
	done := false
	defer func() {
		if done {
			return
		}
		// fn panicked: roll back, then let the panic go on. The rollback's
		// own error cannot be reported past a panic.
		_ = stx.Rollback()
	}()
	if err := fn(&Tx{h: h, tx: stx}); err != nil {
		done = true
		if rerr := stx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("store: %s: rollback: %w", h.domain, rerr))
		}
		return err
	}
	done = true
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("store: %s: commit: %w", h.domain, err)
	}
	return nil
}

// Tx is a transaction begun by Handle.InTx. Its queries are counted under
// the handle's domain. It is valid only inside the InTx function.
type Tx struct {
	h  *Handle
	tx *sql.Tx
}

// Dialect returns the engine the transaction runs on, for the few
// statements that differ (row locks, say).
func (t *Tx) Dialect() Dialect { return t.h.db.dialect }

// ExecContext runs a statement that returns no rows.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.h.prepare(query), args...)
}

// QueryContext runs a query that returns rows.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.h.prepare(query), args...)
}

// QueryRowContext runs a query that returns at most one row.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.h.prepare(query), args...)
}

// Micros is t as Unix microseconds, the way the schema stores times.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros is the UTC time us Unix microseconds denote.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
