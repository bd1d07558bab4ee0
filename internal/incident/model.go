package incident

import (
	"errors"
	"time"

	"github.com/checkstack/checkstack/internal/timeline"
)

// Status is where an incident stands. Any status may follow any other; a
// change away from Resolved reopens the incident.
type Status string

const (
	Investigating Status = "investigating"
	Identified    Status = "identified"
	Fixing        Status = "fixing"
	Monitoring    Status = "monitoring"
	Resolved      Status = "resolved"
)

// Statuses are the valid statuses, in their usual order.
var Statuses = []Status{Investigating, Identified, Fixing, Monitoring, Resolved}

// Severity is how bad an incident is.
type Severity string

const (
	Minor    Severity = "minor"
	Major    Severity = "major"
	Critical Severity = "critical"
)

// Severities are the valid severities.
var Severities = []Severity{Minor, Major, Critical}

// Incident is something that went wrong on one or more systems.
type Incident struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description *string  `json:"description"` // null when none
	Status      Status   `json:"status"`
	Severity    Severity `json:"severity"`
	// SuppressNotifications holds the health notifications of the
	// incident's systems while it is unresolved: the people who would get
	// them are working on it already.
	SuppressNotifications bool       `json:"suppressNotifications"`
	SystemIDs             []string   `json:"systemIds"` // at least one, sorted
	CreatedAt             time.Time  `json:"createdAt"`
	UpdatedAt             time.Time  `json:"updatedAt"`
	ResolvedAt            *time.Time `json:"resolvedAt"` // null while unresolved
}

// Update is one entry of an incident's timeline.
type Update struct {
	IncidentID string `json:"incidentId"`
	timeline.Entry
}

// Detail is an incident with its timeline, newest update first.
type Detail struct {
	Incident
	Updates []Update `json:"updates"`
}

var (
	// ErrNotFound is returned for an id that names nothing.
	ErrNotFound = errors.New("incident: not found")
)
