// Package storetest gives tests a fresh, migrated database on each engine.
//
// A store's tests run the same scenarios against SQLite and PostgreSQL:
//
//	func TestCreate(t *testing.T) {
//		storetest.Each(t, func(t *testing.T, db *store.DB) {
//			// db is empty and migrated; it is closed and removed afterwards.
//		})
//	}
//
// SQLite databases are files in t.TempDir(). PostgreSQL databases are fresh
// schemas (t_<random>) on the server named by CHECKSTACK_TEST_POSTGRES_URL
// (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable), reached
// through a URL whose search_path selects the schema, and dropped when the
// test ends. When PostgreSQL does not answer, its tests are skipped with the
// reason — or fail, when CHECKSTACK_REQUIRE_SERVICES=1.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/checkstack/checkstack/internal/store"
)

// DefaultPostgresURL is the server used when CHECKSTACK_TEST_POSTGRES_URL is
// unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

const connectTimeout = 5 * time.Second

// Each runs fn as the subtests "sqlite" and "postgres", each with a fresh,
// migrated database.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, SQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, Postgres(t))
	})
}

// SQLite returns a fresh, migrated SQLite database in t.TempDir(), closed
// when the test ends.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "checkstack.db"))
}

// Postgres returns a fresh, migrated PostgreSQL database (a schema of its
// own), closed and dropped when the test ends.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	return open(t, PostgresURL(t))
}

func open(t testing.TB, dsn string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("storetest: %v", err)
		}
	})
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return db
}

// PostgresURL creates an empty schema and returns a URL whose connections
// use it, for tests that start a whole server with that database. The
// schema is not migrated, and is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := baseURL()
	admin := adminDB(t, base)

	schema := "t_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("storetest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: CHECKSTACK_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func baseURL() string {
	if v := os.Getenv("CHECKSTACK_TEST_POSTGRES_URL"); v != "" {
		return v
	}
	return DefaultPostgresURL
}

// admin is the connection that creates and drops schemas, shared by every
// test of the process (and never closed: it lives as long as the process).
var admin struct {
	once sync.Once
	db   *sql.DB
	err  error
}

// adminDB returns the shared admin connection, or skips (or fails) the test
// when PostgreSQL is unreachable.
func adminDB(t testing.TB, base string) *sql.DB {
	t.Helper()
	admin.once.Do(func() {
		admin.db, admin.err = connect(base)
	})
	if admin.err != nil {
		msg := fmt.Sprintf("storetest: PostgreSQL unreachable at %s (set CHECKSTACK_TEST_POSTGRES_URL): %v", redact(base), admin.err)
		if os.Getenv("CHECKSTACK_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return admin.db
}

func connect(base string) (*sql.DB, error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close() // the ping error is the one to report
		return nil, err
	}
	return db, nil
}

// redact hides a password in a URL shown in a test message.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
