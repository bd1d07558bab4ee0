package anomaly

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/checkstack/checkstack/internal/store"
)

// sqlStore is the anomaly tables. It is the only code that reads them.
type sqlStore struct {
	db *store.Handle
}

// Settings.

func (st *sqlStore) settings(ctx context.Context, q store.Queryer, table, where string, args ...any) (Settings, error) {
	rows, err := q.QueryContext(ctx, `SELECT config FROM `+table+` WHERE `+where, args...)
	raws, err := store.All(rows, err, func(row store.Scanner) (string, error) {
		var s string
		return s, row.Scan(&s)
	})
	if err != nil || len(raws) == 0 {
		return Settings{}, err
	}
	var s Settings
	if err := json.Unmarshal([]byte(raws[0]), &s); err != nil {
		return Settings{}, fmt.Errorf("anomaly: decode settings: %w", err)
	}
	return s, nil
}

func (st *sqlStore) checkSettings(ctx context.Context, configID string) (Settings, error) {
	return st.settings(ctx, st.db, "anomaly_configs", "configuration_id = ?", configID)
}

func (st *sqlStore) assignmentSettings(ctx context.Context, systemID, configID string) (Settings, error) {
	return st.settings(ctx, st.db, "anomaly_assignment_configs", "system_id = ? AND configuration_id = ?", systemID, configID)
}

// putCheckSettings stores a check's settings (errUnknown when the check
// does not exist).
func (st *sqlStore) putCheckSettings(ctx context.Context, configID string, s Settings, now time.Time) error {
	raw, _ := json.Marshal(s) // settings always encode
	_, err := st.db.ExecContext(ctx, `INSERT INTO anomaly_configs (configuration_id, config, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (configuration_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
		configID, string(raw), store.Micros(now))
	return unknownOr(err, "put settings")
}

func (st *sqlStore) putAssignmentSettings(ctx context.Context, systemID, configID string, s Settings, now time.Time) error {
	raw, _ := json.Marshal(s) // settings always encode
	_, err := st.db.ExecContext(ctx, `INSERT INTO anomaly_assignment_configs (system_id, configuration_id, config, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (system_id, configuration_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
		systemID, configID, string(raw), store.Micros(now))
	return unknownOr(err, "put assignment settings")
}

func unknownOr(err error, op string) error {
	if store.IsForeignKeyViolation(err) {
		return errUnknown
	}
	if err != nil {
		return fmt.Errorf("anomaly: %s: %w", op, err)
	}
	return nil
}

// errUnknown: the system or check a write names does not exist.
var errUnknown = errors.New("anomaly: unknown system or check")

// Baselines.

func (st *sqlStore) baselines(ctx context.Context, systemID, configID string) ([]Baseline, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT system_id, configuration_id, field, samples, mean, std_dev, slope_per_hour, median, spread,
		trend_spread, window_days, computed_at FROM anomaly_baselines WHERE system_id = ? AND configuration_id = ? ORDER BY field`, systemID, configID)
	out, err := store.All(rows, err, func(row store.Scanner) (Baseline, error) {
		var b Baseline
		var at int64
		err := row.Scan(&b.SystemID, &b.ConfigurationID, &b.Field, &b.Samples, &b.Mean, &b.StdDev, &b.SlopePerHour, &b.Median, &b.Spread,
			&b.TrendSpread, &b.WindowDays, &at)
		b.ComputedAt = store.FromMicros(at)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("anomaly: baselines of %s/%s: %w", systemID, configID, err)
	}
	return out, nil
}

// replaceBaselines makes bs the pair's baselines.
func (st *sqlStore) replaceBaselines(ctx context.Context, systemID, configID string, bs []Baseline) error {
	err := st.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM anomaly_baselines WHERE system_id = ? AND configuration_id = ?`, systemID, configID); err != nil {
			return err
		}
		for _, b := range bs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO anomaly_baselines (system_id, configuration_id, field, samples, mean, std_dev,
				slope_per_hour, median, spread, trend_spread, window_days, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				systemID, configID, b.Field, b.Samples, b.Mean, b.StdDev, b.SlopePerHour, b.Median, b.Spread, b.TrendSpread,
				b.WindowDays, store.Micros(b.ComputedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	if store.IsForeignKeyViolation(err) {
		return nil // the system or check went meanwhile: nothing to learn for
	}
	return err
}

// Anomalies.

const columns = `id, system_id, configuration_id, field, kind, state, started_at, confirmed_at, recovered_at, updated_at,
	observed_at, observations, flat, value, baseline_median, baseline_spread, deviation, peak_deviation, suppressed`

func scan(row store.Scanner) (Anomaly, error) {
	var a Anomaly
	var started, updated, observed int64
	var confirmed, recovered sql.NullInt64
	err := row.Scan(&a.ID, &a.SystemID, &a.ConfigurationID, &a.Field, &a.Kind, &a.State, &started, &confirmed, &recovered, &updated,
		&observed, &a.Observations, &a.flat, &a.Value, &a.Baseline.Median, &a.Baseline.Spread, &a.Deviation, &a.PeakDeviation, &a.Suppressed)
	a.StartedAt, a.UpdatedAt, a.observedAt = store.FromMicros(started), store.FromMicros(updated), store.FromMicros(observed)
	a.ConfirmedAt, a.RecoveredAt = timePtr(confirmed), timePtr(recovered)
	return a, err
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

func (st *sqlStore) list(ctx context.Context, f Filter) ([]Anomaly, error) {
	where, args := "WHERE 1 = 1", []any{}
	add := func(cond string, v any) {
		where += " AND " + cond
		args = append(args, v)
	}
	if f.SystemID != "" {
		add("system_id = ?", f.SystemID)
	}
	if f.ConfigurationID != "" {
		add("configuration_id = ?", f.ConfigurationID)
	}
	if f.State != "" {
		add("state = ?", string(f.State))
	}
	if f.Kind != "" {
		add("kind = ?", string(f.Kind))
	}
	switch f.Suppression {
	case SuppressionActive:
		add("suppressed = ?", false)
	case SuppressionSuppressed:
		add("suppressed = ?", true)
	}
	args = append(args, f.Limit)
	rows, err := st.db.QueryContext(ctx, `SELECT `+columns+` FROM anomalies `+where+` ORDER BY started_at DESC, id DESC LIMIT ?`, args...)
	out, err := store.All(rows, err, scan)
	if err != nil {
		return nil, fmt.Errorf("anomaly: list: %w", err)
	}
	return out, nil
}

// openOf returns each system's open, unsuppressed anomalies, newest first;
// every id gets an entry.
func (st *sqlStore) openOf(ctx context.Context, systemIDs []string) (map[string][]Anomaly, error) {
	out := make(map[string][]Anomaly, len(systemIDs))
	for _, id := range systemIDs {
		out[id] = []Anomaly{}
	}
	err := store.InChunks(systemIDs, func(ids []string) error {
		rows, err := st.db.QueryContext(ctx, `SELECT `+columns+` FROM anomalies WHERE system_id IN (`+store.Placeholders(len(ids))+`)
			AND state IN ('suspicious', 'anomaly') AND suppressed = ? ORDER BY started_at DESC, id DESC`, append(store.Args(ids), false)...)
		as, err := store.All(rows, err, scan)
		for _, a := range as {
			out[a.SystemID] = append(out[a.SystemID], a)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("anomaly: open anomalies of systems: %w", err)
	}
	return out, nil
}

// openPair returns a pair's open episodes (suppressed too) through q; with
// lock, inside a transaction on PostgreSQL, they are held until it ends.
func (st *sqlStore) openPair(ctx context.Context, q store.Queryer, systemID, configID string, lock bool) ([]Anomaly, error) {
	suffix := ""
	if lock {
		suffix = store.ForUpdate(st.db)
	}
	rows, err := q.QueryContext(ctx, `SELECT `+columns+` FROM anomalies WHERE system_id = ? AND configuration_id = ?
		AND state IN ('suspicious', 'anomaly') ORDER BY field, kind`+suffix, systemID, configID)
	out, err := store.All(rows, err, scan)
	if err != nil {
		return nil, fmt.Errorf("anomaly: open episodes of %s/%s: %w", systemID, configID, err)
	}
	return out, nil
}

// allOpen lists every open episode's pair and id, for the analyzer.
func (st *sqlStore) allOpen(ctx context.Context) ([]Anomaly, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT `+columns+` FROM anomalies WHERE state IN ('suspicious', 'anomaly') ORDER BY system_id, configuration_id`)
	out, err := store.All(rows, err, scan)
	if err != nil {
		return nil, fmt.Errorf("anomaly: open episodes: %w", err)
	}
	return out, nil
}

func (st *sqlStore) get(ctx context.Context, q store.Executor, id string) (Anomaly, error) {
	a, err := scan(q.QueryRowContext(ctx, `SELECT `+columns+` FROM anomalies WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("anomaly: get %s: %w", id, err)
	}
	return a, nil
}

// save inserts or rewrites an episode.
func (st *sqlStore) save(ctx context.Context, tx *store.Tx, a Anomaly) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO anomalies (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, confirmed_at = excluded.confirmed_at, recovered_at = excluded.recovered_at,
		updated_at = excluded.updated_at, observed_at = excluded.observed_at, observations = excluded.observations, flat = excluded.flat,
		value = excluded.value, baseline_median = excluded.baseline_median, baseline_spread = excluded.baseline_spread,
		deviation = excluded.deviation, peak_deviation = excluded.peak_deviation, suppressed = excluded.suppressed`,
		a.ID, a.SystemID, a.ConfigurationID, a.Field, string(a.Kind), string(a.State), store.Micros(a.StartedAt), micros(a.ConfirmedAt),
		micros(a.RecoveredAt), store.Micros(a.UpdatedAt), store.Micros(a.observedAt), a.Observations, a.flat, a.Value,
		a.Baseline.Median, a.Baseline.Spread, a.Deviation, a.PeakDeviation, a.Suppressed)
	if store.IsUniqueViolation(err) {
		return errConflict
	}
	if store.IsForeignKeyViolation(err) {
		return errUnknown
	}
	if err != nil {
		return fmt.Errorf("anomaly: save %s: %w", a.ID, err)
	}
	return nil
}

// errConflict: another writer opened an episode for the same field
// meanwhile; the caller reads again and retries.
var errConflict = errors.New("anomaly: another episode opened meanwhile")

func (st *sqlStore) delete(ctx context.Context, tx *store.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM anomalies WHERE id = ?`, id); err != nil {
		return fmt.Errorf("anomaly: delete %s: %w", id, err)
	}
	return nil
}

// Mutes.

func (st *sqlStore) mutes(ctx context.Context, userID string) ([]Mute, error) {
	rows, err := st.db.QueryContext(ctx, `SELECT system_id, field, created_at FROM anomaly_mutes WHERE user_id = ? ORDER BY system_id, field`, userID)
	out, err := store.All(rows, err, func(row store.Scanner) (Mute, error) {
		var m Mute
		var at int64
		err := row.Scan(&m.SystemID, &m.Field, &at)
		m.CreatedAt = store.FromMicros(at)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("anomaly: mutes of %s: %w", userID, err)
	}
	return out, nil
}

func (st *sqlStore) mute(ctx context.Context, userID, systemID, field string, now time.Time) error {
	_, err := st.db.ExecContext(ctx, `INSERT INTO anomaly_mutes (user_id, system_id, field, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, system_id, field) DO NOTHING`, userID, systemID, field, store.Micros(now))
	return unknownOr(err, "mute")
}

func (st *sqlStore) unmute(ctx context.Context, userID, systemID, field string) error {
	_, err := st.db.ExecContext(ctx, `DELETE FROM anomaly_mutes WHERE user_id = ? AND system_id = ? AND field = ?`, userID, systemID, field)
	return unknownOr(err, "unmute")
}

// mutedUsers lists the users who muted a system's field (or all its
// fields).
func (st *sqlStore) mutedUsers(ctx context.Context, systemID, field string) ([]string, error) {
	users, err := store.Strings(ctx, st.db, `SELECT DISTINCT user_id FROM anomaly_mutes WHERE system_id = ? AND (field = '' OR field = ?)`, systemID, field)
	if err != nil {
		return nil, fmt.Errorf("anomaly: mutes of %s: %w", systemID, err)
	}
	return users, nil
}
