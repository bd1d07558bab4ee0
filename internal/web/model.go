package web

import (
	"encoding/json"
	"time"
)

// What the pages read, as the procedures answer it: only the fields the
// templates show.

type system struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Description      string `json:"description"`
	Owner            string `json:"owner"`
	HiddenFromStatus bool   `json:"hiddenFromStatus"`
}

type group struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Description      string   `json:"description"`
	SystemIDs        []string `json:"systemIds"`
	HiddenFromStatus bool     `json:"hiddenFromStatus"`
}

type entities struct {
	Systems []system `json:"systems"`
	Groups  []group  `json:"groups"`
}

type check struct {
	ConfigurationID string     `json:"configurationId"`
	Name            string     `json:"name"`
	Strategy        string     `json:"strategy"`
	Enabled         bool       `json:"enabled"`
	Status          string     `json:"status"`
	LastRunAt       *time.Time `json:"lastRunAt"`
	LastMessage     string     `json:"lastMessage"`
	LastLatencyMs   float64    `json:"lastLatencyMs"`
}

type health struct {
	SystemID    string  `json:"systemId"`
	Status      string  `json:"status"`
	Maintenance bool    `json:"maintenance"`
	Checks      []check `json:"checks"`
}

type day struct {
	Date     string   `json:"date"`
	Runs     int64    `json:"runs"`
	Failures int64    `json:"failures"`
	Uptime   *float64 `json:"uptime"`
}

type objective struct {
	Objective struct {
		ID              string  `json:"id"`
		SystemID        string  `json:"systemId"`
		Name            string  `json:"name"`
		Target          float64 `json:"target"`
		WindowDays      int     `json:"windowDays"`
		Mode            string  `json:"dependencyMode"`
		Maintenance     string  `json:"maintenance"`
		ConfigurationID string  `json:"healthCheckConfigurationId"`
	} `json:"objective"`
	Status struct {
		Availability float64 `json:"availability"`
		ErrorBudget  struct {
			TotalMinutes     float64 `json:"totalMinutes"`
			ConsumedMinutes  float64 `json:"consumedMinutes"`
			RemainingPercent float64 `json:"remainingPercent"`
		} `json:"errorBudget"`
		BurnRate  float64 `json:"burnRate"`
		BurnRates struct {
			FiveMinutes   float64 `json:"5m"`
			ThirtyMinutes float64 `json:"30m"`
			OneHour       float64 `json:"1h"`
			SixHours      float64 `json:"6h"`
		} `json:"burnRates"`
		Alerts struct {
			FastBurn bool `json:"fastBurn"`
			SlowBurn bool `json:"slowBurn"`
		} `json:"alerts"`
		IsBreaching bool `json:"isBreaching"`
		AtRisk      bool `json:"atRisk"`
		Downtime    struct {
			TotalMinutes       float64 `json:"totalMinutes"`
			MaintenanceMinutes float64 `json:"maintenanceMinutes"`
		} `json:"downtime"`
	} `json:"status"`
}

type downtimeEvent struct {
	StartedAt    time.Time  `json:"startedAt"`
	EndedAt      *time.Time `json:"endedAt"`
	Attribution  string     `json:"attribution"`
	UpstreamName string     `json:"upstreamName"`
}

type update struct {
	ID            string    `json:"id"`
	Message       string    `json:"message"`
	StatusChange  string    `json:"statusChange"`
	CreatedAt     time.Time `json:"createdAt"`
	CreatedByName string    `json:"createdByName"`
}

type incident struct {
	ID                    string     `json:"id"`
	Title                 string     `json:"title"`
	Description           *string    `json:"description"`
	Status                string     `json:"status"`
	Severity              string     `json:"severity"`
	SuppressNotifications bool       `json:"suppressNotifications"`
	SystemIDs             []string   `json:"systemIds"`
	CreatedAt             time.Time  `json:"createdAt"`
	UpdatedAt             time.Time  `json:"updatedAt"`
	ResolvedAt            *time.Time `json:"resolvedAt"`
	Updates               []update   `json:"updates"`
}

type recurrence struct {
	Rule     string `json:"rule"`
	Timezone string `json:"timezone"`
}

type window struct {
	ID                    string      `json:"id"`
	Title                 string      `json:"title"`
	Description           string      `json:"description"`
	Status                string      `json:"status"`
	StartAt               time.Time   `json:"startAt"`
	EndAt                 time.Time   `json:"endAt"`
	StartedAt             *time.Time  `json:"startedAt"`
	EndedAt               *time.Time  `json:"endedAt"`
	SuppressNotifications bool        `json:"suppressNotifications"`
	SystemIDs             []string    `json:"systemIds"`
	Recurrence            *recurrence `json:"recurrence"`
	UpdatedAt             time.Time   `json:"updatedAt"`
	Updates               []update    `json:"updates"`
}

type anomaly struct {
	ID              string    `json:"id"`
	SystemID        string    `json:"systemId"`
	ConfigurationID string    `json:"configurationId"`
	Field           string    `json:"field"`
	Kind            string    `json:"kind"`
	State           string    `json:"state"`
	StartedAt       time.Time `json:"startedAt"`
	Value           float64   `json:"value"`
	Deviation       float64   `json:"deviation"`
}

type announcement struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Message     string     `json:"message"`
	Severity    string     `json:"severity"`
	Visibility  string     `json:"visibility"`
	DisplayMode string     `json:"displayMode"`
	Active      bool       `json:"active"`
	Dismissed   *bool      `json:"dismissed"`
	StartsAt    *time.Time `json:"startsAt"`
	ExpiresAt   *time.Time `json:"expiresAt"`
}

type notification struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Body       string    `json:"body"`
	Importance string    `json:"importance"`
	IsRead     bool      `json:"isRead"`
	CreatedAt  time.Time `json:"createdAt"`
	Action     *struct {
		Label string `json:"label"`
		URL   string `json:"url"`
	} `json:"action"`
}

type configuration struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Strategy        string          `json:"strategy"`
	Config          json.RawMessage `json:"config"`
	IntervalSeconds int             `json:"intervalSeconds"`
	TimeoutSeconds  int             `json:"timeoutSeconds"`
	Enabled         bool            `json:"enabled"`
	LastRunAt       *time.Time      `json:"lastRunAt"`
}

type bucket struct {
	Start        time.Time `json:"start"`
	Runs         int64     `json:"runs"`
	Failures     int64     `json:"failures"`
	SuccessRate  float64   `json:"successRate"`
	AvgLatencyMs float64   `json:"avgLatencyMs"`
	P95LatencyMs float64   `json:"p95LatencyMs"`
}

type contact struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Label string `json:"label"`
}

type user struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

type apiKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
}

type channel struct {
	Channel    string `json:"channel"`
	Enabled    bool   `json:"enabled"`
	Configured bool   `json:"configured"`
	Webhook    *struct {
		URL       string `json:"url"`
		HasSecret bool   `json:"hasSecret"`
	} `json:"webhook"`
	Email *struct {
		Host     string `json:"host"`
		Port     int    `json:"port"`
		Username string `json:"username"`
		From     string `json:"from"`
		Security string `json:"security"`
	} `json:"email"`
}
