package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/checkstack/checkstack/internal/store"
)

// sqlStore is the catalog's tables. It is the only code that reads them.
type sqlStore struct {
	db *store.Handle
}

const systemColumns = `id, name, description, owner, metadata, hidden_from_status, created_at, updated_at`

func scanSystem(row store.Scanner) (System, error) {
	var s System
	var meta string
	var created, updated int64
	if err := row.Scan(&s.ID, &s.Name, &s.Description, &s.Owner, &meta, &s.HiddenFromStatus, &created, &updated); err != nil {
		return s, err
	}
	s.Metadata = json.RawMessage(meta)
	s.CreatedAt, s.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
	return s, nil
}

func (st *sqlStore) systems(ctx context.Context) ([]System, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT `+systemColumns+` FROM catalog_systems ORDER BY name, id`)
	out, err := store.All(rows, err, scanSystem)
	if err != nil {
		return nil, fmt.Errorf("catalog: list systems: %w", err)
	}
	return out, nil
}

func (st *sqlStore) system(ctx context.Context, id string) (System, error) {
	return readSystem(ctx, st.db, id, "")
}

// readSystem reads a system through q, the query ending with lock (""
// or store.ForUpdate).
func readSystem(ctx context.Context, q store.Executor, id, lock string) (System, error) {
	s, err := scanSystem(q.QueryRowContext(ctx, `SELECT `+systemColumns+` FROM catalog_systems WHERE id = ?`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	if err != nil {
		return s, fmt.Errorf("catalog: get system %s: %w", id, err)
	}
	return s, nil
}

func (st *sqlStore) createSystem(ctx context.Context, s System) error {
	_, err := st.db.ExecContext(ctx, `INSERT INTO catalog_systems (`+systemColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.Name, s.Description, s.Owner, string(s.Metadata), s.HiddenFromStatus, store.Micros(s.CreatedAt), store.Micros(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("catalog: create system: %w", err)
	}
	return nil
}

// updateSystem changes a system in one transaction: it reads the system
// holding its row until the transaction ends, lets change set its fields,
// and writes it, so that of two updates at once the second reads what the
// first wrote. It returns the system as written.
func (st *sqlStore) updateSystem(ctx context.Context, id string, change func(*System)) (System, error) {
	var s System
	err := st.db.InTx(ctx, func(tx *store.Tx) (err error) {
		if s, err = readSystem(ctx, tx, id, store.ForUpdate(tx)); err != nil {
			return err
		}
		change(&s)
		res, err := tx.ExecContext(ctx, `UPDATE catalog_systems SET name = ?, description = ?, owner = ?, metadata = ?, hidden_from_status = ?,
			updated_at = ? WHERE id = ?`,
			s.Name, s.Description, s.Owner, string(s.Metadata), s.HiddenFromStatus, store.Micros(s.UpdatedAt), s.ID)
		return affected(res, err, "update system "+s.ID)
	})
	return s, err
}

func (st *sqlStore) deleteSystem(ctx context.Context, id string) error {
	// Memberships and contacts go with it (ON DELETE CASCADE).
	res, err := st.db.ExecContext(ctx, `DELETE FROM catalog_systems WHERE id = ?`, id)
	return affected(res, err, "delete system "+id)
}

const groupColumns = `id, name, description, metadata, hidden_from_status, created_at, updated_at`

func (st *sqlStore) groups(ctx context.Context) ([]Group, error) {
	groups := []Group{}
	err := st.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		groups, err = listGroups(ctx, tx)
		return err
	})
	return groups, err
}

// listGroups reads groups and their members in one consistent snapshot.
func listGroups(ctx context.Context, q store.Queryer) ([]Group, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+groupColumns+` FROM catalog_groups ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: list groups: %w", err)
	}
	groups := []Group{}
	index := map[string]int{}
	for rows.Next() {
		var g Group
		var meta string
		var created, updated int64
		if err := rows.Scan(&g.ID, &g.Name, &g.Description, &meta, &g.HiddenFromStatus, &created, &updated); err != nil {
			rows.Close()
			return nil, fmt.Errorf("catalog: list groups: %w", err)
		}
		g.Metadata = json.RawMessage(meta)
		g.CreatedAt, g.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
		g.SystemIDs = []string{}
		index[g.ID] = len(groups)
		groups = append(groups, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: list groups: %w", err)
	}
	rows, err = q.QueryContext(ctx, `SELECT group_id, system_id FROM catalog_memberships ORDER BY group_id, system_id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: list memberships: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var gid, sid string
		if err := rows.Scan(&gid, &sid); err != nil {
			return nil, fmt.Errorf("catalog: list memberships: %w", err)
		}
		if i, ok := index[gid]; ok {
			groups[i].SystemIDs = append(groups[i].SystemIDs, sid)
		}
	}
	return groups, rows.Err()
}

func (st *sqlStore) entities(ctx context.Context) (Entities, error) {
	var e Entities
	err := st.db.InReadTx(ctx, func(tx *store.Tx) error { // one snapshot; never behind a write
		rows, err := tx.QueryContext(ctx, `SELECT `+systemColumns+` FROM catalog_systems ORDER BY name, id`)
		if err != nil {
			return fmt.Errorf("catalog: list systems: %w", err)
		}
		e.Systems = []System{}
		for rows.Next() {
			s, err := scanSystem(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("catalog: list systems: %w", err)
			}
			e.Systems = append(e.Systems, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		e.Groups, err = listGroups(ctx, tx)
		return err
	})
	return e, err
}

// readGroup reads a group, without its members, through q, the query
// ending with lock ("" or store.ForUpdate).
func readGroup(ctx context.Context, q store.Executor, id, lock string) (Group, error) {
	var g Group
	var meta string
	var created, updated int64
	err := q.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM catalog_groups WHERE id = ?`+lock, id).
		Scan(&g.ID, &g.Name, &g.Description, &meta, &g.HiddenFromStatus, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return g, ErrNotFound
	}
	if err != nil {
		return g, fmt.Errorf("catalog: get group %s: %w", id, err)
	}
	g.Metadata = json.RawMessage(meta)
	g.CreatedAt, g.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
	return g, nil
}

func (st *sqlStore) createGroup(ctx context.Context, g Group) error {
	_, err := st.db.ExecContext(ctx, `INSERT INTO catalog_groups (`+groupColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.Name, g.Description, string(g.Metadata), g.HiddenFromStatus, store.Micros(g.CreatedAt), store.Micros(g.UpdatedAt))
	if err != nil {
		return fmt.Errorf("catalog: create group: %w", err)
	}
	return nil
}

// updateGroup changes a group as updateSystem changes a system, and
// returns it as written (without its members).
func (st *sqlStore) updateGroup(ctx context.Context, id string, change func(*Group)) (Group, error) {
	var g Group
	err := st.db.InTx(ctx, func(tx *store.Tx) (err error) {
		if g, err = readGroup(ctx, tx, id, store.ForUpdate(tx)); err != nil {
			return err
		}
		change(&g)
		res, err := tx.ExecContext(ctx, `UPDATE catalog_groups SET name = ?, description = ?, metadata = ?, hidden_from_status = ?,
			updated_at = ? WHERE id = ?`,
			g.Name, g.Description, string(g.Metadata), g.HiddenFromStatus, store.Micros(g.UpdatedAt), g.ID)
		return affected(res, err, "update group "+g.ID)
	})
	return g, err
}

func (st *sqlStore) deleteGroup(ctx context.Context, id string) error {
	res, err := st.db.ExecContext(ctx, `DELETE FROM catalog_groups WHERE id = ?`, id)
	return affected(res, err, "delete group "+id)
}

func (st *sqlStore) systemGroupIDs(ctx context.Context, systemID string) ([]string, error) {
	return st.ids(ctx, "groups of "+systemID, `SELECT group_id FROM catalog_memberships WHERE system_id = ? ORDER BY group_id`, systemID)
}

func (st *sqlStore) systemIDsOf(ctx context.Context, groupID string) ([]string, error) {
	return st.ids(ctx, "systems of group "+groupID, `SELECT system_id FROM catalog_memberships WHERE group_id = ? ORDER BY system_id`, groupID)
}

// ids runs a query that selects one text column and returns its values
// (an empty slice, not nil, when there are none).
func (st *sqlStore) ids(ctx context.Context, what, query string, args ...any) ([]string, error) {
	rows, err := st.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", what, err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("catalog: %s: %w", what, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// addMembership adds systemID to groupID; adding it twice is not an error.
func (st *sqlStore) addMembership(ctx context.Context, systemID, groupID string, now time.Time) error {
	return st.db.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM catalog_memberships WHERE system_id = ? AND group_id = ?`, systemID, groupID).Scan(&n); err != nil {
			return fmt.Errorf("catalog: add membership: %w", err)
		}
		if n > 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO catalog_memberships (system_id, group_id, created_at) VALUES (?, ?, ?)`,
			systemID, groupID, store.Micros(now))
		if store.IsForeignKeyViolation(err) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("catalog: add membership: %w", err)
		}
		return nil
	})
}

func (st *sqlStore) removeMembership(ctx context.Context, systemID, groupID string) error {
	res, err := st.db.ExecContext(ctx, `DELETE FROM catalog_memberships WHERE system_id = ? AND group_id = ?`, systemID, groupID)
	return affected(res, err, "remove membership")
}

const viewColumns = `id, user_id, name, description, configuration, created_at, updated_at`

func scanView(row interface{ Scan(...any) error }) (View, error) {
	var v View
	var conf string
	var created, updated int64
	if err := row.Scan(&v.ID, &v.UserID, &v.Name, &v.Description, &conf, &created, &updated); err != nil {
		return v, err
	}
	v.Configuration = json.RawMessage(conf)
	v.CreatedAt, v.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
	return v, nil
}

func (st *sqlStore) views(ctx context.Context, userID string) ([]View, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT `+viewColumns+` FROM catalog_views WHERE user_id = ? ORDER BY name, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("catalog: list views: %w", err)
	}
	defer rows.Close()
	out := []View{}
	for rows.Next() {
		v, err := scanView(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: list views: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// readView returns the view id if it belongs to userID, else
// ErrNotFound, through q, the query ending with lock ("" or
// store.ForUpdate).
func readView(ctx context.Context, q store.Executor, userID, id, lock string) (View, error) {
	v, err := scanView(q.QueryRowContext(ctx, `SELECT `+viewColumns+` FROM catalog_views WHERE id = ? AND user_id = ?`+lock, id, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("catalog: get view %s: %w", id, err)
	}
	return v, nil
}

func (st *sqlStore) createView(ctx context.Context, v View) error {
	_, err := st.db.ExecContext(ctx, `INSERT INTO catalog_views (`+viewColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.UserID, v.Name, v.Description, string(v.Configuration), store.Micros(v.CreatedAt), store.Micros(v.UpdatedAt))
	if err != nil {
		return fmt.Errorf("catalog: create view: %w", err)
	}
	return nil
}

// updateView changes userID's view id as updateSystem changes a system
// (ErrNotFound when the view is not theirs), and returns it as written.
func (st *sqlStore) updateView(ctx context.Context, userID, id string, change func(*View)) (View, error) {
	var v View
	err := st.db.InTx(ctx, func(tx *store.Tx) (err error) {
		if v, err = readView(ctx, tx, userID, id, store.ForUpdate(tx)); err != nil {
			return err
		}
		change(&v)
		res, err := tx.ExecContext(ctx, `UPDATE catalog_views SET name = ?, description = ?, configuration = ?, updated_at = ? WHERE id = ? AND user_id = ?`,
			v.Name, v.Description, string(v.Configuration), store.Micros(v.UpdatedAt), v.ID, v.UserID)
		return affected(res, err, "update view "+v.ID)
	})
	return v, err
}

func (st *sqlStore) deleteView(ctx context.Context, userID, id string) error {
	res, err := st.db.ExecContext(ctx, `DELETE FROM catalog_views WHERE id = ? AND user_id = ?`, id, userID)
	return affected(res, err, "delete view "+id)
}

func (st *sqlStore) contacts(ctx context.Context, systemID string) ([]Contact, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT id, system_id, type, COALESCE(user_id, ''), email, label, created_at
		FROM catalog_contacts WHERE system_id = ? ORDER BY created_at, id`, systemID)
	if err != nil {
		return nil, fmt.Errorf("catalog: list contacts: %w", err)
	}
	defer rows.Close()
	out := []Contact{}
	for rows.Next() {
		var c Contact
		var created int64
		if err := rows.Scan(&c.ID, &c.SystemID, &c.Type, &c.UserID, &c.Email, &c.Label, &created); err != nil {
			return nil, fmt.Errorf("catalog: list contacts: %w", err)
		}
		c.CreatedAt = store.FromMicros(created)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (st *sqlStore) addContact(ctx context.Context, c Contact) error {
	var userID any
	if c.UserID != "" {
		userID = c.UserID
	}
	_, err := st.db.ExecContext(ctx, `INSERT INTO catalog_contacts (id, system_id, type, user_id, email, label, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.SystemID, c.Type, userID, c.Email, c.Label, store.Micros(c.CreatedAt))
	if store.IsForeignKeyViolation(err) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("catalog: add contact: %w", err)
	}
	return nil
}

// removeContact deletes a contact and returns the system it was on.
func (st *sqlStore) removeContact(ctx context.Context, id string) (systemID string, err error) {
	err = st.db.InTx(ctx, func(tx *store.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT system_id FROM catalog_contacts WHERE id = ?`, id).Scan(&systemID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("catalog: remove contact %s: %w", id, err)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM catalog_contacts WHERE id = ?`, id)
		return err
	})
	return systemID, err
}

func affected(res sql.Result, err error, op string) error {
	if err != nil {
		return fmt.Errorf("catalog: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("catalog: %s: %w", op, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
