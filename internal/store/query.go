package store

import (
	"context"
	"database/sql"
	"strings"
)

// Queryer is what a Handle and a Tx have in common for reads, so a store
// function can run inside a transaction or outside one.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Executor is everything a Handle and a Tx have in common, so a store
// function that writes can run inside a transaction or outside one.
type Executor interface {
	Queryer
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Executor = (*Handle)(nil)
	_ Executor = (*Tx)(nil)
)

// ChunkSize bounds the ids of one IN list: well under both engines'
// limits on parameters per statement.
const ChunkSize = 500

// InChunks calls fn with ids a chunk of at most ChunkSize at a time, in
// order, and stops at the first error.
func InChunks(ids []string, fn func(chunk []string) error) error {
	for start := 0; start < len(ids); start += ChunkSize {
		if err := fn(ids[start:min(start+ChunkSize, len(ids))]); err != nil {
			return err
		}
	}
	return nil
}

// Placeholders returns n placeholders for an IN list: "?, ?, ?".
func Placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Args turns ids into query arguments.
func Args(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// Strings runs a query of one text column and returns its values in the
// order the rows came.
func Strings(ctx context.Context, q Queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Scanner is a row to scan: a *sql.Row or *sql.Rows.
type Scanner = interface{ Scan(dest ...any) error }

// All reads every row of a query with scan and closes the rows. Pass it
// the query's results: rows, err := q.QueryContext(…); All(rows, err, f).
// It returns the query's error, the first scan's error, or the
// iteration's, and never nil values with a nil error (an empty list).
func All[T any](rows *sql.Rows, err error, scan func(Scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
