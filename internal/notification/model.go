package notification

import (
	"errors"
	"fmt"
	"time"
)

// Importance is how loudly a notification asks for attention.
type Importance string

const (
	Info     Importance = "info"
	Warning  Importance = "warning"
	Critical Importance = "critical"
)

// Action is a link a notification offers.
type Action struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// Notification is one entry of one user's inbox.
type Notification struct {
	ID         string     `json:"id"`
	UserID     string     `json:"userId"`
	Title      string     `json:"title"`
	Body       string     `json:"body"` // Markdown
	Action     *Action    `json:"action,omitempty"`
	Importance Importance `json:"importance"`
	IsRead     bool       `json:"isRead"`
	GroupID    string     `json:"groupId,omitempty"` // the group it came through
	CreatedAt  time.Time  `json:"createdAt"`
}

// Message is what a sender asks to deliver; each recipient gets a
// Notification made from it.
type Message struct {
	Title      string     `json:"title"`
	Body       string     `json:"body"`
	Importance Importance `json:"importance"` // "" = info
	Action     *Action    `json:"action,omitempty"`
}

// Page is one page of a user's notifications, newest first, with the
// number matching the filter.
type Page struct {
	Notifications []Notification `json:"notifications"`
	Total         int            `json:"total"`
}

// Filter selects a page of notifications.
type Filter struct {
	Limit      int  // 1–100
	Offset     int  // ≥ 0
	UnreadOnly bool // only unread ones
}

// Group is a topic users subscribe to, such as one system's health.
type Group struct {
	ID          string    `json:"id"` // namespaced by owner: catalog.system.<id>
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Owner       string    `json:"owner"` // the domain that manages it
	CreatedAt   time.Time `json:"createdAt"`
}

// Subscription is a user's subscription to a group.
type Subscription struct {
	GroupID      string    `json:"groupId"`
	GroupName    string    `json:"groupName"`
	SubscribedAt time.Time `json:"subscribedAt"`
}

// Names of the groups the catalog's entities own.
func SystemGroupID(systemID string) string { return "catalog.system." + systemID }
func CatalogGroupID(groupID string) string { return "catalog.group." + groupID }

var (
	// ErrNotFound is returned for an id that names nothing the caller may
	// see: another user's notification is not found, never forbidden.
	ErrNotFound = errors.New("notification: not found")
	// ErrUnknownUser is returned by NotifyUsers when a user id names no
	// user; nothing is sent.
	ErrUnknownUser = errors.New("notification: unknown user")
)

// missingError names what was not found. It wraps ErrNotFound or
// ErrUnknownUser.
type missingError struct {
	what, id string
	err      error
}

func (e *missingError) Error() string { return fmt.Sprintf("%s %q: %v", e.what, e.id, e.err) }
func (e *missingError) Unwrap() error { return e.err }
