package anomaly

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestASlowDownTurnsSuspiciousThenAnAnomalyAndRecovers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 1)
		sys := e.systems[0]
		e.normal(MinSamples) // the first baseline is learnt after these
		bs, err := e.s.Baselines(t.Context(), sys, e.check)
		if err != nil || len(bs) != 1 || bs[0].Field != FieldLatency || bs[0].Samples != MinSamples {
			t.Fatalf("baselines after %d runs: %s, %v", MinSamples, js(bs), err)
		}
		e.normal(10)
		if len(e.bus.all()) != 0 || len(e.open(sys)) != 0 {
			t.Fatalf("normal runs raised %s", js(e.bus.all()))
		}

		for i, want := range []State{Suspicious, Suspicious, Confirmed, Confirmed} {
			e.run(400)
			got := e.open(sys)
			if len(got) != 1 || got[0].State != want || got[0].Observations != i+1 {
				t.Fatalf("slow run %d: open %s, want one %s episode", i+1, js(got), want)
			}
		}
		e.run(101)
		if got := e.open(sys); len(got) != 0 {
			t.Fatalf("after a normal run: still open %s", js(got))
		}
		if got, want := e.bus.states(), []State{Suspicious, Confirmed, Recovered}; !slices.Equal(got, want) {
			t.Fatalf("signals %v, want %v", got, want)
		}
		told := e.notifier.all()
		if len(told) != 2 || !strings.HasPrefix(told[0].Title, "Anomaly: latencyMs") || !strings.HasPrefix(told[1].Title, "Anomaly recovered: latencyMs") {
			t.Fatalf("told %+v, want the confirmation and the recovery", told)
		}
		// Every read at every signal was fresh.
		for _, obs := range e.bus.all() {
			var inSystem, inList *Anomaly
			for i := range obs.System {
				if obs.System[i].ID == obs.Payload.AnomalyID {
					inSystem = &obs.System[i]
				}
			}
			for i := range obs.List {
				if obs.List[i].ID == obs.Payload.AnomalyID {
					inList = &obs.List[i]
				}
			}
			open := obs.Payload.State == Suspicious || obs.Payload.State == Confirmed
			if open && (inSystem == nil || inSystem.State != obs.Payload.State) {
				t.Errorf("at the %s signal the bulk entry showed %s", obs.Payload.State, js(obs.System))
			}
			if !open && inSystem != nil {
				t.Errorf("at the %s signal the bulk entry still showed it open", obs.Payload.State)
			}
			if obs.Payload.State != Cleared && (inList == nil || inList.State != obs.Payload.State) {
				t.Errorf("at the %s signal the list showed %s", obs.Payload.State, js(obs.List))
			}
		}
		all, _ := e.truth.List(t.Context(), Filter{SystemID: sys})
		if len(all) != 1 || all[0].State != Recovered || all[0].ConfirmedAt == nil || all[0].RecoveredAt == nil || all[0].PeakDeviation < 10 {
			t.Fatalf("the episode afterwards: %s", js(all))
		}
	})
}

func TestASuspiciousEpisodeThatSeesANormalRunIsCleared(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 1)
		e.normal(MinSamples + 5)
		e.run(400)
		e.run(100)
		if got := e.open(e.systems[0]); len(got) != 0 {
			t.Fatalf("open after a single slow run and a normal one: %s", js(got))
		}
		if got, want := e.bus.states(), []State{Suspicious, Cleared}; !slices.Equal(got, want) {
			t.Fatalf("signals %v, want %v", got, want)
		}
		if len(e.notifier.all()) != 0 {
			t.Fatalf("an unconfirmed episode told %+v", e.notifier.all())
		}
	})
}

func TestMutedUsersAreLeftOutAndSuppressedAnomaliesTellNobody(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 1)
		sys := e.systems[0]
		for _, u := range []string{"alice", "bob", "carol"} {
			if _, err := db.For("test").ExecContext(t.Context(), `INSERT INTO auth_users (id, email, name, password_hash, role, created_at)
				VALUES (?, ?, ?, '', 'user', 0)`, u, u+"@example.com", u); err != nil {
				t.Fatal(err)
			}
		}
		must(t, e.s.Mute(t.Context(), "alice", sys, ""))
		must(t, e.s.Mute(t.Context(), "bob", sys, FieldLatency))
		must(t, e.s.Mute(t.Context(), "carol", sys, FieldResponseBytes))
		must(t, e.s.Mute(t.Context(), "carol", sys, FieldResponseBytes)) // idempotent
		e.normal(MinSamples + 5)
		for range 3 {
			e.run(400)
		}
		told := e.notifier.all()
		if len(told) != 1 || !slices.Equal(slices.Sorted(slices.Values(told[0].Skip)), []string{"alice", "bob"}) {
			t.Fatalf("the confirmation told %+v, want alice (every field) and bob (latency) left out", told)
		}
		open := e.open(sys)
		if _, err := e.s.Suppress(t.Context(), open[0].ID, true); err != nil {
			t.Fatal(err)
		}
		raws, _ := e.s.SystemsJSON(t.Context(), []string{sys})
		if string(raws[0]) != "[]" {
			t.Fatalf("a suppressed anomaly still shows on the badge: %s", raws[0])
		}
		e.run(100)
		if len(e.notifier.all()) != 1 {
			t.Fatalf("a suppressed anomaly's recovery told %+v", e.notifier.all()[1:])
		}
		ms, _ := e.s.Mutes(t.Context(), "carol")
		if len(ms) != 1 || ms[0].Field != FieldResponseBytes {
			t.Fatalf("carol's mutes: %s", js(ms))
		}
		must(t, e.s.Unmute(t.Context(), "carol", sys, FieldResponseBytes))
		if ms, _ := e.s.Mutes(t.Context(), "carol"); len(ms) != 0 {
			t.Fatalf("carol's mutes after unmuting: %s", js(ms))
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestTwoInstancesJudgingTheSameRunsOpenOneEpisodeAndConfirmOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 1)
		other, _ := e.instance(cache.NewMemory(cache.MemoryOptions{Now: e.clock.Now}))
		e.health.OnRunRecorded(other.RunRecorded) // both judge every run, as two servers would
		e.normal(MinSamples + 5)
		if _, err := other.learn(t.Context(), e.systems[0], e.check, nil, false); err != nil {
			t.Fatal(err)
		}
		// Slow runs judged at once by two instances, from nothing open:
		// interleaved, as two servers processing runs would.
		base := e.clock.Now()
		for round := range 10 {
			var wg sync.WaitGroup
			for k, s := range []*Service{e.s, other} {
				wg.Go(func() {
					for i := range 3 {
						at := base.Add(time.Duration(round*100+2*i+k+1) * time.Microsecond)
						if err := s.observe(context.Background(), e.systems[0], e.check, []observation{{field: FieldLatency, kind: Spike, value: 400,
							verdict: Verdict{Anomalous: true, Deviation: 50}, at: at, confirm: 3, recover: 1}}); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			confirmations := 0
			for _, m := range e.notifier.all() {
				if strings.HasPrefix(m.Title, "Anomaly: ") {
					confirmations++
				}
			}
			if confirmations != round+1 {
				t.Fatalf("round %d: %d confirmations told in all, want one a round", round, confirmations)
			}
			// A normal run ends the episode; the next round starts anew.
			at := base.Add(time.Duration(round*100+50) * time.Microsecond)
			if err := e.s.observe(t.Context(), e.systems[0], e.check, []observation{{field: FieldLatency, kind: Spike, value: 100,
				at: at, confirm: 3, recover: 1}}); err != nil {
				t.Fatal(err)
			}
		}
		all, _ := e.truth.List(t.Context(), Filter{SystemID: e.systems[0], Suppression: SuppressionAll, Limit: 500})
		if len(all) != 10 {
			t.Fatalf("%d episodes after 10 rounds, want 10", len(all))
		}
	})
}

func TestTheAnalyzerLearnsDriftAndRunsOncePerPeriodAcrossInstances(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 1)
		// A day of runs every 5 minutes climbing 50 ms a day (the noise is
		// 5 ms): drift.
		for i := range 24 * 12 {
			e.runAfter(5*time.Minute, 100+float64(i)/(24*12)*50+5*e.rand.NormFloat64())
		}
		other, _ := e.instance(cache.NewMemory(cache.MemoryOptions{Now: e.clock.Now}))
		e.s.Start(context.Background())
		other.Start(context.Background())
		passes := func() int64 { return e.s.passes.Load() + other.passes.Load() }
		// tick moves the clock to both analyzers' next try, once both
		// wait for it.
		tick := func() {
			waitUntil(t, func() bool { return e.clock.Waiting() == 2 })
			e.clock.Advance(5 * time.Minute)
		}
		waitUntil(t, func() bool { return passes() == 1 })
		for hour := 1; hour <= 2; hour++ {
			for range 12 { // every try of both analyzers in the hour
				tick()
			}
			waitUntil(t, func() bool { return passes() == int64(hour)+1 })
		}
		// Give both analyzers two more tries; no pass may come early.
		tick()
		tick()
		waitUntil(t, func() bool { return e.clock.Waiting() == 2 })
		if n := passes(); n != 3 {
			t.Fatalf("%d analyzer passes in two hours and a bit across two instances, want 3", n)
		}
		waitUntil(t, func() bool {
			as, _ := e.truth.List(t.Context(), Filter{SystemID: e.systems[0], Kind: Drift})
			return len(as) == 1 && as[0].State == Confirmed
		})
	})
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("the condition never held")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSettingsLayerOverTheDefaultsAndBadOnesAreRefusedByField(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 1)
		sys := e.systems[0]
		two, five, off := 2.0, 5, false
		must(t, e.s.SetCheckSettings(t.Context(), e.check, Settings{Overrides: Overrides{Sensitivity: &two},
			Fields: map[string]Overrides{FieldLatency: {ConfirmationWindow: &five}}}))
		must(t, e.s.SetAssignmentSettings(t.Context(), sys, e.check, Settings{Fields: map[string]Overrides{FieldAnswerCount: {Enabled: &off}}}))
		eff, err := e.s.Effective(t.Context(), sys, e.check)
		if err != nil {
			t.Fatal(err)
		}
		lat, ans := eff[FieldLatency], eff[FieldAnswerCount]
		if lat.Sensitivity != 2 || lat.ConfirmationWindow != 5 || lat.Direction != Higher || lat.MinRelativeDelta != 0.25 || !lat.Enabled {
			t.Errorf("latency: %+v", lat)
		}
		if ans.Enabled || ans.Sensitivity != 2 || ans.ConfirmationWindow != DefaultConfirmationWindow || ans.Direction != Both {
			t.Errorf("answer count: %+v", ans)
		}
		if err := e.s.SetCheckSettings(t.Context(), "no-such-check", Settings{}); err != ErrNotFound {
			t.Errorf("settings of an unknown check: %v", err)
		}
		bad := 0.01
		for _, tc := range []struct {
			s    Settings
			want string
		}{
			{Settings{Overrides: Overrides{Sensitivity: &bad}}, "config.sensitivity: must be between 0.1 and 10"},
			{Settings{Fields: map[string]Overrides{"temperature": {}}}, "config.fields.temperature: unknown field"},
			{Settings{Fields: map[string]Overrides{FieldLatency: {BaselineWindowDays: &five}}}, "config.fields.latencyMs.baselineWindowDays"},
			{Settings{Overrides: Overrides{Direction: ptr(Direction("sideways"))}}, "config.direction"},
		} {
			if err := tc.s.Validate("config"); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Validate(%s) = %v, want %q", js(tc.s), err, tc.want)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }
