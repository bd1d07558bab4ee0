package store

import (
	"context"
	"embed"
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
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	dialect := goose.DialectSQLite3
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := db.migrationLocker(ctx)
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.write.sql, fsys, opts...)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
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
