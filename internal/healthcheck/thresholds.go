package healthcheck

import (
	"strings"

	"github.com/checkstack/checkstack/internal/probe"
	"github.com/checkstack/checkstack/internal/rpc"
)

// Status is a check's or a system's health. A single run is healthy,
// degraded or unhealthy; unknown means no run has decided yet.
type Status string

const (
	Unknown   Status = "unknown"
	Healthy   Status = "healthy"
	Degraded  Status = "degraded"
	Unhealthy Status = "unhealthy"
)

// rank orders statuses from best to worst; unknown ranks below healthy so
// that it never hides a known state.
func (s Status) rank() int {
	switch s {
	case Healthy:
		return 1
	case Degraded:
		return 2
	case Unhealthy:
		return 3
	default:
		return 0
	}
}

// Worst returns the worse of two statuses (unknown loses to anything).
func Worst(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Threshold modes.
const (
	ModeConsecutive = "consecutive"
	ModeWindow      = "window"
)

// Thresholds turn an association's recent runs into its state.
//
// Consecutive mode counts the streak from the newest run (a degraded run
// is a failure): UnhealthyAfter failures → unhealthy, else DegradedAfter →
// degraded, else HealthyAfter successes → healthy; otherwise the state
// stays as it was. Window mode looks at the last WindowSize runs:
// WindowUnhealthy failures → unhealthy, WindowDegraded → degraded, else
// healthy.
type Thresholds struct {
	Mode            string `json:"mode"`
	DegradedAfter   int    `json:"degradedAfter,omitempty"`
	UnhealthyAfter  int    `json:"unhealthyAfter,omitempty"`
	HealthyAfter    int    `json:"healthyAfter,omitempty"`
	WindowSize      int    `json:"windowSize,omitempty"`
	WindowDegraded  int    `json:"windowDegraded,omitempty"`
	WindowUnhealthy int    `json:"windowUnhealthy,omitempty"`
}

// maxWindow is the most runs a window looks at, and so the most outcomes
// an association remembers.
const maxWindow = 100

// Normalize fills defaults and checks the values, naming the field in
// "thresholds.<field>".
func (t Thresholds) Normalize() (Thresholds, error) {
	if t.Mode == "" {
		t.Mode = ModeConsecutive
	}
	switch t.Mode {
	case ModeConsecutive:
		t.DegradedAfter = orDefault(t.DegradedAfter, 2)
		t.UnhealthyAfter = orDefault(t.UnhealthyAfter, 5)
		t.HealthyAfter = orDefault(t.HealthyAfter, 1)
		t.WindowSize, t.WindowDegraded, t.WindowUnhealthy = 0, 0, 0
		for _, f := range []struct {
			name string
			v    int
		}{{"degradedAfter", t.DegradedAfter}, {"unhealthyAfter", t.UnhealthyAfter}, {"healthyAfter", t.HealthyAfter}} {
			if f.v < 1 || f.v > maxWindow {
				return t, rpc.Invalid("thresholds."+f.name, "must be between 1 and 100")
			}
		}
		if t.UnhealthyAfter < t.DegradedAfter {
			return t, rpc.Invalid("thresholds.unhealthyAfter", "must be at least degradedAfter")
		}
	case ModeWindow:
		t.WindowSize = orDefault(t.WindowSize, 10)
		t.WindowDegraded = orDefault(t.WindowDegraded, 3)
		t.WindowUnhealthy = orDefault(t.WindowUnhealthy, 7)
		t.DegradedAfter, t.UnhealthyAfter, t.HealthyAfter = 0, 0, 0
		if t.WindowSize < 3 || t.WindowSize > maxWindow {
			return t, rpc.Invalid("thresholds.windowSize", "must be between 3 and 100")
		}
		if t.WindowDegraded < 1 || t.WindowDegraded > t.WindowSize {
			return t, rpc.Invalid("thresholds.windowDegraded", "must be between 1 and windowSize")
		}
		if t.WindowUnhealthy < t.WindowDegraded || t.WindowUnhealthy > t.WindowSize {
			return t, rpc.Invalid("thresholds.windowUnhealthy", "must be between windowDegraded and windowSize")
		}
	default:
		return t, rpc.Invalid("thresholds.mode", `must be "consecutive" or "window"`)
	}
	return t, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// state is what an association remembers of its runs.
type state struct {
	Status    Status
	Failures  int    // consecutive, from the newest run
	Successes int    // consecutive, from the newest run
	Recent    string // outcomes, oldest first, newest last: 'h' success, 'f' failure; at most maxWindow
}

// apply adds one run's outcome to st and evaluates t.
func (t Thresholds) apply(st state, run probe.Status) state {
	failed := run != probe.Healthy
	if failed {
		st.Failures++
		st.Successes = 0
		st.Recent += "f"
	} else {
		st.Successes++
		st.Failures = 0
		st.Recent += "h"
	}
	if len(st.Recent) > maxWindow {
		st.Recent = st.Recent[len(st.Recent)-maxWindow:]
	}
	st.Status = t.evaluate(st)
	return st
}

func (t Thresholds) evaluate(st state) Status {
	if t.Mode == ModeWindow {
		window := st.Recent
		if len(window) > t.WindowSize {
			window = window[len(window)-t.WindowSize:]
		}
		failures := strings.Count(window, "f")
		switch {
		case failures >= t.WindowUnhealthy:
			return Unhealthy
		case failures >= t.WindowDegraded:
			return Degraded
		default:
			return Healthy
		}
	}
	switch {
	case st.Failures >= t.UnhealthyAfter:
		return Unhealthy
	case st.Failures >= t.DegradedAfter:
		return Degraded
	case st.Successes >= t.HealthyAfter:
		return Healthy
	default:
		return st.Status // not decided: stays as it was
	}
}
