package maintenance

import (
	"errors"
	"time"

	"github.com/checkstack/checkstack/internal/timeline"
)

// Status is where a window stands. The clock moves it: scheduled →
// in_progress at startAt, in_progress → completed at endAt (a recurring
// window goes back to scheduled for its next occurrence instead, until
// its last). An admin may start it early, close it early (completed) or
// cancel it; completed and cancelled are final.
type Status string

const (
	Scheduled  Status = "scheduled"
	InProgress Status = "in_progress"
	Completed  Status = "completed"
	Cancelled  Status = "cancelled"
)

// Statuses are the valid statuses, in their order.
var Statuses = []Status{Scheduled, InProgress, Completed, Cancelled}

// open reports whether the window is still to come or going on.
func (s Status) open() bool { return s == Scheduled || s == InProgress }

// Window is planned work on one or more systems.
type Window struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Status      Status `json:"status"`
	// StartAt and EndAt are the planned times of the current or next
	// occurrence (the only one, for a one-off window; the last, once a
	// recurring one completed), to the second.
	StartAt time.Time `json:"startAt"`
	EndAt   time.Time `json:"endAt"`
	// StartedAt and EndedAt are when that occurrence really went in
	// progress and ended (started early, closed early, cancelled): null
	// until it does.
	StartedAt *time.Time `json:"startedAt"`
	EndedAt   *time.Time `json:"endedAt"`
	// SuppressNotifications holds the health notifications of the
	// window's systems while it is in progress.
	SuppressNotifications bool        `json:"suppressNotifications"`
	SystemIDs             []string    `json:"systemIds"`  // at least one, sorted
	Recurrence            *Recurrence `json:"recurrence"` // null: one-off
	// SeriesStartAt is the start the recurrence counts its occurrences
	// (and COUNT) from: null for a one-off window.
	SeriesStartAt *time.Time `json:"seriesStartAt,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`

	seriesStart time.Time // the DTSTART the recurrence counts from
	// plannedAt is when the window's current times were set: no period
	// starts before it, so a window scheduled after the fact does not
	// erase downtime already spent.
	plannedAt time.Time
}

// periodStart is when a period that begins at at really begins: not
// before the window was planned.
func (w Window) periodStart(at time.Time) time.Time {
	if at.Before(w.plannedAt) {
		return w.plannedAt
	}
	return at
}

// Update is one entry of a window's timeline.
type Update struct {
	MaintenanceID string `json:"maintenanceId"`
	timeline.Entry
}

// Detail is a window with its timeline, newest update first.
type Detail struct {
	Window
	Updates []Update `json:"updates"`
}

// Period is a stretch a window was really in progress; EndedAt is nil
// while it is.
type Period struct {
	StartedAt time.Time
	EndedAt   *time.Time
}

var (
	// ErrNotFound is returned for an id that names nothing.
	ErrNotFound = errors.New("maintenance: not found")
)
