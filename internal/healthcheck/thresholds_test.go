package healthcheck

import (
	"strings"
	"testing"

	"github.com/checkstack/checkstack/internal/probe"
)

// runs turns "hhffd" into run outcomes: h healthy, d degraded, f unhealthy.
func runs(s string) []probe.Status {
	out := make([]probe.Status, len(s))
	for i, c := range s {
		out[i] = map[rune]probe.Status{'h': probe.Healthy, 'd': probe.Degraded, 'f': probe.Unhealthy}[c]
	}
	return out
}

func TestThresholds(t *testing.T) {
	consecutive, _ := Thresholds{}.Normalize()
	window, _ := Thresholds{Mode: ModeWindow}.Normalize()
	slowRecovery, _ := Thresholds{HealthyAfter: 3}.Normalize()
	for _, tc := range []struct {
		name string
		t    Thresholds
		runs string
		want Status
	}{
		{"no decision yet after one failure", consecutive, "f", Unknown},
		{"two failures in a row are degraded", consecutive, "ff", Degraded},
		{"a degraded run counts as a failure", consecutive, "fd", Degraded},
		{"five failures in a row are unhealthy", consecutive, "fffff", Unhealthy},
		{"one success after failures is healthy again", consecutive, "fffffh", Healthy},
		{"a failure after a success starts a new streak", consecutive, "ffhf", Healthy},
		{"recovery can require several successes", slowRecovery, "fffffhh", Unhealthy},
		{"and is healthy once they happen", slowRecovery, "fffffhhh", Healthy},
		{"a window with two failures is healthy", window, "hfhhfhhhhh", Healthy},
		{"a window with three failures is degraded", window, "hfhfhfhhhh", Degraded},
		{"a window with seven failures is unhealthy", window, "fffffffhhh", Unhealthy},
		{"only the last ten runs count", window, "ffffffff" + strings.Repeat("h", 10), Healthy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := state{Status: Unknown}
			for _, r := range runs(tc.runs) {
				st = tc.t.apply(st, r)
			}
			if st.Status != tc.want {
				t.Fatalf("after %s: %s, want %s", tc.runs, st.Status, tc.want)
			}
		})
	}
}

func TestThresholdsRemembersAtMostAHundredRuns(t *testing.T) {
	th, _ := Thresholds{}.Normalize()
	st := state{Status: Unknown}
	for range 250 {
		st = th.apply(st, probe.Healthy)
	}
	if len(st.Recent) != maxWindow || st.Successes != 250 {
		t.Fatalf("recent %d, successes %d", len(st.Recent), st.Successes)
	}
}

func TestThresholdsValidation(t *testing.T) {
	for _, tc := range []struct {
		in   Thresholds
		want string
	}{
		{Thresholds{Mode: "sometimes"}, "thresholds.mode"},
		{Thresholds{DegradedAfter: -1}, "thresholds.degradedAfter"},
		{Thresholds{DegradedAfter: 6}, "thresholds.unhealthyAfter: must be at least degradedAfter"},
		{Thresholds{Mode: ModeWindow, WindowSize: 2}, "thresholds.windowSize"},
		{Thresholds{Mode: ModeWindow, WindowSize: 101}, "thresholds.windowSize"},
		{Thresholds{Mode: ModeWindow, WindowDegraded: 11}, "thresholds.windowDegraded"},
		{Thresholds{Mode: ModeWindow, WindowDegraded: 5, WindowUnhealthy: 4}, "thresholds.windowUnhealthy"},
	} {
		if _, err := tc.in.Normalize(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Normalize(%+v) = %v, want an error naming %s", tc.in, err, tc.want)
		}
	}
	got, err := Thresholds{}.Normalize()
	if err != nil || got != (Thresholds{Mode: ModeConsecutive, DegradedAfter: 2, UnhealthyAfter: 5, HealthyAfter: 1}) {
		t.Fatalf("defaults %+v, %v", got, err)
	}
}

func TestWorst(t *testing.T) {
	if Worst(Unknown, Healthy) != Healthy || Worst(Degraded, Healthy) != Degraded || Worst(Unhealthy, Degraded) != Unhealthy || Worst(Unknown, Unknown) != Unknown {
		t.Fatal("Worst orders unknown < healthy < degraded < unhealthy")
	}
}
