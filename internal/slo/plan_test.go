package slo

import (
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/healthcheck"
)

func TestPlanBringsOpenEventsInLineWithHealth(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	recovered := at.Add(-3 * time.Minute)
	started := at.Add(-time.Hour)
	obj := Objective{ID: "o", SystemID: "a", Mode: SelfOnly}
	excluding := Objective{ID: "o", SystemID: "a", Mode: SelfOnly, ExcludedUpstreamIDs: []string{"b"}}
	status := func(st healthcheck.Status) healthcheck.SystemStatus { return healthcheck.SystemStatus{Status: st} }
	up := healthcheck.SystemStatus{Status: healthcheck.Healthy, Since: &recovered}
	selfOpen := Event{ID: "e", ObjectiveID: "o", SystemID: "a", StartedAt: started, Attribution: Self}
	blamedOnB := Event{ID: "e", ObjectiveID: "o", SystemID: "a", StartedAt: started, Attribution: Upstream, UpstreamID: "b"}
	leftOnX := Event{ID: "e", ObjectiveID: "o", SystemID: "x", StartedAt: started, Attribution: Self}

	type want struct {
		close   bool
		closeAt time.Time
		open    Attribution // "" = none
		blame   string
	}
	for _, tc := range []struct {
		name   string
		obj    Objective
		ups    []string
		health map[string]healthcheck.SystemStatus
		open   *Event
		want   *want // nil = no step
	}{
		{"up with nothing open needs nothing", obj, nil, map[string]healthcheck.SystemStatus{"a": up}, nil, nil},
		{"unknown is not down", obj, nil, map[string]healthcheck.SystemStatus{"a": status(healthcheck.Unknown)}, nil, nil},
		{"down with nothing open opens a self event", obj, nil,
			map[string]healthcheck.SystemStatus{"a": status(healthcheck.Unhealthy)}, nil, &want{open: Self}},
		{"degraded is down too", obj, nil,
			map[string]healthcheck.SystemStatus{"a": status(healthcheck.Degraded)}, nil, &want{open: Self}},
		{"down while an upstream is down blames the upstream", obj, []string{"b"},
			map[string]healthcheck.SystemStatus{"a": status(healthcheck.Unhealthy), "b": status(healthcheck.Unhealthy)}, nil, &want{open: Upstream, blame: "b"}},
		{"the first upstream down by id is blamed", obj, []string{"b", "c"},
			map[string]healthcheck.SystemStatus{"a": status(healthcheck.Unhealthy), "b": status(healthcheck.Healthy), "c": status(healthcheck.Degraded)}, nil, &want{open: Upstream, blame: "c"}},
		{"an excluded upstream is never blamed", excluding, []string{"b"},
			map[string]healthcheck.SystemStatus{"a": status(healthcheck.Unhealthy), "b": status(healthcheck.Unhealthy)}, nil, &want{open: Self}},
		{"down with the right event open needs nothing", obj, nil,
			map[string]healthcheck.SystemStatus{"a": status(healthcheck.Unhealthy)}, &selfOpen, nil},
		{"an upstream going down splits a self event", obj, []string{"b"},
			map[string]healthcheck.SystemStatus{"a": status(healthcheck.Unhealthy), "b": status(healthcheck.Unhealthy)}, &selfOpen,
			&want{close: true, closeAt: at, open: Upstream, blame: "b"}},
		{"the upstream recovering splits it back", obj, []string{"b"},
			map[string]healthcheck.SystemStatus{"a": status(healthcheck.Unhealthy), "b": status(healthcheck.Healthy)}, &blamedOnB,
			&want{close: true, closeAt: at, open: Self}},
		{"recovery closes at the time health says it recovered", obj, nil,
			map[string]healthcheck.SystemStatus{"a": up}, &selfOpen, &want{close: true, closeAt: recovered}},
		{"a recovery time before the event began is not used", obj, nil,
			map[string]healthcheck.SystemStatus{"a": {Status: healthcheck.Healthy, Since: &started}}, &selfOpen, &want{close: true, closeAt: at}},
		{"an event left on another system is closed, and one opens here when down", obj, nil,
			map[string]healthcheck.SystemStatus{"a": status(healthcheck.Unhealthy)}, &leftOnX, &want{close: true, closeAt: at, open: Self}},
		{"an event left on another system is closed now when this one is up", obj, nil,
			map[string]healthcheck.SystemStatus{"a": up}, &leftOnX, &want{close: true, closeAt: at}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open := map[string]Event{}
			if tc.open != nil {
				open["o"] = *tc.open
			}
			steps := plan([]Objective{tc.obj}, tc.ups, tc.health, open, at)
			if tc.want == nil {
				if len(steps) != 0 {
					t.Fatalf("steps %+v, want none", steps)
				}
				return
			}
			if len(steps) != 1 {
				t.Fatalf("steps %+v, want one", steps)
			}
			st := steps[0]
			if (st.close != nil) != tc.want.close || (tc.want.close && (st.close.ID != "e" || !st.closeAt.Equal(tc.want.closeAt))) {
				t.Fatalf("close %+v at %v, want close=%v at %v", st.close, st.closeAt, tc.want.close, tc.want.closeAt)
			}
			switch {
			case tc.want.open == "" && st.open != nil:
				t.Fatalf("opens %+v, want nothing opened", st.open)
			case tc.want.open != "" && (st.open == nil || st.open.Attribution != tc.want.open || st.open.UpstreamID != tc.want.blame ||
				!st.open.StartedAt.Equal(at) || st.open.SystemID != "a" || st.open.ObjectiveID != "o"):
				t.Fatalf("opens %+v, want a %s event blaming %q from %v", st.open, tc.want.open, tc.want.blame, at)
			}
		})
	}
}
