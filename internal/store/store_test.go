package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// createTables makes the tables the tests below write to: a parent with a
// unique name and a child that references it.
func createTables(t *testing.T, h *store.Handle) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE test_parents (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, n BIGINT NOT NULL DEFAULT 0)`,
		`CREATE TABLE test_children (id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES test_parents (id) ON DELETE CASCADE)`,
	} {
		if _, err := h.ExecContext(ctx, q); err != nil {
			t.Fatalf("create tables: %v", err)
		}
	}
}

func countRows(t *testing.T, h *store.Handle, table string) int {
	t.Helper()
	var n int
	if err := h.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestPlaceholders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		h := db.For("test")
		createTables(t, h)
		if _, err := h.ExecContext(ctx, `INSERT INTO test_parents (id, name, n) VALUES (?, ?, ?)`, "p1", "first", 7); err != nil {
			t.Fatal(err)
		}

		t.Run("a ? inside a string literal is not a placeholder", func(t *testing.T) {
			var lit, name string
			err := h.QueryRowContext(ctx,
				`SELECT 'what?', name FROM test_parents WHERE id = ? AND name <> '?' AND n = ?`, "p1", 7).Scan(&lit, &name)
			if err != nil {
				t.Fatal(err)
			}
			if lit != "what?" || name != "first" {
				t.Errorf("got (%q, %q), want (%q, %q)", lit, name, "what?", "first")
			}
		})

		t.Run("placeholders work inside a transaction", func(t *testing.T) {
			err := h.InTx(ctx, func(tx *store.Tx) error {
				_, err := tx.ExecContext(ctx, `UPDATE test_parents SET n = ? WHERE id = ? AND name <> 'a?b'`, 8, "p1")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := h.QueryRowContext(ctx, `SELECT n FROM test_parents WHERE id = ?`, "p1").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 8 {
				t.Errorf("n = %d, want 8", n)
			}
		})
	})
}

func TestQueryCount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, b := db.For("alpha"), db.For("beta")
		if db.For("alpha") != a {
			t.Error("For returned a different handle for the same domain")
		}

		if _, err := a.ExecContext(ctx, `CREATE TABLE test_counted (id TEXT PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		rows, err := a.QueryContext(ctx, `SELECT id FROM test_counted`)
		if err != nil {
			t.Fatal(err)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := a.QueryRowContext(ctx, `SELECT COUNT(*) FROM test_counted`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		err = a.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO test_counted (id) VALUES (?)`, "x"); err != nil {
				return err
			}
			rows, err := tx.QueryContext(ctx, `SELECT id FROM test_counted`)
			if err != nil {
				return err
			}
			if err := rows.Close(); err != nil {
				return err
			}
			return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM test_counted`).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.QueryRowContext(ctx, `SELECT COUNT(*) FROM test_counted`).Scan(&n); err != nil {
			t.Fatal(err)
		}

		want := map[string]uint64{"alpha": 6, "beta": 1, "never": 0}
		for domain, w := range want {
			if got := db.QueryCount(domain); got != w {
				t.Errorf("QueryCount(%q) = %d, want %d", domain, got, w)
			}
		}

		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(db.Collector()); err != nil {
			t.Fatal(err)
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, f := range families {
			if f.GetName() != "checkstack_db_queries_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "domain" {
						got[l.GetValue()] = m.GetCounter().GetValue()
					}
				}
			}
		}
		if got["alpha"] != 6 || got["beta"] != 1 || len(got) != 2 {
			t.Errorf("checkstack_db_queries_total = %v, want alpha 6, beta 1", got)
		}
	})
}

func TestConstraintViolations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		h := db.For("test")
		createTables(t, h)
		if _, err := h.ExecContext(ctx, `INSERT INTO test_parents (id, name) VALUES (?, ?)`, "p1", "first"); err != nil {
			t.Fatal(err)
		}

		_, dupName := h.ExecContext(ctx, `INSERT INTO test_parents (id, name) VALUES (?, ?)`, "p2", "first")
		_, dupKey := h.ExecContext(ctx, `INSERT INTO test_parents (id, name) VALUES (?, ?)`, "p1", "second")
		_, missingParent := h.ExecContext(ctx, `INSERT INTO test_children (id, parent_id) VALUES (?, ?)`, "c1", "nobody")
		_, syntax := h.ExecContext(ctx, `INSERT INTO nowhere VALUES (1)`)

		tests := []struct {
			name       string
			err        error
			unique, fk bool
		}{
			{"a duplicate unique column is a unique violation", dupName, true, false},
			{"a duplicate primary key is a unique violation", dupKey, true, false},
			{"a wrapped unique violation is still one", fmt.Errorf("insert: %w", dupName), true, false},
			{"a missing parent is a foreign key violation", missingParent, false, true},
			{"a wrapped foreign key violation is still one", fmt.Errorf("insert: %w", missingParent), false, true},
			{"another database error is neither", syntax, false, false},
			{"an unrelated error is neither", errors.New("boom"), false, false},
			{"nil is neither", nil, false, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if (tt.name != "nil is neither") && tt.err == nil {
					t.Fatal("the statement did not fail")
				}
				if got := store.IsUniqueViolation(tt.err); got != tt.unique {
					t.Errorf("IsUniqueViolation(%v) = %v, want %v", tt.err, got, tt.unique)
				}
				if got := store.IsForeignKeyViolation(tt.err); got != tt.fk {
					t.Errorf("IsForeignKeyViolation(%v) = %v, want %v", tt.err, got, tt.fk)
				}
			})
		}

		t.Run("deleting a parent cascades to its children", func(t *testing.T) {
			if _, err := h.ExecContext(ctx, `INSERT INTO test_children (id, parent_id) VALUES (?, ?)`, "c1", "p1"); err != nil {
				t.Fatal(err)
			}
			if _, err := h.ExecContext(ctx, `DELETE FROM test_parents WHERE id = ?`, "p1"); err != nil {
				t.Fatal(err)
			}
			if n := countRows(t, h, "test_children"); n != 0 {
				t.Errorf("%d children left, want 0", n)
			}
		})
	})
}

func TestInTx(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		h := db.For("test")
		createTables(t, h)
		insert := func(tx *store.Tx, id string) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO test_parents (id, name) VALUES (?, ?)`, id, id)
			return err
		}
		exists := func(id string) bool {
			t.Helper()
			var n int
			if err := h.QueryRowContext(ctx, `SELECT COUNT(*) FROM test_parents WHERE id = ?`, id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n == 1
		}

		t.Run("a nil return commits", func(t *testing.T) {
			if err := h.InTx(ctx, func(tx *store.Tx) error { return insert(tx, "committed") }); err != nil {
				t.Fatal(err)
			}
			if !exists("committed") {
				t.Error("the row is not there after commit")
			}
		})

		t.Run("an error rolls back and is returned", func(t *testing.T) {
			boom := errors.New("boom")
			err := h.InTx(ctx, func(tx *store.Tx) error {
				if err := insert(tx, "rolled-back"); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("InTx = %v, want %v", err, boom)
			}
			if exists("rolled-back") {
				t.Error("the row is there after rollback")
			}
		})

		t.Run("a panic rolls back and panics again", func(t *testing.T) {
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				_ = h.InTx(ctx, func(tx *store.Tx) error {
					if err := insert(tx, "panicked"); err != nil {
						t.Error(err)
					}
					panic("boom")
				})
			}()
			if recovered != "boom" {
				t.Fatalf("recovered %v, want boom", recovered)
			}
			if exists("panicked") {
				t.Error("the row is there after the panic")
			}
			// The connection went back to the pool usable.
			if err := h.InTx(ctx, func(tx *store.Tx) error { return insert(tx, "after-panic") }); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// TestConcurrentWriters locks in invariant 1 of the package doc: writers
// that read before they write (the case SQLite cannot wait for when a
// transaction begins deferred) queue instead of failing.
func TestConcurrentWriters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		h := db.For("test")
		createTables(t, h)
		const writers, txs = 8, 50

		var wg sync.WaitGroup
		errs := make(chan error, writers*txs)
		for w := range writers {
			wg.Go(func() {
				for i := range txs {
					err := h.InTx(ctx, func(tx *store.Tx) error {
						var n int
						if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM test_parents`).Scan(&n); err != nil {
							return err
						}
						id := fmt.Sprintf("w%d-%d", w, i)
						_, err := tx.ExecContext(ctx, `INSERT INTO test_parents (id, name, n) VALUES (?, ?, ?)`, id, id, n)
						return err
					})
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("write transaction failed: %v", err)
		}
		if n := countRows(t, h, "test_parents"); n != writers*txs {
			t.Errorf("%d rows, want %d", n, writers*txs)
		}
	})
}

func TestSQLitePragmasOnEveryConnection(t *testing.T) {
	db := storetest.SQLite(t)
	h := db.For("test")
	ctx := context.Background()
	// Each open result set holds its connection, so each query below runs on
	// a connection of its own.
	const conns = 4
	for i := range conns {
		var fk, busy int
		var journal string
		rows, err := h.QueryContext(ctx, `SELECT * FROM pragma_foreign_keys, pragma_busy_timeout, pragma_journal_mode`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		if !rows.Next() {
			t.Fatalf("connection %d: no row: %v", i, rows.Err())
		}
		if err := rows.Scan(&fk, &busy, &journal); err != nil {
			t.Fatal(err)
		}
		if fk != 1 || busy != 10000 || !strings.EqualFold(journal, "wal") {
			t.Errorf("connection %d: foreign_keys=%d busy_timeout=%d journal_mode=%s, want 1, 10000, wal", i, fk, busy, journal)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()

	t.Run("a SQLite path gets its folder created", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "checkstack.db")
		db, err := store.Open(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if db.Dialect() != store.SQLite {
			t.Errorf("Dialect() = %v, want sqlite", db.Dialect())
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("the database file is not there: %v", err)
		}
	})

	t.Run("a postgres URL selects PostgreSQL", func(t *testing.T) {
		db, err := store.Open(ctx, storetest.PostgresURL(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if db.Dialect() != store.Postgres {
			t.Errorf("Dialect() = %v, want postgres", db.Dialect())
		}
	})

	t.Run("an unreachable PostgreSQL is an error", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		db, err := store.Open(ctx, "postgresql://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", nil)
		if err == nil {
			db.Close()
			t.Fatal("Open succeeded")
		}
	})

	t.Run("Open does not migrate", func(t *testing.T) {
		db, err := store.Open(ctx, filepath.Join(t.TempDir(), "x.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		err = db.For("test").QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'auth_users'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Error("the schema exists before Migrate")
		}
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// storetest migrated once already.
		for range 2 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		h := db.For("test")
		if n := countRows(t, h, "auth_users"); n != 0 {
			t.Errorf("auth_users has %d rows, want 0", n)
		}
		var applied int
		if err := h.QueryRowContext(ctx, `SELECT COUNT(*) FROM goose_db_version WHERE version_id = 1`).Scan(&applied); err != nil {
			t.Fatal(err)
		}
		if applied != 1 {
			t.Errorf("migration 1 recorded %d times, want 1", applied)
		}
	})
}

func TestMicros(t *testing.T) {
	local := time.FixedZone("UTC+2", 2*60*60)
	in := time.Date(2025, 3, 4, 5, 6, 7, 891234567, local)
	got := store.FromMicros(store.Micros(in))
	if want := in.Truncate(time.Microsecond); !got.Equal(want) {
		t.Errorf("round trip = %v, want %v", got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("FromMicros location = %v, want UTC", got.Location())
	}
	if store.Micros(time.Unix(0, 0)) != 0 || !store.FromMicros(0).Equal(time.Unix(0, 0)) {
		t.Error("the epoch is not zero")
	}

	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		h := db.For("test")
		if _, err := h.ExecContext(ctx, `CREATE TABLE test_times (at BIGINT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		if _, err := h.ExecContext(ctx, `INSERT INTO test_times (at) VALUES (?)`, store.Micros(in)); err != nil {
			t.Fatal(err)
		}
		var us int64
		if err := h.QueryRowContext(ctx, `SELECT at FROM test_times`).Scan(&us); err != nil {
			t.Fatal(err)
		}
		if got := store.FromMicros(us); !got.Equal(in.Truncate(time.Microsecond)) {
			t.Errorf("stored and read back = %v, want %v", got, in)
		}
	})
}
