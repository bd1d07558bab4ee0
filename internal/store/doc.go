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
// panics again with the same value).
//
// IsUniqueViolation and IsForeignKeyViolation recognise constraint errors
// from either engine, so a store can turn them into its domain's errors.
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
//     failing with "database is locked": every pooled connection runs with
//     busy_timeout, WAL and foreign keys on (set per connection by the DSN),
//     and transactions begin IMMEDIATE, so a writer takes the write lock up
//     front (and waits for it) rather than upgrading a read lock midway,
//     which SQLite cannot wait for.
//  2. A domain's count is exact under concurrency: it is an atomic counter,
//     incremented once per query before the query runs.
//  3. Several instances migrating one PostgreSQL database at once apply each
//     migration once: Migrate holds a session advisory lock, keyed by the
//     database and schema, while it runs.
package store
