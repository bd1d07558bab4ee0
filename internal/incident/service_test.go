package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/notification"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestAnIncidentIsCreatedReadAndListed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ids := e.systems(t, "api", "db", "web")
		api, dbs, web := ids[0], ids[1], ids[2]
		d, err := e.s.Create(t.Context(), admin, CreateInput{Title: "Checkout fails", Description: ptr("card payments time out"),
			SystemIDs: []string{dbs, api, api}, InitialMessage: ptr("We are looking into it.")})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != Investigating || d.Severity != Major || d.SuppressNotifications || d.ResolvedAt != nil {
			t.Errorf("defaults: %+v", d.Incident)
		}
		if !slices.Equal(d.SystemIDs, systemsSorted(api, dbs)) {
			t.Errorf("systemIds = %v, want %v once each", d.SystemIDs, systemsSorted(api, dbs))
		}
		if len(d.Updates) != 1 || d.Updates[0].Message != "We are looking into it." || d.Updates[0].CreatedByName != "Ada" ||
			d.Updates[0].StatusChange != string(Investigating) || d.Updates[0].IncidentID != d.ID {
			t.Errorf("the initial update: %+v", d.Updates)
		}
		got, err := e.s.Get(t.Context(), d.ID)
		if err != nil || !same(got, d) {
			t.Errorf("Get = %s, %v; want %s", js(got), err, js(d))
		}
		if _, err := e.s.Get(t.Context(), "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(nope) = %v, want ErrNotFound", err)
		}

		bulk, err := e.s.SystemsJSON(t.Context(), []string{api, web, "unknown"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(bulk[0]), d.ID) || string(bulk[1]) != "[]" || string(bulk[2]) != "[]" {
			t.Errorf("bulk = %s", bulk)
		}
		other := e.create(t, "Slow pages", web)
		if _, err := e.s.Resolve(t.Context(), admin, other.ID, nil); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			f    Filter
			want []string
		}{
			{Filter{}, []string{d.ID}},
			{Filter{IncludeResolved: true}, []string{other.ID, d.ID}},
			{Filter{Status: Resolved}, []string{other.ID}},
			{Filter{Status: Investigating, IncludeResolved: true}, []string{d.ID}},
			{Filter{SystemID: web, IncludeResolved: true}, []string{other.ID}},
			{Filter{SystemID: web}, nil},
			{Filter{SystemID: dbs}, []string{d.ID}},
		} {
			ins, err := e.s.List(t.Context(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, in := range ins {
				got = append(got, in.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("List(%+v) = %v, want %v (newest first)", tc.f, got, tc.want)
			}
		}
	})
}

func systemsSorted(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

// watched are the list shapes the freshness test keeps warm.
func watched(a, b string) []Filter {
	return []Filter{{}, {IncludeResolved: true}, {Status: Resolved}, {Status: Identified}, {SystemID: a}, {SystemID: b}, {SystemID: b, IncludeResolved: true}}
}

func TestEveryMutationIsSeenByEveryCachedReadWhenItsSignalArrives(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ids := e.systems(t, "a", "b", "c")
		a, b, c := ids[0], ids[1], ids[2]
		e.bus.mu.Lock()
		e.bus.filters, e.bus.watch = watched(a, b), ids
		e.bus.mu.Unlock()
		first := e.create(t, "first", a)
		var updateID string

		steps := []struct {
			name string
			do   func(t *testing.T) string // returns the incident id
		}{
			{"create", func(t *testing.T) string { return e.create(t, "second", a, c).ID }},
			{"update the title", func(t *testing.T) string {
				_, err := e.s.Update(t.Context(), first.ID, UpdateInput{Title: ptr("first, renamed")})
				return check(t, first.ID, err)
			}},
			{"move from a to b", func(t *testing.T) string {
				_, err := e.s.Update(t.Context(), first.ID, UpdateInput{SystemIDs: []string{b}})
				return check(t, first.ID, err)
			}},
			{"clear the description", func(t *testing.T) string {
				var none *string
				_, err := e.s.Update(t.Context(), first.ID, UpdateInput{Description: &none, Severity: ptr(Critical)})
				return check(t, first.ID, err)
			}},
			{"post an update with a status change", func(t *testing.T) string {
				u, err := e.s.AddUpdate(t.Context(), admin, first.ID, "found it", ptr(Identified))
				updateID = u.ID
				return check(t, first.ID, err)
			}},
			{"edit the update", func(t *testing.T) string {
				_, err := e.s.EditUpdate(t.Context(), updateID, "found it: a bad deploy")
				return check(t, first.ID, err)
			}},
			{"resolve", func(t *testing.T) string {
				_, err := e.s.Resolve(t.Context(), admin, first.ID, ptr("rolled back"))
				return check(t, first.ID, err)
			}},
			{"reopen", func(t *testing.T) string {
				_, err := e.s.AddUpdate(t.Context(), admin, first.ID, "it is back", ptr(Fixing))
				return check(t, first.ID, err)
			}},
			{"delete the update", func(t *testing.T) string {
				return check(t, first.ID, e.s.DeleteUpdate(t.Context(), updateID))
			}},
			{"delete", func(t *testing.T) string { return check(t, first.ID, e.s.Delete(t.Context(), first.ID)) }},
		}
		for _, st := range steps {
			// Warm every read a dashboard makes.
			for _, f := range watched(a, b) {
				if _, err := e.s.List(t.Context(), f); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.s.SystemsJSON(t.Context(), []string{a, b, c}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.Get(t.Context(), first.ID); err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
			before := e.bus.count()
			id := st.do(t)
			if e.bus.count() != before+1 {
				t.Fatalf("%s: %d signals, want 1", st.name, e.bus.count()-before)
			}
			obs := e.bus.last(t)
			if obs.Payload.IncidentID != id {
				t.Fatalf("%s: the signal names %s, want %s", st.name, obs.Payload.IncidentID, id)
			}
			want, err := e.truth.Get(t.Context(), id)
			switch {
			case errors.Is(err, ErrNotFound):
				if obs.Detail != nil {
					t.Errorf("%s: the deleted incident was still read at its signal", st.name)
				}
			case err != nil:
				t.Fatal(err)
			case !same(obs.Detail, want):
				t.Errorf("%s: getIncident at the signal = %s\nwant %s", st.name, js(obs.Detail), js(want))
			}
			for sys, got := range obs.Systems {
				want, err := e.truth.ForSystem(t.Context(), sys)
				if err != nil || !same(got, want) {
					t.Errorf("%s: system %s at the signal = %s\nwant %s", st.name, sys, js(got), js(want))
				}
			}
			for f, got := range obs.Lists {
				want, err := e.truth.List(t.Context(), f)
				if err != nil || !same(got, want) {
					t.Errorf("%s: List(%+v) at the signal = %s\nwant %s", st.name, f, js(got), js(want))
				}
			}
			if st.name == "move from a to b" && !slices.Equal(obs.Payload.SystemIDs, systemsSorted(a, b)) {
				t.Errorf("the move's signal names %v, want both systems %v", obs.Payload.SystemIDs, systemsSorted(a, b))
			}
		}
	})
}

func check(t *testing.T, id string, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestTwoPartialEditsAtOnceAreBothKept(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sys := e.systems(t, "a")
		for round := range 20 {
			d := e.create(t, "x", sys...)
			var wg sync.WaitGroup
			start := make(chan struct{})
			title, desc := fmt.Sprintf("title %d", round), fmt.Sprintf("desc %d", round)
			wg.Go(func() {
				<-start
				if _, err := e.s.Update(context.Background(), d.ID, UpdateInput{Title: &title}); err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				<-start
				dp := &desc
				if _, err := e.s.Update(context.Background(), d.ID, UpdateInput{Description: &dp}); err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				<-start
				if _, err := e.s.AddUpdate(context.Background(), admin, d.ID, "moving", ptr(Monitoring)); err != nil {
					t.Error(err)
				}
			})
			close(start)
			wg.Wait()
			got, err := e.truth.Get(t.Context(), d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Title != title || got.Description == nil || *got.Description != desc || got.Status != Monitoring {
				t.Fatalf("round %d: after three edits at once: title %q, description %v, status %s; want all three kept",
					round, got.Title, got.Description, got.Status)
			}
		}
	})
}

func TestStatusChangesTellSubscribersOnceWithTheRightImportance(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ids := e.systems(t, "api", "db")
		d, err := e.s.Create(t.Context(), admin, CreateInput{Title: "Outage", Severity: Critical, SystemIDs: ids, InitialMessage: ptr("down")})
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name    string
			do      func() error
			title   string
			import_ notification.Importance
		}{
			{"a plain update says nothing", func() error { _, err := e.s.AddUpdate(t.Context(), admin, d.ID, "still looking", nil); return err }, "", ""},
			{"an update to the same status says nothing", func() error {
				_, err := e.s.AddUpdate(t.Context(), admin, d.ID, "still", ptr(Investigating))
				return err
			}, "", ""},
			{"an edit of fields says nothing", func() error {
				_, err := e.s.Update(t.Context(), d.ID, UpdateInput{Title: ptr("Big outage")})
				return err
			}, "", ""},
			{"a status change", func() error { _, err := e.s.AddUpdate(t.Context(), admin, d.ID, "found", ptr(Identified)); return err }, "Incident updated: Big outage", notification.Critical},
			{"major severity is a warning", func() error {
				if _, err := e.s.Update(t.Context(), d.ID, UpdateInput{Severity: ptr(Major)}); err != nil {
					return err
				}
				_, err := e.s.AddUpdate(t.Context(), admin, d.ID, "fixing", ptr(Fixing))
				return err
			}, "Incident updated: Big outage", notification.Warning},
			{"resolving is info", func() error { _, err := e.s.Resolve(t.Context(), admin, d.ID, nil); return err }, "Incident resolved: Big outage", notification.Info},
			{"reopening", func() error {
				if _, err := e.s.Update(t.Context(), d.ID, UpdateInput{Severity: ptr(Minor)}); err != nil {
					return err
				}
				_, err := e.s.AddUpdate(t.Context(), admin, d.ID, "back", ptr(Investigating))
				return err
			}, "Incident reopened: Big outage", notification.Info},
		}
		created := e.notifier.all()
		if len(created) != 1 || created[0].Message.Title != "Incident reported: Outage" || created[0].Message.Importance != notification.Critical ||
			!slices.Equal(created[0].Systems, d.SystemIDs) || created[0].Message.Action == nil || created[0].Message.Action.URL != "/incidents/"+d.ID ||
			!strings.Contains(created[0].Message.Body, "api") || !strings.Contains(created[0].Message.Body, "down") {
			t.Fatalf("creating told %+v", created)
		}
		for _, st := range steps {
			before := len(e.notifier.all())
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			got := e.notifier.all()[before:]
			if st.title == "" {
				if len(got) != 0 {
					t.Errorf("%s: told %+v, want nothing", st.name, got)
				}
				continue
			}
			if len(got) != 1 || got[0].Message.Title != st.title || got[0].Message.Importance != st.import_ {
				t.Errorf("%s: told %+v, want one %q (%s)", st.name, got, st.title, st.import_)
			}
		}
		if _, err := e.s.Resolve(t.Context(), admin, d.ID, nil); err != nil {
			t.Fatal(err)
		}
		var conflict *rpc.Error
		if _, err := e.s.Resolve(t.Context(), admin, d.ID, nil); !errors.As(err, &conflict) || conflict.Status != 409 {
			t.Fatalf("resolving a resolved incident = %v, want a 409", err)
		}
	})
}

func TestTwoResolvesAtOnceAnnounceOneResolution(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sys := e.systems(t, "a")
		for range 5 {
			d := e.create(t, "x", sys...)
			before := len(e.notifier.all())
			var wg sync.WaitGroup
			var conflicts, resolved sync.Map
			for i := range 3 {
				wg.Go(func() {
					_, err := e.s.Resolve(context.Background(), admin, d.ID, nil)
					if err != nil {
						conflicts.Store(i, err)
					} else {
						resolved.Store(i, true)
					}
				})
			}
			wg.Wait()
			n := 0
			resolved.Range(func(any, any) bool { n++; return true })
			if told := e.notifier.all()[before:]; n != 1 || len(told) != 1 {
				t.Fatalf("three resolves at once: %d succeeded, %d notices; want 1 and 1", n, len(told))
			}
		}
	})
}

func TestADeletedSystemLeavesItsIncidentsAndEmptiedOnesGo(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ids := e.systems(t, "a", "b")
		a, b := ids[0], ids[1]
		both := e.create(t, "both", a, b)
		onlyA := e.create(t, "only a", a)
		// Warm what the deletion must drop.
		if _, err := e.s.SystemsJSON(t.Context(), []string{a, b}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{both.ID, onlyA.ID} {
			if _, err := e.s.Get(t.Context(), id); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.s.List(t.Context(), Filter{}); err != nil {
			t.Fatal(err)
		}
		before := e.bus.count()
		if err := e.catalog.DeleteSystem(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		got, err := e.s.Get(t.Context(), both.ID)
		if err != nil || !slices.Equal(got.SystemIDs, []string{b}) {
			t.Errorf("the incident on both systems: %v, %v; want it on %s only", got.SystemIDs, err, b)
		}
		if _, err := e.s.Get(t.Context(), onlyA.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("the incident left with no system: %v, want it deleted", err)
		}
		raws, err := e.s.SystemsJSON(t.Context(), []string{a, b})
		if err != nil {
			t.Fatal(err)
		}
		var onB []Incident
		_ = json.Unmarshal(raws[1], &onB)
		if string(raws[0]) != "[]" || len(onB) != 1 || !slices.Equal(onB[0].SystemIDs, []string{b}) {
			t.Errorf("systems after the deletion: a %s, b %s", raws[0], raws[1])
		}
		list, _ := e.s.List(t.Context(), Filter{})
		if len(list) != 1 || list[0].ID != both.ID {
			t.Errorf("the list after the deletion: %s", js(list))
		}
		actions := map[string]string{}
		e.bus.mu.Lock()
		for _, s := range e.bus.seen[before:] {
			actions[s.Payload.IncidentID] = s.Payload.Action
			if !slices.Contains(s.Payload.SystemIDs, a) {
				t.Errorf("the signal for %s names %v, not the deleted system", s.Payload.IncidentID, s.Payload.SystemIDs)
			}
		}
		e.bus.mu.Unlock()
		if actions[both.ID] != ActionSystemRemoved || actions[onlyA.ID] != ActionDeleted || len(actions) != 2 {
			t.Errorf("signals after the deletion: %v", actions)
		}
	})
}

func TestAnUnresolvedIncidentCanHoldItsSystemsNotifications(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ids := e.systems(t, "a", "b")
		a, b := ids[0], ids[1]
		held := func(id string) bool {
			t.Helper()
			ok, err := e.s.SuppressesNotifications(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		loud := e.create(t, "loud", a)
		if held(a) {
			t.Fatal("an incident without suppressNotifications holds notifications")
		}
		quiet, err := e.s.Create(t.Context(), admin, CreateInput{Title: "quiet", SystemIDs: []string{a}, SuppressNotifications: true})
		if err != nil {
			t.Fatal(err)
		}
		if !held(a) || held(b) {
			t.Fatalf("held: a %v, b %v; want a only", held(a), held(b))
		}
		if _, err := e.s.Update(t.Context(), quiet.ID, UpdateInput{SystemIDs: []string{b}}); err != nil {
			t.Fatal(err)
		}
		if held(a) || !held(b) {
			t.Fatalf("after the move: a %v, b %v; want b only", held(a), held(b))
		}
		if _, err := e.s.Resolve(t.Context(), admin, quiet.ID, nil); err != nil {
			t.Fatal(err)
		}
		if held(b) {
			t.Fatal("a resolved incident still holds notifications")
		}
		_ = loud
	})
}

func TestUnknownSystemsAreNamedAndChangeNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		a := e.systems(t, "a")[0]
		d := e.create(t, "x", a)
		_, err := e.s.Create(t.Context(), admin, CreateInput{Title: "y", SystemIDs: []string{a, "ghost"}})
		if err == nil || err.Error() != `systemIds[1]: no system "ghost"` {
			t.Fatalf("Create with an unknown system = %v", err)
		}
		_, err = e.s.Update(t.Context(), d.ID, UpdateInput{Title: ptr("z"), SystemIDs: []string{"ghost"}})
		if err == nil || !strings.Contains(err.Error(), "ghost") {
			t.Fatalf("Update with an unknown system = %v", err)
		}
		got, _ := e.truth.Get(t.Context(), d.ID)
		if got.Title != "x" || !slices.Equal(got.SystemIDs, []string{a}) {
			t.Fatalf("a refused update changed the incident: %+v", got.Incident)
		}
		all, _ := e.truth.List(t.Context(), Filter{IncludeResolved: true})
		if len(all) != 1 {
			t.Fatalf("a refused create left %d incidents", len(all))
		}
		// The database refuses what the check did not catch (a system
		// deleted meanwhile).
		blind := New(db, cache.NewNull(), &recordingBus{t: t}, quiet, Options{})
		if _, err := blind.Create(t.Context(), admin, CreateInput{Title: "y", SystemIDs: []string{"ghost"}}); err == nil ||
			!strings.Contains(err.Error(), "systemIds") {
			t.Fatalf("Create with an unknown system and no check = %v", err)
		}
	})
}

func TestASystemAnIncidentNewlyAffectsHearsOfIt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ids := e.systems(t, "a", "b", "c")
		a, b, c := ids[0], ids[1], ids[2]
		d := e.create(t, "Outage", a)
		if len(d.Updates) != 1 || d.Updates[0].Message != "Incident reported" {
			t.Fatalf("an incident created without a message: timeline %s", js(d.Updates))
		}
		before := len(e.notifier.all())
		if _, err := e.s.Update(t.Context(), d.ID, UpdateInput{SystemIDs: []string{a, b, c}}); err != nil {
			t.Fatal(err)
		}
		told := e.notifier.all()[before:]
		if len(told) != 1 || !slices.Equal(told[0].Systems, systemsSorted(b, c)) || told[0].Message.Title != "Incident reported: Outage" {
			t.Fatalf("adding systems told %+v, want one notice to the added systems only", told)
		}
		if _, err := e.s.Update(t.Context(), d.ID, UpdateInput{SystemIDs: []string{a}}); err != nil {
			t.Fatal(err)
		}
		if len(e.notifier.all()) != before+1 {
			t.Fatal("removing systems told someone")
		}
	})
}
