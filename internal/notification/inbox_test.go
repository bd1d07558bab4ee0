package notification

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestTheInboxPagesAUsersOwnNotificationsNewestFirst(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newClockedEnv(t, db, envOptions{})
		us := e.users(t, 2)
		a, b := us[0].ID, us[1].ID

		var made []Notification
		for _, title := range []string{"n1", "n2", "n3", "n4", "n5"} {
			made = append(made, e.notify(t, title, a)...)
			e.clock.Advance(time.Minute)
		}
		e.notify(t, "for b", b)
		// n2 and n4 are read.
		for _, n := range []Notification{made[1], made[3]} {
			if err := e.s.MarkRead(t.Context(), a, n.ID); err != nil {
				t.Fatalf("MarkRead: %v", err)
			}
		}

		tests := []struct {
			name  string
			f     Filter
			want  []string
			total int
		}{
			{"the default page lists all of them newest first", defaultFilter, []string{"n5", "n4", "n3", "n2", "n1"}, 5},
			{"a limit returns the newest ones", Filter{Limit: 2}, []string{"n5", "n4"}, 5},
			{"an offset skips the newest ones", Filter{Limit: 2, Offset: 2}, []string{"n3", "n2"}, 5},
			{"the last page holds what is left", Filter{Limit: 2, Offset: 4}, []string{"n1"}, 5},
			{"an offset past the end is empty and keeps the total", Filter{Limit: 2, Offset: 10}, []string{}, 5},
			{"unread only leaves out the read ones", Filter{Limit: 20, UnreadOnly: true}, []string{"n5", "n3", "n1"}, 3},
			{"unread only pages too", Filter{Limit: 1, Offset: 1, UnreadOnly: true}, []string{"n3"}, 3},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := e.page(t, a, tt.f)
				if got := titles(p); !slices.Equal(got, tt.want) || p.Total != tt.total {
					t.Fatalf("Notifications(%+v) = %s, want %v with total %d", tt.f, summary(p), tt.want, tt.total)
				}
				for _, n := range p.Notifications {
					if n.UserID != a {
						t.Errorf("user %s was shown %s's notification %s", a, n.UserID, n.ID)
					}
				}
			})
		}

		p := e.page(t, a, defaultFilter)
		for i, n := range p.Notifications {
			src := made[4-i]
			wantRead := i == 1 || i == 3
			if n.ID != src.ID || n.IsRead != wantRead || n.Importance != Info || n.Body != "body of "+n.Title || !n.CreatedAt.Equal(src.CreatedAt) {
				t.Errorf("notification %d = %+v, want %+v with isRead %v", i, n, src, wantRead)
			}
		}
		if got := e.unread(t, a); got != 3 {
			t.Errorf("UnreadCount(a) = %d, want 3", got)
		}
		if p := e.page(t, b, defaultFilter); !slices.Equal(titles(p), []string{"for b"}) || p.Total != 1 {
			t.Errorf("b's inbox = %s, want only b's own notification", summary(p))
		}
		if got := e.unread(t, b); got != 1 {
			t.Errorf("UnreadCount(b) = %d, want 1", got)
		}
	})
}

func TestNotifyUsersMakesOneNotificationPerUserAsSent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newClockedEnv(t, db, envOptions{})
		us := e.users(t, 2)
		a, b := us[0].ID, us[1].ID
		m := Message{Title: "Disk almost full", Body: "92% used", Importance: Critical, Action: &Action{Label: "Open", URL: "/systems/db"}}
		ns, err := e.s.NotifyUsers(t.Context(), []string{b, a, b, a}, m)
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) != 2 {
			t.Fatalf("NotifyUsers to a and b, each twice, made %d notifications, want 2", len(ns))
		}
		for _, u := range []string{a, b} {
			p := e.page(t, u, defaultFilter)
			if p.Total != 1 {
				t.Fatalf("user %s has %d notifications, want 1", u, p.Total)
			}
			n := p.Notifications[0]
			if n.Title != m.Title || n.Body != m.Body || n.Importance != Critical || n.Action == nil || *n.Action != *m.Action ||
				n.IsRead || n.GroupID != "" || !n.CreatedAt.Equal(e.clock.Now()) {
				t.Errorf("stored %+v (action %+v), want the message as sent, unread, at the clock's time", n, n.Action)
			}
			if !slices.ContainsFunc(ns, func(x Notification) bool { return x.ID == n.ID && x.UserID == u }) {
				t.Errorf("the stored notification %s is not among those returned: %+v", n.ID, ns)
			}
		}

		none, err := e.s.NotifyUsers(t.Context(), nil, m)
		if err != nil || len(none) != 0 {
			t.Errorf("NotifyUsers to nobody = %v, %v; want nothing and no error", none, err)
		}
		if ns, _ := e.s.NotifyUsers(t.Context(), []string{a}, Message{Title: "plain"}); len(ns) != 1 || ns[0].Importance != Info {
			t.Errorf("a message without importance made %+v, want importance info", ns)
		}
	})
}

func TestAUserCannotChangeAnotherUsersNotification(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		us := e.users(t, 2)
		a, b := us[0].ID, us[1].ID
		mine := e.notify(t, "a's", a)[0]
		e.notify(t, "b's", b)

		tests := []struct {
			name string
			op   func() error
		}{
			{"marking it read is not found", func() error { return e.s.MarkRead(t.Context(), b, mine.ID) }},
			{"deleting it is not found", func() error { return e.s.Delete(t.Context(), b, mine.ID) }},
			{"marking an unknown id read is not found", func() error { return e.s.MarkRead(t.Context(), a, "no-such-id") }},
			{"deleting an unknown id is not found", func() error { return e.s.Delete(t.Context(), a, "no-such-id") }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := len(e.bus.signals())
				if err := tt.op(); !errors.Is(err, ErrNotFound) {
					t.Fatalf("err = %v, want ErrNotFound", err)
				}
				if s := e.bus.signals()[before:]; len(s) != 0 {
					t.Errorf("a refused change sent signals: %+v", s)
				}
				p := e.truePage(t, a, defaultFilter)
				if p.Total != 1 || p.Notifications[0].ID != mine.ID || p.Notifications[0].IsRead {
					t.Fatalf("a's inbox afterwards = %s, want a's notification unread", summary(p))
				}
			})
		}

		t.Run("marking all read touches only the caller's own", func(t *testing.T) {
			if err := e.s.MarkRead(t.Context(), b, ""); err != nil {
				t.Fatal(err)
			}
			if got := e.trueUnread(t, b); got != 0 {
				t.Errorf("b has %d unread after marking all read", got)
			}
			if got := e.trueUnread(t, a); got != 1 {
				t.Errorf("a has %d unread after b marked all read, want 1", got)
			}
			if got := e.unread(t, a); got != 1 {
				t.Errorf("UnreadCount(a) = %d after b marked all read, want 1", got)
			}
		})

		t.Run("the owner can still change it", func(t *testing.T) {
			if err := e.s.MarkRead(t.Context(), a, mine.ID); err != nil {
				t.Fatal(err)
			}
			if err := e.s.Delete(t.Context(), a, mine.ID); err != nil {
				t.Fatal(err)
			}
			if err := e.s.Delete(t.Context(), a, mine.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("deleting twice: %v, want ErrNotFound", err)
			}
		})
	})
}
