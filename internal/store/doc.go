// Package store opens the database every domain writes to — a SQLite file
// by default, PostgreSQL when given a postgres:// URL — runs the embedded
// migrations, and counts the queries each domain makes.
//
// # Opening and migrating
//
//	db, err := store.Open(ctx, "data/checkstack.db", logger) // or "postgres://…"
//	if err != nil { ... }
//	defer db.Close()
//	if err := db.Migrate(ctx); err != nil { ... }
//
// Open pings but never migrates; the server calls Migrate once at start.
// Migrations are the numbered files in migrations/ (goose format), embedded
// in the binary, and run on both engines, so their SQL is the portable
// subset: TEXT, BIGINT, BOOLEAN, REFERENCES … ON DELETE CASCADE. Ids are TEXT
// made in Go (no SERIAL, no AUTOINCREMENT), and times are BIGINT Unix
// microseconds in UTC (see Micros and FromMicros), which sort and compare
// the same way everywhere.
//
// # Querying
//
// A domain takes a Handle named after itself and writes its SQL with ?
// placeholders:
//
//	h := db.For("slo")
//	row := h.QueryRowContext(ctx, `SELECT name FROM slo_objectives WHERE id = ?`, id)
//
// On PostgreSQL the handle rewrites each ? to $1, $2, … before running the
// query. A ? inside a single-quoted string literal, a double-quoted
// identifier or a comment is left alone; anywhere else it is a placeholder
// (so PostgreSQL's jsonb ? operators cannot be used).
//
// InTx runs a function in a transaction: it commits when the function
// returns nil, rolls back when it returns an error or panics (and then
// panics again with the same value). Inside the function, run every query
// through the Tx: on SQLite the transaction holds the only writer
// connection, so a write through a handle would wait for the transaction
// that is waiting for it.
//
// IsUniqueViolation and IsForeignKeyViolation recognise constraint errors
// from either engine, so a store can turn them into its domain's errors.
//
// # Pools
//
// SQLite allows one writer at a time, so on SQLite a DB opens the file
// twice: a writer pool of one connection, and a pool of readers whose
// connections are query_only. ExecContext and InTx run on the writer, and
// so do QueryContext and QueryRowContext of a statement that writes (an
// INSERT … RETURNING, a WITH … DELETE); a query whose first word is SELECT
// or WITH and which has no INSERT, UPDATE, DELETE, REPLACE or RETURNING in
// it runs on the readers. Queries inside a transaction run in it, on the
// writer. In WAL mode a reader sees every transaction committed before it
// began and does not wait for the writer, so a read that begins after a
// write returned sees it. PostgreSQL has one pool for everything.
//
// # Prepared statements
//
// A DB keeps one *sql.Stmt per pool and SQL text (after rebinding), made
// the first time the text runs and kept until Close; database/sql prepares
// it on each connection the first time it runs there and keeps it for the
// connection's life. On SQLite that saves parsing and planning the text on
// every call: the driver keeps the prepared SQLite statement and resets it
// after each run. On PostgreSQL, pgx's database/sql driver already
// prepares every text it runs in a cache of its own per connection (512
// statements, least recently used evicted). A statement the store
// prepares is a named server-side statement, which pgx looks up by its
// text and runs before it consults that cache, so pgx does not prepare a
// kept text again (a text that ran as text on a connection before the store
// kept it, in the transaction that met it first, stays in pgx's cache
// there until evicted). pgx's cache serves the texts the store does not
// keep: queries with more than 32 arguments (an IN list over many ids,
// where each length is a text of its own) and any text past the first
// 2,000 of a pool. One caveat on PostgreSQL: a schema change that alters the
// columns a kept statement returns (a SELECT * after ADD COLUMN, a column's
// type) makes that statement fail on connections that prepared it, until
// they are recycled; the stores name their columns, and migrations run
// before the server serves.
//
// A text that fails to prepare is not kept and runs as text, so the caller
// gets the error the query gives. A transaction never prepares on its
// pool, because it holds a connection of it: it uses the pool's statement
// if there is one, and otherwise runs the text, and InTx prepares that
// text once the transaction has ended. PreparedStatements reports how many
// statements a DB holds.
//
// # Counting
//
// Every ExecContext, QueryContext and QueryRowContext on a handle, or on a
// transaction begun from it, adds one to its domain's count: QueryCount
// reads it, and Collector exports it as checkstack_db_queries_total{domain}.
// Benchmarks use the count to show how many queries a cached read saves.
//
// # Concurrency
//
// A DB, its handles and its counters are safe for concurrent use; a Tx
// belongs to the goroutine running the InTx function. These hold:
//
//  1. Concurrent write transactions on SQLite wait for each other instead of
//     failing with "database is locked": in one process they queue for the
//     writer connection (until their context ends); against another process
//     on the same file, every connection runs with busy_timeout, WAL and
//     foreign keys on (set per connection by the DSN), and transactions
//     begin IMMEDIATE, so a writer takes the write lock up front (and waits
//     for it) rather than upgrading a read lock midway, which SQLite cannot
//     wait for.
//  2. A domain's count is exact under concurrency: it is an atomic counter,
//     incremented once per query before the query runs.
//  3. Several instances migrating one PostgreSQL database at once apply each
//     migration once: Migrate holds a session advisory lock, keyed by the
//     database and schema, while it runs.
//  4. On SQLite a write never goes to the reader pool, and a read outside a
//     transaction never queues behind the writer: the routing above sends
//     every statement that is not plainly a read to the writer, and the
//     readers' connections are query_only, so a write that reached them
//     would fail with SQLITE_READONLY rather than run.
//  5. A pool holds at most one statement per text, prepared only by a
//     caller that holds no connection of that pool (so never by a
//     transaction, which on SQLite would wait for its own connection). Two
//     callers that miss one text at once may both prepare it; the second
//     to finish closes its own and uses the first's.
//  6. A read transaction (InReadTx) sees one snapshot, never queues behind
//     the writer (on SQLite it runs on the reader pool) and cannot write
//     (query_only connections; PostgreSQL's READ ONLY). (TestReadTransactions)
package store
