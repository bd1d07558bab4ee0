package announcement

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

const fallback = 10 * 365 * 24 * time.Hour // as newEnv sets it

func TestAnAnnouncementAppearsAtItsStartAndGoesAtItsExpiry(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		bea := e.user(t, "Bea")
		e.bus.watch(bea)
		start, end := t0.Add(time.Hour), t0.Add(2*time.Hour)
		a := e.create(t, "tonight", Input{StartsAt: at(time.Hour), ExpiresAt: at(2 * time.Hour)})
		e.s.Start(context.Background())
		armed(t, e.sc, start)
		for _, u := range []string{"", bea} {
			if got := titles(t, e.s, u); len(got) != 0 {
				t.Fatalf("%q sees %v before the start", u, got)
			}
		}

		// A microsecond early: nothing shows, and the alarm still waits.
		e.clock.Set(start.Add(-time.Microsecond))
		if got := titles(t, e.s, ""); len(got) != 0 {
			t.Fatalf("shown a microsecond before its start: %v", got)
		}
		armed(t, e.sc, start)

		e.clock.Set(start)
		obs := e.bus.await(t, ActionStarted)
		if obs.Payload.AnnouncementID != a.ID {
			t.Errorf("started names %q, want %q", obs.Payload.AnnouncementID, a.ID)
		}
		for _, v := range []view{{"", false}, {bea, false}, {bea, true}} {
			if got := obs.Views[v]; len(got) != 1 || got[0].ID != a.ID {
				t.Errorf("view %s at the started signal: %s", v, js(got))
			}
		}
		if got := titles(t, e.s, ""); !slices.Equal(got, []string{"tonight"}) {
			t.Fatalf("after the start: %v", got)
		}

		armed(t, e.sc, end)
		e.clock.Set(end.Add(-time.Microsecond))
		if got := titles(t, e.s, bea); !slices.Equal(got, []string{"tonight"}) {
			t.Fatalf("gone a microsecond before its expiry: %v", got)
		}
		armed(t, e.sc, end)
		e.clock.Set(end)
		obs = e.bus.await(t, ActionExpired)
		for v, got := range obs.Views {
			if len(got) != 0 {
				t.Errorf("view %s at the expired signal: %s", v, js(got))
			}
		}
		if got := titles(t, e.s, bea); len(got) != 0 {
			t.Fatalf("after the expiry: %v", got)
		}
		armed(t, e.sc, end.Add(fallback)) // nothing more to come
		var actions []string
		for _, s := range e.bus.all() {
			actions = append(actions, s.Payload.Action)
		}
		if !slices.Equal(actions, []string{ActionCreated, ActionStarted, ActionExpired}) {
			t.Errorf("signals %v", actions)
		}
	})
}

func TestNoEntryIsServedPastTheNextBoundary(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db) // the clock is never started: only the TTLs hold
		bea := e.user(t, "Bea")
		e.create(t, "ending", Input{ExpiresAt: at(time.Hour)})
		e.create(t, "later", Input{StartsAt: at(30 * time.Minute), Visibility: ptr(Authenticated)})
		queries := func() uint64 { return db.QueryCount("announcement") }
		const (
			loaded = iota // read from the database
			cached        // served from the cache
		)
		// Entries last 45 s, or less when a boundary comes first.
		for _, step := range []struct {
			at   time.Duration
			user string
			want []string
			how  int
		}{
			{30*time.Minute - 10*time.Second, "", []string{"ending"}, loaded},
			{30*time.Minute - 10*time.Second, bea, []string{"ending"}, loaded},
			{30*time.Minute - time.Microsecond, "", []string{"ending"}, cached},
			{30*time.Minute - time.Microsecond, bea, []string{"ending"}, cached},
			{30 * time.Minute, bea, []string{"ending", "later"}, loaded},
			{30 * time.Minute, "", []string{"ending"}, loaded},
			{time.Hour - 10*time.Second, bea, []string{"ending", "later"}, loaded},
			{time.Hour - 10*time.Second, "", []string{"ending"}, loaded},
			{time.Hour - time.Microsecond, bea, []string{"ending", "later"}, cached},
			{time.Hour - time.Microsecond, "", []string{"ending"}, cached},
			{time.Hour, bea, []string{"later"}, loaded},
			{time.Hour, "", []string{}, loaded},
			{time.Hour + 44*time.Second, bea, []string{"later"}, cached}, // no boundary to come: the full TTL
			{time.Hour + 45*time.Second, bea, []string{"later"}, loaded},
		} {
			e.clock.Set(t0.Add(step.at))
			before := queries()
			if got := titles(t, e.s, step.user); !slices.Equal(got, step.want) {
				t.Fatalf("at t0+%v, %q sees %v, want %v", step.at, step.user, got, step.want)
			}
			if how := map[bool]int{true: cached, false: loaded}[queries() == before]; how != step.how {
				t.Errorf("at t0+%v, %q was served from the cache: %v, want %v", step.at, step.user, how == cached, step.how == cached)
			}
		}
	})
}

// gatedProvider holds the next Get, once, until the test lets it go. It
// hides the Memory provider's other methods, so the scope reads through
// Get.
type gatedProvider struct {
	cache.Provider
	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{}
}

func (p *gatedProvider) hold() (entered, release chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gate, p.entered = make(chan struct{}), make(chan struct{})
	return p.entered, p.gate
}

func (p *gatedProvider) Get(ctx context.Context, key string) ([]byte, bool, error) {
	p.mu.Lock()
	gate, entered := p.gate, p.entered
	p.gate = nil
	p.mu.Unlock()
	if gate != nil {
		close(entered)
		<-gate
	}
	return p.Provider.Get(ctx, key)
}

func TestAReadThatRacedAChangeKeepsNoEntryPastItsBoundary(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		gp := &gatedProvider{}
		e := newEnvWith(t, db, func(p cache.Provider) cache.Provider { gp.Provider = p; return gp })
		e.bus.svc = nil // the read under test is the only one
		// The read caps its TTL at the horizon (none: 45 s), then waits in
		// the cache's lookup while a change brings a boundary 10 s away
		// and invalidates; its load then begins after the invalidation,
		// so the cache stores it.
		entered, release := gp.hold()
		done := make(chan []string)
		go func() {
			v, err := e.s.Active(context.Background(), "", false)
			if err != nil {
				t.Error(err)
			}
			var out []string
			for _, a := range v {
				out = append(out, a.Title)
			}
			done <- out
		}()
		select {
		case <-entered:
		case <-time.After(waitFor):
			t.Fatal("the read never reached the cache")
		}
		e.create(t, "soon", Input{StartsAt: at(10 * time.Second)})
		close(release)
		if got := <-done; len(got) != 0 {
			t.Fatalf("the racing read saw %v before the start", got)
		}
		e.clock.Set(t0.Add(10 * time.Second))
		if got := titles(t, e.s, ""); !slices.Equal(got, []string{"soon"}) {
			t.Fatalf("at its start: %v, want it shown", got)
		}
	})
}

func TestBoundariesPassedWhileNoServerRanAreAnnouncedAtStart(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		gone := e.create(t, "gone", Input{StartsAt: at(time.Hour), ExpiresAt: at(2 * time.Hour)})
		begun := e.create(t, "begun", Input{StartsAt: at(time.Hour), ExpiresAt: at(10 * time.Hour)})
		ended := e.create(t, "ended", Input{ExpiresAt: at(2 * time.Hour)})
		e.create(t, "off", Input{StartsAt: at(time.Hour), Active: ptr(false)})
		e.clock.Set(t0.Add(3 * time.Hour))
		e.create(t, "late", Input{StartsAt: at(2 * time.Hour)}) // its own signal said so
		e.s.Start(context.Background())
		armed(t, e.sc, t0.Add(10*time.Hour))
		got := map[string]string{}
		for _, s := range e.bus.all() {
			if s.Payload.Action != ActionCreated {
				if _, twice := got[s.Payload.AnnouncementID]; twice {
					t.Errorf("%s announced twice", s.Payload.AnnouncementID)
				}
				got[s.Payload.AnnouncementID] = s.Payload.Action
			}
		}
		want := map[string]string{gone.ID: ActionExpired, begun.ID: ActionStarted, ended.ID: ActionExpired}
		if !same(got, want) {
			t.Fatalf("announced at start %v, want %v", got, want)
		}
		if got := titles(t, e.s, ""); !slices.Equal(got, []string{"begun", "late"}) {
			t.Errorf("live at start: %v", got)
		}

		// A restart announces none of them again.
		s2, clk2, bus2 := e.service(t, cache.NewMemory(cache.MemoryOptions{Now: e.clock.Now}))
		s2.Start(context.Background())
		armed(t, clk2, t0.Add(10*time.Hour))
		if n := len(bus2.all()); n != 0 {
			t.Errorf("a restart announced %d boundaries again", n)
		}
	})
}

func TestSeveralInstancesAnnounceEachBoundaryOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		type instance struct {
			s   *Service
			clk *watchedClock
			bus *recordingBus
		}
		instances := []instance{{e.s, e.sc, e.bus}}
		for range 2 {
			s, clk, bus := e.service(t, cache.NewMemory(cache.MemoryOptions{Now: e.clock.Now}))
			bus.svc = s
			instances = append(instances, instance{s, clk, bus})
		}
		// Per round, two starts at one instant and two expiries at the
		// next; every announcement exists before the alarms start (the
		// others would learn of it at their fallback only).
		const rounds = 4
		want := map[string]string{}
		for r := range rounds {
			base := time.Duration(r) * 10 * time.Hour
			x := e.create(t, "x", Input{StartsAt: at(base + time.Hour), ExpiresAt: at(base + 2*time.Hour)})
			y := e.create(t, "y", Input{StartsAt: at(base + time.Hour)})
			z := e.create(t, "z", Input{ExpiresAt: at(base + 2*time.Hour)})
			want[x.ID+" "+ActionStarted], want[y.ID+" "+ActionStarted] = "", ""
			want[x.ID+" "+ActionExpired], want[z.ID+" "+ActionExpired] = "", ""
		}
		for _, in := range instances {
			in.s.Start(context.Background())
		}
		for r := range rounds {
			base := t0.Add(time.Duration(r) * 10 * time.Hour)
			for _, step := range []time.Duration{time.Hour, 2 * time.Hour} {
				for _, in := range instances {
					armed(t, in.clk, base.Add(step))
					if _, err := in.s.Active(t.Context(), "", false); err != nil { // warm every cache
						t.Fatal(err)
					}
				}
				e.clock.Set(base.Add(step))
				// What each alarm waits for once its pass is done: the next
				// boundary, or at the very end its fallback.
				next := base.Add(step + time.Hour)
				switch {
				case step == 2*time.Hour && r == rounds-1:
					next = base.Add(step + fallback)
				case step == 2*time.Hour:
					next = base.Add(11 * time.Hour)
				}
				for _, in := range instances {
					armed(t, in.clk, next)
				}
				// Every instance dropped its own entries, whoever announced.
				for i, in := range instances {
					got := titles(t, in.s, "")
					truth := titles(t, e.truth, "")
					if !slices.Equal(got, truth) {
						t.Errorf("round %d, t0+%v: instance %d shows %v, want %v", r, step, i, got, truth)
					}
				}
			}
		}
		got := map[string]int{}
		for _, in := range instances {
			for _, s := range in.bus.all() {
				if s.Payload.Action != ActionCreated {
					got[s.Payload.AnnouncementID+" "+s.Payload.Action]++
				}
			}
		}
		for k := range want {
			if got[k] != 1 {
				t.Errorf("%s announced %d times across the instances, want once", k, got[k])
			}
		}
		for k, n := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s announced %d times, want never", k, n)
			}
		}
	})
}

func TestAChangeReArmsTheClockAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.s.Start(context.Background())
		armed(t, e.sc, t0.Add(fallback))
		a := e.create(t, "a", Input{StartsAt: at(3 * time.Hour)})
		armed(t, e.sc, t0.Add(3*time.Hour)) // a running clock learned of the new one
		must(t, second(e.s.Update(t.Context(), a.ID, Input{StartsAt: at(time.Minute)})))
		armed(t, e.sc, t0.Add(time.Minute)) // and of its earlier start
		e.clock.Set(t0.Add(time.Minute))
		if obs := e.bus.await(t, ActionStarted); obs.Payload.AnnouncementID != a.ID {
			t.Fatalf("started %q", obs.Payload.AnnouncementID)
		}
		must(t, second(e.s.Update(t.Context(), a.ID, Input{ExpiresAt: at(time.Hour)})))
		armed(t, e.sc, t0.Add(time.Hour))
		must(t, e.s.Delete(t.Context(), a.ID))
		armed(t, e.sc, t0.Add(time.Minute+fallback)) // nothing left to wait for
	})
}

func TestTheClockDropsSharedEntriesAnotherInstanceKeptTooLong(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// Two instances on one cache, as on one Redis; only a's clock runs.
		e := newEnv(t, db)
		a, aClock, aBus := e.s, e.sc, e.bus
		aBus.svc = nil // b's are the only reads
		b, _, _ := e.service(t, e.mem)
		a.Start(context.Background())
		armed(t, aClock, t0.Add(fallback))
		if got := titles(t, b, ""); len(got) != 0 { // b's horizon: no boundary to come
			t.Fatalf("b sees %v", got)
		}
		e.create(t, "soon", Input{StartsAt: at(10 * time.Second)}) // made on a
		if got := titles(t, b, ""); len(got) != 0 {                // b stores it for 45 s
			t.Fatalf("b sees %v before the start", got)
		}
		armed(t, aClock, t0.Add(10*time.Second))
		e.clock.Set(t0.Add(10 * time.Second))
		aBus.await(t, ActionStarted)
		if got := titles(t, b, ""); !slices.Equal(got, []string{"soon"}) {
			t.Fatalf("b at the start: %v, want it shown", got)
		}
	})
}
