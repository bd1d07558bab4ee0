package slo

import (
	"math"
	"sort"
	"time"
)

// Live is what the rest of the platform says of an objective's subject
// (its system, or its one check) right now: its health, and its system's
// maintenance. Live health is authoritative for open events: an open
// event counts up to now only while the subject is really down.
type Live struct {
	Down bool
	// Since is when the subject's present state began, when health knows
	// it (zero otherwise). An open event on a subject that is up now
	// (a recovery the engine has not recorded yet) counts up to Since, or
	// not at all when Since is unknown.
	Since time.Time
	// Maintenance are the stretches the system was under maintenance
	// (any order, overlapping or not). Unless the objective counts
	// maintenance, downtime inside them is shown but not spent.
	Maintenance []Interval
}

// Interval is a stretch of time; a zero To means it is still going on.
type Interval struct {
	From, To time.Time
}

// Multi-window burn-rate alerting, as in the SRE workbook: an alert fires
// when both its long and its short window burn at least the threshold.
const (
	FastBurnThreshold = 14.4 // 2% of a 30-day budget in one hour
	SlowBurnThreshold = 6.0  // 5% of a 30-day budget in six hours
	atRiskPercent     = 20.0 // budget remaining at or below this is at risk

	// epsilon absorbs floating-point error at the thresholds, so that a
	// figure exactly on one (availability equal to the target, say) is
	// decided as the rule says rather than by rounding. It is far below
	// anything a clock can measure: 1e-9 % of a day is 0.9 µs.
	epsilon = 1e-9
)

// Status is an objective's state over its window, at ComputedAt.
type Status struct {
	WindowStart time.Time `json:"windowStart"`
	ComputedAt  time.Time `json:"computedAt"`
	// Availability is the percentage of the window not spent from the
	// budget: (window − consumed) ÷ window × 100.
	Availability float64 `json:"availability"`
	// StrictAvailability counts all downtime, whatever the mode.
	StrictAvailability float64 `json:"strictAvailability"`
	ErrorBudget        Budget  `json:"errorBudget"`
	// BurnRate is the average burn rate over the whole window: budget
	// consumed ÷ budget total. At 1 the budget lasts exactly the window.
	BurnRate float64 `json:"burnRate"`
	// BurnRates are the burn rates over the short windows alerts use.
	BurnRates BurnRates `json:"burnRates"`
	Alerts    Alerts    `json:"alerts"`
	// IsBreaching: availability is below the target.
	IsBreaching bool `json:"isBreaching"`
	// IsDegraded: the subject is down now and its open event spends budget.
	IsDegraded bool `json:"isDegraded"`
	// AtRisk: 20% of the budget or less remains.
	AtRisk   bool     `json:"atRisk"`
	Downtime Downtime `json:"downtime"`
}

// Budget is the error budget over the window, in minutes and percent of
// the total.
type Budget struct {
	TotalMinutes     float64 `json:"totalMinutes"`
	ConsumedMinutes  float64 `json:"consumedMinutes"`
	RemainingMinutes float64 `json:"remainingMinutes"`
	ConsumedPercent  float64 `json:"consumedPercent"` // may exceed 100
	RemainingPercent float64 `json:"remainingPercent"`
}

// BurnRates is the budget's burn rate over each alerting window: the
// fraction of the window spent down ÷ the fraction the target allows.
type BurnRates struct {
	FiveMinutes   float64 `json:"5m"`
	ThirtyMinutes float64 `json:"30m"`
	OneHour       float64 `json:"1h"`
	SixHours      float64 `json:"6h"`
}

// Alerts are the multi-window burn-rate alerts.
type Alerts struct {
	// FastBurn: the 1 h and 5 min burn rates are both at least 14.4.
	FastBurn bool `json:"fastBurn"`
	// SlowBurn: the 6 h and 30 min burn rates are both at least 6.
	SlowBurn bool `json:"slowBurn"`
}

// Downtime is the downtime inside the window, by attribution.
type Downtime struct {
	TotalMinutes    float64 `json:"totalMinutes"`
	SelfMinutes     float64 `json:"selfMinutes"`
	UpstreamMinutes float64 `json:"upstreamMinutes"`
	// MaintenanceMinutes is the part of the total inside maintenance
	// windows: not spent, unless the objective counts maintenance.
	MaintenanceMinutes float64            `json:"maintenanceMinutes"`
	ByUpstream         []UpstreamDowntime `json:"byUpstream"`
}

// UpstreamDowntime is the downtime blamed on one upstream system.
type UpstreamDowntime struct {
	SystemID string  `json:"systemId"`
	Name     string  `json:"name,omitempty"`
	Minutes  float64 `json:"minutes"`
}

// ComputeStatus computes an objective's status at now from its events
// (any order; those outside the window are ignored) and the live health of
// its subject. It is pure: the same input gives the same status.
//
// Each event counts for its overlap with the window [now − WindowDays,
// now]; an open event ends at now while live.Down, else at live.Since (or
// at once, when Since is unknown). An event spends budget in strict mode
// always, in self-only mode when it is attributed to the system itself or
// to an upstream the objective now excludes. Events of one objective do
// not overlap (the engine never opens one before closing the last).
func ComputeStatus(o Objective, events []Event, live Live, now time.Time) Status {
	window := o.Window()
	start := now.Add(-window)
	st := Status{WindowStart: start, ComputedAt: now, Downtime: Downtime{ByUpstream: []UpstreamDowntime{}}}

	var total, self, upstream, consumed, inMaintenance, excluded time.Duration
	var short [4]time.Duration // counted downtime in the last 5m, 30m, 1h, 6h
	shortWindows := [4]time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour}
	byUpstream := map[string]*UpstreamDowntime{}
	maint := merge(live.Maintenance, now)
	exclude := o.Maintenance != MaintenanceCount
	// counted is the part of [s, e) ∩ [from, to) that spends budget.
	counted := func(s, e, from, to time.Time) time.Duration {
		d := overlap(s, e, from, to)
		if exclude && d > 0 {
			d -= overlapAll(s, e, from, to, maint)
		}
		return d
	}
	for _, e := range events {
		spends := o.Mode == Strict || e.Attribution == Self || o.excludes(e.UpstreamID)
		if spends && e.Open() && live.Down && !(exclude && during(maint, now)) {
			st.IsDegraded = true
		}
		end := eventEnd(e, live, now)
		d := overlap(e.StartedAt, end, start, now)
		if d <= 0 {
			continue
		}
		m := overlapAll(e.StartedAt, end, start, now, maint)
		inMaintenance += m
		if exclude {
			excluded += m
		}
		total += d
		if e.Attribution == Self {
			self += d
		} else {
			upstream += d
			u := byUpstream[e.UpstreamID]
			if u == nil {
				u = &UpstreamDowntime{SystemID: e.UpstreamID, Name: e.UpstreamName}
				byUpstream[e.UpstreamID] = u
			}
			u.Minutes += minutes(d)
			if u.Name == "" {
				u.Name = e.UpstreamName
			}
		}
		if !spends {
			continue
		}
		consumed += counted(e.StartedAt, end, start, now)
		for i, w := range shortWindows {
			short[i] += counted(e.StartedAt, end, now.Add(-w), now)
		}
	}

	// The fraction of time the budget allows. Targets are decimals such as
	// 99.9, which binary floating point cannot hold exactly; rounding the
	// difference to nine places gives 0.001 rather than 0.00099999999999994.
	allowed := math.Round((100-o.Target)*1e9) / 1e9 / 100
	windowMin := minutes(window)
	budget := allowed * windowMin
	st.ErrorBudget = Budget{
		TotalMinutes:     budget,
		ConsumedMinutes:  minutes(consumed),
		RemainingMinutes: math.Max(0, budget-minutes(consumed)),
	}
	st.ErrorBudget.ConsumedPercent = st.ErrorBudget.ConsumedMinutes / budget * 100
	st.ErrorBudget.RemainingPercent = st.ErrorBudget.RemainingMinutes / budget * 100
	st.BurnRate = st.ErrorBudget.ConsumedMinutes / budget

	st.Availability = (windowMin - minutes(consumed)) / windowMin * 100
	st.StrictAvailability = (windowMin - minutes(total-excluded)) / windowMin * 100
	st.IsBreaching = st.Availability < o.Target-epsilon
	st.AtRisk = st.ErrorBudget.RemainingPercent <= atRiskPercent+epsilon

	rate := func(i int) float64 { return float64(short[i]) / float64(shortWindows[i]) / allowed }
	st.BurnRates = BurnRates{FiveMinutes: rate(0), ThirtyMinutes: rate(1), OneHour: rate(2), SixHours: rate(3)}
	st.Alerts = Alerts{
		FastBurn: st.BurnRates.OneHour >= FastBurnThreshold-epsilon && st.BurnRates.FiveMinutes >= FastBurnThreshold-epsilon,
		SlowBurn: st.BurnRates.SixHours >= SlowBurnThreshold-epsilon && st.BurnRates.ThirtyMinutes >= SlowBurnThreshold-epsilon,
	}

	st.Downtime.TotalMinutes = minutes(total)
	st.Downtime.SelfMinutes = minutes(self)
	st.Downtime.UpstreamMinutes = minutes(upstream)
	st.Downtime.MaintenanceMinutes = minutes(inMaintenance)
	for _, u := range byUpstream {
		st.Downtime.ByUpstream = append(st.Downtime.ByUpstream, *u)
	}
	sort.Slice(st.Downtime.ByUpstream, func(i, j int) bool {
		a, b := st.Downtime.ByUpstream[i], st.Downtime.ByUpstream[j]
		if a.Minutes != b.Minutes {
			return a.Minutes > b.Minutes
		}
		return a.SystemID < b.SystemID
	})
	return st
}

// eventEnd is when an event stops counting: its end, or for an open event
// now (down) or the recovery health reports (up).
func eventEnd(e Event, live Live, now time.Time) time.Time {
	switch {
	case e.EndedAt != nil:
		return *e.EndedAt
	case live.Down:
		return now
	case !live.Since.IsZero() && live.Since.Before(now):
		return live.Since
	default:
		return e.StartedAt
	}
}

// overlap is the length of [s, e) ∩ [from, to), or 0.
func overlap(s, e, from, to time.Time) time.Duration {
	if s.Before(from) {
		s = from
	}
	if e.After(to) {
		e = to
	}
	if !e.After(s) {
		return 0
	}
	return e.Sub(s)
}

func minutes(d time.Duration) float64 { return d.Minutes() }

// merge sorts intervals, ends the ongoing ones at now, and joins those
// that overlap or touch.
func merge(ins []Interval, now time.Time) []Interval {
	out := make([]Interval, 0, len(ins))
	for _, in := range ins {
		if in.To.IsZero() || in.To.After(now) {
			in.To = now
		}
		if in.To.After(in.From) {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	merged := out[:0]
	for _, in := range out {
		if n := len(merged); n > 0 && !in.From.After(merged[n-1].To) {
			if in.To.After(merged[n-1].To) {
				merged[n-1].To = in.To
			}
			continue
		}
		merged = append(merged, in)
	}
	return merged
}

// overlapAll is the length of [s, e) ∩ [from, to) ∩ (the union of ins),
// for ins merged.
func overlapAll(s, e, from, to time.Time, ins []Interval) time.Duration {
	if s.Before(from) {
		s = from
	}
	if e.After(to) {
		e = to
	}
	var d time.Duration
	for _, in := range ins {
		d += overlap(s, e, in.From, in.To)
	}
	return d
}

// during reports whether now falls in one of the merged intervals (an
// ongoing one ends at now).
func during(ins []Interval, now time.Time) bool {
	for _, in := range ins {
		if !now.Before(in.From) && !now.After(in.To) {
			return true
		}
	}
	return false
}
