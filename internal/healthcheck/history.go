package healthcheck

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/checkstack/checkstack/internal/store"
)

// latencyBounds are the upper bounds, in milliseconds, of the latency
// histogram kept per hour; a last bucket holds everything slower. p50 and
// p95 of an hour are read from it, as the bound of the bucket the
// percentile falls in.
var latencyBounds = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000}

func bucketOf(latencyMs float64) int {
	for i, b := range latencyBounds {
		if latencyMs <= b {
			return i
		}
	}
	return len(latencyBounds)
}

// percentile returns the upper bound of the bucket holding the p-th
// percentile (0 < p ≤ 1) of counts; max caps it (the last bucket is open).
func percentile(counts []int64, p float64, max float64) float64 {
	var total int64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := int64(p*float64(total) + 0.999999)
	var seen int64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			if i < len(latencyBounds) {
				return min(latencyBounds[i], max)
			}
			return max
		}
	}
	return max
}

func hourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// addToHour adds a run to its configuration's hourly aggregate.
func addToHour(ctx context.Context, tx *store.Tx, r Run, latencyUs int64) error {
	hour := store.Micros(hourOf(r.StartedAt))
	var runs, failures, degraded, sum, max int64
	var buckets string
	err := tx.QueryRowContext(ctx, `SELECT runs, failures, degraded, latency_sum_us, latency_max_us, buckets
		FROM healthcheck_hourly WHERE configuration_id = ? AND hour = ?`, r.ConfigurationID, hour).
		Scan(&runs, &failures, &degraded, &sum, &max, &buckets)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	counts := make([]int64, len(latencyBounds)+1)
	if exists {
		if err := json.Unmarshal([]byte(buckets), &counts); err != nil || len(counts) != len(latencyBounds)+1 {
			counts = make([]int64, len(latencyBounds)+1) // an unreadable histogram restarts
		}
	}
	runs++
	switch r.Status {
	case Unhealthy:
		failures++
	case Degraded:
		degraded++
	}
	sum += latencyUs
	max = maxInt64(max, latencyUs)
	counts[bucketOf(r.LatencyMs)]++
	b, _ := json.Marshal(counts)
	if exists {
		_, err = tx.ExecContext(ctx, `UPDATE healthcheck_hourly SET runs = ?, failures = ?, degraded = ?, latency_sum_us = ?, latency_max_us = ?, buckets = ?
			WHERE configuration_id = ? AND hour = ?`, runs, failures, degraded, sum, max, string(b), r.ConfigurationID, hour)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO healthcheck_hourly (configuration_id, hour, runs, failures, degraded, latency_sum_us, latency_max_us, buckets)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ConfigurationID, hour, runs, failures, degraded, sum, max, string(b))
	}
	return err
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// HistoryPage is one page of runs, newest first.
type HistoryPage struct {
	Runs []Run `json:"runs"`
	// NextCursor continues the listing; empty on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// cursor marks a position in the newest-first order: (startedAt, id).
func encodeCursor(r Run) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(store.Micros(r.StartedAt), 10) + ":" + r.ID))
}

func decodeCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", err
	}
	at, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return 0, "", errors.New("no separator")
	}
	t, err := strconv.ParseInt(at, 10, 64)
	return t, id, err
}

// history lists a configuration's runs in [from, to), newest first, after
// cursor.
func (st *sqlStore) history(ctx context.Context, configurationID string, from, to time.Time, limit int, cursor string) (HistoryPage, error) {
	q := `SELECT id, configuration_id, status, latency_us, message, details, source, started_at FROM healthcheck_runs
		WHERE configuration_id = ? AND started_at >= ? AND started_at < ?`
	args := []any{configurationID, store.Micros(from), store.Micros(to)}
	if cursor != "" {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			return HistoryPage{}, errBadCursor
		}
		q += ` AND (started_at < ? OR (started_at = ? AND id < ?))`
		args = append(args, at, at, id)
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := st.db.QueryContext(ctx, q, args...)
	if err != nil {
		return HistoryPage{}, fmt.Errorf("healthcheck: history: %w", err)
	}
	defer rows.Close()
	page := HistoryPage{Runs: []Run{}}
	for rows.Next() {
		var r Run
		var status, details string
		var latency, started int64
		if err := rows.Scan(&r.ID, &r.ConfigurationID, &status, &latency, &r.Message, &details, &r.Source, &started); err != nil {
			return HistoryPage{}, fmt.Errorf("healthcheck: history: %w", err)
		}
		r.Status, r.LatencyMs, r.Details, r.StartedAt = Status(status), float64(latency)/1000, json.RawMessage(details), store.FromMicros(started)
		page.Runs = append(page.Runs, r)
	}
	if err := rows.Err(); err != nil {
		return HistoryPage{}, err
	}
	if len(page.Runs) > limit {
		page.Runs = page.Runs[:limit]
		page.NextCursor = encodeCursor(page.Runs[limit-1])
	}
	return page, nil
}

var errBadCursor = errors.New("healthcheck: bad cursor")

// Bucket is a stretch of a configuration's history, for charts.
type Bucket struct {
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Runs         int64     `json:"runs"`
	Failures     int64     `json:"failures"`
	Degraded     int64     `json:"degraded"`
	SuccessRate  float64   `json:"successRate"` // healthy runs ÷ runs, 0–100
	AvgLatencyMs float64   `json:"avgLatencyMs"`
	P50LatencyMs float64   `json:"p50LatencyMs"`
	P95LatencyMs float64   `json:"p95LatencyMs"`
	MaxLatencyMs float64   `json:"maxLatencyMs"`
}

// aggregated merges the hourly aggregates of [from, to) into buckets of a
// whole number of hours, about targetPoints of them.
func (st *sqlStore) aggregated(ctx context.Context, configurationID string, from, to time.Time, targetPoints int) ([]Bucket, error) {
	from, to = hourOf(from), hourOf(to.Add(time.Hour-time.Nanosecond))
	hours := int(to.Sub(from) / time.Hour)
	width := max(1, (hours+targetPoints-1)/targetPoints) // hours per bucket
	rows, err := st.db.QueryContext(ctx, `SELECT hour, runs, failures, degraded, latency_sum_us, latency_max_us, buckets FROM healthcheck_hourly
		WHERE configuration_id = ? AND hour >= ? AND hour < ? ORDER BY hour`, configurationID, store.Micros(from), store.Micros(to))
	if err != nil {
		return nil, fmt.Errorf("healthcheck: aggregated history: %w", err)
	}
	defer rows.Close()
	type acc struct {
		b      Bucket
		sum    int64
		max    int64
		counts []int64
	}
	var out []*acc
	index := map[int64]*acc{}
	for rows.Next() {
		var hour, runs, failures, degraded, sum, maxUs int64
		var buckets string
		if err := rows.Scan(&hour, &runs, &failures, &degraded, &sum, &maxUs, &buckets); err != nil {
			return nil, fmt.Errorf("healthcheck: aggregated history: %w", err)
		}
		start := from.Add(time.Duration(int(store.FromMicros(hour).Sub(from)/time.Hour)/width*width) * time.Hour)
		a := index[start.Unix()]
		if a == nil {
			a = &acc{b: Bucket{Start: start, End: start.Add(time.Duration(width) * time.Hour)}, counts: make([]int64, len(latencyBounds)+1)}
			index[start.Unix()] = a
			out = append(out, a)
		}
		a.b.Runs += runs
		a.b.Failures += failures
		a.b.Degraded += degraded
		a.sum += sum
		a.max = maxInt64(a.max, maxUs)
		var counts []int64
		if json.Unmarshal([]byte(buckets), &counts) == nil && len(counts) == len(a.counts) {
			for i, c := range counts {
				a.counts[i] += c
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	res := make([]Bucket, 0, len(out))
	for _, a := range out {
		b := a.b
		if b.Runs > 0 {
			b.SuccessRate = float64(b.Runs-b.Failures-b.Degraded) / float64(b.Runs) * 100
			b.AvgLatencyMs = float64(a.sum) / float64(b.Runs) / 1000
		}
		b.MaxLatencyMs = float64(a.max) / 1000
		b.P50LatencyMs = percentile(a.counts, 0.50, b.MaxLatencyMs)
		b.P95LatencyMs = percentile(a.counts, 0.95, b.MaxLatencyMs)
		res = append(res, b)
	}
	return res, nil
}

// purge deletes raw runs started before runsBefore and hourly aggregates
// of hours before hoursBefore, and returns how many rows of each went.
func (st *sqlStore) purge(ctx context.Context, runsBefore, hoursBefore time.Time) (runs, hours int64, err error) {
	res, err := st.db.ExecContext(ctx, `DELETE FROM healthcheck_runs WHERE started_at < ?`, store.Micros(runsBefore))
	if err != nil {
		return 0, 0, fmt.Errorf("healthcheck: purge runs: %w", err)
	}
	runs, _ = res.RowsAffected()
	res, err = st.db.ExecContext(ctx, `DELETE FROM healthcheck_hourly WHERE hour < ?`, store.Micros(hoursBefore))
	if err != nil {
		return runs, 0, fmt.Errorf("healthcheck: purge hourly aggregates: %w", err)
	}
	hours, _ = res.RowsAffected()
	return runs, hours, nil
}
