package anomaly

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/checkstack/checkstack/internal/healthcheck"
)

// The numeric fields runs report, and how each goes wrong by default.
const (
	FieldLatency       = "latencyMs"     // every strategy
	FieldResponseBytes = "responseBytes" // http: the body's size
	FieldTLSDaysLeft   = "tlsDaysLeft"   // http over TLS: days to the certificate's expiry
	FieldDaysLeft      = "daysLeft"      // tls: days to the certificate's expiry
	FieldAnswerCount   = "answerCount"   // dns: how many answers
)

// Fields are the fields, in the order they are reported.
var Fields = []string{FieldLatency, FieldResponseBytes, FieldTLSDaysLeft, FieldDaysLeft, FieldAnswerCount}

// Extract is the numeric fields of a run. A failed run reports nothing:
// its latency is a timeout, and health already says it failed.
func Extract(r healthcheck.Run) map[string]float64 {
	if r.Status == healthcheck.Unhealthy {
		return nil
	}
	out := map[string]float64{FieldLatency: r.LatencyMs}
	var details map[string]any
	if len(r.Details) > 0 && json.Unmarshal(r.Details, &details) == nil {
		for _, f := range []string{FieldResponseBytes, FieldTLSDaysLeft, FieldDaysLeft} {
			if v, ok := details[f].(float64); ok {
				out[f] = v
			}
		}
		if answers, ok := details["answers"].([]any); ok {
			out[FieldAnswerCount] = float64(len(answers))
		}
	}
	return out
}

// Kind is what an anomaly is.
type Kind string

const (
	Spike Kind = "spike" // runs far from the baseline, judged on every run
	Drift Kind = "drift" // a sustained trend, judged by the analyzer
)

// Anomaly is one episode of a field of a check on a system.
type Anomaly struct {
	ID              string     `json:"id"`
	SystemID        string     `json:"systemId"`
	ConfigurationID string     `json:"configurationId"`
	Field           string     `json:"field"`
	Kind            Kind       `json:"kind"`
	State           State      `json:"state"`
	StartedAt       time.Time  `json:"startedAt"`
	ConfirmedAt     *time.Time `json:"confirmedAt"`
	RecoveredAt     *time.Time `json:"recoveredAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
	// Observations is how many anomalous observations the episode saw.
	Observations int `json:"observations"`
	// Value is the latest anomalous value (a drift: the slope per day).
	Value    float64 `json:"value"`
	Baseline Centre  `json:"baseline"`
	// Deviation is the latest in spreads; PeakDeviation the largest.
	Deviation     float64 `json:"deviation"`
	PeakDeviation float64 `json:"peakDeviation"`
	// Suppressed: an admin silenced it; it notifies nobody.
	Suppressed bool `json:"suppressed"`

	observedAt time.Time
	flat       int
}

// Open reports whether the episode is going on.
func (a Anomaly) Open() bool { return a.State == Suspicious || a.State == Confirmed }

// Centre is the baseline an anomaly was judged against.
type Centre struct {
	Median float64 `json:"median"`
	Spread float64 `json:"spread"`
}

// Baseline is what the analyzer learnt of one field of a check on a
// system.
type Baseline struct {
	SystemID        string    `json:"systemId"`
	ConfigurationID string    `json:"configurationId"`
	Field           string    `json:"field"`
	WindowDays      int       `json:"windowDays"`
	ComputedAt      time.Time `json:"computedAt"`
	Stats
}

// Mute is a user's mute of a system's anomaly notifications.
type Mute struct {
	SystemID  string    `json:"systemId"`
	Field     string    `json:"fieldPath"` // "": every field
	CreatedAt time.Time `json:"createdAt"`
}

var (
	// ErrNotFound is returned for an id that names nothing.
	ErrNotFound = errors.New("anomaly: not found")
)
