package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the embedded migrations not yet applied, in order, and logs
// each one. It is safe to call on an up-to-date database (it changes
// nothing) and from several instances at once: on PostgreSQL it holds an
// advisory lock for the database and schema while it runs; on SQLite each
// migration's transaction takes the write lock.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.migrator(ctx, true)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		if r.Error != nil {
			continue
		}
		db.logger.InfoContext(ctx, "migration applied",
			"version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	version, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: read version: %w", err)
	}
	db.logger.InfoContext(ctx, "database migrated", "version", version, "applied", len(results))
	return nil
}

// ErrSchema is CheckSchema's error: the database's schema is not the one
// this build was written for.
var ErrSchema = errors.New("store: schema version mismatch")

// CheckSchema reports whether the database's schema is the one this
// build's migrations make, without changing anything: for an instance of
// a fleet that leaves migrating to `checkstack migrate`. Its error, which
// wraps ErrSchema, says which way it differs and what to do.
func (db *DB) CheckSchema(ctx context.Context) error {
	p, err := db.migrator(ctx, false)
	if err != nil {
		return err
	}
	// goose would create its table to read the version from: look first.
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'`
	if db.dialect == Postgres {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'goose_db_version'`
	}
	var tables int
	if err := db.write.sql.QueryRowContext(ctx, q).Scan(&tables); err != nil {
		return fmt.Errorf("store: read the schema version: %w", err)
	}
	want := int64(0)
	if srcs := p.ListSources(); len(srcs) > 0 {
		want = srcs[len(srcs)-1].Version
	}
	var have int64
	if tables > 0 {
		have, err = p.GetDBVersion(ctx)
	}
	if errors.Is(err, goose.ErrVersionNotFound) || (err == nil && have == 0 && want > 0) {
		return fmt.Errorf("%w: the database has no schema yet and this build needs version %d: run `checkstack migrate` first, or serve with --migrate", ErrSchema, want)
	}
	if err != nil {
		return fmt.Errorf("store: read the schema version: %w", err)
	}
	switch {
	case have < want:
		return fmt.Errorf("%w: the database's schema is at version %d and this build needs %d: run `checkstack migrate` (once, for the fleet), or serve with --migrate", ErrSchema, have, want)
	case have > want:
		return fmt.Errorf("%w: the database's schema is at version %d, newer than this build knows (%d): run the build that migrated it, or a newer one", ErrSchema, have, want)
	}
	return nil
}

// migrator is the goose provider of the embedded migrations on db; locked
// takes PostgreSQL's advisory lock while it migrates.
func (db *DB) migrator(ctx context.Context, locked bool) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	dialect := goose.DialectSQLite3
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
		if locked {
			locker, err := db.migrationLocker(ctx)
			if err != nil {
				return nil, err
			}
			opts = append(opts, goose.WithSessionLocker(locker))
		}
	}
	p, err := goose.NewProvider(dialect, db.write.sql, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	return p, nil
}

// migrationLocker is a PostgreSQL advisory lock whose id is derived from the
// database and schema, so that migrations of different schemas (one per
// test, say) do not wait for each other.
func (db *DB) migrationLocker(ctx context.Context) (lock.SessionLocker, error) {
	var where string
	err := db.write.sql.QueryRowContext(ctx,
		`SELECT current_database() || '.' || COALESCE(current_schema(), '')`).Scan(&where)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: read schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("checkstack migrations " + where)) // never fails
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64())),
		lock.WithLockTimeout(1, 600), // wait up to 10 minutes, probing every second
	)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	return locker, nil
}
