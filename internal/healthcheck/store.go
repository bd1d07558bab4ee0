package healthcheck

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/checkstack/checkstack/internal/probe"
	"github.com/checkstack/checkstack/internal/store"
)

// sqlStore is the health check tables; the only code that reads them.
type sqlStore struct {
	db *store.Handle
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := store.FromMicros(v.Int64)
	return &t
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Configurations.

// configColumnsOf lists a configuration's columns, in scanConfig's order,
// qualified by alias ("" or "c.").
func configColumnsOf(alias string) string {
	a := alias
	return a + "id, " + a + "name, " + a + "strategy, " + a + "config, " + a + "interval_seconds, " + a + "timeout_seconds, " +
		a + "enabled, COALESCE(" + a + "satellite_id, ''), " + a + "last_run_at, " + a + "created_at, " + a + "updated_at"
}

var configColumns = configColumnsOf("")

func scanConfig(row store.Scanner) (Configuration, error) {
	var c Configuration
	var conf string
	var last sql.NullInt64
	var created, updated int64
	err := row.Scan(&c.ID, &c.Name, &c.Strategy, &conf, &c.IntervalSeconds, &c.TimeoutSeconds, &c.Enabled, &c.SatelliteID, &last, &created, &updated)
	c.Config = json.RawMessage(conf)
	c.LastRunAt = timePtr(last)
	c.CreatedAt, c.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
	return c, err
}

func (st *sqlStore) configurations(ctx context.Context, where string, args ...any) ([]Configuration, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT `+configColumns+` FROM healthcheck_configurations `+where+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("healthcheck: list configurations: %w", err)
	}
	defer rows.Close()
	out := []Configuration{}
	for rows.Next() {
		c, err := scanConfig(rows)
		if err != nil {
			return nil, fmt.Errorf("healthcheck: list configurations: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (st *sqlStore) configuration(ctx context.Context, id string) (Configuration, error) {
	return readConfiguration(ctx, st.db, id, "")
}

// readConfiguration reads a configuration through q, the query ending
// with lock ("" or store.ForUpdate).
func readConfiguration(ctx context.Context, q store.Executor, id, lock string) (Configuration, error) {
	c, err := scanConfig(q.QueryRowContext(ctx, `SELECT `+configColumns+` FROM healthcheck_configurations WHERE id = ?`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("healthcheck: get configuration %s: %w", id, err)
	}
	return c, nil
}

func (st *sqlStore) createConfiguration(ctx context.Context, c Configuration) error {
	_, err := st.db.ExecContext(ctx, `INSERT INTO healthcheck_configurations
		(id, name, strategy, config, interval_seconds, timeout_seconds, enabled, satellite_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.Strategy, string(c.Config), c.IntervalSeconds, c.TimeoutSeconds, c.Enabled, nullString(c.SatelliteID),
		store.Micros(c.CreatedAt), store.Micros(c.UpdatedAt))
	if store.IsForeignKeyViolation(err) {
		return ErrNotFound // the satellite
	}
	if err != nil {
		return fmt.Errorf("healthcheck: create configuration: %w", err)
	}
	return nil
}

// updateConfiguration changes a configuration in one transaction: it
// reads the configuration holding its row until the transaction ends,
// passes it to change, which sets and checks the fields (its error is
// returned and nothing is written), writes what change returned, and
// reads the systems associated with it. So of two updates at once the
// second reads, and is checked against, what the first wrote.
func (st *sqlStore) updateConfiguration(ctx context.Context, id string, change func(Configuration) (Configuration, error)) (c Configuration, systems []string, err error) {
	err = st.db.InTx(ctx, func(tx *store.Tx) error {
		stored, err := readConfiguration(ctx, tx, id, store.ForUpdate(tx))
		if err != nil {
			return err
		}
		if c, err = change(stored); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE healthcheck_configurations SET name = ?, strategy = ?, config = ?,
			interval_seconds = ?, timeout_seconds = ?, enabled = ?, satellite_id = ?, updated_at = ? WHERE id = ?`,
			c.Name, c.Strategy, string(c.Config), c.IntervalSeconds, c.TimeoutSeconds, c.Enabled, nullString(c.SatelliteID),
			store.Micros(c.UpdatedAt), c.ID)
		if store.IsForeignKeyViolation(err) {
			return ErrNotFound
		}
		if err := affected(res, err, "update configuration "+c.ID); err != nil {
			return err
		}
		systems, err = st.systemsOf(ctx, tx, c.ID)
		return err
	})
	return c, systems, err
}

// deleteConfiguration deletes a configuration and returns the systems it
// was associated with (the cascade removes the associations), read in the
// same transaction after locking the configuration's row, so that no
// association can be added in between.
func (st *sqlStore) deleteConfiguration(ctx context.Context, id string) (systems []string, err error) {
	err = st.db.InTx(ctx, func(tx *store.Tx) error {
		if err := lockConfiguration(ctx, tx, id); err != nil {
			return err
		}
		systems, err = st.systemsOf(ctx, tx, id)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM healthcheck_configurations WHERE id = ?`, id)
		return affected(res, err, "delete configuration "+id)
	})
	return systems, err
}

// lockConfiguration locks a configuration's row until the transaction
// ends. SQLite's write transactions are serialised already; PostgreSQL
// needs the row lock, which also stops a concurrent association (its
// foreign key check waits for it).
func lockConfiguration(ctx context.Context, tx *store.Tx, id string) error {
	if tx.Dialect() != store.Postgres {
		return nil
	}
	var got string
	err := tx.QueryRowContext(ctx, `SELECT id FROM healthcheck_configurations WHERE id = ? FOR UPDATE`, id).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// Associations.

// systemsOf lists the systems associated with a configuration.
func (st *sqlStore) systemsOf(ctx context.Context, tx *store.Tx, configurationID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT system_id FROM healthcheck_associations WHERE configuration_id = ? ORDER BY system_id`, configurationID)
	if err != nil {
		return nil, fmt.Errorf("healthcheck: systems of %s: %w", configurationID, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// associate creates or updates an association; a new one starts unknown.
func (st *sqlStore) associate(ctx context.Context, a Association) error {
	th, _ := json.Marshal(a.Thresholds)
	return st.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE healthcheck_associations SET enabled = ?, thresholds = ? WHERE system_id = ? AND configuration_id = ?`,
			a.Enabled, string(th), a.SystemID, a.ConfigurationID)
		if err != nil {
			return fmt.Errorf("healthcheck: associate: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO healthcheck_associations (system_id, configuration_id, enabled, thresholds, status, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, a.SystemID, a.ConfigurationID, a.Enabled, string(th), string(Unknown), store.Micros(a.CreatedAt))
		if store.IsForeignKeyViolation(err) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("healthcheck: associate: %w", err)
		}
		return nil
	})
}

func (st *sqlStore) disassociate(ctx context.Context, systemID, configurationID string) error {
	res, err := st.db.ExecContext(ctx, `DELETE FROM healthcheck_associations WHERE system_id = ? AND configuration_id = ?`, systemID, configurationID)
	return affected(res, err, "disassociate")
}

const assocColumns = `a.system_id, a.configuration_id, a.enabled, a.thresholds, a.status, a.consecutive_failures,
	a.consecutive_successes, a.recent, a.last_run_at, a.last_run_status, a.last_message, a.last_latency_us, a.created_at`

func scanAssociation(row store.Scanner, extra ...any) (Association, error) {
	var a Association
	var th, status string
	var last sql.NullInt64
	var latency, created int64
	dest := append([]any{&a.SystemID, &a.ConfigurationID, &a.Enabled, &th, &status, &a.state.Failures, &a.state.Successes,
		&a.state.Recent, &last, &a.LastRunStatus, &a.LastMessage, &latency, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(th), &a.Thresholds); err != nil {
		return a, fmt.Errorf("thresholds of %s/%s: %w", a.SystemID, a.ConfigurationID, err)
	}
	a.Status = Status(status)
	a.state.Status = a.Status
	a.LastRunAt = timePtr(last)
	a.LastLatencyMs = float64(latency) / 1000
	a.CreatedAt = store.FromMicros(created)
	return a, nil
}

// systemAssociations lists a system's associations with their
// configurations.
func (st *sqlStore) systemAssociations(ctx context.Context, systemID string) ([]Association, []Configuration, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT `+assocColumns+`, `+configColumnsOf("c.")+`
		FROM healthcheck_associations a JOIN healthcheck_configurations c ON c.id = a.configuration_id
		WHERE a.system_id = ? ORDER BY c.name, c.id`, systemID)
	if err != nil {
		return nil, nil, fmt.Errorf("healthcheck: associations of %s: %w", systemID, err)
	}
	defer rows.Close()
	var as []Association
	var cs []Configuration
	for rows.Next() {
		var c Configuration
		var conf string
		var last sql.NullInt64
		var created, updated int64
		a, err := scanAssociation(rows, &c.ID, &c.Name, &c.Strategy, &conf, &c.IntervalSeconds, &c.TimeoutSeconds, &c.Enabled,
			&c.SatelliteID, &last, &created, &updated)
		if err != nil {
			return nil, nil, fmt.Errorf("healthcheck: associations of %s: %w", systemID, err)
		}
		c.Config, c.LastRunAt = json.RawMessage(conf), timePtr(last)
		c.CreatedAt, c.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
		as = append(as, a)
		cs = append(cs, c)
	}
	return as, cs, rows.Err()
}

// allAssociations lists every association; Enabled is the association's
// and its configuration's flag together.
func (st *sqlStore) allAssociations(ctx context.Context) ([]Association, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT a.system_id, a.configuration_id, a.enabled AND c.enabled
		FROM healthcheck_associations a JOIN healthcheck_configurations c ON c.id = a.configuration_id
		ORDER BY a.system_id, a.configuration_id`)
	out, err := store.All(rows, err, func(row store.Scanner) (Association, error) {
		var a Association
		return a, row.Scan(&a.SystemID, &a.ConfigurationID, &a.Enabled)
	})
	if err != nil {
		return nil, fmt.Errorf("healthcheck: associations: %w", err)
	}
	return out, nil
}

// runsSince lists a configuration's runs from since on, oldest first.
func (st *sqlStore) runsSince(ctx context.Context, configurationID string, since time.Time) ([]Run, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT id, configuration_id, status, latency_us, message, details, source, started_at
		FROM healthcheck_runs WHERE configuration_id = ? AND started_at >= ? ORDER BY started_at, id`, configurationID, store.Micros(since))
	out, err := store.All(rows, err, func(row store.Scanner) (Run, error) {
		var r Run
		var status, details string
		var latency, started int64
		err := row.Scan(&r.ID, &r.ConfigurationID, &status, &latency, &r.Message, &details, &r.Source, &started)
		r.Status, r.LatencyMs, r.Details, r.StartedAt = Status(status), float64(latency)/1000, json.RawMessage(details), store.FromMicros(started)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("healthcheck: runs of %s: %w", configurationID, err)
	}
	return out, nil
}

// statuses reads the health of each system in one query per chunk of
// ids: every association's state, joined with its configuration.
func (st *sqlStore) statuses(ctx context.Context, systemIDs []string) (map[string]SystemStatus, error) {
	out := make(map[string]SystemStatus, len(systemIDs))
	for _, id := range systemIDs {
		out[id] = SystemStatus{SystemID: id, Status: Unknown, Checks: []CheckStatus{}}
	}
	announced := make(map[string]announcement, len(systemIDs))
	for start := 0; start < len(systemIDs); start += store.ChunkSize {
		chunk := systemIDs[start:min(start+store.ChunkSize, len(systemIDs))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := st.db.QueryContext(ctx, `SELECT a.system_id, a.configuration_id, c.name, c.strategy, a.enabled AND c.enabled,
				a.status, a.last_run_at, a.last_message, a.last_latency_us, COALESCE(ss.status, ''), ss.changed_at
			FROM healthcheck_associations a JOIN healthcheck_configurations c ON c.id = a.configuration_id
				LEFT JOIN healthcheck_system_status ss ON ss.system_id = a.system_id
			WHERE a.system_id IN (`+store.Placeholders(len(chunk))+`) ORDER BY a.system_id, c.name, c.id`, args...)
		if err != nil {
			return nil, fmt.Errorf("healthcheck: statuses: %w", err)
		}
		for rows.Next() {
			var sys, status, announcedStatus string
			var c CheckStatus
			var last, changed sql.NullInt64
			var latency int64
			if err := rows.Scan(&sys, &c.ConfigurationID, &c.Name, &c.Strategy, &c.Enabled, &status, &last, &c.LastMessage, &latency,
				&announcedStatus, &changed); err != nil {
				rows.Close()
				return nil, fmt.Errorf("healthcheck: statuses: %w", err)
			}
			c.Status, c.LastRunAt, c.LastLatencyMs = Status(status), timePtr(last), float64(latency)/1000
			s := out[sys]
			s.Checks = append(s.Checks, c)
			announced[sys] = announcement{Status(announcedStatus), timePtr(changed)}
			out[sys] = s
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	for id, s := range out {
		s.Status = aggregate(s.Checks)
		if a := announced[id]; a.status == s.Status {
			s.Since = a.at
		}
		out[id] = s
	}
	return out, nil
}

// announcement is the status last announced for a system, and when.
type announcement struct {
	status Status
	at     *time.Time
}

// Runs.

// recordRun stores a run, adds it to its hour, and applies it to every
// association of its configuration, in one transaction. It returns the
// systems whose association state changed and the checks whose status
// moved, or ErrDuplicate when a run with that id was recorded before
// (satellite ingest is idempotent).
func (st *sqlStore) recordRun(ctx context.Context, r Run) (systems []string, changes []CheckChange, err error) {
	err = st.db.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM healthcheck_runs WHERE id = ?`, r.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errDuplicate
		}
		latency := int64(r.LatencyMs * 1000)
		details := string(r.Details)
		if details == "" {
			details = "{}"
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO healthcheck_runs (id, configuration_id, status, latency_us, message, details, source, started_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.ConfigurationID, string(r.Status), latency, r.Message, details, r.Source, store.Micros(r.StartedAt))
		if store.IsForeignKeyViolation(err) {
			return ErrNotFound // the configuration was deleted meanwhile
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE healthcheck_configurations SET last_run_at = ? WHERE id = ? AND (last_run_at IS NULL OR last_run_at < ?)`,
			store.Micros(r.StartedAt), r.ConfigurationID, store.Micros(r.StartedAt)); err != nil {
			return err
		}
		if err := addToHour(ctx, tx, r, latency); err != nil {
			return err
		}
		systems, changes, err = applyToAssociations(ctx, tx, r, latency)
		return err
	})
	if err != nil && !errors.Is(err, errDuplicate) && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("healthcheck: record run %s: %w", r.ID, err)
	}
	return systems, changes, err
}

var errDuplicate = errors.New("healthcheck: run already recorded")

// applyToAssociations applies run r to the check state of each system the
// configuration is associated with, and returns the systems and the state
// changes. The rows are read held (store.ForUpdate) until the transaction
// ends, so that runs recorded at once by several instances apply one after
// the other, each to the state the other left, and a change is reported
// by the one run that made it (TestRunsRecordedAtOnceByTwoInstancesAreBothApplied).
func applyToAssociations(ctx context.Context, tx *store.Tx, r Run, latency int64) ([]string, []CheckChange, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+assocColumns+` FROM healthcheck_associations a WHERE a.configuration_id = ?`+store.ForUpdate(tx), r.ConfigurationID)
	if err != nil {
		return nil, nil, err
	}
	var as []Association
	for rows.Next() {
		a, err := scanAssociation(rows)
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		as = append(as, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	systems := make([]string, 0, len(as))
	var changes []CheckChange
	for _, a := range as {
		if a.LastRunAt != nil && a.LastRunAt.After(r.StartedAt) {
			continue // an older run arriving late (a satellite's buffer) does not rewrite the state
		}
		st := a.Thresholds.apply(a.state, probe.Status(r.Status))
		if _, err := tx.ExecContext(ctx, `UPDATE healthcheck_associations SET status = ?, consecutive_failures = ?, consecutive_successes = ?,
				recent = ?, last_run_at = ?, last_run_status = ?, last_message = ?, last_latency_us = ?
				WHERE system_id = ? AND configuration_id = ?`,
			string(st.Status), st.Failures, st.Successes, st.Recent, store.Micros(r.StartedAt), string(r.Status), r.Message, latency,
			a.SystemID, a.ConfigurationID); err != nil {
			return nil, nil, err
		}
		systems = append(systems, a.SystemID)
		if st.Status != a.Status {
			changes = append(changes, CheckChange{SystemID: a.SystemID, ConfigurationID: a.ConfigurationID, Previous: a.Status, New: st.Status})
		}
	}
	return systems, changes, nil
}

// lastAnnounced returns the status last announced for a system (unknown if
// none).
func (st *sqlStore) lastAnnounced(ctx context.Context, systemID string) (Status, error) {
	var s string
	err := st.db.QueryRowContext(ctx, `SELECT status FROM healthcheck_system_status WHERE system_id = ?`, systemID).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return Unknown, nil
	}
	return Status(s), err
}

// transition records that systemID's announced status went from prev to
// next, if it still was prev: a compare-and-set, so that of instances
// settling one system at once only the one whose write changed the row
// announces (prev Unknown also covers a system never announced, whose row
// does not exist yet). It reports whether this call made the change.
func (st *sqlStore) transition(ctx context.Context, systemID string, prev, next Status, at time.Time) (bool, error) {
	res, err := st.db.ExecContext(ctx, `UPDATE healthcheck_system_status SET status = ?, changed_at = ? WHERE system_id = ? AND status = ?`,
		string(next), store.Micros(at), systemID, string(prev))
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n > 0 || prev != Unknown {
		return n > 0, nil
	}
	res, err = st.db.ExecContext(ctx, `INSERT INTO healthcheck_system_status (system_id, status, changed_at) VALUES (?, ?, ?)
		ON CONFLICT (system_id) DO NOTHING`, systemID, string(next), store.Micros(at))
	if store.IsForeignKeyViolation(err) {
		return false, nil // the system was deleted meanwhile
	}
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

func affected(res sql.Result, err error, op string) error {
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", op, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
