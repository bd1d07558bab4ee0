package maintenance

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/systemlink"
	"github.com/checkstack/checkstack/internal/timeline"
)

// sqlStore is the maintenance tables. It is the only code that reads them.
type sqlStore struct {
	db *store.Handle
	// clock runs the queries the clock polls with, counted apart
	// ("maintenance-clock") so that the reads' count is the reads'.
	clock   *store.Handle
	systems systemlink.Table
	updates timeline.Store
}

func newStore(db *store.DB) sqlStore {
	return sqlStore{
		db:      db.For("maintenance"),
		clock:   db.For("maintenance-clock"),
		systems: systemlink.Table{Name: "maintenance_systems", Parent: "maintenance_id"},
		updates: timeline.Store{Table: "maintenance_updates", Parent: "maintenance_id"},
	}
}

const columns = `m.id, m.title, m.description, m.status, m.start_at, m.end_at, m.suppress_notifications,
	m.recurrence_rule, m.recurrence_timezone, m.series_start_at, m.planned_at, m.started_at, m.ended_at, m.created_at, m.updated_at`

func scanWindow(row store.Scanner) (Window, error) {
	var w Window
	var start, end, series, planned, created, updated int64
	var started, ended sql.NullInt64
	var rule, tz string
	err := row.Scan(&w.ID, &w.Title, &w.Description, &w.Status, &start, &end, &w.SuppressNotifications,
		&rule, &tz, &series, &planned, &started, &ended, &created, &updated)
	if err != nil {
		return w, err
	}
	w.StartAt, w.EndAt, w.seriesStart = store.FromMicros(start), store.FromMicros(end), store.FromMicros(series)
	w.plannedAt = store.FromMicros(planned)
	w.StartedAt, w.EndedAt = timePtr(started), timePtr(ended)
	w.CreatedAt, w.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
	if rule != "" {
		w.Recurrence = &Recurrence{Rule: rule, Timezone: tz}
		w.SeriesStartAt = &w.seriesStart
	}
	w.SystemIDs = []string{}
	return w, nil
}

func (st *sqlStore) withSystems(ctx context.Context, q store.Queryer, ws []Window) ([]Window, error) {
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
	}
	systems, err := st.systems.Of(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	for i := range ws {
		ws[i].SystemIDs = systems[ws[i].ID]
	}
	return ws, nil
}

// list returns the windows matching f, latest start first.
func (st *sqlStore) list(ctx context.Context, f Filter) ([]Window, error) {
	where, args := "WHERE 1 = 1", []any{}
	if f.Status != "" {
		where += " AND m.status = ?"
		args = append(args, string(f.Status))
	}
	if f.SystemID != "" {
		where += " AND EXISTS (SELECT 1 FROM maintenance_systems s WHERE s.maintenance_id = m.id AND s.system_id = ?)"
		args = append(args, f.SystemID)
	}
	rows, err := st.db.QueryContext(ctx, `SELECT `+columns+` FROM maintenances m `+where+` ORDER BY m.start_at DESC, m.id DESC`, args...)
	ws, err := store.All(rows, err, scanWindow)
	if err == nil {
		ws, err = st.withSystems(ctx, st.db, ws)
	}
	if err != nil {
		return nil, fmt.Errorf("maintenance: list: %w", err)
	}
	return ws, nil
}

// openOf returns each system's scheduled and in-progress windows, soonest
// first; every id gets an entry.
func (st *sqlStore) openOf(ctx context.Context, systemIDs []string) (map[string][]Window, error) {
	out := make(map[string][]Window, len(systemIDs))
	for _, id := range systemIDs {
		out[id] = []Window{}
	}
	err := store.InChunks(systemIDs, func(ids []string) error {
		// CROSS JOIN makes SQLite start from the systems' links (PostgreSQL
		// plans it as any join): with a long IN list it would otherwise
		// walk every open window by its status index and probe each link.
		rows, err := st.db.QueryContext(ctx, `SELECT s.system_id, `+columns+` FROM maintenance_systems s CROSS JOIN maintenances m
			WHERE m.id = s.maintenance_id AND s.system_id IN (`+store.Placeholders(len(ids))+`) AND m.status IN ('scheduled', 'in_progress')`, store.Args(ids)...)
		var bySystem []string
		ws, err := store.All(rows, err, func(row store.Scanner) (Window, error) {
			var sys string
			w, err := scanWindow(prefixed{row, &sys})
			bySystem = append(bySystem, sys)
			return w, err
		})
		if err != nil {
			return err
		}
		if ws, err = st.withSystems(ctx, st.db, ws); err != nil {
			return err
		}
		for i, w := range ws {
			out[bySystem[i]] = append(out[bySystem[i]], w)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("maintenance: open windows of systems: %w", err)
	}
	// Sorted here: the query's plan is chosen for the lookup, not the order.
	for _, ws := range out {
		slices.SortFunc(ws, func(a, b Window) int { return cmp.Or(a.StartAt.Compare(b.StartAt), strings.Compare(a.ID, b.ID)) })
	}
	return out, nil
}

// prefixed scans one leading column into first, then the rest as row
// would.
type prefixed struct {
	row   store.Scanner
	first *string
}

func (p prefixed) Scan(dest ...any) error { return p.row.Scan(append([]any{p.first}, dest...)...) }

// get returns a window with its systems through q; with lock, inside a
// transaction on PostgreSQL, its row is held until the transaction ends
// (SQLite's write transactions hold the whole database).
func (st *sqlStore) get(ctx context.Context, q store.Executor, id string, lock bool) (Window, error) {
	suffix := ""
	if lock {
		suffix = store.ForUpdate(st.db)
	}
	w, err := scanWindow(q.QueryRowContext(ctx, `SELECT `+columns+` FROM maintenances m WHERE m.id = ?`+suffix, id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, ErrNotFound
	}
	if err != nil {
		return w, fmt.Errorf("maintenance: get %s: %w", id, err)
	}
	systems, err := st.systems.Of(ctx, q, []string{id})
	if err != nil {
		return w, err
	}
	w.SystemIDs = systems[id]
	return w, nil
}

func (st *sqlStore) detail(ctx context.Context, id string) (Detail, error) {
	w, err := st.get(ctx, st.db, id, false)
	if err != nil {
		return Detail{}, err
	}
	entries, err := st.updates.Of(ctx, st.db, []string{id})
	if err != nil {
		return Detail{}, err
	}
	us := make([]Update, len(entries[id]))
	for i, e := range entries[id] {
		us[i] = Update{MaintenanceID: id, Entry: e}
	}
	return Detail{Window: w, Updates: us}, nil
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := store.FromMicros(v.Int64)
	return &t
}

func micros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return store.Micros(*t)
}

func recurrenceArgs(w Window) (string, string) {
	if w.Recurrence == nil {
		return "", ""
	}
	return w.Recurrence.Rule, w.Recurrence.Timezone
}

// insert writes a new window with its systems (errUnknownSystem when one
// does not exist).
func (st *sqlStore) insert(ctx context.Context, tx *store.Tx, w Window) error {
	rule, tz := recurrenceArgs(w)
	_, err := tx.ExecContext(ctx, `INSERT INTO maintenances (id, title, description, status, start_at, end_at, suppress_notifications,
		recurrence_rule, recurrence_timezone, series_start_at, planned_at, started_at, ended_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID, w.Title, w.Description, string(w.Status), store.Micros(w.StartAt), store.Micros(w.EndAt), w.SuppressNotifications,
		rule, tz, store.Micros(w.seriesStart), store.Micros(w.plannedAt), micros(w.StartedAt), micros(w.EndedAt),
		store.Micros(w.CreatedAt), store.Micros(w.UpdatedAt))
	if err != nil {
		return fmt.Errorf("maintenance: insert: %w", err)
	}
	return st.setSystems(ctx, tx, w.ID, w.SystemIDs)
}

func (st *sqlStore) setSystems(ctx context.Context, tx *store.Tx, id string, systems []string) error {
	_, err := st.systems.Set(ctx, tx, id, systems)
	if store.IsForeignKeyViolation(err) {
		return errUnknownSystem
	}
	return err
}

// save writes every column of w, if its status is still from (read in
// the same transaction): errLost when another writer moved it first.
func (st *sqlStore) save(ctx context.Context, tx *store.Tx, w Window, from Status) error {
	rule, tz := recurrenceArgs(w)
	res, err := tx.ExecContext(ctx, `UPDATE maintenances SET title = ?, description = ?, status = ?, start_at = ?, end_at = ?,
		suppress_notifications = ?, recurrence_rule = ?, recurrence_timezone = ?, series_start_at = ?, planned_at = ?,
		started_at = ?, ended_at = ?, updated_at = ? WHERE id = ? AND status = ?`,
		w.Title, w.Description, string(w.Status), store.Micros(w.StartAt), store.Micros(w.EndAt), w.SuppressNotifications,
		rule, tz, store.Micros(w.seriesStart), store.Micros(w.plannedAt), micros(w.StartedAt), micros(w.EndedAt),
		store.Micros(w.UpdatedAt), w.ID, string(from))
	if err != nil {
		return fmt.Errorf("maintenance: update %s: %w", w.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errLost
	}
	return nil
}

func (st *sqlStore) delete(ctx context.Context, tx *store.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM maintenances WHERE id = ?`, id); err != nil {
		return fmt.Errorf("maintenance: delete %s: %w", id, err)
	}
	return nil
}

// Periods.

// openPeriod records that a window went in progress at at.
func (st *sqlStore) openPeriod(ctx context.Context, tx *store.Tx, id string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO maintenance_periods (id, maintenance_id, started_at) VALUES (?, ?, ?)`, rand.Text(), id, store.Micros(at))
	if err != nil {
		return fmt.Errorf("maintenance: open period of %s: %w", id, err)
	}
	return nil
}

// closePeriod ends a window's open period at at (never before it began).
func (st *sqlStore) closePeriod(ctx context.Context, tx *store.Tx, id string, at time.Time) error {
	us := store.Micros(at)
	_, err := tx.ExecContext(ctx, `UPDATE maintenance_periods SET ended_at = CASE WHEN started_at > ? THEN started_at ELSE ? END
		WHERE maintenance_id = ? AND ended_at IS NULL`, us, us, id)
	if err != nil {
		return fmt.Errorf("maintenance: close period of %s: %w", id, err)
	}
	return nil
}

// addPeriod records a whole period (an occurrence missed while no server
// ran).
func (st *sqlStore) addPeriod(ctx context.Context, tx *store.Tx, id string, from, to time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO maintenance_periods (id, maintenance_id, started_at, ended_at) VALUES (?, ?, ?, ?)`,
		rand.Text(), id, store.Micros(from), store.Micros(to))
	if err != nil {
		return fmt.Errorf("maintenance: add period of %s: %w", id, err)
	}
	return nil
}

// hasPeriods reports whether a window was ever in progress.
func (st *sqlStore) hasPeriods(ctx context.Context, q store.Executor, id string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM maintenance_periods WHERE maintenance_id = ?`, id).Scan(&n); err != nil {
		return false, fmt.Errorf("maintenance: periods of %s: %w", id, err)
	}
	return n > 0, nil
}

// periods returns, for each system, the periods of its windows that had
// not ended by since.
func (st *sqlStore) periods(ctx context.Context, systemIDs []string, since time.Time) (map[string][]Period, error) {
	out := make(map[string][]Period, len(systemIDs))
	err := store.InChunks(systemIDs, func(ids []string) error {
		args := append(store.Args(ids), store.Micros(since))
		rows, err := st.db.QueryContext(ctx, `SELECT s.system_id, p.started_at, p.ended_at FROM maintenance_periods p
			JOIN maintenance_systems s ON s.maintenance_id = p.maintenance_id
			WHERE s.system_id IN (`+store.Placeholders(len(ids))+`) AND (p.ended_at IS NULL OR p.ended_at > ?)
			ORDER BY p.started_at`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sys string
			var start int64
			var end sql.NullInt64
			if err := rows.Scan(&sys, &start, &end); err != nil {
				return err
			}
			p := Period{StartedAt: store.FromMicros(start)}
			if end.Valid {
				t := store.FromMicros(end.Int64)
				p.EndedAt = &t
			}
			out[sys] = append(out[sys], p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("maintenance: periods: %w", err)
	}
	return out, nil
}

// The clock.

// nextDue is the next instant a transition falls due: the earliest start
// of a scheduled window or end of one in progress.
func (st *sqlStore) nextDue(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	err := st.clock.QueryRowContext(ctx, `SELECT MIN(CASE WHEN status = 'scheduled' THEN start_at ELSE end_at END)
		FROM maintenances WHERE status IN ('scheduled', 'in_progress')`).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("maintenance: next due: %w", err)
	}
	return store.FromMicros(at.Int64), at.Valid, nil
}

// due lists the windows with a transition due at now.
func (st *sqlStore) due(ctx context.Context, now time.Time) ([]string, error) {
	us := store.Micros(now)
	ids, err := store.Strings(ctx, st.clock, `SELECT id FROM maintenances
		WHERE (status = 'scheduled' AND start_at <= ?) OR (status = 'in_progress' AND end_at <= ?) ORDER BY id`, us, us)
	if err != nil {
		return nil, fmt.Errorf("maintenance: due windows: %w", err)
	}
	return ids, nil
}

var (
	errUnknownSystem = errors.New("maintenance: unknown system")
	// errLost: another writer moved the window's status first.
	errLost = errors.New("maintenance: status moved meanwhile")
)
