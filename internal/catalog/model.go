// Package catalog is the systems catalog: systems, groups of systems,
// saved dashboard views (per user) and each system's contacts. Every
// dashboard starts with getEntities, so its reads go through the cache
// (scope "catalog"; see keys.go) and its mutations follow
// write → invalidate → signal (package mutate).
//
// # Invariants
//
// A lost edit must never happen: updateSystem, updateGroup and updateView
// set the fields their input gives and leave the others as stored, and
// each reads the row, changes it and writes it in one transaction that
// holds the row (PostgreSQL: FOR UPDATE; SQLite: the write lock taken when
// the transaction begins), so of two updates at once the second reads
// what the first wrote (concurrent_edit_test.go).
package catalog

import (
	"encoding/json"
	"errors"
	"time"
)

// System is a thing that is monitored.
type System struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Owner       string          `json:"owner"`
	Metadata    json.RawMessage `json:"metadata"`
	// HiddenFromStatus leaves the system out of the public status page.
	HiddenFromStatus bool      `json:"hiddenFromStatus"`
	CreatedAt        time.Time `json:"createdAt"`
	UpdatedAt        time.Time `json:"updatedAt"`
}

// Group is a named set of systems. A system may be in many groups.
type Group struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Metadata    json.RawMessage `json:"metadata"`
	SystemIDs   []string        `json:"systemIds"`
	// HiddenFromStatus leaves the group out of the public status page
	// (its systems still show, unless hidden themselves).
	HiddenFromStatus bool      `json:"hiddenFromStatus"`
	CreatedAt        time.Time `json:"createdAt"`
	UpdatedAt        time.Time `json:"updatedAt"`
}

// Entities is the catalog's topology: what a dashboard loads first.
type Entities struct {
	Systems []System `json:"systems"`
	Groups  []Group  `json:"groups"`
}

// View is a user's saved dashboard layout.
type View struct {
	ID            string          `json:"id"`
	UserID        string          `json:"userId"`
	Name          string          `json:"name"`
	Description   string          `json:"description"`
	Configuration json.RawMessage `json:"configuration"`
	CreatedAt     time.Time       `json:"createdAt"`
	UpdatedAt     time.Time       `json:"updatedAt"`
}

// Contact types.
const (
	ContactUser    = "user"    // a user of this installation
	ContactMailbox = "mailbox" // an email address
)

// Contact is someone to reach about a system. For a user contact, Name and
// Email are the user's, resolved when read.
type Contact struct {
	ID        string    `json:"id"`
	SystemID  string    `json:"systemId"`
	Type      string    `json:"type"`
	UserID    string    `json:"userId,omitempty"`
	Name      string    `json:"name,omitempty"`
	Email     string    `json:"email"`
	Label     string    `json:"label"`
	CreatedAt time.Time `json:"createdAt"`
}

var (
	// ErrNotFound is returned for an id that names nothing (or nothing
	// the caller may see).
	ErrNotFound = errors.New("catalog: not found")
)
