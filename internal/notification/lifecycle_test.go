package notification

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestADeletedUsersDataAndCachedReadsAreGone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		us := ids(e.users(t, 2))
		a, b := us[0], us[1]
		rc := newReceiver(t, always(200))
		e.configureWebhook(t, rc.URL)
		e.optIn(t, ChannelWebhook, a, b)
		e.group(t, "g")
		e.subscribe(t, a, "g")
		e.subscribe(t, b, "g")
		e.notify(t, "one", a, b)
		e.notify(t, "two", a, b) // the workers never run: the deliveries stay pending
		e.warm(t, a)
		e.warm(t, b)
		if ss, err := e.s.Subscriptions(t.Context(), a); err != nil || len(ss) != 1 {
			t.Fatalf("Subscriptions = %v, %v", ss, err)
		}
		for _, table := range []string{"notifications", "notification_subscriptions", "notification_channel_prefs", "notification_deliveries"} {
			if n := e.rows(t, table, a); n == 0 {
				t.Fatalf("setup: a has no rows in %s", table)
			}
		}

		// The auth service deletes the row, which cascades, and runs the
		// hook, which newEnv wired to UserDeleted.
		if err := e.auth.DeleteUser(t.Context(), a); err != nil {
			t.Fatal(err)
		}

		for _, table := range []string{"notifications", "notification_subscriptions", "notification_channel_prefs", "notification_deliveries"} {
			if n := e.rows(t, table, a); n != 0 {
				t.Errorf("%d rows of the deleted user left in %s", n, table)
			}
		}
		if got := e.unread(t, a); got != 0 {
			t.Errorf("UnreadCount of the deleted user = %d, want 0", got)
		}
		for _, f := range shapes {
			if p := e.page(t, a, f); p.Total != 0 || len(p.Notifications) != 0 {
				t.Errorf("Notifications(%+v) of the deleted user = %s, want none", f, summary(p))
			}
		}
		if ss, err := e.s.Subscriptions(t.Context(), a); err != nil || len(ss) != 0 {
			t.Errorf("Subscriptions of the deleted user = %+v, %v; want none", ss, err)
		}
		ps, err := e.s.Preferences(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.Enabled {
				t.Errorf("the deleted user is still opted in to %s", p.Channel)
			}
		}

		// b is untouched, and still served from the cache.
		before := e.queries()
		if got := e.unread(t, b); got != 2 {
			t.Errorf("UnreadCount(b) = %d, want 2", got)
		}
		if n := e.queries() - before; n != 0 {
			t.Errorf("b's warm read ran %d queries after a's deletion, want 0", n)
		}
		if n := e.rows(t, "notification_deliveries", b); n != 2 {
			t.Errorf("b has %d deliveries, want 2", n)
		}
	})
}

func TestPurgeDeletesOnlyReadNotificationsOlderThanTheRetention(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const retention = 24 * time.Hour
		e := newClockedEnv(t, db, envOptions{opts: Options{Retention: retention}})
		us := ids(e.users(t, 3))
		a, b, c := us[0], us[1], us[2]
		ctx := t.Context()
		read := func(user string, ns []Notification) {
			t.Helper()
			for _, n := range ns {
				if n.UserID == user {
					if err := e.s.MarkRead(ctx, user, n.ID); err != nil {
						t.Fatal(err)
					}
				}
			}
		}

		start := e.clock.Now()
		read(a, e.notify(t, "a old read", a))
		e.notify(t, "a old unread", a)
		read(b, e.notify(t, "b old read", b))
		e.notify(t, "c old unread", c)
		e.clock.Advance(time.Minute)
		read(a, e.notify(t, "a read at the limit", a))
		e.clock.Advance(time.Minute)
		read(a, e.notify(t, "a recent read", a))
		e.notify(t, "b recent unread", b)
		// Now the first ones are retention+1m old, "at the limit" exactly
		// the retention.
		e.clock.Advance(retention - time.Minute)
		if age := e.clock.Now().Sub(start); age != retention+time.Minute {
			t.Fatalf("clock at %v after start", age)
		}
		for _, u := range us {
			e.warm(t, u)
		}

		if err := e.s.Purge(ctx); err != nil {
			t.Fatalf("Purge: %v", err)
		}

		want := map[string][]string{
			a: {"a recent read", "a read at the limit", "a old unread"},
			b: {"b recent unread"},
			c: {"c old unread"},
		}
		for _, u := range []string{a, b} {
			if got := titles(e.page(t, u, defaultFilter)); !slices.Equal(got, want[u]) {
				t.Errorf("cached page right after Purge = %v, want %v", got, want[u])
			}
			if got := titles(e.truePage(t, u, defaultFilter)); !slices.Equal(got, want[u]) {
				t.Errorf("inbox after Purge = %v, want %v", got, want[u])
			}
		}
		before := e.queries()
		if got := titles(e.page(t, c, defaultFilter)); !slices.Equal(got, want[c]) {
			t.Errorf("c's page = %v, want %v", got, want[c])
		}
		if n := e.queries() - before; n != 0 {
			t.Errorf("c, who lost nothing, read with %d queries, want 0 (still cached)", n)
		}
		if got := e.unread(t, a); got != 1 {
			t.Errorf("UnreadCount(a) = %d, want 1", got)
		}
	})
}

func TestStopIsSafeBeforeStartAndTwice(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tests := []struct {
			name string
			run  func(ctx context.Context, s *Service) []error
		}{
			{"stopping a service never started", func(ctx context.Context, s *Service) []error {
				return []error{s.Stop(ctx)}
			}},
			{"stopping twice after a start", func(ctx context.Context, s *Service) []error {
				s.Start(context.Background())
				return []error{s.Stop(ctx), s.Stop(ctx)}
			}},
			{"starting twice, then stopping twice", func(ctx context.Context, s *Service) []error {
				s.Start(context.Background())
				s.Start(context.Background())
				return []error{s.Stop(ctx), s.Stop(ctx)}
			}},
			{"starting after a stop", func(ctx context.Context, s *Service) []error {
				first := s.Stop(ctx)
				s.Start(context.Background())
				return []error{first, s.Stop(ctx)}
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnv(t, db, envOptions{opts: Options{Delivery: fastDelivery}})
				done := make(chan []error, 1)
				go func() { done <- tt.run(t.Context(), e.s) }()
				for i, err := range receive(t, done, "Stop to return") {
					if err != nil {
						t.Errorf("call %d: Stop = %v, want nil", i+1, err)
					}
				}
			})
		}
	})
}

func TestStartRunsTheRetentionJobAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newClockedEnv(t, db, envOptions{opts: Options{Retention: time.Hour, Delivery: fastDelivery}})
		a := e.users(t, 1)[0].ID
		n := e.notify(t, "old", a)[0]
		if err := e.s.MarkRead(t.Context(), a, n.ID); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(2 * time.Hour)
		e.start(t)
		eventually(t, "the retention job to purge the old read notification", func() bool {
			return e.rows(t, "notifications", a) == 0
		})
	})
}
