package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// CheckSchema accepts the schema this build's migrations make, and
// refuses, saying which way and what to do, one that is older or newer.
func TestCheckSchema(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatalf("a migrated database: %v", err)
		}
		h := db.For("test")
		var latest int64
		if err := h.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version`).Scan(&latest); err != nil {
			t.Fatal(err)
		}
		if _, err := h.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, ?)`, latest+1, true); err != nil {
			t.Fatal(err)
		}
		if err := db.CheckSchema(ctx); !errors.Is(err, store.ErrSchema) || !strings.Contains(err.Error(), "newer than this build") {
			t.Errorf("a newer schema: %v", err)
		}
		if _, err := h.ExecContext(ctx, `DELETE FROM goose_db_version WHERE version_id >= ?`, latest); err != nil {
			t.Fatal(err)
		}
		if err := db.CheckSchema(ctx); !errors.Is(err, store.ErrSchema) || !strings.Contains(err.Error(), "run `checkstack migrate`") {
			t.Errorf("an older schema: %v", err)
		}
	})
}

// A database that was never migrated is refused, and left as it was.
func TestCheckSchemaOfAnEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "empty.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CheckSchema(ctx); !errors.Is(err, store.ErrSchema) || !strings.Contains(err.Error(), "no schema yet") {
		t.Fatalf("an empty database: %v", err)
	}
	var tables int
	if err := db.For("test").QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("checking the schema created %d tables", tables)
	}
}
