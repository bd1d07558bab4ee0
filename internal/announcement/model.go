package announcement

import (
	"errors"
	"time"
)

// Severity is how an announcement is styled.
type Severity string

const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Severities are the valid severities.
var Severities = []Severity{Info, Warning, Critical}

// Visibility says who sees an announcement.
type Visibility string

const (
	// All is everyone, anonymous visitors of the status page included.
	All Visibility = "all"
	// Authenticated is signed-in users only.
	Authenticated Visibility = "authenticated"
)

// Visibilities are the valid visibilities.
var Visibilities = []Visibility{All, Authenticated}

// DisplayMode says where an announcement is shown.
type DisplayMode string

const (
	Banner    DisplayMode = "banner"    // the banner on every page
	Dashboard DisplayMode = "dashboard" // the dashboard only
	Both      DisplayMode = "both"
)

// DisplayModes are the valid display modes.
var DisplayModes = []DisplayMode{Banner, Dashboard, Both}

// Announcement is a message shown to the users of the installation.
type Announcement struct {
	ID          string      `json:"id"`
	Title       string      `json:"title"`
	Message     string      `json:"message"` // Markdown
	Severity    Severity    `json:"severity"`
	Visibility  Visibility  `json:"visibility"`
	DisplayMode DisplayMode `json:"displayMode"`
	// Active is the admin's switch; an active announcement is shown
	// between StartsAt and ExpiresAt (see Live).
	Active    bool `json:"active"`
	SortOrder int  `json:"sortOrder"` // display order, ascending; ties by id
	// StartsAt and ExpiresAt bound when it is shown; null: no bound.
	// ExpiresAt is after StartsAt when both are set.
	StartsAt      *time.Time `json:"startsAt"`
	ExpiresAt     *time.Time `json:"expiresAt"`
	CreatedBy     string     `json:"createdBy"` // a user id
	CreatedByName string     `json:"createdByName"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
}

// Live reports whether a is shown at t: active, started (StartsAt unset
// or not after t) and not expired (ExpiresAt unset or after t).
func (a Announcement) Live(t time.Time) bool {
	return a.Active && (a.StartsAt == nil || !a.StartsAt.After(t)) && (a.ExpiresAt == nil || a.ExpiresAt.After(t))
}

// Shown is an announcement as getActiveAnnouncements returns it. Dismissed
// is set, true or false, on every item of a read that includes dismissed
// announcements, and absent from the JSON otherwise (such a read leaves
// the dismissed ones out).
type Shown struct {
	Announcement
	Dismissed *bool `json:"dismissed,omitempty"`
}

// Author is who creates an announcement.
type Author struct {
	ID   string
	Name string
}

var (
	// ErrNotFound is returned for an id that names no announcement.
	ErrNotFound = errors.New("announcement: not found")
)
