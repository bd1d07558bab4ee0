package slo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/checkstack/checkstack/internal/store"
)

// sqlStore is the SLO tables. It is the only code that reads them.
type sqlStore struct {
	db *store.Handle
}

// Objectives.

const objectiveColumns = `id, system_id, name, description, target, window_days, dependency_mode, excluded_upstreams,
	configuration_id, maintenance, created_at, updated_at`

func scanObjective(row store.Scanner) (Objective, error) {
	var o Objective
	var mode, excluded string
	var created, updated int64
	err := row.Scan(&o.ID, &o.SystemID, &o.Name, &o.Description, &o.Target, &o.WindowDays, &mode, &excluded,
		&o.ConfigurationID, &o.Maintenance, &created, &updated)
	if err != nil {
		return o, err
	}
	o.Mode = Mode(mode)
	if err := json.Unmarshal([]byte(excluded), &o.ExcludedUpstreamIDs); err != nil {
		return o, fmt.Errorf("excluded upstreams of %s: %w", o.ID, err)
	}
	if o.ExcludedUpstreamIDs == nil {
		o.ExcludedUpstreamIDs = []string{}
	}
	o.CreatedAt, o.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
	return o, nil
}

func (st *sqlStore) objectives(ctx context.Context, q store.Queryer, where string, args ...any) ([]Objective, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+objectiveColumns+` FROM slo_objectives `+where+` ORDER BY name, id`, args...)
	os, err := store.All(rows, err, scanObjective)
	if err != nil {
		return nil, fmt.Errorf("slo: list objectives: %w", err)
	}
	return os, nil
}

func (st *sqlStore) allObjectives(ctx context.Context) ([]Objective, error) {
	return st.objectives(ctx, st.db, "")
}

// systemEvents reads what reconciling a system needs, through q: its
// objectives, its upstreams and their open events. With hold, inside a
// transaction on PostgreSQL, the objectives are held against moves and
// deletes until it ends (SQLite's transactions hold the whole database).
func (st *sqlStore) systemEvents(ctx context.Context, q store.Queryer, systemID string, hold bool) ([]Objective, []string, map[string]Event, error) {
	lock := ""
	if hold && st.db.Dialect() == store.Postgres {
		lock = " FOR SHARE"
	}
	rows, err := q.QueryContext(ctx, `SELECT `+objectiveColumns+` FROM slo_objectives WHERE system_id = ? ORDER BY name, id`+lock, systemID)
	objs, err := store.All(rows, err, scanObjective)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("slo: objectives of %s: %w", systemID, err)
	}
	if len(objs) == 0 {
		return nil, nil, nil, nil
	}
	ups, err := store.Strings(ctx, q, `SELECT upstream_id FROM slo_dependencies WHERE system_id = ? ORDER BY upstream_id`, systemID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("slo: upstreams of %s: %w", systemID, err)
	}
	ids := make([]string, len(objs))
	for i, o := range objs {
		ids[i] = o.ID
	}
	open, err := st.openEventsOf(ctx, q, ids)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("slo: open events of %s: %w", systemID, err)
	}
	return objs, ups, open, nil
}

// objectivesOf lists the objectives of each system (every id gets an
// entry, empty when it has none).
func (st *sqlStore) objectivesOf(ctx context.Context, systemIDs []string) (map[string][]Objective, error) {
	out := make(map[string][]Objective, len(systemIDs))
	for _, id := range systemIDs {
		out[id] = []Objective{}
	}
	err := store.InChunks(systemIDs, func(ids []string) error {
		os, err := st.objectives(ctx, st.db, `WHERE system_id IN (`+store.Placeholders(len(ids))+`)`, store.Args(ids)...)
		for _, o := range os {
			out[o.SystemID] = append(out[o.SystemID], o)
		}
		return err
	})
	return out, err
}

func (st *sqlStore) objective(ctx context.Context, id string) (Objective, error) {
	return readObjective(ctx, st.db, id, "")
}

// readObjective reads an objective through q, the query ending with lock
// ("" or store.ForUpdate).
func readObjective(ctx context.Context, q store.Executor, id, lock string) (Objective, error) {
	o, err := scanObjective(q.QueryRowContext(ctx, `SELECT `+objectiveColumns+` FROM slo_objectives WHERE id = ?`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return o, ErrNotFound
	}
	if err != nil {
		return o, fmt.Errorf("slo: get objective %s: %w", id, err)
	}
	return o, nil
}

func objectiveArgs(o Objective) []any {
	excluded, _ := json.Marshal(o.ExcludedUpstreamIDs) // a []string always encodes
	return []any{o.ID, o.SystemID, o.Name, o.Description, o.Target, o.WindowDays, string(o.Mode), string(excluded),
		o.ConfigurationID, string(o.Maintenance), store.Micros(o.CreatedAt), store.Micros(o.UpdatedAt)}
}

// createObjective inserts o; ErrNotFound when its system does not exist.
func (st *sqlStore) createObjective(ctx context.Context, o Objective) error {
	_, err := st.db.ExecContext(ctx, `INSERT INTO slo_objectives (`+objectiveColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, objectiveArgs(o)...)
	if store.IsForeignKeyViolation(err) {
		return errUnknownSystem
	}
	if err != nil {
		return fmt.Errorf("slo: create objective: %w", err)
	}
	return nil
}

// updateObjective changes an objective in one transaction: it reads the
// objective holding its row until the transaction ends, passes it to
// change, which sets and checks the fields (its error is returned and
// nothing is written), and writes what change returned. It returns the
// objective as it was and as written; ErrNotFound when there is none,
// errUnknownSystem when it moves to a system that does not exist.
func (st *sqlStore) updateObjective(ctx context.Context, id string, change func(Objective) (Objective, error)) (was, o Objective, err error) {
	err = st.db.InTx(ctx, func(tx *store.Tx) error {
		stored, err := readObjective(ctx, tx, id, store.ForUpdate(tx))
		if err != nil {
			return err
		}
		was = stored
		if o, err = change(stored); err != nil {
			return err
		}
		excluded, _ := json.Marshal(o.ExcludedUpstreamIDs) // a []string always encodes
		res, err := tx.ExecContext(ctx, `UPDATE slo_objectives SET system_id = ?, name = ?, description = ?, target = ?,
			window_days = ?, dependency_mode = ?, excluded_upstreams = ?, configuration_id = ?, maintenance = ?, updated_at = ?
			WHERE id = ?`,
			o.SystemID, o.Name, o.Description, o.Target, o.WindowDays, string(o.Mode), string(excluded), o.ConfigurationID,
			string(o.Maintenance), store.Micros(o.UpdatedAt), o.ID)
		if store.IsForeignKeyViolation(err) {
			return errUnknownSystem
		}
		return affected(res, err, "update objective "+o.ID)
	})
	return was, o, err
}

// deleteObjective deletes an objective with its events, and returns the
// system it was on.
func (st *sqlStore) deleteObjective(ctx context.Context, id string) (string, error) {
	var systemID string
	err := st.db.QueryRowContext(ctx, `DELETE FROM slo_objectives WHERE id = ? RETURNING system_id`, id).Scan(&systemID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("slo: delete objective %s: %w", id, err)
	}
	return systemID, nil
}

// alertState is what was last announced of an objective's alerts.
type alertState struct {
	level     string
	breaching bool
}

// alertStates reads the alert state of each objective that exists.
func (st *sqlStore) alertStates(ctx context.Context, ids []string) (map[string]alertState, error) {
	out := make(map[string]alertState, len(ids))
	err := store.InChunks(ids, func(part []string) error {
		rows, err := st.db.QueryContext(ctx, `SELECT id, alert_state, breaching FROM slo_objectives WHERE id IN (`+store.Placeholders(len(part))+`)`, store.Args(part)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var a alertState
			if err := rows.Scan(&id, &a.level, &a.breaching); err != nil {
				return err
			}
			out[id] = a
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("slo: alert states: %w", err)
	}
	return out, nil
}

// moveAlertState records a new alert state if the stored one is still
// (fromAlert, fromBreaching); it reports whether it did, so that of
// several instances evaluating at once exactly one announces the change.
func (st *sqlStore) moveAlertState(ctx context.Context, id, fromAlert string, fromBreaching bool, toAlert string, toBreaching bool) (bool, error) {
	res, err := st.db.ExecContext(ctx, `UPDATE slo_objectives SET alert_state = ?, breaching = ?
		WHERE id = ? AND alert_state = ? AND breaching = ?`, toAlert, toBreaching, id, fromAlert, fromBreaching)
	if err != nil {
		return false, fmt.Errorf("slo: alert state of %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Events.

const eventColumns = `id, objective_id, system_id, started_at, ended_at, attribution, upstream_id, upstream_name`

func scanEvent(row store.Scanner) (Event, error) {
	var e Event
	var started int64
	var ended sql.NullInt64
	var attribution string
	if err := row.Scan(&e.ID, &e.ObjectiveID, &e.SystemID, &started, &ended, &attribution, &e.UpstreamID, &e.UpstreamName); err != nil {
		return e, err
	}
	e.StartedAt, e.Attribution = store.FromMicros(started), Attribution(attribution)
	if ended.Valid {
		t := store.FromMicros(ended.Int64)
		e.EndedAt = &t
	}
	return e, nil
}

func (st *sqlStore) queryEvents(ctx context.Context, q store.Queryer, query string, args ...any) ([]Event, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	es, err := store.All(rows, err, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("slo: events: %w", err)
	}
	return es, nil
}

// eventsSince returns, per objective, the events still going on or ended
// after since.
func (st *sqlStore) eventsSince(ctx context.Context, objectiveIDs []string, since time.Time) (map[string][]Event, error) {
	out := make(map[string][]Event, len(objectiveIDs))
	err := store.InChunks(objectiveIDs, func(ids []string) error {
		es, err := st.queryEvents(ctx, st.db, `SELECT `+eventColumns+` FROM slo_downtime_events
			WHERE objective_id IN (`+store.Placeholders(len(ids))+`) AND (ended_at IS NULL OR ended_at > ?)`,
			append(store.Args(ids), store.Micros(since))...)
		for _, e := range es {
			out[e.ObjectiveID] = append(out[e.ObjectiveID], e)
		}
		return err
	})
	return out, err
}

// eventsPage lists an objective's events that overlap [from, to), newest
// first.
func (st *sqlStore) eventsPage(ctx context.Context, objectiveID string, from, to time.Time, limit int) ([]Event, error) {
	return st.queryEvents(ctx, st.db, `SELECT `+eventColumns+` FROM slo_downtime_events
		WHERE objective_id = ? AND started_at < ? AND (ended_at IS NULL OR ended_at > ?)
		ORDER BY started_at DESC, id DESC LIMIT ?`, objectiveID, store.Micros(to), store.Micros(from), limit)
}

// openEventsOf returns the open event of each of the objectives that has
// one, read through q (the handle, or a transaction).
func (st *sqlStore) openEventsOf(ctx context.Context, q store.Queryer, objectiveIDs []string) (map[string]Event, error) {
	out := map[string]Event{}
	err := store.InChunks(objectiveIDs, func(ids []string) error {
		es, err := st.queryEvents(ctx, q, `SELECT `+eventColumns+` FROM slo_downtime_events
			WHERE ended_at IS NULL AND objective_id IN (`+store.Placeholders(len(ids))+`)`, store.Args(ids)...)
		for _, e := range es {
			out[e.ObjectiveID] = e
		}
		return err
	})
	return out, err
}

// closeEvent ends an open event at t. errConflict when it is not open any
// more: another instance got there first.
func closeEvent(ctx context.Context, tx *store.Tx, id string, t time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE slo_downtime_events SET ended_at = ? WHERE id = ? AND ended_at IS NULL`, store.Micros(t), id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errors.Join(err, errConflict)
	}
	return nil
}

// openEvent inserts an open event. errConflict when the objective has an
// open event already (the unique index on open events).
func openEvent(ctx context.Context, tx *store.Tx, e Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO slo_downtime_events (`+eventColumns+`) VALUES (?, ?, ?, ?, NULL, ?, ?, ?)`,
		e.ID, e.ObjectiveID, e.SystemID, store.Micros(e.StartedAt), string(e.Attribution), e.UpstreamID, e.UpstreamName)
	if store.IsUniqueViolation(err) {
		return errConflict
	}
	if store.IsForeignKeyViolation(err) {
		return errConflict // the objective was deleted meanwhile
	}
	return err
}

// allUpstreams returns each system's upstreams, by id.
func (st *sqlStore) allUpstreams(ctx context.Context) (map[string][]string, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT system_id, upstream_id FROM slo_dependencies ORDER BY system_id, upstream_id`)
	if err != nil {
		return nil, fmt.Errorf("slo: dependencies: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var s, u string
		if err := rows.Scan(&s, &u); err != nil {
			return nil, fmt.Errorf("slo: dependencies: %w", err)
		}
		out[s] = append(out[s], u)
	}
	return out, rows.Err()
}

// purgeEvents deletes events that ended before cutoff.
func (st *sqlStore) purgeEvents(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := st.db.ExecContext(ctx, `DELETE FROM slo_downtime_events WHERE ended_at IS NOT NULL AND ended_at < ?`, store.Micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("slo: purge events: %w", err)
	}
	return res.RowsAffected()
}

// Dependencies.

func (st *sqlStore) dependencies(ctx context.Context, systemID string) (Dependencies, error) {
	d := Dependencies{Upstream: []Dependency{}, Downstream: []Dependency{}}
	rows, err := st.db.QueryContext(ctx, `SELECT system_id, upstream_id, created_at FROM slo_dependencies
		WHERE system_id = ? OR upstream_id = ? ORDER BY system_id, upstream_id`, systemID, systemID)
	if err != nil {
		return d, fmt.Errorf("slo: dependencies of %s: %w", systemID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var dep Dependency
		var created int64
		if err := rows.Scan(&dep.SystemID, &dep.UpstreamID, &created); err != nil {
			return d, fmt.Errorf("slo: dependencies of %s: %w", systemID, err)
		}
		dep.CreatedAt = store.FromMicros(created)
		if dep.SystemID == systemID {
			d.Upstream = append(d.Upstream, dep)
		} else {
			d.Downstream = append(d.Downstream, dep)
		}
	}
	return d, rows.Err()
}

// downstreams lists the systems that depend on systemID.
func (st *sqlStore) downstreams(ctx context.Context, systemID string) ([]string, error) {
	ids, err := store.Strings(ctx, st.db, `SELECT system_id FROM slo_dependencies WHERE upstream_id = ? ORDER BY system_id`, systemID)
	if err != nil {
		return nil, fmt.Errorf("slo: downstreams of %s: %w", systemID, err)
	}
	return ids, nil
}

// addDependency links systemID to upstreamID unless that would close a
// cycle (ErrCycle). The check and the insert are one transaction that
// holds every other dependency writer off, so two links added at once
// cannot close a cycle between them. errUnknownSystem for a system that
// does not exist; adding a link twice is fine.
func (st *sqlStore) addDependency(ctx context.Context, systemID, upstreamID string, at time.Time) error {
	err := st.db.InTx(ctx, func(tx *store.Tx) error {
		if tx.Dialect() == store.Postgres {
			// One dependency writer at a time, by a transaction-scoped
			// advisory lock (a table lock would deadlock with a system's
			// deletion cascading into the table). SQLite's transactions
			// take the write lock as they begin.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, dependencyLock); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT system_id, upstream_id FROM slo_dependencies`)
		if err != nil {
			return err
		}
		up := map[string][]string{}
		for rows.Next() {
			var s, u string
			if err := rows.Scan(&s, &u); err != nil {
				rows.Close()
				return err
			}
			up[s] = append(up[s], u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if reaches(up, upstreamID, systemID) {
			return ErrCycle
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO slo_dependencies (system_id, upstream_id, created_at) VALUES (?, ?, ?)
			ON CONFLICT (system_id, upstream_id) DO NOTHING`, systemID, upstreamID, store.Micros(at))
		if store.IsForeignKeyViolation(err) {
			return errUnknownSystem
		}
		return err
	})
	if err != nil && !errors.Is(err, ErrCycle) && !errors.Is(err, errUnknownSystem) {
		return fmt.Errorf("slo: add dependency %s → %s: %w", systemID, upstreamID, err)
	}
	return err
}

// dependencyLock is the PostgreSQL advisory lock key that serialises
// dependency writers ("slodeps" in ASCII).
const dependencyLock int64 = 0x736c6f64657073

// reaches reports whether to can be reached from from by following
// upstream links (from itself included).
func reaches(up map[string][]string, from, to string) bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == to {
			return true
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		stack = append(stack, up[n]...)
	}
	return false
}

func (st *sqlStore) removeDependency(ctx context.Context, systemID, upstreamID string) error {
	res, err := st.db.ExecContext(ctx, `DELETE FROM slo_dependencies WHERE system_id = ? AND upstream_id = ?`, systemID, upstreamID)
	return affected(res, err, "remove dependency")
}

func affected(res sql.Result, err error, op string) error {
	if err != nil {
		return fmt.Errorf("slo: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("slo: %s: %w", op, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

var (
	// errConflict: another writer changed an objective's open event while
	// this one reconciled it; reconcile again.
	errConflict = errors.New("slo: concurrent change of downtime events")
	// errUnknownSystem: a system named in the input does not exist.
	errUnknownSystem = errors.New("slo: unknown system")
	// errMoved: the objective's system or check changed between the
	// health read that checked them and the update's transaction.
	errMoved = errors.New("slo: objective moved meanwhile")
)
