package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"
)

func TestIsRead(t *testing.T) {
	tests := []struct {
		name  string
		query string
		read  bool
	}{
		{"a SELECT is a read", `SELECT id FROM t WHERE id = ?`, true},
		{"case does not matter", `select id from t`, true},
		{"leading space and comments are skipped", "\n\t-- who?\n /* why? */ SELECT 1", true},
		{"a WITH that selects is a read", `WITH x AS (SELECT 1 AS n) SELECT n FROM x`, true},
		{"a column named like a keyword's prefix is no keyword", `SELECT deleted_at, updated_at, inserted FROM t`, true},
		{"a keyword in a string literal does not count", `SELECT id FROM t WHERE note = 'DELETE me' AND x = 'it''s an update'`, true},
		{"a keyword in a quoted identifier does not count", "SELECT \"update\", `delete`, [insert] FROM t", true},
		{"a keyword in a comment does not count", "SELECT 1 -- then DELETE\n/* INSERT */", true},
		{"an INSERT is a write", `INSERT INTO t (id) VALUES (?)`, false},
		{"an UPDATE … RETURNING is a write", `UPDATE t SET n = 1 WHERE id = ? RETURNING n`, false},
		{"a DELETE … RETURNING is a write", `DELETE FROM t WHERE id = ? RETURNING parent_id`, false},
		{"a WITH … INSERT is a write", `WITH v AS (SELECT 1 AS id) INSERT INTO t (id) SELECT id FROM v`, false},
		{"a WITH … DELETE in lower case is a write", `with v as (select 1 as id) delete from t where id in (select id from v)`, false},
		{"a REPLACE is a write", `REPLACE INTO t (id) VALUES (?)`, false},
		{"a SELECT followed by a write is a write", `SELECT 1; DELETE FROM t`, false},
		{"a SELECT calling replace() errs on the writer's side", `SELECT replace(name, 'a', 'b') FROM t`, false},
		{"a PRAGMA is not a read", `PRAGMA foreign_keys`, false},
		{"DDL is not a read", `CREATE TABLE t (id TEXT)`, false},
		{"an empty text is not a read", "  -- nothing\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isRead(tt.query); got != tt.read {
				t.Errorf("isRead(%q) = %v, want %v", tt.query, got, tt.read)
			}
		})
	}
}

func openSQLiteForTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "checkstack.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

// TestSQLiteReaderPoolRefusesWrites locks in the first half of invariant 4
// of the package doc: a write that reached the reader pool would fail, not
// run beside the writer.
func TestSQLiteReaderPoolRefusesWrites(t *testing.T) {
	db := openSQLiteForTest(t)
	ctx := context.Background()
	if _, err := db.For("test").ExecContext(ctx, `CREATE TABLE t (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if db.read == db.write {
		t.Fatal("SQLite has no reader pool of its own")
	}
	for _, q := range []string{
		`INSERT INTO t (id) VALUES ('x')`,
		`UPDATE t SET id = 'y'`,
		`DELETE FROM t`,
		`CREATE TABLE u (id TEXT)`,
	} {
		_, err := db.read.sql.ExecContext(ctx, q)
		if code, ok := sqliteCode(err); !ok || code&0xff != sqlite3.SQLITE_READONLY {
			t.Errorf("%s on the reader pool: %v, want SQLITE_READONLY", q, err)
		}
	}
	var n int
	if err := db.write.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the table has %d rows (%v), want 0", n, err)
	}
}

func TestSQLitePragmasOnBothPools(t *testing.T) {
	db := openSQLiteForTest(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name      string
		pool      *pool
		queryOnly int
	}{
		{"writer", db.write, 0},
		{"reader", db.read, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var fk, busy, queryOnly int
			var journal string
			err := tt.pool.sql.QueryRowContext(ctx,
				`SELECT * FROM pragma_foreign_keys, pragma_busy_timeout, pragma_journal_mode, pragma_query_only`).
				Scan(&fk, &busy, &journal, &queryOnly)
			if err != nil {
				t.Fatal(err)
			}
			if fk != 1 || busy != sqliteBusyTimeoutMS || !strings.EqualFold(journal, "wal") || queryOnly != tt.queryOnly {
				t.Errorf("foreign_keys=%d busy_timeout=%d journal_mode=%s query_only=%d, want 1, %d, wal, %d",
					fk, busy, journal, queryOnly, sqliteBusyTimeoutMS, tt.queryOnly)
			}
		})
	}
	if n := db.write.sql.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("the writer pool opens up to %d connections, want 1", n)
	}
}

func TestCloseClosesTheStatements(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "checkstack.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var n int
	if err := db.For("test").QueryRowContext(ctx, `SELECT 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	s := db.read.lookup(`SELECT 1`)
	if s == nil {
		t.Fatal("the read was not prepared")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := db.PreparedStatements(); got != 0 {
		t.Errorf("%d statements held after Close, want 0", got)
	}
	if err := s.QueryRowContext(ctx).Scan(&n); err == nil || !strings.Contains(err.Error(), "statement is closed") {
		t.Errorf("the statement ran after Close: %v", err)
	}
}

// TestStatementCacheKeepsOnePerTextAndAtMostItsLimit locks in the rules of
// pool.keep: a text has one statement (a second prepared meanwhile is
// dropped), a full or closed cache keeps none, and a query the cache does
// not keep still runs.
func TestStatementCacheKeepsOnePerTextAndAtMostItsLimit(t *testing.T) {
	db := openSQLiteForTest(t)
	ctx := context.Background()
	p := db.write
	prepare := func(q string) *sql.Stmt {
		t.Helper()
		s, err := p.sql.PrepareContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() }) // closing twice is harmless
		return s
	}

	first, second := prepare(`SELECT 1`), prepare(`SELECT 1`)
	if keep, drop := p.keep(ctx, `SELECT 1`, first); keep != first || drop != nil {
		t.Errorf("a new text: keep %p, drop %p; want keep the statement, drop none", keep, drop)
	}
	if keep, drop := p.keep(ctx, `SELECT 1`, second); keep != first || drop != second {
		t.Errorf("a text already kept: keep %p, drop %p; want keep the first, drop the second", keep, drop)
	}

	for _, p := range db.pools() {
		p.limit = p.len()
	}
	other := prepare(`SELECT 2`)
	if keep, drop := p.keep(ctx, `SELECT 2`, other); keep != nil || drop != other {
		t.Errorf("a full cache: keep %p, drop %p; want keep none, drop the statement", keep, drop)
	}
	held := db.PreparedStatements()
	var n int
	if err := db.For("test").QueryRowContext(ctx, `SELECT 2`).Scan(&n); err != nil || n != 2 {
		t.Errorf("a query past the limit: %d, %v; want 2", n, err)
	}
	if _, err := db.For("test").ExecContext(ctx, `CREATE TABLE past_the_limit (id TEXT)`); err != nil {
		t.Errorf("a statement past the limit: %v", err)
	}
	if got := db.PreparedStatements(); got != held {
		t.Errorf("%d statements kept past the limit, want none", got-held)
	}

	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	p.limit = maxStmts
	if keep, drop := p.keep(ctx, `SELECT 3`, other); keep != nil || drop != other {
		t.Errorf("a closed cache: keep %p, drop %p; want keep none, drop the statement", keep, drop)
	}
}
