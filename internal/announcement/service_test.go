package announcement

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/auth"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestAnnouncementsAreCreatedListedReorderedAndDeleted(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		first := e.create(t, "first", Input{})
		want := Announcement{ID: first.ID, Title: "first", Message: "about first", Severity: Info, Visibility: All,
			DisplayMode: Both, Active: true, SortOrder: 0, CreatedBy: admin.ID, CreatedByName: admin.Name, CreatedAt: t0, UpdatedAt: t0}
		if !same(first, want) {
			t.Fatalf("a new announcement with defaults:\n got %s\nwant %s", js(first), js(want))
		}
		if got, err := e.truth.Get(t.Context(), first.ID); err != nil || !same(got, want) {
			t.Fatalf("stored: %s, %v", js(got), err)
		}
		second := e.create(t, "second", Input{Severity: ptr(Critical), Visibility: ptr(Authenticated),
			DisplayMode: ptr(Banner), StartsAt: at(-time.Hour), ExpiresAt: at(time.Hour)})
		third := e.create(t, "third", Input{Active: ptr(false)})
		if second.SortOrder != 1 || third.SortOrder != 2 {
			t.Fatalf("new ones go last: sort orders %d, %d", second.SortOrder, third.SortOrder)
		}
		if !second.StartsAt.Equal(t0.Add(-time.Hour)) || !second.ExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("times: %s", js(second))
		}
		if got := listTitles(t, e.s); !slices.Equal(got, []string{"first", "second", "third"}) {
			t.Fatalf("list %v", got)
		}
		u := e.user(t, "Bea")
		if got := titles(t, e.s, u); !slices.Equal(got, []string{"first", "second"}) {
			t.Fatalf("live for a user: %v (the inactive one is not)", got)
		}

		must(t, e.s.Reorder(t.Context(), []string{third.ID, second.ID, first.ID}))
		l, err := e.s.List(t.Context())
		must(t, err)
		for i, a := range l {
			if a.SortOrder != i {
				t.Errorf("after the reorder %s has sort order %d, want %d", a.Title, a.SortOrder, i)
			}
		}
		if got := listTitles(t, e.s); !slices.Equal(got, []string{"third", "second", "first"}) {
			t.Fatalf("list after the reorder %v", got)
		}
		if got := titles(t, e.s, u); !slices.Equal(got, []string{"second", "first"}) {
			t.Fatalf("live after the reorder %v", got)
		}

		must(t, e.s.Delete(t.Context(), second.ID))
		if err := e.s.Delete(t.Context(), second.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleting it again: %v, want ErrNotFound", err)
		}
		if got := listTitles(t, e.s); !slices.Equal(got, []string{"third", "first"}) {
			t.Fatalf("list after the deletion %v", got)
		}
		fourth := e.create(t, "fourth", Input{})
		if fourth.SortOrder != 3 {
			t.Errorf("after a deletion a new one still goes last: sort order %d", fourth.SortOrder)
		}
	})
}

func TestAnonymousCallersSeeOnlyWhatIsForAll(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.create(t, "public", Input{})
		e.create(t, "members", Input{Visibility: ptr(Authenticated)})
		u := e.user(t, "Bea")
		if got := titles(t, e.s, ""); !slices.Equal(got, []string{"public"}) {
			t.Errorf("anonymous: %v", got)
		}
		if got := titles(t, e.s, u); !slices.Equal(got, []string{"public", "members"}) {
			t.Errorf("signed in: %v", got)
		}
		v, err := e.s.Active(t.Context(), "", true)
		if err != nil || len(v) != 1 || v[0].Dismissed == nil || *v[0].Dismissed {
			t.Errorf("anonymous, with dismissed: %s, %v", js(v), err)
		}
	})
}

func TestADismissalHidesTheAnnouncementFromItsUserOnly(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		a := e.create(t, "a", Input{})
		e.create(t, "b", Input{})
		bea, cy := e.user(t, "Bea"), e.user(t, "Cy")
		warm := func() {
			for _, u := range []string{"", bea, cy} {
				for _, d := range []bool{false, true} {
					if _, err := e.s.Active(t.Context(), u, d); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		warm()
		must(t, e.s.Dismiss(t.Context(), bea, a.ID))
		got := e.bus.all()
		if len(got) != 3 || got[2].To != bea || got[2].Payload != (Payload{a.ID, ActionDismissed}) {
			t.Fatalf("signals: %s, want the dismissal sent to Bea only", js(got))
		}
		if v := got[2].Views[view{bea, false}]; len(v) != 1 || v[0].Title != "b" {
			t.Errorf("Bea read %s at the dismissal's signal, want b only", js(v))
		}
		if got := titles(t, e.s, bea); !slices.Equal(got, []string{"b"}) {
			t.Errorf("Bea after dismissing a: %v", got)
		}
		if got := titles(t, e.s, cy); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("Cy after Bea dismissed a: %v", got)
		}
		if got := titles(t, e.s, ""); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("anonymous after Bea dismissed a: %v", got)
		}
		v, err := e.s.Active(t.Context(), bea, true)
		must(t, err)
		if len(v) != 2 || v[0].ID != a.ID || !*v[0].Dismissed || *v[1].Dismissed {
			t.Errorf("Bea with dismissed: %s", js(v))
		}

		// The dismissal dropped Bea's entries only (the recording bus read
		// hers again at the signal, and saw the dismissal).
		warm()
		must(t, e.s.Dismiss(t.Context(), bea, a.ID)) // idempotent
		for _, u := range []string{"", cy} {
			for _, d := range []bool{false, true} {
				if ok, _ := e.mem.Has(t.Context(), scopeName+":"+keyActive(u, d)); !ok {
					t.Errorf("Bea's dismissal dropped the entry %s", keyActive(u, d))
				}
			}
		}
		if got := titles(t, e.s, bea); !slices.Equal(got, []string{"b"}) {
			t.Errorf("Bea after dismissing a twice: %v", got)
		}
		if err := e.s.Dismiss(t.Context(), bea, "ghost"); !errors.Is(err, ErrNotFound) {
			t.Errorf("dismissing an unknown announcement: %v, want ErrNotFound", err)
		}
	})
}

func TestADeletedUsersEntriesGoWithTheirDismissals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		users := auth.New(db, quiet, auth.Options{})
		users.OnUserDeleted(e.s.UserDeleted)
		a := e.create(t, "a", Input{})
		bea, cy := e.user(t, "Bea"), e.user(t, "Cy")
		must(t, e.s.Dismiss(t.Context(), bea, a.ID))
		for _, u := range []string{"", bea, cy} {
			if _, err := e.s.Active(t.Context(), u, true); err != nil {
				t.Fatal(err)
			}
		}
		must(t, users.DeleteUser(t.Context(), bea))
		if ok, _ := e.mem.Has(t.Context(), scopeName+":"+keyActive(bea, true)); ok {
			t.Error("the deleted user's entry is still cached")
		}
		for _, u := range []string{"", cy} {
			if ok, _ := e.mem.Has(t.Context(), scopeName+":"+keyActive(u, true)); !ok {
				t.Errorf("deleting Bea dropped %s", keyActive(u, true))
			}
		}
		var n int
		must(t, db.For("test").QueryRowContext(t.Context(), `SELECT COUNT(*) FROM announcement_dismissals`).Scan(&n))
		if n != 0 {
			t.Errorf("%d dismissals left after the user's deletion", n)
		}
	})
}

func TestEveryChangeIsSeenByEveryCachedReadWhenItsSignalArrives(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		bea, cy := e.user(t, "Bea"), e.user(t, "Cy")
		e.bus.watch(bea, cy)
		var a, b Announcement
		steps := []struct {
			name string
			do   func(t *testing.T)
		}{
			{"create", func(t *testing.T) { a = e.create(t, "a", Input{}) }},
			{"create one for members", func(t *testing.T) { b = e.create(t, "b", Input{Visibility: ptr(Authenticated)}) }},
			{"retitle", func(t *testing.T) { must(t, second(e.s.Update(t.Context(), a.ID, Input{Title: ptr("a2")}))) }},
			{"open it to all", func(t *testing.T) { must(t, second(e.s.Update(t.Context(), b.ID, Input{Visibility: ptr(All)}))) }},
			{"dismiss", func(t *testing.T) { must(t, e.s.Dismiss(t.Context(), bea, a.ID)) }},
			{"reorder", func(t *testing.T) { must(t, e.s.Reorder(t.Context(), []string{b.ID, a.ID})) }},
			{"schedule it later", func(t *testing.T) {
				must(t, second(e.s.Update(t.Context(), a.ID, Input{StartsAt: at(time.Hour)})))
			}},
			{"expire it", func(t *testing.T) {
				must(t, second(e.s.Update(t.Context(), b.ID, Input{ExpiresAt: at(-time.Minute), StartsAt: at(-time.Hour)})))
			}},
			{"clear its times", func(t *testing.T) {
				must(t, second(e.s.Update(t.Context(), b.ID, Input{ExpiresAt: none(), StartsAt: none()})))
			}},
			{"switch it off", func(t *testing.T) { must(t, second(e.s.Update(t.Context(), b.ID, Input{Active: ptr(false)}))) }},
			{"delete", func(t *testing.T) { must(t, e.s.Delete(t.Context(), a.ID)) }},
		}
		for _, st := range steps {
			for _, u := range []string{"", bea, cy} {
				for _, d := range []bool{false, true} {
					if _, err := e.s.Active(t.Context(), u, d); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := e.s.List(t.Context()); err != nil {
				t.Fatal(err)
			}
			before := len(e.bus.all())
			st.do(t)
			all := e.bus.all()
			if len(all) != before+1 {
				t.Fatalf("%s: %d signals, want 1", st.name, len(all)-before)
			}
			obs := all[len(all)-1]
			for v, got := range obs.Views {
				want, err := e.truth.Active(t.Context(), v.user, v.includeDismissed)
				must(t, err)
				if !same(got, want) {
					t.Errorf("%s: view %s at the signal = %s\nwant %s", st.name, v, js(got), js(want))
				}
			}
			if obs.To == "" {
				want, err := e.truth.List(t.Context())
				must(t, err)
				if !same(obs.List, want) {
					t.Errorf("%s: list at the signal = %s\nwant %s", st.name, js(obs.List), js(want))
				}
				if len(obs.Views) != 6 {
					t.Errorf("%s: a broadcast read %d views", st.name, len(obs.Views))
				}
			}
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestBadInputIsRefusedByFieldAndChangesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		a := e.create(t, "a", Input{StartsAt: at(time.Hour), ExpiresAt: at(2 * time.Hour)})
		b := e.create(t, "b", Input{})
		before := js(e.list(t))
		signals := len(e.bus.all())
		long := make([]byte, 10001)
		for i := range long {
			long[i] = 'x'
		}
		for _, tc := range []struct {
			name, procedure, body, want string
		}{
			{"no title", "createAnnouncement", `{"message":"m"}`, "title: required"},
			{"a blank title", "createAnnouncement", `{"title":"  ","message":"m"}`, "title: required"},
			{"no message", "createAnnouncement", `{"title":"t"}`, "message: required"},
			{"a long title", "createAnnouncement", `{"title":"` + string(long[:201]) + `","message":"m"}`, "title: too long (at most 200 characters)"},
			{"a long message", "createAnnouncement", `{"title":"t","message":"` + string(long) + `"}`, "message: too long (at most 10000 characters)"},
			{"an unknown severity", "createAnnouncement", `{"title":"t","message":"m","severity":"dire"}`, "severity: must be one of [info warning critical]"},
			{"an unknown visibility", "createAnnouncement", `{"title":"t","message":"m","visibility":"admins"}`, "visibility: must be one of [all authenticated]"},
			{"an unknown display mode", "createAnnouncement", `{"title":"t","message":"m","displayMode":"popup"}`, "displayMode: must be one of [banner dashboard both]"},
			{"a time that is not one", "createAnnouncement", `{"title":"t","message":"m","startsAt":"tomorrow"}`, `startsAt: must be a time in RFC 3339 form, such as "2026-12-05T02:00:00Z"`},
			{"an expiry before the start", "createAnnouncement",
				`{"title":"t","message":"m","startsAt":"2026-12-05T00:00:00Z","expiresAt":"2026-12-04T00:00:00Z"}`, "expiresAt: must be after startsAt"},
			{"an expiry at the start", "createAnnouncement",
				`{"title":"t","message":"m","startsAt":"2026-12-05T00:00:00Z","expiresAt":"2026-12-05T00:00:00Z"}`, "expiresAt: must be after startsAt"},
			{"an unknown field", "createAnnouncement", `{"title":"t","message":"m","sortOrder":3}`, "sortOrder: unknown field"},
			{"an update without id", "updateAnnouncement", `{"title":"t"}`, "id: required"},
			{"an update to a blank title", "updateAnnouncement", `{"id":"` + a.ID + `","title":""}`, "title: required"},
			{"an update to an expiry before the stored start", "updateAnnouncement",
				`{"id":"` + a.ID + `","expiresAt":"2026-12-04T12:30:00Z"}`, "expiresAt: must be after startsAt"},
			{"an update to a start after the stored expiry", "updateAnnouncement",
				`{"id":"` + a.ID + `","startsAt":"2026-12-04T15:00:00Z","title":"changed"}`, "startsAt: must be before expiresAt"},
			{"an update of an unknown field", "updateAnnouncement", `{"id":"` + a.ID + `","createdBy":"me"}`, "createdBy: unknown field"},
			{"an active flag that is not a boolean", "updateAnnouncement", `{"id":"` + a.ID + `","active":"yes"}`, "active: must be a boolean"},
			{"a dismissal without id", "dismissAnnouncement", `{}`, "announcementId: required"},
			{"a reorder without ids", "reorderAnnouncements", `{}`, "orderedIds: required"},
			{"a reorder missing one", "reorderAnnouncements", `{"orderedIds":["` + b.ID + `"]}`,
				`orderedIds: must name every announcement: "` + a.ID + `" is missing`},
			{"a reorder naming one twice", "reorderAnnouncements", `{"orderedIds":["` + b.ID + `","` + a.ID + `","` + b.ID + `"]}`,
				`orderedIds: names "` + b.ID + `" twice`},
			{"a reorder naming a stranger", "reorderAnnouncements", `{"orderedIds":["` + b.ID + `","ghost"]}`,
				`orderedIds: no announcement "ghost"`},
			{"a reorder with a stranger too", "reorderAnnouncements", `{"orderedIds":["` + b.ID + `","` + a.ID + `","ghost"]}`,
				`orderedIds: no announcement "ghost"`},
			{"a reorder of none", "reorderAnnouncements", `{"orderedIds":[]}`,
				`orderedIds: must name every announcement: "` + min(a.ID, b.ID) + `" is missing`},
			{"a reorder with an empty id", "reorderAnnouncements", `{"orderedIds":["` + b.ID + `",""]}`, "orderedIds[1]: required"},
		} {
			_, err := e.call(t, tc.procedure, adminPrincipal, tc.body)
			if !isStatus(err, 400) || err.Error() != tc.want {
				t.Errorf("%s: %v, want 400 %q", tc.name, err, tc.want)
			}
		}
		if after := js(e.list(t)); after != before {
			t.Errorf("refused input changed the announcements:\n%s\nwas\n%s", after, before)
		}
		if n := len(e.bus.all()); n != signals {
			t.Errorf("refused input sent %d signals", n-signals)
		}
	})
}

// list is every announcement as the truth reads it.
func (e *env) list(t *testing.T) []Announcement {
	t.Helper()
	l, err := e.truth.List(t.Context())
	must(t, err)
	return l
}

func TestTwoPartialUpdatesAtOnceAreBothKept(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for round := range 20 {
			a := e.create(t, "a", Input{})
			start := make(chan struct{})
			var wg sync.WaitGroup
			for _, in := range []Input{
				{Title: ptr("renamed")},
				{Severity: ptr(Warning)},
				{ExpiresAt: at(time.Hour)},
				{DisplayMode: ptr(Dashboard)},
			} {
				wg.Go(func() {
					<-start
					if _, err := e.s.Update(context.Background(), a.ID, in); err != nil {
						t.Error(err)
					}
				})
			}
			close(start)
			wg.Wait()
			got, err := e.truth.Get(t.Context(), a.ID)
			must(t, err)
			if got.Title != "renamed" || got.Severity != Warning || got.ExpiresAt == nil || got.DisplayMode != Dashboard {
				t.Fatalf("round %d: after four edits at once: %s", round, js(got))
			}
		}
	})
}

func TestAnonymousReadersDoNotSeeWhoWroteAnAnnouncement(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.create(t, "hello", Input{})
		anon, err := e.s.Active(t.Context(), "", false)
		if err != nil || len(anon) != 1 || anon[0].CreatedBy != "" || anon[0].CreatedByName != "" {
			t.Fatalf("anonymous read: %+v, %v", anon, err)
		}
		u := e.user(t, "reader")
		signed, err := e.s.Active(t.Context(), u, false)
		if err != nil || len(signed) != 1 || signed[0].CreatedByName == "" {
			t.Fatalf("signed-in read: %+v, %v", signed, err)
		}
	})
}
