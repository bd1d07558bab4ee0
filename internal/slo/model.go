package slo

import (
	"errors"
	"time"
)

// Mode says which downtime spends an objective's error budget.
type Mode string

const (
	// SelfOnly counts only the system's own downtime: downtime while a
	// (non-excluded) upstream dependency was down is shown but not spent.
	SelfOnly Mode = "self-only"
	// Strict counts all downtime, whatever caused it.
	Strict Mode = "strict"
)

// MaintenanceMode says what an objective does with downtime inside a
// maintenance window.
type MaintenanceMode string

const (
	// MaintenanceExclude: the window clips downtime; what falls inside it
	// is shown but not spent.
	MaintenanceExclude MaintenanceMode = "exclude"
	// MaintenanceCount: downtime inside a window spends budget like any.
	MaintenanceCount MaintenanceMode = "count"
)

// Objective is a service level objective on one system: over the last
// WindowDays, the system is up at least Target percent of the time.
type Objective struct {
	ID          string  `json:"id"`
	SystemID    string  `json:"systemId"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Target      float64 `json:"target"`     // percent, strictly between 0 and 100
	WindowDays  int     `json:"windowDays"` // 1–90
	Mode        Mode    `json:"dependencyMode"`
	// ExcludedUpstreamIDs are upstream systems whose downtime is never
	// blamed for this objective's: while one of them is down, the
	// system's downtime counts as its own.
	ExcludedUpstreamIDs []string `json:"excludedUpstreamIds"`
	// ConfigurationID, when set, bases the objective on that one health
	// check of the system instead of the system's aggregate health.
	ConfigurationID string `json:"healthCheckConfigurationId,omitempty"`
	// Maintenance says whether downtime inside a maintenance window of
	// the system spends the budget: MaintenanceExclude (the default) or
	// MaintenanceCount.
	Maintenance MaintenanceMode `json:"maintenance"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
}

// excludes reports whether upstream id is excluded from blame.
func (o Objective) excludes(id string) bool {
	for _, x := range o.ExcludedUpstreamIDs {
		if x == id {
			return true
		}
	}
	return false
}

// Window is the objective's rolling window.
func (o Objective) Window() time.Duration { return time.Duration(o.WindowDays) * 24 * time.Hour }

// Attribution says who a downtime event is blamed on.
type Attribution string

const (
	Self     Attribution = "self"     // the system itself
	Upstream Attribution = "upstream" // an upstream dependency that was down
)

// Event is a stretch of downtime of an objective's system. It is open
// (EndedAt nil) while the downtime lasts. Events are never edited but to
// close them: when blame moves, the open event is closed and a new one
// opens at the same instant.
type Event struct {
	ID           string      `json:"id"`
	ObjectiveID  string      `json:"objectiveId"`
	SystemID     string      `json:"systemId"`
	StartedAt    time.Time   `json:"startedAt"`
	EndedAt      *time.Time  `json:"endedAt,omitempty"`
	Attribution  Attribution `json:"attribution"`
	UpstreamID   string      `json:"upstreamId,omitempty"`
	UpstreamName string      `json:"upstreamName,omitempty"`
}

// Open reports whether the event is still going on.
func (e Event) Open() bool { return e.EndedAt == nil }

// Dependency says that SystemID depends on UpstreamID: when the upstream
// is down, the system's downtime is blamed on it.
type Dependency struct {
	SystemID   string    `json:"systemId"`
	UpstreamID string    `json:"upstreamId"`
	CreatedAt  time.Time `json:"createdAt"`
}

// Dependencies are a system's links in both directions.
type Dependencies struct {
	Upstream   []Dependency `json:"upstream"`   // what the system depends on
	Downstream []Dependency `json:"downstream"` // what depends on the system
}

// ObjectiveStatus is an objective with its status, what every read
// returns.
type ObjectiveStatus struct {
	Objective Objective `json:"objective"`
	Status    Status    `json:"status"`
}

var (
	// ErrNotFound is returned for an id that names nothing.
	ErrNotFound = errors.New("slo: not found")
	// ErrCycle is returned by AddDependency for a link that would make a
	// system depend on itself, directly or through others.
	ErrCycle = errors.New("slo: dependency cycle")
)
