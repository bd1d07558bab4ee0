// Package healthcheck runs checks against systems and keeps their health:
// configurations (what to check, how often, where), their associations
// with systems (with thresholds), the runs and their hourly aggregates,
// and each system's status, read through the cache (scope "healthcheck",
// key status:<systemId>) and announced when it changes.
//
// A run's life: the scheduler enqueues a due configuration; a worker runs
// its probe.Strategy under a timeout; Process stores the run, updates the
// hourly aggregate and every association's state, recomputes each
// affected system's status, invalidates those systems' cache entries, and
// only then signals HEALTH_CHECK_RUN_COMPLETED and, for each system whose
// status changed, SYSTEM_STATUS_CHANGED (also the systemStatusChanged
// hook). Satellites run configurations assigned to them and post the same
// runs to the same Process.
//
// updateConfiguration sets the fields its input gives and leaves the others
// as stored. It reads the configuration, checks the result (a timeout
// within the interval, a config valid for the strategy) and writes it in
// one transaction that holds the row (PostgreSQL: FOR UPDATE; SQLite: the
// write lock taken when the transaction begins), so of two updates at once
// the second is checked against, and keeps, what the first wrote: no edit
// is lost, and no pair of edits valid alone stores an invalid
// configuration (concurrent_edit_test.go).
package healthcheck

import (
	"encoding/json"
	"errors"
	"time"
)

// Configuration is one check: a strategy with its config, run every
// interval, here or on a satellite.
type Configuration struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Strategy        string          `json:"strategy"`
	Config          json.RawMessage `json:"config"`
	IntervalSeconds int             `json:"intervalSeconds"`
	TimeoutSeconds  int             `json:"timeoutSeconds"`
	Enabled         bool            `json:"enabled"`
	SatelliteID     string          `json:"satelliteId,omitempty"` // "" = this server
	LastRunAt       *time.Time      `json:"lastRunAt,omitempty"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
}

// Interval and Timeout as durations.
func (c Configuration) Interval() time.Duration {
	return time.Duration(c.IntervalSeconds) * time.Second
}
func (c Configuration) Timeout() time.Duration { return time.Duration(c.TimeoutSeconds) * time.Second }

// Association links a system to a configuration, with the check's current
// state on that system.
type Association struct {
	SystemID        string     `json:"systemId"`
	ConfigurationID string     `json:"configurationId"`
	Enabled         bool       `json:"enabled"`
	Thresholds      Thresholds `json:"thresholds"`
	Status          Status     `json:"status"`
	LastRunAt       *time.Time `json:"lastRunAt,omitempty"`
	LastRunStatus   string     `json:"lastRunStatus,omitempty"`
	LastMessage     string     `json:"lastMessage,omitempty"`
	LastLatencyMs   float64    `json:"lastLatencyMs"`
	CreatedAt       time.Time  `json:"createdAt"`

	state state // the counters behind Status
}

// Run is one execution of a configuration.
type Run struct {
	ID              string          `json:"id"`
	ConfigurationID string          `json:"configurationId"`
	Status          Status          `json:"status"` // healthy, degraded or unhealthy
	LatencyMs       float64         `json:"latencyMs"`
	Message         string          `json:"message"`
	Details         json.RawMessage `json:"details"`
	Source          string          `json:"source"` // "local" or the satellite's id
	StartedAt       time.Time       `json:"startedAt"`
}

// CheckStatus is one check's part in a system's health.
type CheckStatus struct {
	ConfigurationID string     `json:"configurationId"`
	Name            string     `json:"name"`
	Strategy        string     `json:"strategy"`
	Enabled         bool       `json:"enabled"` // association and configuration both enabled
	Status          Status     `json:"status"`
	LastRunAt       *time.Time `json:"lastRunAt,omitempty"`
	LastMessage     string     `json:"lastMessage,omitempty"`
	LastLatencyMs   float64    `json:"lastLatencyMs"`
}

// SystemStatus is a system's health: the worst status over its enabled
// checks (unknown when none has decided), with each check's detail.
type SystemStatus struct {
	SystemID string `json:"systemId"`
	Status   Status `json:"status"`
	// Since is when the system took this status, as it was announced
	// (absent while no change has been announced yet).
	Since *time.Time `json:"since,omitempty"`
	// Maintenance is true while a maintenance window of the system is in
	// progress: dashboards show "under maintenance" rather than its
	// status's colour.
	Maintenance bool          `json:"maintenance"`
	Checks      []CheckStatus `json:"checks"`
}

// aggregate computes a system's status from its checks.
func aggregate(checks []CheckStatus) Status {
	s := Unknown
	for _, c := range checks {
		if c.Enabled {
			s = Worst(s, c.Status)
		}
	}
	return s
}

// Satellite is a remote agent that runs the configurations assigned to it.
type Satellite struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastSeenAt *time.Time `json:"lastSeenAt,omitempty"`
}

var (
	// ErrNotFound is returned for an id that names nothing.
	ErrNotFound = errors.New("healthcheck: not found")
)

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
