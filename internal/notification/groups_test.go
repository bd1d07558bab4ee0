package notification

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// inboxGroups maps each user to the group ids of the notifications they
// have, read from the database.
func (e *env) inboxGroups(t *testing.T, users []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, u := range users {
		for _, n := range e.truePage(t, u, Filter{Limit: 100}).Notifications {
			out[u] = append(out[u], n.GroupID)
		}
	}
	return out
}

func TestNotifyGroupsReachesEachSubscriberOnceThroughTheFirstGroupTheyFollow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		us := ids(e.users(t, 3))
		a, b, c := us[0], us[1], us[2]
		for _, g := range []string{"g1", "g2", "g3", "g4", "g5"} {
			e.group(t, g)
		}
		e.subscribe(t, a, "g1", "g2", "g3")
		e.subscribe(t, b, "g2")
		e.subscribe(t, c, "g3", "g4")

		tests := []struct {
			name   string
			groups []string
			want   map[string][]string // user → group ids of their notifications
		}{
			{"each subscriber once, through the first listed group they follow", []string{"g2", "g1", "g3"},
				map[string][]string{a: {"g2"}, b: {"g2"}, c: {"g3"}}},
			{"the order of the groups decides which one is named", []string{"g3", "g2", "g1"},
				map[string][]string{a: {"g3"}, b: {"g2"}, c: {"g3"}}},
			{"a group listed twice still notifies once", []string{"g2", "g2"},
				map[string][]string{a: {"g2"}, b: {"g2"}}},
			{"groups with different followers reach each of them", []string{"g4", "g1"},
				map[string][]string{a: {"g1"}, c: {"g4"}}},
			{"a group nobody follows notifies nobody", []string{"g5"}, map[string][]string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, u := range us {
					if err := e.s.MarkRead(t.Context(), u, ""); err != nil {
						t.Fatal(err)
					}
				}
				for _, u := range us {
					for _, n := range e.truePage(t, u, Filter{Limit: 100}).Notifications {
						if err := e.s.Delete(t.Context(), u, n.ID); err != nil {
							t.Fatal(err)
						}
					}
				}
				ns, err := e.s.NotifyGroups(t.Context(), tt.groups, Message{Title: tt.name})
				if err != nil {
					t.Fatalf("NotifyGroups(%v): %v", tt.groups, err)
				}
				if len(ns) != len(tt.want) {
					t.Errorf("NotifyGroups made %d notifications, want %d", len(ns), len(tt.want))
				}
				if got := e.inboxGroups(t, us); !maps.EqualFunc(got, tt.want, slices.Equal) {
					t.Errorf("inboxes (user → groups) = %v, want %v", got, tt.want)
				}
			})
		}
	})
}

func TestAnUnknownTargetSendsNothingToAnyone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		us := ids(e.users(t, 2))
		a, b := us[0], us[1]
		e.group(t, "known")
		e.subscribe(t, a, "known")
		e.subscribe(t, b, "known")
		rc := newReceiver(t, always(200))
		e.configureWebhook(t, rc.URL)
		e.optIn(t, ChannelWebhook, a, b)

		tests := []struct {
			name    string
			send    func() ([]Notification, error)
			wantErr error
			names   string // what the error must name
		}{
			{"a group that does not exist is not found",
				func() ([]Notification, error) {
					return e.s.NotifyGroups(t.Context(), []string{"known", "ghost-group"}, Message{Title: "x"})
				}, ErrNotFound, "ghost-group"},
			{"a group that does not exist listed first is not found",
				func() ([]Notification, error) {
					return e.s.NotifyGroups(t.Context(), []string{"ghost-group", "known"}, Message{Title: "x"})
				}, ErrNotFound, "ghost-group"},
			{"a user that does not exist is an unknown user",
				func() ([]Notification, error) {
					return e.s.NotifyUsers(t.Context(), []string{a, "ghost-user", b}, Message{Title: "x"})
				}, ErrUnknownUser, "ghost-user"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.warm(t, a)
				from := len(e.bus.signals())
				ns, err := tt.send()
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.names) {
					t.Errorf("error %q does not name %q", err, tt.names)
				}
				if len(ns) != 0 {
					t.Errorf("returned %d notifications with the error", len(ns))
				}
				for _, u := range us {
					if n := e.rows(t, "notifications", u); n != 0 {
						t.Errorf("user %s got %d notifications", u, n)
					}
					if n := e.rows(t, "notification_deliveries", u); n != 0 {
						t.Errorf("user %s got %d deliveries", u, n)
					}
				}
				if s := e.bus.signals()[from:]; len(s) != 0 {
					t.Errorf("signals sent: %+v", s)
				}
				if got := e.unread(t, a); got != 0 {
					t.Errorf("UnreadCount(a) = %d, want 0", got)
				}
			})
		}
	})
}

func TestNotifySystemReachesTheSystemsGroupAndItsCatalogGroups(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		groupsOf := map[string][]string{"api": {"backend", "not-a-group-yet"}, "lonely": {"nowhere"}}
		e := newEnv(t, db, envOptions{opts: Options{SystemGroups: func(_ context.Context, id string) ([]string, error) {
			return groupsOf[id], nil
		}}})
		us := ids(e.users(t, 3))
		a, b, c := us[0], us[1], us[2]
		sys, backend, other := SystemGroupID("api"), CatalogGroupID("backend"), SystemGroupID("web")
		if sys != "catalog.system.api" || backend != "catalog.group.backend" {
			t.Fatalf("group ids %q, %q", sys, backend)
		}
		for _, g := range []string{sys, backend, other} {
			e.group(t, g)
		}
		e.subscribe(t, a, sys)
		e.subscribe(t, b, other, backend)
		e.subscribe(t, c, backend, sys)

		ns, err := e.s.NotifySystem(t.Context(), "api", Message{Title: "api is down", Importance: Critical})
		if err != nil {
			t.Fatalf("NotifySystem: %v", err)
		}
		if len(ns) != 3 {
			t.Errorf("NotifySystem made %d notifications, want 3", len(ns))
		}
		want := map[string][]string{a: {sys}, b: {backend}, c: {sys}}
		if got := e.inboxGroups(t, us); !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("inboxes (user → groups) = %v, want %v", got, want)
		}

		t.Run("a system whose groups do not exist notifies nobody", func(t *testing.T) {
			ns, err := e.s.NotifySystem(t.Context(), "lonely", Message{Title: "lonely"})
			if err != nil || len(ns) != 0 {
				t.Fatalf("NotifySystem(lonely) = %v, %v; want nothing and no error", ns, err)
			}
		})
		t.Run("an error listing the system's groups is returned", func(t *testing.T) {
			boom := errors.New("catalog down")
			s2 := New(db, cache.NewMemory(cache.MemoryOptions{}), &recordingBus{}, userLookup(e.auth), quiet,
				Options{SystemGroups: func(context.Context, string) ([]string, error) { return nil, boom }})
			if _, err := s2.NotifySystem(t.Context(), "api", Message{Title: "x"}); !errors.Is(err, boom) {
				t.Fatalf("err = %v, want %v", err, boom)
			}
		})
	})
}

func TestNotifySystemsReachesEachSubscriberOnceAcrossSystems(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		groupsOf := map[string][]string{"api": {"backend"}, "db": {"backend"}}
		e := newEnv(t, db, envOptions{opts: Options{SystemGroups: func(_ context.Context, id string) ([]string, error) {
			if id == "gone" {
				return nil, ErrNotFound
			}
			return groupsOf[id], nil
		}}})
		us := ids(e.users(t, 3))
		a, b, c := us[0], us[1], us[2]
		api, dbg, backend := SystemGroupID("api"), SystemGroupID("db"), CatalogGroupID("backend")
		for _, g := range []string{api, dbg, backend} {
			e.group(t, g)
		}
		e.subscribe(t, a, api, dbg) // both systems
		e.subscribe(t, b, backend)  // the group both are in
		e.subscribe(t, c, dbg)

		ns, err := e.s.NotifySystems(t.Context(), []string{"api", "db", "gone", "api"}, Message{Title: "Incident reported"})
		if err != nil {
			t.Fatalf("NotifySystems: %v", err)
		}
		if len(ns) != 3 {
			t.Errorf("NotifySystems made %d notifications, want one for each of 3 users", len(ns))
		}
		want := map[string][]string{a: {api}, b: {backend}, c: {dbg}}
		if got := e.inboxGroups(t, us); !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("inboxes (user → groups) = %v, want %v", got, want)
		}
	})
}

func TestASuppressedSystemsHealthNotificationsAreHeldButNewsOfItIsNot(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		a := e.users(t, 1)[0].ID
		e.group(t, SystemGroupID("api"))
		e.group(t, SystemGroupID("web"))
		e.subscribe(t, a, SystemGroupID("api"), SystemGroupID("web"))
		var held sync.Map
		e.s.SuppressWhile(func(_ context.Context, id string) (bool, error) {
			_, ok := held.Load(id)
			return ok, nil
		})
		e.s.SuppressWhile(func(_ context.Context, id string) (bool, error) {
			if id == "web" {
				return false, errors.New("incidents unreadable")
			}
			return false, nil
		})
		held.Store("api", true)

		if ns, err := e.s.NotifySystem(t.Context(), "api", Message{Title: "System health critical: api"}); err != nil || len(ns) != 0 {
			t.Fatalf("NotifySystem on a suppressed system = %d notifications, %v; want none", len(ns), err)
		}
		if got := e.unread(t, a); got != 0 {
			t.Fatalf("unread after a suppressed notification = %d, want 0", got)
		}
		if ns, err := e.s.NotifySystems(t.Context(), []string{"api"}, Message{Title: "Maintenance started"}); err != nil || len(ns) != 1 {
			t.Fatalf("NotifySystems on a suppressed system = %d notifications, %v; want 1", len(ns), err)
		}
		if ns, err := e.s.NotifySystem(t.Context(), "web", Message{Title: "System health critical: web"}); err != nil || len(ns) != 1 {
			t.Fatalf("NotifySystem when a suppressor fails = %d notifications, %v; want it sent", len(ns), err)
		}
		held.Delete("api")
		if ns, err := e.s.NotifySystem(t.Context(), "api", Message{Title: "System health restored: api"}); err != nil || len(ns) != 1 {
			t.Fatalf("NotifySystem once the suppression ended = %d notifications, %v; want 1", len(ns), err)
		}
	})
}

func TestSubscriptionsAreCachedAndRefreshedBySubscribeAndUnsubscribe(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		a := e.users(t, 1)[0].ID
		e.group(t, "g1")
		e.group(t, "g2")
		subs := func() []string {
			t.Helper()
			ss, err := e.s.Subscriptions(t.Context(), a)
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, s := range ss {
				out = append(out, s.GroupID+"="+s.GroupName)
			}
			return out
		}
		cached := func() []string {
			t.Helper()
			before := e.queries()
			out := subs()
			if n := e.queries() - before; n != 0 {
				t.Errorf("a warm Subscriptions read ran %d queries, want 0", n)
			}
			return out
		}
		if got := subs(); len(got) != 0 {
			t.Fatalf("subscriptions of a new user: %v", got)
		}

		steps := []struct {
			name string
			op   func() error
			want []string
		}{
			{"subscribing shows the group", func() error { return e.s.Subscribe(t.Context(), a, "g2") }, []string{"g2=Group g2"}},
			{"subscribing again changes nothing", func() error { return e.s.Subscribe(t.Context(), a, "g2") }, []string{"g2=Group g2"}},
			{"a second group is listed by name", func() error { return e.s.Subscribe(t.Context(), a, "g1") }, []string{"g1=Group g1", "g2=Group g2"}},
			{"unsubscribing removes the group", func() error { return e.s.Unsubscribe(t.Context(), a, "g2") }, []string{"g1=Group g1"}},
			{"unsubscribing again is fine", func() error { return e.s.Unsubscribe(t.Context(), a, "g2") }, []string{"g1=Group g1"}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				subs() // warm
				from := len(e.bus.signals())
				if err := st.op(); err != nil {
					t.Fatal(err)
				}
				if got := subs(); !slices.Equal(got, st.want) {
					t.Fatalf("subscriptions = %v, want %v", got, st.want)
				}
				if got := cached(); !slices.Equal(got, st.want) {
					t.Fatalf("cached subscriptions = %v, want %v", got, st.want)
				}
				sig := e.bus.signalsTo(a, from)
				if len(sig) != 1 || sig[0].name != SignalSubscriptionsChanged {
					t.Errorf("signals %+v, want one %s", sig, SignalSubscriptionsChanged)
				}
			})
		}

		for _, op := range []struct {
			name string
			fn   func(context.Context, string, string) error
		}{{"Subscribe", e.s.Subscribe}, {"Unsubscribe", e.s.Unsubscribe}} {
			t.Run(op.name+" to an unknown group is not found", func(t *testing.T) {
				from := len(e.bus.signals())
				if err := op.fn(t.Context(), a, "ghost"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("err = %v, want ErrNotFound", err)
				}
				if s := e.bus.signals()[from:]; len(s) != 0 {
					t.Errorf("signals sent: %+v", s)
				}
				if got := subs(); !slices.Equal(got, []string{"g1=Group g1"}) {
					t.Errorf("subscriptions = %v", got)
				}
			})
		}
	})
}

func TestRemovingAGroupDropsItsSubscribersCachedSubscriptions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		us := ids(e.users(t, 2))
		a, b := us[0], us[1]
		e.group(t, "doomed")
		e.group(t, "kept")
		e.subscribe(t, a, "doomed", "kept")
		e.subscribe(t, b, "kept")
		for _, u := range us {
			if _, err := e.s.Subscriptions(t.Context(), u); err != nil { // cached
				t.Fatal(err)
			}
		}

		if err := e.s.RemoveGroup(t.Context(), "doomed"); err != nil {
			t.Fatal(err)
		}
		ss, err := e.s.Subscriptions(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) != 1 || ss[0].GroupID != "kept" {
			t.Errorf("a's subscriptions after the group was removed: %+v, want only kept", ss)
		}
		before := e.queries()
		if ss, _ := e.s.Subscriptions(t.Context(), b); len(ss) != 1 {
			t.Errorf("b's subscriptions: %+v", ss)
		}
		if n := e.queries() - before; n != 0 {
			t.Errorf("b, who did not follow the removed group, read with %d queries, want 0 (still cached)", n)
		}
		if err := e.s.RemoveGroup(t.Context(), "doomed"); err != nil {
			t.Errorf("removing a missing group: %v, want no error", err)
		}
		if err := e.s.Subscribe(t.Context(), a, "doomed"); !errors.Is(err, ErrNotFound) {
			t.Errorf("subscribing to a removed group: %v, want ErrNotFound", err)
		}
	})
}

func TestRenamingAGroupShowsTheNewNameInCachedSubscriptions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		a := e.users(t, 1)[0].ID
		if err := e.s.EnsureGroup(t.Context(), Group{ID: "catalog.system.api", Name: "api", Owner: "catalog"}); err != nil {
			t.Fatal(err)
		}
		e.subscribe(t, a, "catalog.system.api")
		if ss, err := e.s.Subscriptions(t.Context(), a); err != nil || len(ss) != 1 || ss[0].GroupName != "api" {
			t.Fatalf("Subscriptions = %+v, %v", ss, err)
		}

		if err := e.s.EnsureGroup(t.Context(), Group{ID: "catalog.system.api", Name: "public api", Owner: "catalog"}); err != nil {
			t.Fatal(err)
		}
		ss, err := e.s.Subscriptions(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) != 1 || ss[0].GroupName != "public api" {
			t.Fatalf("after the group was renamed, Subscriptions shows %+v, want the name %q: the rename left the subscriber's cached entry stale", ss, "public api")
		}
	})
}

func TestSyncGroupsManagesTheOwnersGroupsOnly(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		a := e.users(t, 1)[0].ID
		ctx := t.Context()
		for _, g := range []Group{
			{ID: "catalog.system.keep", Name: "old name", Owner: "catalog"},
			{ID: "catalog.system.gone", Name: "gone", Owner: "catalog"},
			{ID: "other.thing", Name: "other", Owner: "other"},
		} {
			if err := e.s.EnsureGroup(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		e.subscribe(t, a, "catalog.system.gone", "other.thing")

		err := e.s.SyncGroups(ctx, "catalog", func(ctx context.Context) ([]Group, error) {
			// Another instance creates a group, with its entity, while this
			// one syncs: it must survive.
			if err := e.s.EnsureGroup(ctx, Group{ID: "catalog.system.racing", Name: "racing", Owner: "catalog"}); err != nil {
				return nil, err
			}
			return []Group{
				{ID: "catalog.system.keep", Name: "new name"},
				{ID: "catalog.system.new", Name: "new", Description: "made by sync"},
			}, nil
		})
		if err != nil {
			t.Fatalf("SyncGroups: %v", err)
		}
		gs, err := e.s.Groups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, g := range gs {
			got[g.ID] = g.Owner + "/" + g.Name + "/" + g.Description
		}
		want := map[string]string{
			"catalog.system.keep":   "catalog/new name/",
			"catalog.system.new":    "catalog/new/made by sync",
			"catalog.system.racing": "catalog/racing/",
			"other.thing":           "other/other/",
		}
		if !maps.Equal(got, want) {
			t.Errorf("groups after sync = %v, want %v", got, want)
		}
		ss, err := e.s.Subscriptions(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) != 1 || ss[0].GroupID != "other.thing" {
			t.Errorf("subscriptions after sync = %+v, want only other.thing", ss)
		}

		boom := errors.New("catalog unavailable")
		if err := e.s.SyncGroups(ctx, "catalog", func(context.Context) ([]Group, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Errorf("SyncGroups with a failing source: %v, want %v", err, boom)
		}
		if gs2, _ := e.s.Groups(ctx); len(gs2) != len(gs) {
			t.Errorf("a failed sync changed the groups: %d, was %d", len(gs2), len(gs))
		}
	})
}
