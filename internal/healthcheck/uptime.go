package healthcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
)

// Day is one day of a system's uptime: the runs of its enabled checks
// that day (UTC), how many failed, and the share that did not (null when
// none ran).
type Day struct {
	Date     string   `json:"date"` // 2026-12-04
	Runs     int64    `json:"runs"`
	Failures int64    `json:"failures"`
	Uptime   *float64 `json:"uptime"` // percent
}

// MaxUptimeDays is the longest uptime history a read returns.
const MaxUptimeDays = 90

func keyUptime(systemID string, days int) string {
	return cache.Key("uptime", systemID, fmt.Sprint(days))
}

func prefixUptime(systemID string) string { return cache.Key("uptime", systemID) + ":" }

// UptimeJSON returns, for each system in order, its last days of uptime
// (oldest first, today last) as a JSON array: the dashboard's and the
// status page's uptime bars, from per-system entries whose misses load in
// one query a chunk. A run drops its systems' entries.
func (s *Service) UptimeJSON(ctx context.Context, systemIDs []string, days int) ([]json.RawMessage, error) {
	return cache.WrapManyJSON(ctx, s.cache, systemIDs, func(id string) string { return keyUptime(id, days) },
		func(ctx context.Context, ids []string) (map[string][]Day, error) {
			return s.st.uptime(ctx, ids, days, s.now())
		})
}

// uptime reads the days of each system's uptime from the hourly
// aggregates of its enabled checks.
func (st *sqlStore) uptime(ctx context.Context, systemIDs []string, days int, now time.Time) (map[string][]Day, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -(days - 1))
	type acc struct{ runs, failures int64 }
	sums := map[string]map[int]*acc{}
	err := store.InChunks(systemIDs, func(ids []string) error {
		args := append(store.Args(ids), store.Micros(from))
		rows, err := st.db.QueryContext(ctx, `SELECT a.system_id, h.hour, h.runs, h.failures FROM healthcheck_associations a
			JOIN healthcheck_configurations c ON c.id = a.configuration_id
			JOIN healthcheck_hourly h ON h.configuration_id = a.configuration_id
			WHERE a.system_id IN (`+store.Placeholders(len(ids))+`) AND a.enabled AND c.enabled AND h.hour >= ?`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sys string
			var hour, runs, failures int64
			if err := rows.Scan(&sys, &hour, &runs, &failures); err != nil {
				return err
			}
			day := int(store.FromMicros(hour).Sub(from) / (24 * time.Hour))
			if sums[sys] == nil {
				sums[sys] = map[int]*acc{}
			}
			a := sums[sys][day]
			if a == nil {
				a = &acc{}
				sums[sys][day] = a
			}
			a.runs += runs
			a.failures += failures
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("healthcheck: uptime: %w", err)
	}
	out := make(map[string][]Day, len(systemIDs))
	for _, id := range systemIDs {
		ds := make([]Day, days)
		for i := range ds {
			ds[i].Date = from.AddDate(0, 0, i).Format(time.DateOnly)
			if a := sums[id][i]; a != nil && a.runs > 0 {
				ds[i].Runs, ds[i].Failures = a.runs, a.failures
				up := math.Round(float64(a.runs-a.failures)/float64(a.runs)*100000) / 1000
				ds[i].Uptime = &up
			}
		}
		out[id] = ds
	}
	return out, nil
}
