package notification

import (
	"fmt"
	"testing"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// shapes are the filter shapes the cache tests warm: each is an entry of
// its own.
var shapes = []Filter{
	defaultFilter,
	{Limit: 5},
	{Limit: defaultLimit, Offset: 1},
	{Limit: defaultLimit, UnreadOnly: true},
}

// warm reads user's unread count and every shape, so that each is cached.
func (e *env) warm(t *testing.T, user string) {
	t.Helper()
	e.unread(t, user)
	for _, f := range shapes {
		e.page(t, user, f)
	}
}

// view is everything a user's cached reads return.
func (e *env) view(t *testing.T, user string) []string {
	t.Helper()
	out := []string{fmt.Sprintf("unread=%d", e.unread(t, user))}
	for _, f := range shapes {
		out = append(out, fmt.Sprintf("%+v: %s", f, summary(e.page(t, user, f))))
	}
	return out
}

// trueView is what view would return without a cache.
func (e *env) trueView(t *testing.T, user string) []string {
	t.Helper()
	out := []string{fmt.Sprintf("unread=%d", e.trueUnread(t, user))}
	for _, f := range shapes {
		out = append(out, fmt.Sprintf("%+v: %s", f, summary(e.truePage(t, user, f))))
	}
	return out
}

func sameView(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// cachedView reads view and fails the test if that ran a query: every
// entry was expected in the cache.
func (e *env) cachedView(t *testing.T, user, who string) []string {
	t.Helper()
	before := e.queries()
	v := e.view(t, user)
	if n := e.queries() - before; n != 0 {
		t.Errorf("reading %s's warm entries ran %d queries, want 0 (served from the cache)", who, n)
	}
	return v
}

func TestAWarmReadRunsNoQuery(t *testing.T) {
	t.Parallel()
	eachProvider(t, func(t *testing.T, db *store.DB, p cache.Provider) {
		e := newEnv(t, db, envOptions{provider: p})
		a := e.users(t, 1)[0].ID
		e.notify(t, "one", a)
		e.notify(t, "two", a)
		e.group(t, "warm-"+a)
		e.subscribe(t, a, "warm-"+a)
		e.warm(t, a)
		if _, err := e.s.Subscriptions(t.Context(), a); err != nil {
			t.Fatal(err)
		}

		before := e.queries()
		for range 3 {
			e.view(t, a)
			if _, err := e.s.Subscriptions(t.Context(), a); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.queries() - before; n != 0 {
			t.Fatalf("warm reads ran %d queries, want 0", n)
		}
		if got, want := e.view(t, a), e.trueView(t, a); !sameView(got, want) {
			t.Fatalf("cached view %q, want %q", got, want)
		}
	})
}

func TestEveryMutationRefreshesEachCachedShapeOfTheUsersItChangesOnly(t *testing.T) {
	t.Parallel()
	eachProvider(t, func(t *testing.T, db *store.DB, p cache.Provider) {
		e := newEnv(t, db, envOptions{provider: p})
		us := e.users(t, 2)
		a, b := us[0].ID, us[1].ID

		tests := []struct {
			name     string
			setup    func(t *testing.T, tag string) // before the caches are warmed
			mutate   func(t *testing.T, tag string, mine []Notification) error
			changesB bool
		}{
			{
				name: "marking one read",
				mutate: func(t *testing.T, _ string, mine []Notification) error {
					return e.s.MarkRead(t.Context(), a, mine[1].ID)
				},
			},
			{
				name:   "marking all read",
				mutate: func(t *testing.T, _ string, _ []Notification) error { return e.s.MarkRead(t.Context(), a, "") },
			},
			{
				name:   "deleting one",
				mutate: func(t *testing.T, _ string, mine []Notification) error { return e.s.Delete(t.Context(), a, mine[0].ID) },
			},
			{
				name: "notifying the user",
				mutate: func(t *testing.T, tag string, _ []Notification) error {
					_, err := e.s.NotifyUsers(t.Context(), []string{a}, Message{Title: tag + " direct"})
					return err
				},
			},
			{
				name: "notifying a group the user follows",
				setup: func(t *testing.T, tag string) {
					e.group(t, tag)
					e.subscribe(t, a, tag)
				},
				mutate: func(t *testing.T, tag string, _ []Notification) error {
					_, err := e.s.NotifyGroups(t.Context(), []string{tag}, Message{Title: tag + " via group"})
					return err
				},
			},
			{
				name: "notifying a group both users follow",
				setup: func(t *testing.T, tag string) {
					e.group(t, tag)
					e.subscribe(t, a, tag)
					e.subscribe(t, b, tag)
				},
				mutate: func(t *testing.T, tag string, _ []Notification) error {
					_, err := e.s.NotifyGroups(t.Context(), []string{tag}, Message{Title: tag + " via group"})
					return err
				},
				changesB: true,
			},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tag := fmt.Sprintf("case%d-%s", i, a)
				// Fresh notifications for this case: three for a, two for b.
				var mine []Notification
				for j := range 3 {
					mine = append(mine, e.notify(t, fmt.Sprintf("%s a%d", tag, j), a)...)
				}
				for j := range 2 {
					e.notify(t, fmt.Sprintf("%s b%d", tag, j), b)
				}
				if tt.setup != nil {
					tt.setup(t, tag)
				}
				e.warm(t, a)
				e.warm(t, b)
				beforeA := e.cachedView(t, a, "a")
				beforeB := e.cachedView(t, b, "b")

				if err := tt.mutate(t, tag, mine); err != nil {
					t.Fatalf("mutation: %v", err)
				}

				wantA := e.trueView(t, a)
				if sameView(wantA, beforeA) {
					t.Fatalf("the mutation changed nothing a reads: %q", wantA)
				}
				if got := e.view(t, a); !sameView(got, wantA) {
					t.Errorf("a's reads after the mutation:\n%q\nwant\n%q", got, wantA)
				}

				wantB := e.trueView(t, b)
				if tt.changesB {
					if got := e.view(t, b); !sameView(got, wantB) {
						t.Errorf("b's reads after a mutation that changed b:\n%q\nwant\n%q", got, wantB)
					}
					return
				}
				if !sameView(wantB, beforeB) {
					t.Fatalf("the mutation changed b's inbox: %q, was %q", wantB, beforeB)
				}
				if got := e.cachedView(t, b, "b, whom the mutation did not change,"); !sameView(got, wantB) {
					t.Errorf("b's reads:\n%q\nwant\n%q", got, wantB)
				}
			})
		}
	})
}

func TestTheCacheIsInvalidatedBeforeEachSignal(t *testing.T) {
	t.Parallel()
	eachProvider(t, func(t *testing.T, db *store.DB, p cache.Provider) {
		e := newEnv(t, db, envOptions{provider: p})
		a := e.users(t, 1)[0].ID
		sig := "sig-" + a
		e.group(t, sig)
		e.subscribe(t, a, sig)
		e.notify(t, "first", a)
		e.notify(t, "second", a)

		// contains reports whether page holds id, and whether it is read.
		contains := func(p Page, id string) (found, read bool) {
			for _, n := range p.Notifications {
				if n.ID == id {
					return true, n.IsRead
				}
			}
			return false, false
		}
		tests := []struct {
			name   string
			signal string
			// mutate changes a's inbox and returns the id the signal names
			// ("" for all).
			mutate func(t *testing.T) string
			// check says what the signal-time read must show.
			check func(t *testing.T, id string, seen Page)
		}{
			{
				name: "notifying the user", signal: SignalReceived,
				mutate: func(t *testing.T) string { return e.notify(t, "third", a)[0].ID },
				check: func(t *testing.T, id string, seen Page) {
					if found, _ := contains(seen, id); !found {
						t.Errorf("the page read at signal time lacks the new notification: %s", summary(seen))
					}
				},
			},
			{
				name: "notifying a group the user follows", signal: SignalReceived,
				mutate: func(t *testing.T) string {
					ns, err := e.s.NotifyGroups(t.Context(), []string{sig}, Message{Title: "via group", Importance: Warning})
					if err != nil || len(ns) != 1 {
						t.Fatalf("NotifyGroups = %v, %v", ns, err)
					}
					return ns[0].ID
				},
				check: func(t *testing.T, id string, seen Page) {
					if found, _ := contains(seen, id); !found {
						t.Errorf("the page read at signal time lacks the new notification: %s", summary(seen))
					}
				},
			},
			{
				name: "marking one read", signal: SignalRead,
				mutate: func(t *testing.T) string {
					id := e.truePage(t, a, Filter{Limit: 1, UnreadOnly: true}).Notifications[0].ID
					if err := e.s.MarkRead(t.Context(), a, id); err != nil {
						t.Fatal(err)
					}
					return id
				},
				check: func(t *testing.T, id string, seen Page) {
					if found, read := contains(seen, id); !found || !read {
						t.Errorf("the page read at signal time does not show %s read: %s", id, summary(seen))
					}
				},
			},
			{
				name: "marking all read", signal: SignalRead,
				mutate: func(t *testing.T) string {
					if err := e.s.MarkRead(t.Context(), a, ""); err != nil {
						t.Fatal(err)
					}
					return ""
				},
				check: func(t *testing.T, _ string, seen Page) {
					for _, n := range seen.Notifications {
						if !n.IsRead {
							t.Errorf("the page read at signal time shows %q unread", n.Title)
						}
					}
				},
			},
			{
				name: "deleting one", signal: SignalDeleted,
				mutate: func(t *testing.T) string {
					id := e.truePage(t, a, Filter{Limit: 1}).Notifications[0].ID
					if err := e.s.Delete(t.Context(), a, id); err != nil {
						t.Fatal(err)
					}
					return id
				},
				check: func(t *testing.T, id string, seen Page) {
					if found, _ := contains(seen, id); found {
						t.Errorf("the page read at signal time still shows the deleted %s: %s", id, summary(seen))
					}
				},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.warm(t, a)
				from := len(e.bus.signals())
				id := tt.mutate(t)
				got := e.bus.signalsTo(a, from)
				if len(got) != 1 || got[0].name != tt.signal {
					t.Fatalf("signals to the user: %+v, want one %s", got, tt.signal)
				}
				sig := got[0]
				if sig.readErr != nil {
					t.Fatalf("read at signal time: %v", sig.readErr)
				}
				want := e.trueUnread(t, a)
				pl, ok := sig.payload.(countPayload)
				if !ok {
					t.Fatalf("payload %#v, want a countPayload", sig.payload)
				}
				if pl.NotificationID != id {
					t.Errorf("payload names %q, want %q", pl.NotificationID, id)
				}
				if pl.UnreadCount != want {
					t.Errorf("payload unreadCount %d, want the new count %d", pl.UnreadCount, want)
				}
				if sig.unread != want {
					t.Errorf("UnreadCount read at signal time = %d, want the new count %d", sig.unread, want)
				}
				tt.check(t, id, sig.page)
				if sig.page.Total != e.truePage(t, a, defaultFilter).Total {
					t.Errorf("the page read at signal time has total %d, want %d", sig.page.Total, e.truePage(t, a, defaultFilter).Total)
				}
			})
		}
	})
}

func TestEachSignalCarriesItsUsersOwnUnreadCount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		us := e.users(t, 2)
		e.notify(t, "x", us[0].ID)
		e.notify(t, "y", us[0].ID)
		from := len(e.bus.signals())
		ns := e.notify(t, "z", ids(us)...)
		want := map[string]int{us[0].ID: 3, us[1].ID: 1}
		for _, u := range us {
			got := e.bus.signalsTo(u.ID, from)
			if len(got) != 1 || got[0].name != SignalReceived {
				t.Fatalf("signals to %s: %+v, want one %s", u.ID, got, SignalReceived)
			}
			pl := got[0].payload.(countPayload)
			if pl.UnreadCount != want[u.ID] || pl.Importance != Info {
				t.Errorf("payload to %s = %+v, want unreadCount %d and importance info", u.ID, pl, want[u.ID])
			}
			var mine string
			for _, n := range ns {
				if n.UserID == u.ID {
					mine = n.ID
				}
			}
			if pl.NotificationID != mine {
				t.Errorf("payload to %s names %s, want that user's notification %s", u.ID, pl.NotificationID, mine)
			}
		}
	})
}
