package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/systemlink"
	"github.com/checkstack/checkstack/internal/timeline"
)

// sqlStore is the incident tables. It is the only code that reads them.
type sqlStore struct {
	db      *store.Handle
	systems systemlink.Table
	updates timeline.Store
}

func newStore(db *store.Handle) sqlStore {
	return sqlStore{
		db:      db,
		systems: systemlink.Table{Name: "incident_systems", Parent: "incident_id"},
		updates: timeline.Store{Table: "incident_updates", Parent: "incident_id"},
	}
}

const columns = `i.id, i.title, i.description, i.status, i.severity, i.suppress_notifications, i.created_at, i.updated_at, i.resolved_at`

func scanIncident(row store.Scanner) (Incident, error) {
	var in Incident
	var desc sql.NullString
	var created, updated int64
	var resolved sql.NullInt64
	err := row.Scan(&in.ID, &in.Title, &desc, &in.Status, &in.Severity, &in.SuppressNotifications, &created, &updated, &resolved)
	if err != nil {
		return in, err
	}
	if desc.Valid {
		in.Description = &desc.String
	}
	in.CreatedAt, in.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
	if resolved.Valid {
		t := store.FromMicros(resolved.Int64)
		in.ResolvedAt = &t
	}
	in.SystemIDs = []string{}
	return in, nil
}

// withSystems fills in each incident's systems, in one query a chunk.
func (st *sqlStore) withSystems(ctx context.Context, q store.Queryer, ins []Incident) ([]Incident, error) {
	ids := make([]string, len(ins))
	for i, in := range ins {
		ids[i] = in.ID
	}
	systems, err := st.systems.Of(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	for i := range ins {
		ins[i].SystemIDs = systems[ins[i].ID]
	}
	return ins, nil
}

// list returns the incidents matching f, newest first.
func (st *sqlStore) list(ctx context.Context, f Filter) ([]Incident, error) {
	where, args := "WHERE 1 = 1", []any{}
	switch {
	case f.Status != "":
		where += " AND i.status = ?"
		args = append(args, string(f.Status))
	case !f.IncludeResolved:
		where += " AND i.status <> 'resolved'"
	}
	if f.SystemID != "" {
		where += " AND EXISTS (SELECT 1 FROM incident_systems s WHERE s.incident_id = i.id AND s.system_id = ?)"
		args = append(args, f.SystemID)
	}
	rows, err := st.db.QueryContext(ctx, `SELECT `+columns+` FROM incidents i `+where+` ORDER BY i.created_at DESC, i.id DESC`, args...)
	ins, err := store.All(rows, err, scanIncident)
	if err == nil {
		ins, err = st.withSystems(ctx, st.db, ins)
	}
	if err != nil {
		return nil, fmt.Errorf("incident: list: %w", err)
	}
	return ins, nil
}

// unresolvedOf returns each system's unresolved incidents, newest first;
// every id gets an entry (empty when it has none). Two queries a chunk of
// systems, whatever their number.
func (st *sqlStore) unresolvedOf(ctx context.Context, systemIDs []string) (map[string][]Incident, error) {
	out := make(map[string][]Incident, len(systemIDs))
	for _, id := range systemIDs {
		out[id] = []Incident{}
	}
	err := store.InChunks(systemIDs, func(ids []string) error {
		// CROSS JOIN makes SQLite start from the systems' links, whatever
		// the length of the IN list (PostgreSQL plans it as any join).
		rows, err := st.db.QueryContext(ctx, `SELECT s.system_id, `+columns+` FROM incident_systems s CROSS JOIN incidents i
			WHERE i.id = s.incident_id AND s.system_id IN (`+store.Placeholders(len(ids))+`) AND i.status <> 'resolved'
			ORDER BY i.created_at DESC, i.id DESC`, store.Args(ids)...)
		var bySystem []string
		ins, err := store.All(rows, err, func(row store.Scanner) (Incident, error) {
			var sys string
			in, err := scanIncident(scanPrefixed{row, &sys})
			bySystem = append(bySystem, sys)
			return in, err
		})
		if err != nil {
			return err
		}
		if ins, err = st.withSystems(ctx, st.db, ins); err != nil {
			return err
		}
		for i, in := range ins {
			out[bySystem[i]] = append(out[bySystem[i]], in)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("incident: unresolved incidents of systems: %w", err)
	}
	return out, nil
}

// scanPrefixed scans one leading column into first, then the rest as row
// would.
type scanPrefixed struct {
	row   store.Scanner
	first *string
}

func (s scanPrefixed) Scan(dest ...any) error { return s.row.Scan(append([]any{s.first}, dest...)...) }

// get returns an incident with its systems through q; with lock, inside a
// transaction on PostgreSQL, its row is held until the transaction ends
// (SQLite's write transactions hold the whole database).
func (st *sqlStore) get(ctx context.Context, q store.Executor, id string, lock bool) (Incident, error) {
	suffix := ""
	if lock {
		suffix = store.ForUpdate(st.db)
	}
	in, err := scanIncident(q.QueryRowContext(ctx, `SELECT `+columns+` FROM incidents i WHERE i.id = ?`+suffix, id))
	if errors.Is(err, sql.ErrNoRows) {
		return in, ErrNotFound
	}
	if err != nil {
		return in, fmt.Errorf("incident: get %s: %w", id, err)
	}
	systems, err := st.systems.Of(ctx, q, []string{id})
	if err != nil {
		return in, err
	}
	in.SystemIDs = systems[id]
	return in, nil
}

// detail returns an incident with its timeline.
func (st *sqlStore) detail(ctx context.Context, id string) (Detail, error) {
	in, err := st.get(ctx, st.db, id, false)
	if err != nil {
		return Detail{}, err
	}
	entries, err := st.updates.Of(ctx, st.db, []string{id})
	if err != nil {
		return Detail{}, err
	}
	return Detail{Incident: in, Updates: updatesOf(id, entries[id])}, nil
}

func updatesOf(incidentID string, es []timeline.Entry) []Update {
	out := make([]Update, len(es))
	for i, e := range es {
		out[i] = Update{IncidentID: incidentID, Entry: e}
	}
	return out
}

func nullable(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func nullableMicros(in Incident) any {
	if in.ResolvedAt == nil {
		return nil
	}
	return store.Micros(*in.ResolvedAt)
}

// insert writes a new incident with its systems (errUnknownSystem when one
// does not exist).
func (st *sqlStore) insert(ctx context.Context, tx *store.Tx, in Incident) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO incidents (id, title, description, status, severity, suppress_notifications, created_at, updated_at, resolved_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, in.ID, in.Title, nullable(in.Description), string(in.Status), string(in.Severity),
		in.SuppressNotifications, store.Micros(in.CreatedAt), store.Micros(in.UpdatedAt), nullableMicros(in))
	if err != nil {
		return fmt.Errorf("incident: insert: %w", err)
	}
	return st.setSystems(ctx, tx, in.ID, in.SystemIDs, nil)
}

// setSystems links the incident to systems; before, if not nil, receives
// what it had.
func (st *sqlStore) setSystems(ctx context.Context, tx *store.Tx, id string, systems []string, before *[]string) error {
	b, err := st.systems.Set(ctx, tx, id, systems)
	if store.IsForeignKeyViolation(err) {
		return errUnknownSystem
	}
	if err != nil {
		return err
	}
	if before != nil {
		*before = b
	}
	return nil
}

// save writes every column of in (read and changed in the same
// transaction).
func (st *sqlStore) save(ctx context.Context, tx *store.Tx, in Incident) error {
	_, err := tx.ExecContext(ctx, `UPDATE incidents SET title = ?, description = ?, status = ?, severity = ?, suppress_notifications = ?,
		updated_at = ?, resolved_at = ? WHERE id = ?`, in.Title, nullable(in.Description), string(in.Status), string(in.Severity),
		in.SuppressNotifications, store.Micros(in.UpdatedAt), nullableMicros(in), in.ID)
	if err != nil {
		return fmt.Errorf("incident: update %s: %w", in.ID, err)
	}
	return nil
}

// delete removes an incident (its links and timeline go with it).
func (st *sqlStore) delete(ctx context.Context, tx *store.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM incidents WHERE id = ?`, id); err != nil {
		return fmt.Errorf("incident: delete %s: %w", id, err)
	}
	return nil
}

var errUnknownSystem = errors.New("incident: unknown system")
