package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/checkstack/checkstack/internal/store"
)

type inboxPage struct {
	Notifications []struct {
		ID     string `json:"id"`
		UserID string `json:"userId"`
		IsRead bool   `json:"isRead"`
	} `json:"notifications"`
	Total int `json:"total"`
}

func (p inboxPage) ids() []string {
	out := make([]string, len(p.Notifications))
	for i, n := range p.Notifications {
		out[i] = n.ID
	}
	return out
}

func (in *instance) me(t testing.TB, key string) string {
	t.Helper()
	var u struct{ ID string }
	in.ok(t, key, "auth/me", "{}", &u)
	return u.ID
}

// notify sends one notification to users through the admin API and
// returns the ids made.
func (in *instance) notify(t testing.TB, admin, title string, users ...string) []string {
	t.Helper()
	var out struct{ NotificationIDs []string }
	in.ok(t, admin, "notification/notifyUsers", map[string]any{"userIds": users,
		"notification": map[string]any{"title": title, "body": "**" + title + "**", "importance": "warning"}}, &out)
	return out.NotificationIDs
}

// TestEachUserSeesAndChangesOnlyTheirOwnNotifications tries, through the
// API and with every read cached first, to read, count, mark and delete
// another user's notifications.
func TestEachUserSeesAndChangesOnlyTheirOwnNotifications(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		alice := newUser(t, database, "alice@example.com", false)
		bob := newUser(t, database, "bob@example.com", false)
		in := start(t, database)
		aliceID, bobID := in.me(t, alice), in.me(t, bob)

		aliceOwn := append(in.notify(t, admin, "one", aliceID), in.notify(t, admin, "two", aliceID)...)
		bobOwn := in.notify(t, admin, "bob's", bobID)

		// Cache every shape for both, then read them again: each sees only
		// their own, from the cache or not.
		shapes := []string{`{}`, `{"unreadOnly":true}`, `{"limit":1}`, `{"offset":1}`}
		for range 2 {
			for _, shape := range shapes {
				for _, who := range []struct {
					key  string
					id   string
					mine []string
				}{{alice, aliceID, aliceOwn}, {bob, bobID, bobOwn}} {
					var p inboxPage
					in.ok(t, who.key, "notification/getNotifications", shape, &p)
					for _, n := range p.Notifications {
						if n.UserID != who.id || !slices.Contains(who.mine, n.ID) {
							t.Fatalf("%s read %+v, someone else's notification", who.id, n)
						}
					}
				}
			}
		}
		var count struct{ Count int }
		in.ok(t, bob, "notification/getUnreadCount", "{}", &count)
		if count.Count != 1 {
			t.Fatalf("bob's unread count = %d, want his 1", count.Count)
		}

		// Bob names alice's notifications: not found, and nothing changes.
		for _, proc := range []string{"notification/markAsRead", "notification/deleteNotification"} {
			r := in.call(t, bob, proc, map[string]string{"notificationId": aliceOwn[0]})
			if r.Status != 404 {
				t.Fatalf("bob's %s of alice's notification = %d %s, want 404", proc, r.Status, r.Body)
			}
		}
		in.ok(t, bob, "notification/markAsRead", "{}", nil) // all of bob's
		in.ok(t, alice, "notification/getUnreadCount", "{}", &count)
		var page inboxPage
		in.ok(t, alice, "notification/getNotifications", "{}", &page)
		if count.Count != 2 || page.Total != 2 || page.Notifications[0].IsRead || page.Notifications[1].IsRead {
			t.Fatalf("alice's inbox after bob's attempts: count %d, %+v", count.Count, page)
		}

		// No procedure takes a user id from the caller; admins' tools are
		// admins' only; the anonymous get nothing.
		if r := in.call(t, bob, "notification/getNotifications", map[string]string{"userId": aliceID}); r.Status != 400 ||
			!strings.Contains(string(r.Body), "userId: unknown field") {
			t.Fatalf("getNotifications naming a user: %d %s", r.Status, r.Body)
		}
		for _, proc := range []string{"notification/notifyUsers", "notification/notifyGroups", "notification/getChannels", "notification/getDeliveries"} {
			if r := in.call(t, bob, proc, "{}"); r.Status != 403 {
				t.Fatalf("a user's %s = %d, want 403", proc, r.Status)
			}
		}
		if r := in.call(t, "", "notification/getUnreadCount", "{}"); r.Status != 401 {
			t.Fatalf("anonymous getUnreadCount = %d, want 401", r.Status)
		}
	})
}

// TestEveryCachedFilterShapeIsFreshAfterEachMutation caches several
// filter shapes for two users, applies each mutation through the API, and
// checks at once every shape of every user against the database itself.
func TestEveryCachedFilterShapeIsFreshAfterEachMutation(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		alice := newUser(t, database, "alice@example.com", false)
		bob := newUser(t, database, "bob@example.com", false)
		in := start(t, database)
		users := map[string]string{in.me(t, alice): alice, in.me(t, bob): bob}
		aliceID := in.me(t, alice)
		bobID := in.me(t, bob)

		db, err := store.Open(context.Background(), database, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// truth is a user's inbox as stored: ids newest first, and which
		// are unread.
		truth := func(userID string) (ids []string, unread map[string]bool) {
			rows, err := db.For("test").QueryContext(t.Context(),
				`SELECT id, is_read FROM notifications WHERE user_id = ? ORDER BY created_at DESC, id DESC`, userID)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			unread = map[string]bool{}
			for rows.Next() {
				var id string
				var read bool
				rows.Scan(&id, &read)
				ids = append(ids, id)
				unread[id] = !read
			}
			return ids, unread
		}

		type shape struct {
			body          string
			limit, offset int
			unreadOnly    bool
		}
		shapes := []shape{
			{`{}`, 20, 0, false},
			{`{"limit":20,"offset":0,"unreadOnly":false}`, 20, 0, false}, // the same filter spelled out
			{`{"unreadOnly":false,"limit":20}`, 20, 0, false},            // and in another order
			{`{"limit":2}`, 2, 0, false},
			{`{"offset":1}`, 20, 1, false},
			{`{"unreadOnly":true}`, 20, 0, true},
			{`{"unreadOnly":true,"limit":1,"offset":1}`, 1, 1, true},
		}
		readAll := func() {
			for _, key := range users {
				for _, s := range shapes {
					in.ok(t, key, "notification/getNotifications", s.body, nil)
				}
				in.ok(t, key, "notification/getUnreadCount", "{}", nil)
			}
		}
		check := func(after string) {
			t.Helper()
			for id, key := range users {
				all, unread := truth(id)
				n := 0
				for _, x := range all {
					if unread[x] {
						n++
					}
				}
				var count struct{ Count int }
				in.ok(t, key, "notification/getUnreadCount", "{}", &count)
				if count.Count != n {
					t.Fatalf("after %s: %s's unread count = %d, want %d", after, id, count.Count, n)
				}
				for _, s := range shapes {
					var want []string
					for _, x := range all {
						if !s.unreadOnly || unread[x] {
							want = append(want, x)
						}
					}
					total := len(want)
					want = want[min(s.offset, len(want)):min(s.offset+s.limit, len(want))]
					var p inboxPage
					in.ok(t, key, "notification/getNotifications", s.body, &p)
					if !slices.Equal(p.ids(), want) || p.Total != total {
						t.Fatalf("after %s: %s's page %s = %v (total %d), want %v (total %d)", after, id, s.body, p.ids(), p.Total, want, total)
					}
					for _, x := range p.Notifications {
						if x.IsRead == unread[x.ID] {
							t.Fatalf("after %s: %s's page %s shows %s read=%v", after, id, s.body, x.ID, x.IsRead)
						}
					}
				}
			}
		}

		var sys system
		in.ok(t, admin, "catalog/createSystem", `{"name":"payments"}`, &sys)
		in.ok(t, alice, "notification/subscribe", map[string]string{"groupId": "catalog.system." + sys.ID}, nil)
		var subs struct {
			Subscriptions []struct{ GroupID, GroupName string }
		}
		in.ok(t, alice, "notification/getSubscriptions", "{}", &subs)
		if len(subs.Subscriptions) != 1 || subs.Subscriptions[0].GroupName != "payments" {
			t.Fatalf("alice's subscriptions: %+v", subs)
		}

		first := in.notify(t, admin, "first", aliceID, bobID)
		in.notify(t, admin, "second", aliceID)
		in.notify(t, admin, "third", aliceID, bobID)
		for i, step := range []struct {
			name string
			do   func()
		}{
			{"notifyUsers to both", func() { in.notify(t, admin, "fourth", aliceID, bobID) }},
			{"notifyGroups reaching alice", func() {
				in.ok(t, admin, "notification/notifyGroups", map[string]any{"groupIds": []string{"catalog.system." + sys.ID},
					"notification": map[string]any{"title": "group news"}}, nil)
			}},
			{"markAsRead of one", func() {
				ids, _ := truth(aliceID)
				in.ok(t, alice, "notification/markAsRead", map[string]string{"notificationId": ids[1]}, nil)
			}},
			{"deleteNotification", func() {
				ids, _ := truth(bobID)
				in.ok(t, bob, "notification/deleteNotification", map[string]string{"notificationId": ids[len(ids)-1]}, nil) // his first
				if !slices.Contains(first, ids[len(ids)-1]) {
					t.Fatalf("bob's oldest notification %s is not one of the first ones %v", ids[len(ids)-1], first)
				}
			}},
			{"markAsRead of all", func() { in.ok(t, alice, "notification/markAsRead", "{}", nil) }},
			{"notifyUsers after all were read", func() { in.notify(t, admin, "fifth", aliceID) }},
			{"unsubscribe, then notifyGroups", func() {
				in.ok(t, alice, "notification/unsubscribe", map[string]string{"groupId": "catalog.system." + sys.ID}, nil)
				in.ok(t, admin, "notification/notifyGroups", map[string]any{"groupIds": []string{"catalog.system." + sys.ID},
					"notification": map[string]any{"title": "nobody hears this"}}, nil)
			}},
		} {
			readAll() // every shape cached
			step.do()
			check(fmt.Sprintf("step %d (%s)", i, step.name))
		}
		in.ok(t, alice, "notification/getSubscriptions", "{}", &subs)
		if len(subs.Subscriptions) != 0 {
			t.Fatalf("alice's subscriptions after unsubscribing: %+v", subs)
		}
	})
}

func TestBadSLOAndNotificationInputIsRefusedByField(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		alice := newUser(t, database, "alice@example.com", false)
		in := start(t, database)
		var sys system
		in.ok(t, admin, "catalog/createSystem", `{"name":"api"}`, &sys)
		obj := func(extra string) string {
			return `{"systemId":"` + sys.ID + `","name":"up","target":99.9,"windowDays":30` + extra + `}`
		}
		for _, tc := range []struct {
			name, key, procedure, body string
			status                     int
			message                    string
		}{
			{"a target of 100", admin, "slo/createObjective", obj(`,"target":100`), 400, "target: must be a percentage strictly between 0 and 100"},
			{"a target of 0", admin, "slo/createObjective", obj(`,"target":0`), 400, "target:"},
			{"a window of 91 days", admin, "slo/createObjective", obj(`,"windowDays":91`), 400, "windowDays: must be between 1 and 90"},
			{"a fractional window", admin, "slo/createObjective", obj(`,"windowDays":1.5`), 400, "windowDays: must be an integer"},
			{"an unknown mode", admin, "slo/createObjective", obj(`,"dependencyMode":"lenient"`), 400, "dependencyMode: must be"},
			{"no name", admin, "slo/createObjective", `{"systemId":"` + sys.ID + `","target":99,"windowDays":7}`, 400, "name: required"},
			{"an unknown system", admin, "slo/createObjective", `{"systemId":"nope","name":"x","target":99,"windowDays":7}`, 404, `system \"nope\" not found`},
			{"excluding itself", admin, "slo/createObjective", obj(`,"excludedUpstreamIds":["` + sys.ID + `"]`), 400, "excludedUpstreamIds: must not contain"},
			{"a check the system does not have", admin, "slo/createObjective", obj(`,"healthCheckConfigurationId":"nope"`), 400, "healthCheckConfigurationId: is not a health check"},
			{"a user creating an objective", alice, "slo/createObjective", obj(""), 403, "FORBIDDEN"},
			{"a self-dependency", admin, "slo/addDependency", `{"systemId":"` + sys.ID + `","upstreamId":"` + sys.ID + `"}`, 400, "upstreamId: a system cannot depend on itself"},
			{"too many systems", alice, "slo/getBulkObjectivesForSystems", `{"systemIds":[` + strings.Repeat(`"x",`, 1000) + `"x"]}`, 400, "systemIds: too many"},
			{"a limit of 0", alice, "notification/getNotifications", `{"limit":0}`, 400, "limit: must be between 1 and 100"},
			{"a negative offset", alice, "notification/getNotifications", `{"offset":-1}`, 400, "offset: must be between"},
			{"an unknown user", admin, "notification/notifyUsers", `{"userIds":["ghost"],"notification":{"title":"x"}}`, 400, `userIds: user \"ghost\" does not exist`},
			{"an unknown importance", admin, "notification/notifyUsers", `{"userIds":["x"],"notification":{"title":"x","importance":"loud"}}`, 400, "notification.importance: must be"},
			{"a script link", admin, "notification/notifyUsers", `{"userIds":["x"],"notification":{"title":"x","action":{"label":"go","url":"javascript:alert(1)"}}}`, 400, "notification.action.url"},
			{"an unknown group", admin, "notification/notifyGroups", `{"groupIds":["nope"],"notification":{"title":"x"}}`, 404, `group \"nope\" not found`},
			{"subscribing to an unknown group", alice, "notification/subscribe", `{"groupId":"nope"}`, 404, "not found"},
			{"a webhook without a URL", admin, "notification/configureChannel", `{"channel":"webhook","enabled":true,"config":{"secret":"0123456789abcdef"}}`, 400, "config.url"},
			{"a webhook with an unknown field", admin, "notification/configureChannel", `{"channel":"webhook","enabled":true,"config":{"url":"https://x.example","secret":"0123456789abcdef","colour":1}}`, 400, "config.colour: unknown field"},
			{"an unknown channel", alice, "notification/setChannelPreference", `{"channel":"pigeon","enabled":true}`, 400, "channel: must be one of"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := in.call(t, tc.key, tc.procedure, tc.body)
				if r.Status != tc.status || !strings.Contains(string(r.Body), tc.message) {
					t.Fatalf("%s = %d %s; want %d with %q", tc.procedure, r.Status, r.Body, tc.status, tc.message)
				}
			})
		}
		var list struct{ Objectives []json.RawMessage }
		in.ok(t, alice, "slo/listObjectives", "{}", &list)
		var page inboxPage
		in.ok(t, alice, "notification/getNotifications", "{}", &page)
		var channels struct{ Channels []struct{ Configured bool } }
		in.ok(t, admin, "notification/getChannels", "{}", &channels)
		if len(list.Objectives) != 0 || page.Total != 0 || channels.Channels[0].Configured || channels.Channels[1].Configured {
			t.Fatalf("bad input changed something: %d objectives, %d notifications, channels %+v", len(list.Objectives), page.Total, channels)
		}
	})
}

// TestNotificationGroupsFollowTheCatalog: each system and catalog group
// has a group to subscribe to, named after it, gone with it.
func TestNotificationGroupsFollowTheCatalog(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		alice := newUser(t, database, "alice@example.com", false)
		in := start(t, database)
		var sys system
		in.ok(t, admin, "catalog/createSystem", `{"name":"payments"}`, &sys)
		var grp struct{ ID string }
		in.ok(t, admin, "catalog/createGroup", `{"name":"team red"}`, &grp)
		groups := func() map[string]string {
			var gs struct{ Groups []struct{ ID, Name string } }
			in.ok(t, alice, "notification/getGroups", "{}", &gs)
			out := map[string]string{}
			for _, g := range gs.Groups {
				out[g.ID] = g.Name
			}
			return out
		}
		if g := groups(); g["catalog.system."+sys.ID] != "payments" || g["catalog.group."+grp.ID] != "team red" {
			t.Fatalf("groups after creating a system and a group: %v", g)
		}
		in.ok(t, alice, "notification/subscribe", map[string]string{"groupId": "catalog.system." + sys.ID}, nil)
		var subs struct{ Subscriptions []struct{ GroupName string } }
		in.ok(t, alice, "notification/getSubscriptions", "{}", &subs) // cached with the old name
		in.ok(t, admin, "catalog/updateSystem", map[string]string{"id": sys.ID, "name": "billing"}, nil)
		in.ok(t, alice, "notification/getSubscriptions", "{}", &subs)
		if g := groups(); g["catalog.system."+sys.ID] != "billing" || len(subs.Subscriptions) != 1 || subs.Subscriptions[0].GroupName != "billing" {
			t.Fatalf("after a rename: groups %v, subscriptions %+v", g, subs)
		}
		in.ok(t, admin, "catalog/deleteSystem", map[string]string{"id": sys.ID}, nil)
		in.ok(t, admin, "catalog/deleteGroup", map[string]string{"id": grp.ID}, nil)
		in.ok(t, alice, "notification/getSubscriptions", "{}", &subs)
		if g := groups(); len(g) != 0 || len(subs.Subscriptions) != 0 {
			t.Fatalf("after deleting both: groups %v, subscriptions %+v", g, subs)
		}
	})
}
