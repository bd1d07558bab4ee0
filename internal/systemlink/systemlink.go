// Package systemlink keeps the systems an entity affects — the systems of
// an incident, of a maintenance window — in a link table of this shape:
//
//	CREATE TABLE <table> (
//	    <parent>  TEXT NOT NULL REFERENCES <entities> (id) ON DELETE CASCADE,
//	    system_id TEXT REFERENCES catalog_systems (id) ON DELETE SET NULL,
//	    UNIQUE (<parent>, system_id)
//	);
//
// Deleting a catalog system sets its links to NULL rather than deleting
// them, so the entities it affected can still be found afterwards:
// OrphanParents lists them, and DropOrphans takes one's links (once,
// whichever instance asks) after the caller has locked it. The catalog's
// systemDeleted hook does this; so does a periodic repair, for a deletion
// whose hook never ran.
//
// Public and PublicBulk narrow such entities to what a visitor of the
// public status page sees: those on a shown system, naming only those.
package systemlink

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
)

// Table is one domain's link table.
type Table struct {
	Name   string // e.g. "incident_systems"
	Parent string // e.g. "incident_id"
}

// Set makes parentID's systems exactly systemIDs and returns the ones it
// had before (sorted). Run it in the transaction that read what it
// validates.
func (t Table) Set(ctx context.Context, q store.Executor, parentID string, systemIDs []string) (before []string, err error) {
	before, err = store.Strings(ctx, q, `SELECT system_id FROM `+t.Name+` WHERE `+t.Parent+` = ? AND system_id IS NOT NULL ORDER BY system_id`, parentID)
	if err != nil {
		return nil, fmt.Errorf("systemlink: read %s: %w", t.Name, err)
	}
	want := Normalize(systemIDs)
	for _, id := range before {
		if _, keep := slices.BinarySearch(want, id); keep {
			continue
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM `+t.Name+` WHERE `+t.Parent+` = ? AND system_id = ?`, parentID, id); err != nil {
			return nil, fmt.Errorf("systemlink: unlink from %s: %w", t.Name, err)
		}
	}
	for _, id := range want {
		if _, had := slices.BinarySearch(before, id); had {
			continue
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO `+t.Name+` (`+t.Parent+`, system_id) VALUES (?, ?)`, parentID, id); err != nil {
			return nil, fmt.Errorf("systemlink: link in %s: %w", t.Name, err)
		}
	}
	if before == nil {
		before = []string{}
	}
	return before, nil
}

// Of returns the systems of each parent, sorted; every id gets an entry
// (empty when it has none).
func (t Table) Of(ctx context.Context, q store.Queryer, parentIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(parentIDs))
	for _, id := range parentIDs {
		out[id] = []string{}
	}
	err := store.InChunks(parentIDs, func(ids []string) error {
		rows, err := q.QueryContext(ctx, `SELECT `+t.Parent+`, system_id FROM `+t.Name+`
			WHERE `+t.Parent+` IN (`+store.Placeholders(len(ids))+`) AND system_id IS NOT NULL ORDER BY system_id`, store.Args(ids)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var parent, sys string
			if err := rows.Scan(&parent, &sys); err != nil {
				return err
			}
			out[parent] = append(out[parent], sys)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("systemlink: read %s: %w", t.Name, err)
	}
	return out, nil
}

// OrphanParents lists, sorted, the parents that have a link a deleted
// system left (system_id NULL). The caller locks each parent (in this
// order, the order every writer locks parents in), then takes its links
// with DropOrphans.
func (t Table) OrphanParents(ctx context.Context, q store.Queryer) ([]string, error) {
	ids, err := store.Strings(ctx, q, `SELECT DISTINCT `+t.Parent+` FROM `+t.Name+` WHERE system_id IS NULL ORDER BY `+t.Parent)
	if err != nil {
		return nil, fmt.Errorf("systemlink: orphans of %s: %w", t.Name, err)
	}
	return ids, nil
}

// DropOrphans deletes parentID's links to deleted systems and reports
// whether there were any: of two callers at once, one takes them and the
// other finds none.
func (t Table) DropOrphans(ctx context.Context, q store.Executor, parentID string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM `+t.Name+` WHERE `+t.Parent+` = ? AND system_id IS NULL`, parentID)
	if err != nil {
		return false, fmt.Errorf("systemlink: drop orphans of %s: %w", t.Name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("systemlink: drop orphans of %s: %w", t.Name, err)
	}
	return n > 0, nil
}

// Normalize sorts ids and drops repeats.
func Normalize(ids []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(ids)))
}

// Union is the sorted union of id lists.
func Union(lists ...[]string) []string {
	return Normalize(slices.Concat(lists...))
}

// Without is the ids of a not in b (both sorted).
func Without(a, b []string) []string {
	var out []string
	for _, id := range a {
		if _, found := slices.BinarySearch(b, id); !found {
			out = append(out, id)
		}
	}
	return out
}

// Exists tells whether a system exists.
type Exists func(ctx context.Context, id string) (bool, error)

// Check names the first of ids (as the input gave them) that names no
// system: a 404 naming the field, systemIds[i]. A nil exists checks
// nothing.
func (exists Exists) Check(ctx context.Context, ids []string) error {
	if exists == nil {
		return nil
	}
	for i, id := range ids {
		ok, err := exists(ctx, id)
		if err != nil {
			return err
		}
		if !ok {
			return rpc.NotFoundField(fmt.Sprintf("systemIds[%d]", i), fmt.Sprintf("no system %q", id))
		}
	}
	return nil
}

// Explain turns a write the database refused for an unknown system (one
// deleted since ids were checked; errUnknown) into an error naming it.
func (exists Exists) Explain(ctx context.Context, err, errUnknown error, ids []string) error {
	if !errors.Is(err, errUnknown) {
		return err
	}
	if named := exists.Check(ctx, ids); named != nil {
		return named
	}
	return rpc.NotFoundField("systemIds", "names a system that does not exist")
}
