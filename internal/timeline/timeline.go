// Package timeline is the public record of an incident or a maintenance
// window: the updates posted on it, newest first, each with its message,
// the status it moved the subject to (if any) and its author. Both domains
// keep their updates in a table of this shape:
//
//	CREATE TABLE <table> (
//	    id              TEXT PRIMARY KEY,
//	    <parent>        TEXT NOT NULL REFERENCES <subjects> (id) ON DELETE CASCADE,
//	    message         TEXT NOT NULL,
//	    status_change   TEXT NOT NULL DEFAULT '',
//	    created_at      BIGINT NOT NULL,
//	    created_by      TEXT NOT NULL DEFAULT '',
//	    created_by_name TEXT NOT NULL DEFAULT '',
//	    edited_at       BIGINT
//	);
//
// and read and write it through a Store naming the table and the parent
// column. Authors are kept by id and name, without a foreign key: the
// record outlives the user.
package timeline

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
)

// MaxMessage is the longest message, in characters.
const MaxMessage = 10000

// Automatic is the author name of updates the platform posts itself (a
// maintenance window starting on time); their CreatedBy is empty.
const Automatic = "Checkstack"

// Entry is one update.
type Entry struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	// StatusChange is the status the update moved its subject to; empty
	// when it moved none.
	StatusChange  string     `json:"statusChange,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	CreatedBy     string     `json:"createdBy"` // the author's user id; "" for Automatic
	CreatedByName string     `json:"createdByName"`
	EditedAt      *time.Time `json:"editedAt,omitempty"`
}

// Anonymize leaves out who wrote the entry, for a reader who may not
// know.
func (e *Entry) Anonymize() { e.CreatedBy, e.CreatedByName = "", "" }

// Author is who posts an update.
type Author struct {
	ID   string
	Name string
}

// New returns an entry with a fresh id.
func New(message, statusChange string, by Author, at time.Time) Entry {
	if by.ID == "" && by.Name == "" {
		by.Name = Automatic
	}
	return Entry{ID: rand.Text(), Message: message, StatusChange: statusChange, CreatedAt: at, CreatedBy: by.ID, CreatedByName: by.Name}
}

// CheckMessage validates a message: required, at most MaxMessage
// characters.
func CheckMessage(field string, m *string, required bool) error {
	return rpc.CheckName(field, m, required, MaxMessage)
}

// ErrNotFound is returned for an update id that names nothing.
var ErrNotFound = errors.New("timeline: update not found")

// Store reads and writes one domain's updates table.
type Store struct {
	Table  string // e.g. "incident_updates"
	Parent string // the column naming the subject, e.g. "incident_id"
}

const columns = `id, message, status_change, created_at, created_by, created_by_name, edited_at`

// Insert adds e to the timeline of parentID and returns it as stored:
// its time is moved just past the newest entry's when it is not later, so
// that the timeline's order is the order entries were posted in. Run it
// in the transaction that holds the parent.
func (st Store) Insert(ctx context.Context, q store.Executor, parentID string, e Entry) (Entry, error) {
	var newest int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(created_at), 0) FROM `+st.Table+` WHERE `+st.Parent+` = ?`, parentID).Scan(&newest); err != nil {
		return e, fmt.Errorf("timeline: read %s: %w", st.Table, err)
	}
	if at := store.Micros(e.CreatedAt); at <= newest {
		e.CreatedAt = store.FromMicros(newest + 1)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO `+st.Table+` (`+st.Parent+`, `+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		parentID, e.ID, e.Message, e.StatusChange, store.Micros(e.CreatedAt), e.CreatedBy, e.CreatedByName, nil)
	if err != nil {
		return e, fmt.Errorf("timeline: insert into %s: %w", st.Table, err)
	}
	return e, nil
}

// Of returns the updates of each parent, newest first; every id gets an
// entry (empty when it has none).
func (st Store) Of(ctx context.Context, q store.Queryer, parentIDs []string) (map[string][]Entry, error) {
	out := make(map[string][]Entry, len(parentIDs))
	for _, id := range parentIDs {
		out[id] = []Entry{}
	}
	err := store.InChunks(parentIDs, func(ids []string) error {
		rows, err := q.QueryContext(ctx, `SELECT `+st.Parent+`, `+columns+` FROM `+st.Table+`
			WHERE `+st.Parent+` IN (`+store.Placeholders(len(ids))+`) ORDER BY created_at DESC, id DESC`, store.Args(ids)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var parent string
			e, err := scan(rows, &parent)
			if err != nil {
				return err
			}
			out[parent] = append(out[parent], e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("timeline: read %s: %w", st.Table, err)
	}
	return out, nil
}

func scan(row store.Scanner, parent *string) (Entry, error) {
	var e Entry
	var created int64
	var edited sql.NullInt64
	if err := row.Scan(parent, &e.ID, &e.Message, &e.StatusChange, &created, &e.CreatedBy, &e.CreatedByName, &edited); err != nil {
		return e, err
	}
	e.CreatedAt = store.FromMicros(created)
	if edited.Valid {
		t := store.FromMicros(edited.Int64)
		e.EditedAt = &t
	}
	return e, nil
}

// Edit replaces an update's message and returns the update and its
// parent; ErrNotFound when the id names nothing.
func (st Store) Edit(ctx context.Context, q store.Executor, id, message string, at time.Time) (parentID string, e Entry, err error) {
	row := q.QueryRowContext(ctx, `UPDATE `+st.Table+` SET message = ?, edited_at = ? WHERE id = ?
		RETURNING `+st.Parent+`, `+columns, message, store.Micros(at), id)
	e, err = scan(row, &parentID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", e, ErrNotFound
	}
	if err != nil {
		return "", e, fmt.Errorf("timeline: edit %s in %s: %w", id, st.Table, err)
	}
	return parentID, e, nil
}

// Delete removes an update and returns its parent; ErrNotFound when the id
// names nothing.
func (st Store) Delete(ctx context.Context, q store.Executor, id string) (parentID string, err error) {
	err = q.QueryRowContext(ctx, `DELETE FROM `+st.Table+` WHERE id = ? RETURNING `+st.Parent, id).Scan(&parentID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("timeline: delete %s from %s: %w", id, st.Table, err)
	}
	return parentID, nil
}

// ParentOf returns the parent of an update; ErrNotFound when the id names
// nothing.
func (st Store) ParentOf(ctx context.Context, q store.Executor, id string) (string, error) {
	var parentID string
	err := q.QueryRowContext(ctx, `SELECT `+st.Parent+` FROM `+st.Table+` WHERE id = ?`, id).Scan(&parentID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("timeline: read %s in %s: %w", id, st.Table, err)
	}
	return parentID, nil
}
