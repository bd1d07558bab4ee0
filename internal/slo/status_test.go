package slo

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// Every expected figure below is worked out by hand. Most cases use the
// objective 99.9% over 30 days:
//
//	window      = 30 × 1440        = 43200 min
//	budget      = 0.1% × 43200     = 43.2 min
//	availability = (43200 − consumed)/43200 × 100 = 100 − consumed/432
//	consumed %  = consumed/43.2 × 100
//	a short window's burn rate = (down ÷ window length) ÷ 0.001
//	                           = down/window × 1000
//	(5 min = 300 s, 30 min = 1800 s, 1 h = 3600 s, 6 h = 21600 s)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func objective(target float64, days int, mode Mode, excluded ...string) Objective {
	return Objective{
		ID:                  "obj-1",
		SystemID:            "sys-1",
		Name:                "Checkout is up",
		Target:              target,
		WindowDays:          days,
		Mode:                mode,
		ExcludedUpstreamIDs: excluded,
	}
}

// selfDown is a closed self-attributed outage from `from` ago to `to` ago.
func selfDown(from, to time.Duration) Event {
	end := now.Add(-to)
	return Event{ObjectiveID: "obj-1", SystemID: "sys-1", StartedAt: now.Add(-from), EndedAt: &end, Attribution: Self}
}

// selfOpen is a self-attributed outage that began `from` ago and is open.
func selfOpen(from time.Duration) Event {
	return Event{ObjectiveID: "obj-1", SystemID: "sys-1", StartedAt: now.Add(-from), Attribution: Self}
}

// upstreamDown is a closed outage blamed on upstream id.
func upstreamDown(id, name string, from, to time.Duration) Event {
	e := selfDown(from, to)
	e.Attribution, e.UpstreamID, e.UpstreamName = Upstream, id, name
	return e
}

// upstreamOpen is an open outage blamed on upstream id.
func upstreamOpen(id, name string, from time.Duration) Event {
	e := selfOpen(from)
	e.Attribution, e.UpstreamID, e.UpstreamName = Upstream, id, name
	return e
}

func downSince(d time.Duration) Live { return Live{Down: true, Since: now.Add(-d)} }

// untouched is the status of a 99.9%/30-day objective with nothing spent
// and nothing shown: 100% available, 43.2 of 43.2 min left.
func untouched() Status {
	return Status{
		Availability:       100,
		StrictAvailability: 100,
		ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 0, RemainingMinutes: 43.2, ConsumedPercent: 0, RemainingPercent: 100},
		Downtime:           Downtime{ByUpstream: []UpstreamDowntime{}},
	}
}

func degraded(s Status) Status {
	s.IsDegraded = true
	return s
}

func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

func assertNear(t *testing.T, what string, got, want float64) {
	t.Helper()
	if !near(got, want) {
		t.Errorf("%s = %.12g, want %.12g", what, got, want)
	}
}

func assertStatus(t *testing.T, got, want Status) {
	t.Helper()
	assertNear(t, "availability", got.Availability, want.Availability)
	assertNear(t, "strictAvailability", got.StrictAvailability, want.StrictAvailability)
	assertNear(t, "errorBudget.totalMinutes", got.ErrorBudget.TotalMinutes, want.ErrorBudget.TotalMinutes)
	assertNear(t, "errorBudget.consumedMinutes", got.ErrorBudget.ConsumedMinutes, want.ErrorBudget.ConsumedMinutes)
	assertNear(t, "errorBudget.remainingMinutes", got.ErrorBudget.RemainingMinutes, want.ErrorBudget.RemainingMinutes)
	assertNear(t, "errorBudget.consumedPercent", got.ErrorBudget.ConsumedPercent, want.ErrorBudget.ConsumedPercent)
	assertNear(t, "errorBudget.remainingPercent", got.ErrorBudget.RemainingPercent, want.ErrorBudget.RemainingPercent)
	assertNear(t, "burnRate", got.BurnRate, want.BurnRate)
	assertNear(t, "burnRates.5m", got.BurnRates.FiveMinutes, want.BurnRates.FiveMinutes)
	assertNear(t, "burnRates.30m", got.BurnRates.ThirtyMinutes, want.BurnRates.ThirtyMinutes)
	assertNear(t, "burnRates.1h", got.BurnRates.OneHour, want.BurnRates.OneHour)
	assertNear(t, "burnRates.6h", got.BurnRates.SixHours, want.BurnRates.SixHours)
	if got.Alerts != want.Alerts {
		t.Errorf("alerts = %+v, want %+v", got.Alerts, want.Alerts)
	}
	if got.IsBreaching != want.IsBreaching {
		t.Errorf("isBreaching = %v, want %v (availability %.12g)", got.IsBreaching, want.IsBreaching, got.Availability)
	}
	if got.IsDegraded != want.IsDegraded {
		t.Errorf("isDegraded = %v, want %v", got.IsDegraded, want.IsDegraded)
	}
	if got.AtRisk != want.AtRisk {
		t.Errorf("atRisk = %v, want %v (remaining %.12g%%)", got.AtRisk, want.AtRisk, got.ErrorBudget.RemainingPercent)
	}
	assertNear(t, "downtime.totalMinutes", got.Downtime.TotalMinutes, want.Downtime.TotalMinutes)
	assertNear(t, "downtime.selfMinutes", got.Downtime.SelfMinutes, want.Downtime.SelfMinutes)
	assertNear(t, "downtime.upstreamMinutes", got.Downtime.UpstreamMinutes, want.Downtime.UpstreamMinutes)
	if got.Downtime.ByUpstream == nil {
		t.Errorf("downtime.byUpstream is nil, want a (possibly empty) slice")
	}
	if len(got.Downtime.ByUpstream) != len(want.Downtime.ByUpstream) {
		t.Errorf("downtime.byUpstream = %+v, want %+v", got.Downtime.ByUpstream, want.Downtime.ByUpstream)
		return
	}
	for i, g := range got.Downtime.ByUpstream {
		w := want.Downtime.ByUpstream[i]
		if g.SystemID != w.SystemID || g.Name != w.Name || !near(g.Minutes, w.Minutes) {
			t.Errorf("downtime.byUpstream[%d] = %+v, want %+v (all: %+v)", i, g, w, got.Downtime.ByUpstream)
		}
	}
}

func TestComputeStatus(t *testing.T) {
	strict := objective(99.9, 30, Strict)
	selfOnly := objective(99.9, 30, SelfOnly)

	// 30 min of self downtime, 2 days ago: consumed 30, remaining 13.2;
	// 30/43.2 = 69.4444…%, 13.2/43.2 = 30.5555…%; availability
	// 100 − 30/432 = 99.930555…; nothing in the last 6 h.
	thirtyMinutes := Status{
		Availability:       99.930555555556,
		StrictAvailability: 99.930555555556,
		ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 30, RemainingMinutes: 13.2, ConsumedPercent: 69.444444444444, RemainingPercent: 30.555555555556},
		BurnRate:           0.69444444444444,
		Downtime:           Downtime{TotalMinutes: 30, SelfMinutes: 30, ByUpstream: []UpstreamDowntime{}},
	}

	// 10 min spent: remaining 33.2; 10/43.2 = 23.148148…%,
	// 33.2/43.2 = 76.851851…%; availability 100 − 10/432 = 99.976851…
	tenMinutesBudget := Budget{TotalMinutes: 43.2, ConsumedMinutes: 10, RemainingMinutes: 33.2, ConsumedPercent: 23.148148148148, RemainingPercent: 76.851851851852}

	// 40 min blamed on db, 3 days ago.
	dbForty := upstreamDown("db", "Database", 3*day, 3*day-40*time.Minute)
	fortyOnDB := Downtime{TotalMinutes: 40, UpstreamMinutes: 40, ByUpstream: []UpstreamDowntime{{SystemID: "db", Name: "Database", Minutes: 40}}}
	// Not spent: availability 100; strict 100 − 40/432 = 99.907407…
	fortyUnspent := untouched()
	fortyUnspent.StrictAvailability = 99.907407407407
	fortyUnspent.Downtime = fortyOnDB
	// Spent: remaining 3.2; 40/43.2 = 92.592592…%, 3.2/43.2 = 7.407407…%
	// (≤ 20: at risk); availability 99.907407… ≥ 99.9: not breaching.
	fortySpent := Status{
		Availability:       99.907407407407,
		StrictAvailability: 99.907407407407,
		ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 40, RemainingMinutes: 3.2, ConsumedPercent: 92.592592592593, RemainingPercent: 7.4074074074074},
		BurnRate:           0.92592592592593,
		AtRisk:             true,
		Downtime:           fortyOnDB,
	}

	// An hour-long outage going on now, counted: consumed 60 > 43.2, so
	// remaining 0 (0%), consumed 60/43.2 = 138.888…%, burnRate 1.38888…;
	// availability 100 − 60/432 = 99.861111… < 99.9: breaching.
	// 5m, 30m, 1h all down: 1 × 1000 = 1000; 6h: 60/360 × 1000 = 166.666…
	// Fast (1000 ≥ 14.4 twice) and slow (166.7 ≥ 6, 1000 ≥ 6) both fire.
	hourDownNow := Status{
		Availability:       99.861111111111,
		StrictAvailability: 99.861111111111,
		ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 60, RemainingMinutes: 0, ConsumedPercent: 138.88888888889, RemainingPercent: 0},
		BurnRate:           1.3888888888889,
		BurnRates:          BurnRates{FiveMinutes: 1000, ThirtyMinutes: 1000, OneHour: 1000, SixHours: 166.66666666667},
		Alerts:             Alerts{FastBurn: true, SlowBurn: true},
		IsBreaching:        true,
		IsDegraded:         true,
		AtRisk:             true,
		Downtime:           Downtime{TotalMinutes: 60, SelfMinutes: 60, ByUpstream: []UpstreamDowntime{}},
	}
	hourDownNowOnDB := hourDownNow
	hourDownNowOnDB.Downtime = Downtime{TotalMinutes: 60, UpstreamMinutes: 60, ByUpstream: []UpstreamDowntime{{SystemID: "db", Name: "Database", Minutes: 60}}}

	tests := []struct {
		name   string
		o      Objective
		events []Event
		live   Live
		want   Status
	}{
		// 1. Nothing happened.
		{
			name: "with no downtime the objective is fully available with its whole budget",
			o:    strict,
			want: untouched(),
		},
		{
			name: "a self-only objective with no downtime is fully available too",
			o:    selfOnly,
			want: untouched(),
		},
		{
			name: "a system down now without an open event is not degraded",
			o:    strict,
			live: downSince(5 * time.Minute),
			want: untouched(),
		},

		// 2. One closed self outage.
		{
			name:   "a closed 30-minute self outage spends 30 minutes in strict mode",
			o:      strict,
			events: []Event{selfDown(48*time.Hour, 47*time.Hour+30*time.Minute)},
			want:   thirtyMinutes,
		},
		{
			name:   "a closed 30-minute self outage spends the same in self-only mode",
			o:      selfOnly,
			events: []Event{selfDown(48*time.Hour, 47*time.Hour+30*time.Minute)},
			want:   thirtyMinutes,
		},

		// 3. The window's edge.
		{
			// Starts 20 min before the window start, ends 10 min after it:
			// 10 min inside.
			name:   "an outage straddling the window start counts only its part inside",
			o:      strict,
			events: []Event{selfDown(30*day+20*time.Minute, 30*day-10*time.Minute)},
			want: Status{
				Availability:       99.976851851852,
				StrictAvailability: 99.976851851852,
				ErrorBudget:        tenMinutesBudget,
				BurnRate:           0.23148148148148,
				Downtime:           Downtime{TotalMinutes: 10, SelfMinutes: 10, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			name:   "an outage that ended before the window is ignored",
			o:      strict,
			events: []Event{selfDown(31*day, 30*day+time.Hour)},
			want:   untouched(),
		},
		{
			name:   "an outage that ended exactly at the window start is ignored",
			o:      strict,
			events: []Event{selfDown(30*day+30*time.Minute, 30*day)},
			want:   untouched(),
		},
		{
			name: "only the outages inside the window count when some are outside",
			o:    strict,
			events: []Event{
				selfDown(31*day, 30*day+time.Hour),
				selfDown(30*day+20*time.Minute, 30*day-10*time.Minute),
			},
			want: Status{
				Availability:       99.976851851852,
				StrictAvailability: 99.976851851852,
				ErrorBudget:        tenMinutesBudget,
				BurnRate:           0.23148148148148,
				Downtime:           Downtime{TotalMinutes: 10, SelfMinutes: 10, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// Open since 40 days, still down: the whole 43200 min count.
			// availability 0; consumed 43200/43.2 = 1000 × budget = 100000%;
			// every short window fully down: 1000.
			name:   "an outage open since before the window counts the whole window",
			o:      strict,
			events: []Event{selfOpen(40 * day)},
			live:   downSince(40 * day),
			want: Status{
				Availability:       0,
				StrictAvailability: 0,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 43200, RemainingMinutes: 0, ConsumedPercent: 100000, RemainingPercent: 0},
				BurnRate:           1000,
				BurnRates:          BurnRates{FiveMinutes: 1000, ThirtyMinutes: 1000, OneHour: 1000, SixHours: 1000},
				Alerts:             Alerts{FastBurn: true, SlowBurn: true},
				IsBreaching:        true,
				IsDegraded:         true,
				AtRisk:             true,
				Downtime:           Downtime{TotalMinutes: 43200, SelfMinutes: 43200, ByUpstream: []UpstreamDowntime{}},
			},
		},

		// 4. Open outages and live health.
		{
			// 20 min to now: remaining 23.2; 20/43.2 = 46.296296…%,
			// 23.2/43.2 = 53.703703…%; availability 100 − 20/432 = 99.953703…
			// 5m fully down: 1000; 30m: 20/30 × 1000 = 666.666…;
			// 1h: 20/60 × 1000 = 333.333…; 6h: 20/360 × 1000 = 55.555…
			name:   "an open outage while the system is down counts up to now and degrades it",
			o:      strict,
			events: []Event{selfOpen(20 * time.Minute)},
			live:   downSince(20 * time.Minute),
			want: Status{
				Availability:       99.953703703704,
				StrictAvailability: 99.953703703704,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 20, RemainingMinutes: 23.2, ConsumedPercent: 46.296296296296, RemainingPercent: 53.703703703704},
				BurnRate:           0.46296296296296,
				BurnRates:          BurnRates{FiveMinutes: 1000, ThirtyMinutes: 666.66666666667, OneHour: 333.33333333333, SixHours: 55.555555555556},
				Alerts:             Alerts{FastBurn: true, SlowBurn: true},
				IsDegraded:         true,
				Downtime:           Downtime{TotalMinutes: 20, SelfMinutes: 20, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// Opened 20 min ago, up again since 5 min ago: 15 min count.
			// remaining 28.2; 15/43.2 = 34.722…%, 28.2/43.2 = 65.277…%;
			// availability 100 − 15/432 = 99.965277…
			// 5m: clear, 0; 30m: 15/30 × 1000 = 500; 1h: 15/60 × 1000 = 250;
			// 6h: 15/360 × 1000 = 41.666… → slow burn only.
			name:   "an open outage on a system up again counts up to the recovery and does not degrade it",
			o:      strict,
			events: []Event{selfOpen(20 * time.Minute)},
			live:   Live{Down: false, Since: now.Add(-5 * time.Minute)},
			want: Status{
				Availability:       99.965277777778,
				StrictAvailability: 99.965277777778,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 15, RemainingMinutes: 28.2, ConsumedPercent: 34.722222222222, RemainingPercent: 65.277777777778},
				BurnRate:           0.34722222222222,
				BurnRates:          BurnRates{FiveMinutes: 0, ThirtyMinutes: 500, OneHour: 250, SixHours: 41.666666666667},
				Alerts:             Alerts{FastBurn: false, SlowBurn: true},
				Downtime:           Downtime{TotalMinutes: 15, SelfMinutes: 15, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			name:   "an open outage on a system up since an unknown time counts nothing",
			o:      strict,
			events: []Event{selfOpen(20 * time.Minute)},
			live:   Live{},
			want:   untouched(),
		},
		{
			name:   "an open outage on a system reported up from now on counts nothing",
			o:      strict,
			events: []Event{selfOpen(20 * time.Minute)},
			live:   Live{Since: now},
			want:   untouched(),
		},
		{
			// Recovery 30 min ago, before the event even began 20 min ago.
			name:   "an open outage on a system up since before it began counts nothing",
			o:      strict,
			events: []Event{selfOpen(20 * time.Minute)},
			live:   Live{Since: now.Add(-30 * time.Minute)},
			want:   untouched(),
		},
		{
			name:   "an outage opened exactly now while down degrades without counting",
			o:      strict,
			events: []Event{selfOpen(0)},
			live:   downSince(0),
			want:   degraded(untouched()),
		},

		// 5. Upstream attribution.
		{
			name:   "self-only mode shows an upstream's downtime without spending it",
			o:      selfOnly,
			events: []Event{dbForty},
			want:   fortyUnspent,
		},
		{
			name:   "self-only mode does not spend an upstream's downtime when another upstream is excluded",
			o:      objective(99.9, 30, SelfOnly, "cache"),
			events: []Event{dbForty},
			want:   fortyUnspent,
		},
		{
			name:   "strict mode spends an upstream's downtime",
			o:      strict,
			events: []Event{dbForty},
			want:   fortySpent,
		},
		{
			name:   "self-only mode spends the downtime of an excluded upstream",
			o:      objective(99.9, 30, SelfOnly, "db"),
			events: []Event{dbForty},
			want:   fortySpent,
		},
		{
			// 10 min self (5 days ago) + 40 min on db: consumed 10;
			// availability 100 − 10/432 = 99.976851… (not breaching) while
			// strict availability 100 − 50/432 = 99.884259… is below target.
			name:   "self-only mode judges breaching on the self part of mixed downtime",
			o:      selfOnly,
			events: []Event{selfDown(5*day, 5*day-10*time.Minute), dbForty},
			want: Status{
				Availability:       99.976851851852,
				StrictAvailability: 99.884259259259,
				ErrorBudget:        tenMinutesBudget,
				BurnRate:           0.23148148148148,
				Downtime:           Downtime{TotalMinutes: 50, SelfMinutes: 10, UpstreamMinutes: 40, ByUpstream: []UpstreamDowntime{{SystemID: "db", Name: "Database", Minutes: 40}}},
			},
		},
		{
			// Same 50 min, all spent: remaining 0; 50/43.2 = 115.740740…%;
			// availability 99.884259… < 99.9: breaching.
			name:   "strict mode spends all of the same mixed downtime and breaches",
			o:      strict,
			events: []Event{selfDown(5*day, 5*day-10*time.Minute), dbForty},
			want: Status{
				Availability:       99.884259259259,
				StrictAvailability: 99.884259259259,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 50, RemainingMinutes: 0, ConsumedPercent: 115.74074074074, RemainingPercent: 0},
				BurnRate:           1.1574074074074,
				IsBreaching:        true,
				AtRisk:             true,
				Downtime:           Downtime{TotalMinutes: 50, SelfMinutes: 10, UpstreamMinutes: 40, ByUpstream: []UpstreamDowntime{{SystemID: "db", Name: "Database", Minutes: 40}}},
			},
		},

		// 6. Several upstreams.
		{
			// queue 5, cache 10, db 15 + 10 = 25, auth 10, self 3.
			// Order: db 25, then the 10s by id (auth < cache), then queue 5.
			// upstream 50, total 53; consumed 3: remaining 40.2;
			// 3/43.2 = 6.944…%, 40.2/43.2 = 93.055…%;
			// availability 100 − 3/432 = 99.993055…; strict 100 − 53/432 = 99.877314…
			name: "upstreams are listed by most minutes first, ties by system id",
			o:    selfOnly,
			events: []Event{
				upstreamDown("queue", "Queue", 6*day, 6*day-5*time.Minute),
				upstreamDown("cache", "Cache", 5*day, 5*day-10*time.Minute),
				upstreamDown("db", "Database", 4*day, 4*day-15*time.Minute),
				upstreamDown("auth", "Auth", 3*day, 3*day-10*time.Minute),
				upstreamDown("db", "Database", 2*day, 2*day-10*time.Minute),
				selfDown(day, day-3*time.Minute),
			},
			want: Status{
				Availability:       99.993055555556,
				StrictAvailability: 99.877314814815,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 3, RemainingMinutes: 40.2, ConsumedPercent: 6.9444444444444, RemainingPercent: 93.055555555556},
				BurnRate:           0.069444444444444,
				Downtime: Downtime{TotalMinutes: 53, SelfMinutes: 3, UpstreamMinutes: 50, ByUpstream: []UpstreamDowntime{
					{SystemID: "db", Name: "Database", Minutes: 25},
					{SystemID: "auth", Name: "Auth", Minutes: 10},
					{SystemID: "cache", Name: "Cache", Minutes: 10},
					{SystemID: "queue", Name: "Queue", Minutes: 5},
				}},
			},
		},

		// 7. Breaching boundary.
		{
			// 43 min 12 s = 43.2 min, the whole budget: availability
			// 100 − 43.2/432 = 99.9 = target → not breaching; remaining 0
			// (0%, at risk), consumed 100%, burnRate 1.
			name:   "availability exactly at the target is not breaching",
			o:      strict,
			events: []Event{selfDown(10*day, 10*day-(43*time.Minute+12*time.Second))},
			want: Status{
				Availability:       99.9,
				StrictAvailability: 99.9,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 43.2, RemainingMinutes: 0, ConsumedPercent: 100, RemainingPercent: 0},
				BurnRate:           1,
				AtRisk:             true,
				Downtime:           Downtime{TotalMinutes: 43.2, SelfMinutes: 43.2, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// 43 min 13 s = 43.21666… min: availability 100 − 43.21666…/432
			// = 100 − 0.1000385802… = 99.8999614197…; consumed
			// 43.21666…/43.2 = 100.0385802…%.
			name:   "availability one second of downtime below the target is breaching",
			o:      strict,
			events: []Event{selfDown(10*day, 10*day-(43*time.Minute+13*time.Second))},
			want: Status{
				Availability:       99.899961419753,
				StrictAvailability: 99.899961419753,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 43.216666666667, RemainingMinutes: 0, ConsumedPercent: 100.03858024691, RemainingPercent: 0},
				BurnRate:           1.0003858024691,
				IsBreaching:        true,
				AtRisk:             true,
				Downtime:           Downtime{TotalMinutes: 43.216666666667, SelfMinutes: 43.216666666667, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// 75% over 1 day: window 1440 min, budget 25% = 360 min, allowed
			// fraction 0.25. Down from 8 h ago to 2 h ago = 360 min:
			// availability 1080/1440 = 75 = target → not breaching.
			// 5m/30m/1h: clear; 6h: 4 h (6 h ago to 2 h ago) = 240/360 of it,
			// ÷ 0.25 = 2.666…
			name:   "a daily 75% objective down exactly six hours is not breaching",
			o:      objective(75, 1, Strict),
			events: []Event{selfDown(8*time.Hour, 2*time.Hour)},
			want: Status{
				Availability:       75,
				StrictAvailability: 75,
				ErrorBudget:        Budget{TotalMinutes: 360, ConsumedMinutes: 360, RemainingMinutes: 0, ConsumedPercent: 100, RemainingPercent: 0},
				BurnRate:           1,
				BurnRates:          BurnRates{SixHours: 2.6666666666667},
				AtRisk:             true,
				Downtime:           Downtime{TotalMinutes: 360, SelfMinutes: 360, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// 361 min: availability 1079/1440 × 100 = 74.930555…;
			// consumed 361/360 = 100.2777…%.
			name:   "a daily 75% objective down six hours and a minute is breaching",
			o:      objective(75, 1, Strict),
			events: []Event{selfDown(8*time.Hour+time.Minute, 2*time.Hour)},
			want: Status{
				Availability:       74.930555555556,
				StrictAvailability: 74.930555555556,
				ErrorBudget:        Budget{TotalMinutes: 360, ConsumedMinutes: 361, RemainingMinutes: 0, ConsumedPercent: 100.27777777778, RemainingPercent: 0},
				BurnRate:           1.0027777777778,
				BurnRates:          BurnRates{SixHours: 2.6666666666667},
				IsBreaching:        true,
				AtRisk:             true,
				Downtime:           Downtime{TotalMinutes: 361, SelfMinutes: 361, ByUpstream: []UpstreamDowntime{}},
			},
		},

		// 8. At-risk boundary.
		{
			// 34 min 33.6 s = 34.56 min: remaining 8.64 = 20% of 43.2 → at
			// risk; consumed 80%, burnRate 0.8; availability 100 − 0.08 = 99.92.
			name:   "exactly 20% of the budget left is at risk",
			o:      strict,
			events: []Event{selfDown(10*day, 10*day-(34*time.Minute+33600*time.Millisecond))},
			want: Status{
				Availability:       99.92,
				StrictAvailability: 99.92,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 34.56, RemainingMinutes: 8.64, ConsumedPercent: 80, RemainingPercent: 20},
				BurnRate:           0.8,
				AtRisk:             true,
				Downtime:           Downtime{TotalMinutes: 34.56, SelfMinutes: 34.56, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// 34.5 min: remaining 8.7; 8.7/43.2 = 20.13888…% → not at risk;
			// 34.5/43.2 = 79.86111…%; availability 100 − 34.5/432 = 99.920138…
			name:   "a little more than 20% of the budget left is not at risk",
			o:      strict,
			events: []Event{selfDown(10*day, 10*day-(34*time.Minute+30*time.Second))},
			want: Status{
				Availability:       99.920138888889,
				StrictAvailability: 99.920138888889,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 34.5, RemainingMinutes: 8.7, ConsumedPercent: 79.861111111111, RemainingPercent: 20.138888888889},
				BurnRate:           0.79861111111111,
				Downtime:           Downtime{TotalMinutes: 34.5, SelfMinutes: 34.5, ByUpstream: []UpstreamDowntime{}},
			},
		},

		{
			// 87.5% over 1 day, whose allowed fraction 0.125 is exact in
			// binary, so 20% comes out exactly: budget 12.5% × 1440 = 180 min;
			// 144 min down leaves 36 = 20% → at risk; consumed 80%,
			// burnRate 0.8; availability 1296/1440 = 90.
			name:   "exactly 20% of a binary-exact budget left is at risk",
			o:      objective(87.5, 1, Strict),
			events: []Event{selfDown(10*time.Hour, 10*time.Hour-144*time.Minute)},
			want: Status{
				Availability:       90,
				StrictAvailability: 90,
				ErrorBudget:        Budget{TotalMinutes: 180, ConsumedMinutes: 144, RemainingMinutes: 36, ConsumedPercent: 80, RemainingPercent: 20},
				BurnRate:           0.8,
				AtRisk:             true,
				Downtime:           Downtime{TotalMinutes: 144, SelfMinutes: 144, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// 143 min: remaining 37 = 37/180 = 20.5555…% → not at risk;
			// consumed 143/180 = 79.4444…%; availability 1297/1440 = 90.069444…
			name:   "a minute more of a binary-exact budget left is not at risk",
			o:      objective(87.5, 1, Strict),
			events: []Event{selfDown(10*time.Hour, 10*time.Hour-143*time.Minute)},
			want: Status{
				Availability:       90.069444444444,
				StrictAvailability: 90.069444444444,
				ErrorBudget:        Budget{TotalMinutes: 180, ConsumedMinutes: 143, RemainingMinutes: 37, ConsumedPercent: 79.444444444444, RemainingPercent: 20.555555555556},
				BurnRate:           0.79444444444444,
				Downtime:           Downtime{TotalMinutes: 143, SelfMinutes: 143, ByUpstream: []UpstreamDowntime{}},
			},
		},

		// 9. Overspent.
		{
			// 90 min: remaining max(0, 43.2 − 90) = 0, 0%; consumed
			// 90/43.2 = 208.333…%, burnRate 2.08333…; availability
			// 100 − 90/432 = 99.791666…
			name:   "an overspent budget has nothing left and more than 100% consumed",
			o:      strict,
			events: []Event{selfDown(10*day, 10*day-90*time.Minute)},
			want: Status{
				Availability:       99.791666666667,
				StrictAvailability: 99.791666666667,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 90, RemainingMinutes: 0, ConsumedPercent: 208.33333333333, RemainingPercent: 0},
				BurnRate:           2.0833333333333,
				IsBreaching:        true,
				AtRisk:             true,
				Downtime:           Downtime{TotalMinutes: 90, SelfMinutes: 90, ByUpstream: []UpstreamDowntime{}},
			},
		},

		// 10. Burn-rate alerts.
		{
			name:   "fast burn fires for an hour-long outage still going on",
			o:      strict,
			events: []Event{selfOpen(time.Hour)},
			live:   downSince(time.Hour),
			want:   hourDownNow,
		},
		{
			// 70 min ago to 10 min ago: 60 min, same budget as above.
			// 5m: clear, 0; 30m: 20/30 × 1000 = 666.666…;
			// 1h: 50/60 × 1000 = 833.333…; 6h: 60/360 × 1000 = 166.666…
			// Fast needs 5m ≥ 14.4 too → off; slow → on.
			name:   "fast burn stops once the last five minutes are clear though the hour burns high",
			o:      strict,
			events: []Event{selfDown(70*time.Minute, 10*time.Minute)},
			want: Status{
				Availability:       99.861111111111,
				StrictAvailability: 99.861111111111,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 60, RemainingMinutes: 0, ConsumedPercent: 138.88888888889, RemainingPercent: 0},
				BurnRate:           1.3888888888889,
				BurnRates:          BurnRates{FiveMinutes: 0, ThirtyMinutes: 666.66666666667, OneHour: 833.33333333333, SixHours: 166.66666666667},
				Alerts:             Alerts{FastBurn: false, SlowBurn: true},
				IsBreaching:        true,
				AtRisk:             true,
				Downtime:           Downtime{TotalMinutes: 60, SelfMinutes: 60, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// Down for the last 51.84 s = 0.864 min:
			// 5m: 51.84/300 × 1000 = 172.8; 30m: 51.84/1800 × 1000 = 28.8;
			// 1h: 51.84/3600 × 1000 = 14.4 (= threshold → fires);
			// 6h: 51.84/21600 × 1000 = 2.4 (< 6 → no slow burn).
			// consumed 0.864/43.2 = 2%, remaining 42.336 = 98%;
			// availability 100 − 0.864/432 = 99.998.
			name:   "fast burn fires at exactly 14.4 over the hour",
			o:      strict,
			events: []Event{selfOpen(51840 * time.Millisecond)},
			live:   downSince(51840 * time.Millisecond),
			want: Status{
				Availability:       99.998,
				StrictAvailability: 99.998,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 0.864, RemainingMinutes: 42.336, ConsumedPercent: 2, RemainingPercent: 98},
				BurnRate:           0.02,
				BurnRates:          BurnRates{FiveMinutes: 172.8, ThirtyMinutes: 28.8, OneHour: 14.4, SixHours: 2.4},
				Alerts:             Alerts{FastBurn: true, SlowBurn: false},
				IsDegraded:         true,
				Downtime:           Downtime{TotalMinutes: 0.864, SelfMinutes: 0.864, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// Down for the last 51 s = 0.85 min:
			// 5m: 51/300 × 1000 = 170; 30m: 51/1800 × 1000 = 28.333…;
			// 1h: 51/3600 × 1000 = 14.1666… (< 14.4); 6h: 51/21600 × 1000 = 2.36111…
			// consumed 0.85/43.2 = 1.967592…%, remaining 42.35/43.2 = 98.032407…%;
			// availability 100 − 0.85/432 = 99.998032407…
			name:   "fast burn does not fire just below 14.4 over the hour",
			o:      strict,
			events: []Event{selfOpen(51 * time.Second)},
			live:   downSince(51 * time.Second),
			want: Status{
				Availability:       99.998032407407,
				StrictAvailability: 99.998032407407,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 0.85, RemainingMinutes: 42.35, ConsumedPercent: 1.9675925925926, RemainingPercent: 98.032407407407},
				BurnRate:           0.019675925925926,
				BurnRates:          BurnRates{FiveMinutes: 170, ThirtyMinutes: 28.333333333333, OneHour: 14.166666666667, SixHours: 2.3611111111111},
				IsDegraded:         true,
				Downtime:           Downtime{TotalMinutes: 0.85, SelfMinutes: 0.85, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// 96 s five hours ago + 48 s from 4 min ago: 144 s = 2.4 min.
			// 5m: 48/300 × 1000 = 160; 30m: 48/1800 × 1000 = 26.666…;
			// 1h: 48/3600 × 1000 = 13.333… (< 14.4: no fast burn although
			// 5m ≥ 14.4); 6h: 144/21600 × 1000 = 6.666… (≥ 6 and 30m ≥ 6: slow).
			// remaining 40.8; 2.4/43.2 = 5.555…%, 40.8/43.2 = 94.444…%;
			// availability 100 − 2.4/432 = 99.994444…
			name: "slow burn fires without fast burn when the hour stays under 14.4",
			o:    strict,
			events: []Event{
				selfDown(5*time.Hour, 5*time.Hour-96*time.Second),
				selfDown(4*time.Minute, 4*time.Minute-48*time.Second),
			},
			want: Status{
				Availability:       99.994444444444,
				StrictAvailability: 99.994444444444,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 2.4, RemainingMinutes: 40.8, ConsumedPercent: 5.5555555555556, RemainingPercent: 94.444444444444},
				BurnRate:           0.055555555555556,
				BurnRates:          BurnRates{FiveMinutes: 160, ThirtyMinutes: 26.666666666667, OneHour: 13.333333333333, SixHours: 6.6666666666667},
				Alerts:             Alerts{FastBurn: false, SlowBurn: true},
				Downtime:           Downtime{TotalMinutes: 2.4, SelfMinutes: 2.4, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// 81.6 s + 48 s = 129.6 s = 2.16 min: 6h: 129.6/21600 × 1000 = 6
			// (= threshold → fires); other windows as above.
			// 2.16/43.2 = 5%, remaining 41.04 = 95%; availability 100 − 0.005 = 99.995.
			name: "slow burn fires at exactly 6 over six hours",
			o:    strict,
			events: []Event{
				selfDown(5*time.Hour, 5*time.Hour-81600*time.Millisecond),
				selfDown(4*time.Minute, 4*time.Minute-48*time.Second),
			},
			want: Status{
				Availability:       99.995,
				StrictAvailability: 99.995,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 2.16, RemainingMinutes: 41.04, ConsumedPercent: 5, RemainingPercent: 95},
				BurnRate:           0.05,
				BurnRates:          BurnRates{FiveMinutes: 160, ThirtyMinutes: 26.666666666667, OneHour: 13.333333333333, SixHours: 6},
				Alerts:             Alerts{FastBurn: false, SlowBurn: true},
				Downtime:           Downtime{TotalMinutes: 2.16, SelfMinutes: 2.16, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// 81 s + 48 s = 129 s = 2.15 min: 6h: 129/21600 × 1000 = 5.97222…
			// (< 6 → no slow burn). 2.15/43.2 = 4.976851…%,
			// 41.05/43.2 = 95.023148…%; availability 100 − 2.15/432 = 99.995023148…
			name: "slow burn does not fire just below 6 over six hours",
			o:    strict,
			events: []Event{
				selfDown(5*time.Hour, 5*time.Hour-81*time.Second),
				selfDown(4*time.Minute, 4*time.Minute-48*time.Second),
			},
			want: Status{
				Availability:       99.995023148148,
				StrictAvailability: 99.995023148148,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 2.15, RemainingMinutes: 41.05, ConsumedPercent: 4.9768518518519, RemainingPercent: 95.023148148148},
				BurnRate:           0.049768518518519,
				BurnRates:          BurnRates{FiveMinutes: 160, ThirtyMinutes: 26.666666666667, OneHour: 13.333333333333, SixHours: 5.9722222222222},
				Downtime:           Downtime{TotalMinutes: 2.15, SelfMinutes: 2.15, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// 10 min five hours ago + 10 s from 20 min ago: 610 s = 10.1666… min.
			// 6h: 610/21600 × 1000 = 28.2407…; 30m: 10/1800 × 1000 = 5.555…
			// (< 6 → no slow burn); 1h: 10/3600 × 1000 = 2.777…; 5m: 0.
			// remaining 43.2 − 10.1666… = 33.0333…; 10.1666…/43.2 = 23.533950…%,
			// 33.0333…/43.2 = 76.466049…%; availability 100 − 10.1666…/432
			// = 100 − 0.023533950… = 99.976466049…
			name: "slow burn does not fire when the last half hour stays under 6",
			o:    strict,
			events: []Event{
				selfDown(5*time.Hour, 5*time.Hour-10*time.Minute),
				selfDown(20*time.Minute, 20*time.Minute-10*time.Second),
			},
			want: Status{
				Availability:       99.976466049383,
				StrictAvailability: 99.976466049383,
				ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 10.166666666667, RemainingMinutes: 33.033333333333, ConsumedPercent: 23.533950617284, RemainingPercent: 76.466049382716},
				BurnRate:           0.23533950617284,
				BurnRates:          BurnRates{FiveMinutes: 0, ThirtyMinutes: 5.5555555555556, OneHour: 2.7777777777778, SixHours: 28.240740740741},
				Downtime:           Downtime{TotalMinutes: 10.166666666667, SelfMinutes: 10.166666666667, ByUpstream: []UpstreamDowntime{}},
			},
		},

		{
			// 96.875% over 30 days: allowed fraction 0.03125 = 1/32, exact in
			// binary, so a burn rate is the down fraction × 32 with no
			// rounding at the thresholds. Budget 3.125% × 43200 = 1350 min.
			// 24 min 45 s from an hour ago + the last 2 min 15 s (open, down)
			// = 27 min. 5m: 135/300 = 0.45 × 32 = 14.4; 1h: 1620/3600 = 0.45
			// × 32 = 14.4 → both exactly at 14.4: fast burn. 30m: 135/1800 =
			// 0.075 × 32 = 2.4; 6h: 1620/21600 × 32 = 2.4 → no slow burn.
			// consumed 27/1350 = 2%, remaining 1323 = 98%; availability
			// 100 − 27/432 = 99.9375.
			name: "fast burn fires when the hour and the five minutes are both exactly at 14.4",
			o:    objective(96.875, 30, Strict),
			events: []Event{
				selfDown(time.Hour, time.Hour-1485*time.Second),
				selfOpen(135 * time.Second),
			},
			live: downSince(135 * time.Second),
			want: Status{
				Availability:       99.9375,
				StrictAvailability: 99.9375,
				ErrorBudget:        Budget{TotalMinutes: 1350, ConsumedMinutes: 27, RemainingMinutes: 1323, ConsumedPercent: 2, RemainingPercent: 98},
				BurnRate:           0.02,
				BurnRates:          BurnRates{FiveMinutes: 14.4, ThirtyMinutes: 2.4, OneHour: 14.4, SixHours: 2.4},
				Alerts:             Alerts{FastBurn: true, SlowBurn: false},
				IsDegraded:         true,
				Downtime:           Downtime{TotalMinutes: 27, SelfMinutes: 27, ByUpstream: []UpstreamDowntime{}},
			},
		},
		{
			// Same objective. 61 min 52.5 s five hours ago + 5 min 37.5 s from
			// 20 min ago = 67.5 min. 6h: 4050/21600 = 0.1875 × 32 = 6;
			// 30m: 337.5/1800 = 0.1875 × 32 = 6 → both exactly at 6: slow burn.
			// 1h: 337.5/3600 × 32 = 3; 5m: clear → no fast burn.
			// consumed 67.5/1350 = 5%, remaining 1282.5 = 95%; availability
			// 100 − 67.5/432 = 99.84375.
			name: "slow burn fires when six hours and the half hour are both exactly at 6",
			o:    objective(96.875, 30, Strict),
			events: []Event{
				selfDown(5*time.Hour, 5*time.Hour-3712500*time.Millisecond),
				selfDown(20*time.Minute, 20*time.Minute-337500*time.Millisecond),
			},
			want: Status{
				Availability:       99.84375,
				StrictAvailability: 99.84375,
				ErrorBudget:        Budget{TotalMinutes: 1350, ConsumedMinutes: 67.5, RemainingMinutes: 1282.5, ConsumedPercent: 5, RemainingPercent: 95},
				BurnRate:           0.05,
				BurnRates:          BurnRates{FiveMinutes: 0, ThirtyMinutes: 6, OneHour: 3, SixHours: 6},
				Alerts:             Alerts{FastBurn: false, SlowBurn: true},
				Downtime:           Downtime{TotalMinutes: 67.5, SelfMinutes: 67.5, ByUpstream: []UpstreamDowntime{}},
			},
		},

		// 12. Degraded and attribution of the open event.
		{
			// Open on db for the last hour, down: shown (60 min upstream,
			// strict availability 100 − 60/432 = 99.861111…) but not spent,
			// so no burn and not degraded.
			name:   "a self-only objective down now because of an upstream is not degraded",
			o:      selfOnly,
			events: []Event{upstreamOpen("db", "Database", time.Hour)},
			live:   downSince(time.Hour),
			want: func() Status {
				s := untouched()
				s.StrictAvailability = 99.861111111111
				s.Downtime = hourDownNowOnDB.Downtime
				return s
			}(),
		},
		{
			name:   "a strict objective down now because of an upstream is degraded",
			o:      strict,
			events: []Event{upstreamOpen("db", "Database", time.Hour)},
			live:   downSince(time.Hour),
			want:   hourDownNowOnDB,
		},
		{
			name:   "a self-only objective down now because of an excluded upstream is degraded",
			o:      objective(99.9, 30, SelfOnly, "db"),
			events: []Event{upstreamOpen("db", "Database", time.Hour)},
			live:   downSince(time.Hour),
			want:   hourDownNowOnDB,
		},
		{
			// Self from 30 to 20 min ago, then blame moved to db (open).
			// Spent: 10 min → budget as for 10 min, availability 99.976851…;
			// strict 100 − 30/432 = 99.930555…
			// 5m: 0; 30m: 10/30 × 1000 = 333.333…; 1h: 10/60 × 1000 = 166.666…;
			// 6h: 10/360 × 1000 = 27.777… → slow burn only; the open event
			// is db's: not degraded.
			name: "after blame moves to an upstream self-only mode spends only the self part",
			o:    selfOnly,
			events: []Event{
				selfDown(30*time.Minute, 20*time.Minute),
				upstreamOpen("db", "Database", 20*time.Minute),
			},
			live: downSince(30 * time.Minute),
			want: Status{
				Availability:       99.976851851852,
				StrictAvailability: 99.930555555556,
				ErrorBudget:        tenMinutesBudget,
				BurnRate:           0.23148148148148,
				BurnRates:          BurnRates{FiveMinutes: 0, ThirtyMinutes: 333.33333333333, OneHour: 166.66666666667, SixHours: 27.777777777778},
				Alerts:             Alerts{FastBurn: false, SlowBurn: true},
				Downtime:           Downtime{TotalMinutes: 30, SelfMinutes: 10, UpstreamMinutes: 20, ByUpstream: []UpstreamDowntime{{SystemID: "db", Name: "Database", Minutes: 20}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ComputeStatus(tt.o, tt.events, tt.live, now)
			if !got.ComputedAt.Equal(now) {
				t.Errorf("computedAt = %v, want %v", got.ComputedAt, now)
			}
			if wantStart := now.AddDate(0, 0, -tt.o.WindowDays); !got.WindowStart.Equal(wantStart) {
				t.Errorf("windowStart = %v, want %v", got.WindowStart, wantStart)
			}
			assertStatus(t, got, tt.want)
		})
	}
}

func TestComputeStatusIgnoresEventOrder(t *testing.T) {
	o := objective(99.9, 30, SelfOnly)
	live := downSince(40 * time.Minute)
	events := []Event{
		selfDown(2*day, 2*day-15*time.Minute),
		upstreamDown("db", "Database", 3*day, 3*day-10*time.Minute),
		upstreamDown("cache", "Cache", day, day-20*time.Minute),
		selfDown(40*time.Minute, 30*time.Minute),
		upstreamOpen("db", "Database", 30*time.Minute),
	}
	// Self 15 + 10 = 25 (spent); db 10 + 30 = 40, cache 20: upstream 60,
	// total 85. remaining 43.2 − 25 = 18.2; 25/43.2 = 57.870370…%,
	// 18.2/43.2 = 42.129629…%; availability 100 − 25/432 = 99.942129…;
	// strict 100 − 85/432 = 99.803240…
	// The last self outage ended 30 min ago: 5m 0, 30m 0,
	// 1h 10/60 × 1000 = 166.666…, 6h 10/360 × 1000 = 27.777…; no alert
	// (fast needs 5m, slow needs 30m). The open event is db's: not degraded.
	want := Status{
		Availability:       99.942129629630,
		StrictAvailability: 99.803240740741,
		ErrorBudget:        Budget{TotalMinutes: 43.2, ConsumedMinutes: 25, RemainingMinutes: 18.2, ConsumedPercent: 57.870370370370, RemainingPercent: 42.129629629630},
		BurnRate:           0.57870370370370,
		BurnRates:          BurnRates{OneHour: 166.66666666667, SixHours: 27.777777777778},
		Downtime: Downtime{TotalMinutes: 85, SelfMinutes: 25, UpstreamMinutes: 60, ByUpstream: []UpstreamDowntime{
			{SystemID: "db", Name: "Database", Minutes: 40},
			{SystemID: "cache", Name: "Cache", Minutes: 20},
		}},
	}

	t.Run("events in order give the hand-computed status", func(t *testing.T) {
		assertStatus(t, ComputeStatus(o, events, live, now), want)
	})
	t.Run("events in any of the 120 orders give the same status", func(t *testing.T) {
		n := 0
		permute(events, func(p []Event) {
			n++
			if t.Failed() {
				return
			}
			assertStatus(t, ComputeStatus(o, p, live, now), want)
			if t.Failed() {
				t.Logf("with the events in the order started %v", starts(p))
			}
		})
		if n != 120 {
			t.Fatalf("tried %d orders, want all 120", n)
		}
	})
}

// permute calls f with every ordering of es (Heap's algorithm, on a copy).
func permute(es []Event, f func([]Event)) {
	p := append([]Event(nil), es...)
	var gen func(k int)
	gen = func(k int) {
		if k <= 1 {
			f(p)
			return
		}
		for i := 0; i < k-1; i++ {
			gen(k - 1)
			if k%2 == 0 {
				p[i], p[k-1] = p[k-1], p[i]
			} else {
				p[0], p[k-1] = p[k-1], p[0]
			}
		}
		gen(k - 1)
	}
	gen(len(p))
}

func starts(es []Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = now.Sub(e.StartedAt).String() + " ago"
	}
	return out
}

func TestComputeStatusDoesNotChangeItsInput(t *testing.T) {
	o := objective(99.9, 30, SelfOnly, "db")
	events := []Event{
		upstreamDown("db", "Database", 3*day, 3*day-40*time.Minute),
		selfOpen(20 * time.Minute),
	}
	before := append([]Event(nil), events...)
	first := ComputeStatus(o, events, downSince(20*time.Minute), now)
	second := ComputeStatus(o, events, downSince(20*time.Minute), now)
	for i := range events {
		if events[i].StartedAt != before[i].StartedAt || events[i].EndedAt != before[i].EndedAt || events[i].Attribution != before[i].Attribution {
			t.Fatalf("event %d changed: %+v, was %+v", i, events[i], before[i])
		}
	}
	if len(o.ExcludedUpstreamIDs) != 1 || o.ExcludedUpstreamIDs[0] != "db" {
		t.Fatalf("objective changed: %+v", o)
	}
	assertStatus(t, second, first)
}

func TestComputeStatusWithoutUpstreamDowntimeEncodesAnEmptyList(t *testing.T) {
	st := ComputeStatus(objective(99.9, 30, Strict), nil, Live{}, now)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"byUpstream":[]`) {
		t.Fatalf("byUpstream is not an empty list in %s", b)
	}
}

func TestMaintenanceClipsDowntimeUnlessTheObjectiveCountsIt(t *testing.T) {
	// 120 min down (3 h to 1 h ago), 60 of them inside a maintenance
	// window (2.5 h to 1.5 h ago).
	closed := []Event{selfDown(3*time.Hour, time.Hour)}
	window := []Interval{{From: now.Add(-150 * time.Minute), To: now.Add(-90 * time.Minute)}}
	// Down for the last 10 min, inside a window under way for 20.
	open := []Event{selfOpen(10 * time.Minute)}
	ongoing := []Interval{{From: now.Add(-20 * time.Minute)}}

	for _, tc := range []struct {
		name       string
		mode       MaintenanceMode
		events     []Event
		live       Live
		consumed   float64
		strict     float64
		inMaint    float64
		burn6h     float64
		burn5m     float64
		degraded   bool
		fast, slow bool
	}{
		// consumed 60: availability 100 − 60/432; 6 h burn 60/360 × 1000.
		{"a past window, excluded", MaintenanceExclude, closed, Live{Maintenance: window}, 60, 100 - 60.0/432, 60, 60.0 / 360 * 1000, 0, false, false, false},
		{"the default excludes", "", closed, Live{Maintenance: window}, 60, 100 - 60.0/432, 60, 60.0 / 360 * 1000, 0, false, false, false},
		{"a past window, counted", MaintenanceCount, closed, Live{Maintenance: window}, 120, 100 - 120.0/432, 60, 120.0 / 360 * 1000, 0, false, false, false},
		// Windows that overlap count once.
		{"overlapping windows", MaintenanceExclude, closed, Live{Maintenance: append(window,
			Interval{From: now.Add(-100 * time.Minute), To: now.Add(-80 * time.Minute)})}, 50, 100 - 50.0/432, 70, 50.0 / 360 * 1000, 0, false, false, false},
		// Down now, inside a window: nothing spent, not degraded.
		{"an ongoing window, excluded", MaintenanceExclude, open, Live{Down: true, Maintenance: ongoing}, 0, 100, 10, 0, 0, false, false, false},
		// Counted: 10 min spent; 5 min of the last 5 → 1000×; 1 h: 166.7×; 30 m: 333×; 6 h: 27.8×.
		{"an ongoing window, counted", MaintenanceCount, open, Live{Down: true, Maintenance: ongoing}, 10, 100 - 10.0/432, 10, 10.0 / 360 * 1000, 1000, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := objective(99.9, 30, Strict)
			o.Maintenance = tc.mode
			st := ComputeStatus(o, tc.events, tc.live, now)
			assertNear(t, "consumedMinutes", st.ErrorBudget.ConsumedMinutes, tc.consumed)
			assertNear(t, "availability", st.Availability, 100-tc.consumed/432)
			assertNear(t, "strictAvailability", st.StrictAvailability, tc.strict)
			assertNear(t, "downtime.maintenanceMinutes", st.Downtime.MaintenanceMinutes, tc.inMaint)
			assertNear(t, "burnRates.6h", st.BurnRates.SixHours, tc.burn6h)
			assertNear(t, "burnRates.5m", st.BurnRates.FiveMinutes, tc.burn5m)
			if st.IsDegraded != tc.degraded || st.Alerts.FastBurn != tc.fast || st.Alerts.SlowBurn != tc.slow {
				t.Errorf("degraded %v, fast %v, slow %v; want %v, %v, %v", st.IsDegraded, st.Alerts.FastBurn, st.Alerts.SlowBurn, tc.degraded, tc.fast, tc.slow)
			}
			total := 120.0
			if len(tc.events) == 1 && tc.events[0].Open() {
				total = 10
			}
			assertNear(t, "downtime.totalMinutes", st.Downtime.TotalMinutes, total) // the events are clipped, not deleted
		})
	}
}
