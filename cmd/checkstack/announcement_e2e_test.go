package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/clocktest"
)

type announcementSignal struct {
	AnnouncementID string `json:"announcementId"`
	Action         string `json:"action"`
}

// awaitAnnouncement waits for the ANNOUNCEMENT_UPDATED signal with action,
// skipping the others.
func awaitAnnouncement(t *testing.T, events <-chan sseEvent, action string) announcementSignal {
	t.Helper()
	for {
		e := awaitSignal(t, events, "ANNOUNCEMENT_UPDATED")
		var p announcementSignal
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatalf("ANNOUNCEMENT_UPDATED payload %s: %v", e.Payload, err)
		}
		if p.Action == action {
			return p
		}
	}
}

type announcementView struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Severity    string     `json:"severity"`
	Visibility  string     `json:"visibility"`
	DisplayMode string     `json:"displayMode"`
	Active      bool       `json:"active"`
	SortOrder   int        `json:"sortOrder"`
	StartsAt    *time.Time `json:"startsAt"`
	ExpiresAt   *time.Time `json:"expiresAt"`
	Dismissed   *bool      `json:"dismissed"`
}

// shown is getActiveAnnouncements for key ("": anonymous).
func (in *instance) shown(t *testing.T, key string, includeDismissed bool) []announcementView {
	t.Helper()
	var page struct {
		Announcements []announcementView `json:"announcements"`
	}
	in.ok(t, key, "announcement/getActiveAnnouncements", map[string]bool{"includeDismissed": includeDismissed}, &page)
	return page.Announcements
}

// shownTitles is the titles key sees, in display order; with
// includeDismissed each carries "(dismissed)" or "(kept)".
func (in *instance) shownTitles(t *testing.T, key string, includeDismissed bool) []string {
	t.Helper()
	out := []string{}
	for _, a := range in.shown(t, key, includeDismissed) {
		switch {
		case !includeDismissed && a.Dismissed != nil:
			t.Fatalf("a read without includeDismissed carries dismissed on %q", a.Title)
		case includeDismissed && a.Dismissed == nil:
			t.Fatalf("a read with includeDismissed lacks dismissed on %q", a.Title)
		case includeDismissed && *a.Dismissed:
			out = append(out, a.Title+" (dismissed)")
		case includeDismissed:
			out = append(out, a.Title+" (kept)")
		default:
			out = append(out, a.Title)
		}
	}
	return out
}

// announcementReads are every cached announcement read, by name, as the
// server answers them.
func (in *instance) announcementReads(t *testing.T, keys map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for who, key := range keys {
		for _, body := range []string{`{}`, `{"includeDismissed":true}`} {
			r := in.call(t, key, "announcement/getActiveAnnouncements", body)
			out["getActiveAnnouncements "+who+" "+body] = fmt.Sprintf("%d %s", r.Status, r.Body)
		}
	}
	r := in.call(t, keys["admin"], "announcement/listAllAnnouncements", `{}`)
	out["listAllAnnouncements"] = fmt.Sprintf("%d %s", r.Status, r.Body)
	return out
}

func TestAnAnnouncementStartsAndExpiresOnTimeForEveryReader(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		user := newUser(t, database, "user@example.com", false)
		t0 := time.Now().UTC().Truncate(time.Second)
		clk := clocktest.New(t0)
		in := startWith(t, runtime{Clock: clk}, database)
		events := subscribe(t, in, admin)

		var always, timed announcementView
		in.ok(t, admin, "announcement/createAnnouncement", map[string]any{"title": "Always", "message": "shown throughout"}, &always)
		if p := awaitAnnouncement(t, events, "created"); p.AnnouncementID != always.ID {
			t.Fatalf("the first creation's signal names %q, want %q", p.AnnouncementID, always.ID)
		}
		startsAt, expiresAt := t0.Add(time.Hour), t0.Add(2*time.Hour)
		in.ok(t, admin, "announcement/createAnnouncement", map[string]any{"title": "Upgrade", "message": "tonight",
			"severity": "warning", "startsAt": startsAt, "expiresAt": expiresAt}, &timed)
		if p := awaitAnnouncement(t, events, "created"); p.AnnouncementID != timed.ID {
			t.Fatalf("the second creation's signal names %q, want %q", p.AnnouncementID, timed.ID)
		}
		if timed.StartsAt == nil || !timed.StartsAt.Equal(startsAt) || timed.ExpiresAt == nil || !timed.ExpiresAt.Equal(expiresAt) {
			t.Fatalf("the timed announcement as created: %+v", timed)
		}

		readers := map[string]string{"admin": admin, "user": user, "anonymous": ""}
		expect := func(when string, want ...string) {
			t.Helper()
			kept := []string{}
			for _, w := range want {
				kept = append(kept, w+" (kept)")
			}
			for who, key := range readers {
				if got := in.shownTitles(t, key, false); !slices.Equal(got, want) {
					t.Errorf("%s: the %s sees %q, want %q", when, who, got, want)
				}
				if got := in.shownTitles(t, key, true); !slices.Equal(got, kept) {
					t.Errorf("%s: the %s, with dismissed, sees %q, want %q", when, who, got, kept)
				}
			}
		}
		expect("before the start", "Always") // and warms every read

		// The reads are served from the cache: what follows proves that
		// the clock drops them, not that nothing caches them.
		before := in.queries(t, "announcement")
		expect("before the start, warm", "Always")
		if n := in.queries(t, "announcement") - before; n != 0 {
			t.Fatalf("warm getActiveAnnouncements ran %d announcement queries, want none", n)
		}

		clk.Set(startsAt)
		if p := awaitAnnouncement(t, events, "started"); p.AnnouncementID != timed.ID {
			t.Fatalf("the start's signal names %q, want %q", p.AnnouncementID, timed.ID)
		}
		expect("the moment it started", "Always", "Upgrade")

		clk.Set(expiresAt)
		if p := awaitAnnouncement(t, events, "expired"); p.AnnouncementID != timed.ID {
			t.Fatalf("the expiry's signal names %q, want %q", p.AnnouncementID, timed.ID)
		}
		expect("the moment it expired", "Always")

		var list struct {
			Announcements []announcementView `json:"announcements"`
		}
		in.ok(t, admin, "announcement/listAllAnnouncements", `{}`, &list)
		if len(list.Announcements) != 2 || list.Announcements[0].ID != always.ID || list.Announcements[1].ID != timed.ID {
			t.Fatalf("listAllAnnouncements after the expiry: %+v, want both, the expired one kept", list.Announcements)
		}
	})
}

func TestEachUserDismissesAnnouncementsForThemselvesOnly(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		alice := newUser(t, database, "alice@example.com", false)
		bob := newUser(t, database, "bob@example.com", false)
		in := start(t, database)
		aliceEvents := subscribe(t, in, alice)
		bobEvents := subscribe(t, in, bob)

		var upgrade, welcome announcementView
		in.ok(t, admin, "announcement/createAnnouncement", `{"title":"Upgrade","message":"tonight"}`, &upgrade)
		in.ok(t, admin, "announcement/createAnnouncement", `{"title":"Welcome","message":"hello"}`, &welcome)

		readers := map[string]string{"alice": alice, "bob": bob, "admin": admin, "anonymous": ""}
		for _, key := range readers { // warm every read
			in.shownTitles(t, key, false)
			in.shownTitles(t, key, true)
		}

		if r := in.call(t, alice, "announcement/dismissAnnouncement", map[string]string{"announcementId": upgrade.ID}); r.Status != 200 || string(r.Body) != `{}` {
			t.Fatalf("alice's dismissal = %d %s", r.Status, r.Body)
		}
		if p := awaitAnnouncement(t, aliceEvents, "dismissed"); p.AnnouncementID != upgrade.ID {
			t.Fatalf("the dismissal's signal names %q, want %q", p.AnnouncementID, upgrade.ID)
		}
		check := func(when string) {
			t.Helper()
			for _, c := range []struct {
				who              string
				includeDismissed bool
				want             []string
			}{
				{"alice", false, []string{"Welcome"}},
				{"alice", true, []string{"Upgrade (dismissed)", "Welcome (kept)"}},
				{"bob", false, []string{"Upgrade", "Welcome"}},
				{"bob", true, []string{"Upgrade (kept)", "Welcome (kept)"}},
				{"admin", false, []string{"Upgrade", "Welcome"}},
				{"anonymous", false, []string{"Upgrade", "Welcome"}},
				{"anonymous", true, []string{"Upgrade (kept)", "Welcome (kept)"}},
			} {
				if got := in.shownTitles(t, readers[c.who], c.includeDismissed); !slices.Equal(got, c.want) {
					t.Errorf("%s: %s (includeDismissed %v) sees %q, want %q", when, c.who, c.includeDismissed, got, c.want)
				}
			}
		}
		check("the moment alice's dismissal was signalled")

		if r := in.call(t, alice, "announcement/dismissAnnouncement", map[string]string{"announcementId": upgrade.ID}); r.Status != 200 || string(r.Body) != `{}` {
			t.Fatalf("alice's second dismissal = %d %s, want 200 {}", r.Status, r.Body)
		}
		check("after dismissing twice")

		for _, tc := range []struct {
			name, key, body string
			status          int
			message         string
		}{
			{"an unknown id", alice, `{"announcementId":"ghost"}`, 404, `announcement \"ghost\" not found`},
			{"no id", alice, `{}`, 400, "announcementId: required"},
			{"an anonymous caller", "", `{"announcementId":"` + welcome.ID + `"}`, 401, ""},
		} {
			r := in.call(t, tc.key, "announcement/dismissAnnouncement", tc.body)
			if r.Status != tc.status || !strings.Contains(string(r.Body), tc.message) {
				t.Errorf("dismissing with %s = %d %s, want %d with %q", tc.name, r.Status, r.Body, tc.status, tc.message)
			}
		}
		check("after the refused dismissals")

		// Bob's stream: the next announcement signal after alice's
		// dismissals is the broadcast that follows them, not hers.
		var later announcementView
		in.ok(t, admin, "announcement/createAnnouncement", `{"title":"Later","message":"m"}`, &later)
		for {
			e := awaitSignal(t, bobEvents, "ANNOUNCEMENT_UPDATED")
			var p announcementSignal
			json.Unmarshal(e.Payload, &p)
			if p.Action == "dismissed" {
				t.Fatalf("bob's stream carried alice's dismissal: %s", e.Payload)
			}
			if p.Action == "created" && p.AnnouncementID == later.ID {
				break
			}
		}
		if got := in.shownTitles(t, alice, false); !slices.Equal(got, []string{"Welcome", "Later"}) {
			t.Errorf("alice after a new announcement: %q", got)
		}
		if got := in.shownTitles(t, bob, false); !slices.Equal(got, []string{"Upgrade", "Welcome", "Later"}) {
			t.Errorf("bob after a new announcement: %q", got)
		}
	})
}

func TestAnnouncementVisibilityAndWhoMayManageThem(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		user := newUser(t, database, "user@example.com", false)
		in := start(t, database)
		events := subscribe(t, in, admin)

		var public, members announcementView
		in.ok(t, admin, "announcement/createAnnouncement", `{"title":"Public","message":"m"}`, &public)
		in.ok(t, admin, "announcement/createAnnouncement", `{"title":"Members","message":"m","visibility":"authenticated","displayMode":"dashboard"}`, &members)
		if members.Visibility != "authenticated" || members.DisplayMode != "dashboard" || public.Visibility != "all" || public.DisplayMode != "both" {
			t.Fatalf("as created: %+v, %+v", public, members)
		}
		expect := func(when string, anonymous []string) {
			t.Helper()
			for who, c := range map[string]struct {
				key  string
				want []string
			}{
				"anonymous": {"", anonymous},
				"user":      {user, []string{"Public", "Members"}},
				"admin":     {admin, []string{"Public", "Members"}},
			} {
				if got := in.shownTitles(t, c.key, false); !slices.Equal(got, c.want) {
					t.Errorf("%s: the %s sees %q, want %q", when, who, got, c.want)
				}
			}
		}
		expect("as created", []string{"Public"})

		in.ok(t, admin, "announcement/updateAnnouncement", map[string]string{"id": members.ID, "visibility": "all"}, nil)
		awaitAnnouncement(t, events, "updated")
		expect("shown to all", []string{"Public", "Members"})
		in.ok(t, admin, "announcement/updateAnnouncement", map[string]string{"id": members.ID, "visibility": "authenticated"}, nil)
		awaitAnnouncement(t, events, "updated")
		expect("members only again", []string{"Public"})

		var before json.RawMessage
		in.ok(t, admin, "announcement/listAllAnnouncements", `{}`, &before)
		for _, tc := range []struct{ procedure, body string }{
			{"createAnnouncement", `{"title":"Mine","message":"m"}`},
			{"updateAnnouncement", `{"id":"` + public.ID + `","title":"Taken"}`},
			{"deleteAnnouncement", `{"id":"` + public.ID + `"}`},
			{"reorderAnnouncements", `{"orderedIds":["` + members.ID + `","` + public.ID + `"]}`},
			{"listAllAnnouncements", `{}`},
		} {
			if r := in.call(t, user, "announcement/"+tc.procedure, tc.body); r.Status != 403 {
				t.Errorf("a user's %s = %d %s, want 403", tc.procedure, r.Status, r.Body)
			}
			if r := in.call(t, "", "announcement/"+tc.procedure, tc.body); r.Status != 401 {
				t.Errorf("an anonymous %s = %d %s, want 401", tc.procedure, r.Status, r.Body)
			}
		}
		var after json.RawMessage
		in.ok(t, admin, "announcement/listAllAnnouncements", `{}`, &after)
		if !bytes.Equal(before, after) {
			t.Fatalf("refused callers changed the announcements:\nbefore %s\nafter  %s", before, after)
		}
		expect("after the refused calls", []string{"Public"})
	})
}

func TestEveryAnnouncementChangeIsReadFreshTheMomentItsSignalArrives(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		user := newUser(t, database, "user@example.com", false)
		// Both clocks stay put at t0, so that the two servers agree on
		// what is live; the cache-less one is the truth.
		t0 := time.Now().UTC().Truncate(time.Second)
		in := startWith(t, runtime{Clock: clocktest.New(t0)}, database)
		truth := startWith(t, runtime{Clock: clocktest.New(t0)}, database, "--cache", "off")
		adminEvents := subscribe(t, in, admin)
		userEvents := subscribe(t, in, user)
		keys := map[string]string{"admin": admin, "user": user, "anonymous": ""}

		var first, second announcementView
		steps := []struct {
			name   string
			act    func() reply
			action string
			id     func() string
			events <-chan sseEvent
		}{
			{"create one for all", func() reply {
				return in.call(t, admin, "announcement/createAnnouncement", map[string]any{"title": "Upgrade", "message": "tonight",
					"severity": "warning", "expiresAt": t0.Add(24 * time.Hour)})
			}, "created", func() string { return first.ID }, adminEvents},
			{"create one for members, started", func() reply {
				return in.call(t, admin, "announcement/createAnnouncement", map[string]any{"title": "Members", "message": "m",
					"visibility": "authenticated", "displayMode": "dashboard", "startsAt": t0.Add(-time.Hour)})
			}, "created", func() string { return second.ID }, adminEvents},
			{"retitle", func() reply {
				return in.call(t, admin, "announcement/updateAnnouncement", map[string]any{"id": first.ID, "title": "Upgrade at 22:00"})
			}, "updated", func() string { return first.ID }, adminEvents},
			{"clear the expiry", func() reply {
				return in.call(t, admin, "announcement/updateAnnouncement", map[string]any{"id": first.ID, "expiresAt": nil})
			}, "updated", func() string { return first.ID }, adminEvents},
			{"the user dismisses", func() reply {
				return in.call(t, user, "announcement/dismissAnnouncement", map[string]any{"announcementId": first.ID})
			}, "dismissed", func() string { return first.ID }, userEvents},
			{"show the second to all", func() reply {
				return in.call(t, admin, "announcement/updateAnnouncement", map[string]any{"id": second.ID, "visibility": "all"})
			}, "updated", func() string { return second.ID }, adminEvents},
			{"reorder", func() reply {
				return in.call(t, admin, "announcement/reorderAnnouncements", map[string]any{"orderedIds": []string{second.ID, first.ID}})
			}, "reordered", func() string { return "" }, adminEvents},
			{"start the first later", func() reply {
				return in.call(t, admin, "announcement/updateAnnouncement", map[string]any{"id": first.ID, "startsAt": t0.Add(time.Hour)})
			}, "updated", func() string { return first.ID }, adminEvents},
			{"switch the second off", func() reply {
				return in.call(t, admin, "announcement/updateAnnouncement", map[string]any{"id": second.ID, "active": false})
			}, "updated", func() string { return second.ID }, adminEvents},
			{"start the first now", func() reply {
				return in.call(t, admin, "announcement/updateAnnouncement", map[string]any{"id": first.ID, "startsAt": nil})
			}, "updated", func() string { return first.ID }, adminEvents},
			{"delete the first", func() reply {
				return in.call(t, admin, "announcement/deleteAnnouncement", map[string]any{"id": first.ID})
			}, "deleted", func() string { return first.ID }, adminEvents},
		}
		for _, st := range steps {
			in.announcementReads(t, keys) // warm every read
			r := st.act()
			if r.Status != 200 {
				t.Fatalf("%s = %d %s", st.name, r.Status, r.Body)
			}
			p := awaitAnnouncement(t, st.events, st.action)
			switch {
			case first.ID == "":
				r.decode(t, &first)
			case second.ID == "":
				r.decode(t, &second)
			}
			if p.AnnouncementID != st.id() {
				t.Fatalf("%s: the signal names %q, want %q", st.name, p.AnnouncementID, st.id())
			}
			got, want := in.announcementReads(t, keys), truth.announcementReads(t, keys)
			for name := range want {
				if got[name] != want[name] {
					t.Errorf("%s: %s the moment the signal arrived:\n got %s\nwant %s", st.name, name, got[name], want[name])
				}
			}
		}
		// The steps did what they say, not merely the same on both.
		if got := in.shownTitles(t, "", false); len(got) != 0 {
			t.Errorf("anonymous callers at the end see %q, want nothing", got)
		}
		var list struct {
			Announcements []announcementView `json:"announcements"`
		}
		in.ok(t, admin, "announcement/listAllAnnouncements", `{}`, &list)
		if len(list.Announcements) != 1 || list.Announcements[0].ID != second.ID || list.Announcements[0].Active ||
			list.Announcements[0].Visibility != "all" || list.Announcements[0].SortOrder != 0 {
			t.Errorf("listAllAnnouncements at the end: %+v", list.Announcements)
		}
	})
}

func TestBadAnnouncementsAreRefusedByFieldAndChangeNothing(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		user := newUser(t, database, "user@example.com", false)
		in := start(t, database)
		truth := start(t, database, "--cache", "off")
		var kept, other announcementView
		in.ok(t, admin, "announcement/createAnnouncement", map[string]any{"title": "Kept", "message": "m",
			"startsAt": "2099-01-01T00:00:00Z", "expiresAt": "2099-01-02T00:00:00Z"}, &kept)
		in.ok(t, admin, "announcement/createAnnouncement", `{"title":"Other","message":"m"}`, &other)
		// Both the cached answers and the database's: a refused write
		// that reached the database would hide behind a warm cache.
		snapshot := func() string {
			var b bytes.Buffer
			for _, srv := range []*instance{in, truth} {
				for _, key := range []string{admin, user, ""} {
					b.Write(srv.call(t, key, "announcement/getActiveAnnouncements", `{"includeDismissed":true}`).Body)
				}
				b.Write(srv.call(t, admin, "announcement/listAllAnnouncements", `{}`).Body)
			}
			return b.String()
		}
		before := snapshot()
		k, o := kept.ID, other.ID
		create := func(extra string) string { return `{"title":"x","message":"m"` + extra + `}` }
		update := func(extra string) string { return `{"id":"` + k + `"` + extra + `}` }
		for _, tc := range []struct {
			name, procedure, body string
			status                int
			message               string
		}{
			{"no title", "createAnnouncement", `{"message":"m"}`, 400, "title: required"},
			{"a blank title", "createAnnouncement", `{"title":"  ","message":"m"}`, 400, "title: required"},
			{"no message", "createAnnouncement", `{"title":"x"}`, 400, "message: required"},
			{"a title too long", "createAnnouncement", `{"title":"` + strings.Repeat("t", 201) + `","message":"m"}`, 400, "title: too long"},
			{"an unknown severity", "createAnnouncement", create(`,"severity":"apocalyptic"`), 400, "severity: must be one of"},
			{"an unknown visibility", "createAnnouncement", create(`,"visibility":"friends"`), 400, "visibility: must be one of"},
			{"an unknown display mode", "createAnnouncement", create(`,"displayMode":"popup"`), 400, "displayMode: must be one of"},
			{"an unknown field", "createAnnouncement", create(`,"colour":"red"`), 400, "colour: unknown field"},
			{"active not a boolean", "createAnnouncement", create(`,"active":"yes"`), 400, "active: must be"},
			{"an expiry before the start", "createAnnouncement", create(`,"startsAt":"2099-01-02T00:00:00Z","expiresAt":"2099-01-01T00:00:00Z"`), 400, "expiresAt: must be after startsAt"},
			{"an expiry equal to the start", "createAnnouncement", create(`,"startsAt":"2099-01-01T00:00:00Z","expiresAt":"2099-01-01T00:00:00Z"`), 400, "expiresAt: must be after startsAt"},
			{"the same instant in two offsets", "createAnnouncement", create(`,"startsAt":"2099-01-01T02:00:00+02:00","expiresAt":"2099-01-01T01:00:00+01:00"`), 400, "expiresAt: must be after startsAt"},
			{"an expiry within the start's microsecond", "createAnnouncement", create(`,"startsAt":"2099-01-01T00:00:00.0000001Z","expiresAt":"2099-01-01T00:00:00.0000009Z"`), 400, "expiresAt: must be after startsAt"},
			{"a start that is not a time", "createAnnouncement", create(`,"startsAt":"tomorrow"`), 400, "startsAt: must be a time in RFC 3339 form"},
			{"an expiry that is not a time", "createAnnouncement", create(`,"expiresAt":"2099-01-01 00:00:00"`), 400, "expiresAt: must be a time in RFC 3339 form"},
			{"a start that is a number", "createAnnouncement", create(`,"startsAt":4102444800`), 400, "startsAt: must be a time in RFC 3339 form"},
			{"an update with no id", "updateAnnouncement", `{"title":"x"}`, 400, "id: required"},
			{"an update of an unknown id", "updateAnnouncement", `{"id":"ghost","title":"x"}`, 404, `announcement \"ghost\" not found`},
			{"an update blanking the title", "updateAnnouncement", update(`,"title":""`), 400, "title: required"},
			{"an update to an unknown severity", "updateAnnouncement", update(`,"severity":"loud"`), 400, "severity: must be one of"},
			{"an update to an unknown visibility", "updateAnnouncement", update(`,"visibility":"nobody"`), 400, "visibility: must be one of"},
			{"an update to an unknown display mode", "updateAnnouncement", update(`,"displayMode":"sidebar"`), 400, "displayMode: must be one of"},
			{"an update moving the expiry before the start", "updateAnnouncement", update(`,"expiresAt":"2098-12-31T00:00:00Z"`), 400, "expiresAt: must be after startsAt"},
			{"an update moving the start after the expiry", "updateAnnouncement", update(`,"startsAt":"2099-01-03T00:00:00Z"`), 400, "startsAt: must be before expiresAt"},
			{"an update with a start that is not a time", "updateAnnouncement", update(`,"startsAt":"soon"`), 400, "startsAt: must be a time in RFC 3339 form"},
			{"an update of an unknown field", "updateAnnouncement", update(`,"sortOrder":3`), 400, "sortOrder: unknown field"},
			{"a delete of an unknown id", "deleteAnnouncement", `{"id":"ghost"}`, 404, `announcement \"ghost\" not found`},
			{"a delete with no id", "deleteAnnouncement", `{}`, 400, "id: required"},
			{"a reorder with no ids", "reorderAnnouncements", `{}`, 400, "orderedIds: required"},
			{"a reorder of none", "reorderAnnouncements", `{"orderedIds":[]}`, 400, "orderedIds: must name every announcement"},
			{"a reorder missing one", "reorderAnnouncements", `{"orderedIds":["` + o + `"]}`, 400, `orderedIds: must name every announcement: \"` + k + `\" is missing`},
			{"a reorder naming one twice", "reorderAnnouncements", `{"orderedIds":["` + o + `","` + k + `","` + o + `"]}`, 400, `orderedIds: names \"` + o + `\" twice`},
			{"a reorder naming an unknown id", "reorderAnnouncements", `{"orderedIds":["` + o + `","` + k + `","ghost"]}`, 400, `orderedIds: no announcement \"ghost\"`},
			{"a reorder with a blank id", "reorderAnnouncements", `{"orderedIds":["` + o + `",""]}`, 400, "orderedIds[1]: required"},
			{"a reorder that is not a list", "reorderAnnouncements", `{"orderedIds":"` + o + `"}`, 400, "orderedIds: must be"},
			{"a read with includeDismissed not a boolean", "getActiveAnnouncements", `{"includeDismissed":"yes"}`, 400, "includeDismissed: must be"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := in.call(t, admin, "announcement/"+tc.procedure, tc.body)
				if r.Status != tc.status || !strings.Contains(string(r.Body), tc.message) {
					t.Fatalf("%s %s = %d %s; want %d with %q", tc.procedure, tc.body[:min(len(tc.body), 80)], r.Status, r.Body, tc.status, tc.message)
				}
			})
		}
		if after := snapshot(); after != before {
			t.Fatalf("refused input changed something:\nbefore %s\nafter  %s", before, after)
		}
	})
}
