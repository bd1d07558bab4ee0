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

// Pool settings. SQLite allows one writer at a time whatever the pool size,
// so its writer pool has one connection and its reader pool the rest.
const (
	postgresMaxOpen     = 20
	postgresMaxIdle     = 10
	sqliteReadMaxOpen   = 16
	sqliteReadMaxIdle   = 4
	connMaxIdleTime     = 5 * time.Minute
	connMaxLifetime     = 30 * time.Minute
	sqliteBusyTimeoutMS = 10000
)

// sqliteParams are added to the DSN of SQLite's writer pool.
// modernc.org/sqlite runs each _pragma on every new connection, so every
// pooled connection gets them.
var sqliteParams = url.Values{
	"_pragma": {
		fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeoutMS),
		"journal_mode(WAL)",
		"foreign_keys(1)",
		"synchronous(NORMAL)",
	},
	"_txlock": {"immediate"},
}

// sqliteReadParams are added to the DSN of SQLite's reader pool. Its
// connections are query_only, so a write sent there fails with
// SQLITE_READONLY instead of running beside the writer. (mode=ro would do
// the same, but only in a file: URI, which means escaping the path; and a
// read-only connection cannot checkpoint the WAL when it is the last to
// close.) journal_mode is a property of the file, set by the writer, which
// opens first.
var sqliteReadParams = url.Values{
	"_pragma": {
		fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeoutMS),
		"foreign_keys(1)",
		"query_only(1)",
	},
	"_txlock": {"deferred"},
}

// DB is an open database. Create it with Open; it is safe for concurrent
// use.
type DB struct {
	// write runs every write and every transaction; on PostgreSQL, every
	// query. read runs SQLite's reads outside a transaction; on PostgreSQL
	// it is write.
	write, read *pool
	dialect     Dialect
	logger      *slog.Logger
	queries     *prometheus.CounterVec

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

	db := &DB{
		logger: logger,
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "checkstack_db_queries_total",
			Help: "Database queries run, by the domain that ran them.",
		}, []string{"domain"}),
		handles: make(map[string]*Handle),
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db.dialect = Postgres
		sdb, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		configure(sdb, postgresMaxOpen, postgresMaxIdle)
		db.write = newPool(sdb, logger)
		db.read = db.write
		if err := sdb.PingContext(ctx); err != nil {
			// The ping error is the one worth returning.
			_ = sdb.Close()
			return nil, fmt.Errorf("store: ping %s: %w", db.dialect, err)
		}
		// The URL may hold a password: log neither it nor its query.
		logger.InfoContext(ctx, "database opened", "dialect", db.dialect.String())
		return db, nil
	}

	db.dialect = SQLite
	w, err := openSQLite(dsn, sqliteParams)
	if err != nil {
		return nil, err
	}
	configure(w, 1, 1)
	// The writer connects first: it creates the file and puts it in WAL
	// mode, which the readers do not set.
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close() // the ping error is the one worth returning
		return nil, fmt.Errorf("store: ping %s: %w", db.dialect, err)
	}
	r, err := openSQLite(dsn, sqliteReadParams)
	if err != nil {
		_ = w.Close() // the open error is the one worth returning
		return nil, err
	}
	configure(r, sqliteReadMaxOpen, sqliteReadMaxIdle)
	if err := r.PingContext(ctx); err != nil {
		// The ping error is the one worth returning.
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("store: ping %s readers: %w", db.dialect, err)
	}
	db.write, db.read = newPool(w, logger.With("pool", "write")), newPool(r, logger.With("pool", "read"))
	logger.InfoContext(ctx, "database opened", "dialect", db.dialect.String(), "path", dsn)
	return db, nil
}

func configure(sdb *sql.DB, maxOpen, maxIdle int) {
	sdb.SetMaxOpenConns(maxOpen)
	sdb.SetMaxIdleConns(maxIdle)
	sdb.SetConnMaxIdleTime(connMaxIdleTime)
	sdb.SetConnMaxLifetime(connMaxLifetime)
}

func openSQLite(path string, params url.Values) (*sql.DB, error) {
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
	sdb, err := sql.Open("sqlite", path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	return sdb, nil
}

// Close closes the database and the statements prepared on it. Handles
// must not be used after it.
func (db *DB) Close() error {
	var errs []error
	for _, p := range db.pools() {
		if err := p.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Ping checks that the database answers, on every pool.
func (db *DB) Ping(ctx context.Context) error {
	for _, p := range db.pools() {
		if err := p.sql.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping: %w", err)
		}
	}
	return nil
}

// pools is the writer pool, then the reader pool if there is one of its
// own.
func (db *DB) pools() []*pool {
	if db.read == db.write {
		return []*pool{db.write}
	}
	return []*pool{db.write, db.read}
}

// PreparedStatements reports how many statements db holds prepared: one
// per SQL text and pool that ran it (SQLite's reads outside a transaction
// have a pool of their own). It is for tests and monitoring.
func (db *DB) PreparedStatements() int {
	n := 0
	for _, p := range db.pools() {
		n += p.len()
	}
	return n
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

// counted counts a query of the handle's domain and returns its text as the
// engine takes it.
func (h *Handle) counted(query string) string {
	h.count.Add(1)
	h.metric.Inc()
	if h.db.dialect == Postgres {
		return rebind(query)
	}
	return query
}

// reader is the pool a query outside a transaction runs on: SQLite's reader
// pool for a read (see isRead), the writer otherwise.
func (h *Handle) reader(query string) *pool {
	if h.db.read != h.db.write && isRead(query) {
		return h.db.read
	}
	return h.db.write
}

// ExecContext runs a statement that returns no rows, on the writer.
func (h *Handle) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	p, query := h.db.write, h.counted(query)
	if s := p.stmt(ctx, query, len(args)); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return p.sql.ExecContext(ctx, query, args...)
}

// QueryContext runs a query that returns rows: on SQLite's reader pool if
// it only reads, on the writer otherwise.
func (h *Handle) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	p, query := h.reader(query), h.counted(query)
	if s := p.stmt(ctx, query, len(args)); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return p.sql.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query that returns at most one row: on SQLite's
// reader pool if it only reads, on the writer otherwise.
func (h *Handle) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	p, query := h.reader(query), h.counted(query)
	if s := p.stmt(ctx, query, len(args)); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return p.sql.QueryRowContext(ctx, query, args...)
}

// InTx runs fn in a transaction, on the writer. It commits if fn returns
// nil and rolls back if fn returns an error (which InTx returns) or panics
// (InTx then panics again with the same value). On SQLite the transaction
// holds the only writer connection from its start; so inside fn, run every
// query through tx, never through a handle: a handle's write would wait
// for the connection fn's transaction holds, until ctx ends. A text the
// transaction ran that the writer had not prepared yet is prepared after
// the transaction ends, before InTx returns (once per text; on SQLite it
// waits its turn for the writer).
func (h *Handle) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	return h.inTx(ctx, h.db.write, nil, fn)
}

// InReadTx runs fn in a read-only transaction: its reads see one snapshot
// of the database, and it never waits for the writer. On SQLite it is a
// deferred transaction on the reader pool (WAL: the snapshot of its first
// read); on PostgreSQL READ ONLY with REPEATABLE READ. A write in it fails
// (the reader pool is query_only; PostgreSQL refuses writes in a READ ONLY
// transaction). Use it for a read of several queries that must agree with
// one another, a cache miss on the catalog's topology say; InTx is for
// writes.
func (h *Handle) InReadTx(ctx context.Context, fn func(tx *Tx) error) error {
	var opts *sql.TxOptions
	if h.db.dialect == Postgres {
		opts = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	return h.inTx(ctx, h.db.read, opts, fn)
}

func (h *Handle) inTx(ctx context.Context, p *pool, opts *sql.TxOptions, fn func(tx *Tx) error) (err error) {
	stx, err := p.sql.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: %s: begin: %w", h.domain, err)
	}
	tx := &Tx{h: h, p: p, tx: stx, stmts: make(map[string]*sql.Stmt)}
	done := false
	defer func() {
		if done {
			tx.prepareMissed(ctx)
			return
		}
		// fn panicked: roll back, then let the panic go on. The rollback's
		// own error cannot be reported past a panic.
		_ = stx.Rollback()
	}()
	if err := fn(tx); err != nil {
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

// Tx is a transaction begun by Handle.InTx or InReadTx. Its queries are
// counted under the handle's domain. It is valid only inside the function
// it was given to.
type Tx struct {
	h  *Handle
	p  *pool // the pool tx was begun on
	tx *sql.Tx

	mu sync.Mutex
	// stmts holds, by text, the pool's statements bound to tx; a nil
	// statement is a text the writer had not prepared, which runs as text
	// and is prepared once the transaction has ended (see stmt).
	stmts map[string]*sql.Stmt
}

// Dialect returns the engine the transaction runs on, for the few
// statements that differ (row locks, say).
func (t *Tx) Dialect() Dialect { return t.h.db.dialect }

// stmt returns the writer's statement for query bound to the transaction,
// or nil to run query as text. It never prepares on the pool: the
// transaction holds a connection of it, on SQLite the only one, so waiting
// for another would wait for the transaction itself. A text the writer has
// not prepared yet runs as text, and InTx prepares it once the transaction
// has ended (prepareMissed).
func (t *Tx) stmt(ctx context.Context, query string, nargs int) *sql.Stmt {
	if nargs > maxStmtArgs {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.stmts[query]; ok {
		return s
	}
	var s *sql.Stmt
	if ps := t.p.lookup(query); ps != nil {
		// Prepared on the transaction's connection if it was not already,
		// and kept there for later transactions.
		s = t.tx.StmtContext(ctx, ps)
	}
	t.stmts[query] = s
	return s
}

// prepareMissed prepares, on the transaction's pool, the texts it ran
// without a statement. It runs once the transaction has ended, when it
// holds no connection.
func (t *Tx) prepareMissed(ctx context.Context) {
	t.mu.Lock()
	var missed []string
	for query, s := range t.stmts {
		if s == nil {
			missed = append(missed, query)
		}
	}
	t.mu.Unlock()
	for _, query := range missed {
		// A text that fails to prepare (its table was created in a
		// transaction that rolled back, say) is not kept; it runs as text
		// next time, which reports any error, and is tried again.
		t.p.stmt(ctx, query, 0)
	}
}

// ExecContext runs a statement that returns no rows.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query = t.h.counted(query)
	if s := t.stmt(ctx, query, len(args)); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query that returns rows.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = t.h.counted(query)
	if s := t.stmt(ctx, query, len(args)); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query that returns at most one row.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	query = t.h.counted(query)
	if s := t.stmt(ctx, query, len(args)); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// Micros is t as Unix microseconds, the way the schema stores times.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros is the UTC time us Unix microseconds denote.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
