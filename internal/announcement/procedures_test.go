package announcement

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

var adminPrincipal = rpc.Principal{UserID: admin.ID, Name: admin.Name, Role: rpc.RoleAdmin}

// call runs a procedure of the env's service as the server would, once
// the caller is allowed.
func (e *env) call(t *testing.T, name string, who rpc.Principal, body string) (json.RawMessage, error) {
	t.Helper()
	for _, p := range e.s.Procedures() {
		if p.Name == name {
			if !who.Allows(p.Access) {
				t.Fatalf("%s may not call %s", who.UserID, name)
			}
			return p.Call(t.Context(), &rpc.Request{Principal: who}, []byte(body))
		}
	}
	t.Fatalf("no procedure %s", name)
	return nil, nil
}

func (e *env) callOK(t *testing.T, name string, who rpc.Principal, body string) json.RawMessage {
	t.Helper()
	out, err := e.call(t, name, who, body)
	if err != nil {
		t.Fatalf("%s %s: %v", name, body, err)
	}
	return out
}

func TestTheProceduresAreDeclaredForTheirCallers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	want := map[string]rpc.Access{
		"getActiveAnnouncements": rpc.Public,
		"dismissAnnouncement":    rpc.User,
		"listAllAnnouncements":   rpc.Admin,
		"createAnnouncement":     rpc.Admin,
		"updateAnnouncement":     rpc.Admin,
		"deleteAnnouncement":     rpc.Admin,
		"reorderAnnouncements":   rpc.Admin,
	}
	got := map[string]rpc.Access{}
	for _, p := range e.s.Procedures() {
		if p.Domain != "announcement" {
			t.Errorf("%s is in domain %q", p.Name, p.Domain)
		}
		wantKind := rpc.Mutation
		if p.Name == "getActiveAnnouncements" || p.Name == "listAllAnnouncements" {
			wantKind = rpc.Read
		}
		if p.Kind != wantKind {
			t.Errorf("%s is a %s, want a %s", p.Name, p.Kind, wantKind)
		}
		got[p.Name] = p.Access
	}
	if !maps.Equal(got, want) {
		t.Fatalf("procedures %v, want %v", got, want)
	}
}

// keysOf returns the sorted keys of a JSON object.
func keysOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not an object: %s", raw)
	}
	return slices.Sorted(maps.Keys(m))
}

var fieldNames = []string{"active", "createdAt", "createdBy", "createdByName", "displayMode", "expiresAt", "id",
	"message", "severity", "sortOrder", "startsAt", "title", "updatedAt", "visibility"}

func TestTheProceduresAnswerInTheirShapes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		bea := e.user(t, "Bea")
		user := rpc.Principal{UserID: bea, Name: "Bea", Role: rpc.RoleUser}

		raw := e.callOK(t, "createAnnouncement", adminPrincipal,
			`{"title":"Upgrade","message":"**Tonight**","severity":"warning","startsAt":null,"expiresAt":"2026-12-05T00:00:00+01:00"}`)
		if got := keysOf(t, raw); !slices.Equal(got, fieldNames) {
			t.Fatalf("createAnnouncement answers %v, want %v", got, fieldNames)
		}
		var a map[string]any
		must(t, json.Unmarshal(raw, &a))
		if a["startsAt"] != nil || a["expiresAt"] != "2026-12-04T23:00:00Z" || a["createdBy"] != admin.ID ||
			a["createdByName"] != admin.Name || a["severity"] != "warning" || a["visibility"] != "all" ||
			a["displayMode"] != "both" || a["active"] != true || a["sortOrder"] != 0.0 || a["createdAt"] != "2026-12-04T12:00:00Z" {
			t.Fatalf("createAnnouncement: %s", raw)
		}
		id := a["id"].(string)
		e.callOK(t, "createAnnouncement", adminPrincipal, `{"title":"Members","message":"m","visibility":"authenticated"}`)

		raw = e.callOK(t, "getActiveAnnouncements", rpc.Principal{}, `{}`)
		var page struct {
			Announcements []map[string]json.RawMessage `json:"announcements"`
		}
		must(t, json.Unmarshal(raw, &page))
		if got := keysOf(t, raw); !slices.Equal(got, []string{"announcements"}) || len(page.Announcements) != 1 {
			t.Fatalf("getActiveAnnouncements, anonymous: %s", raw)
		}
		if got := slices.Sorted(maps.Keys(page.Announcements[0])); !slices.Equal(got, fieldNames) {
			t.Errorf("an active announcement has %v, want %v (no dismissed field)", got, fieldNames)
		}

		e.callOK(t, "dismissAnnouncement", user, `{"announcementId":"`+id+`"}`)
		if raw := e.callOK(t, "dismissAnnouncement", user, `{"announcementId":"`+id+`"}`); string(raw) != `{}` {
			t.Errorf("dismissAnnouncement answers %s", raw)
		}
		raw = e.callOK(t, "getActiveAnnouncements", user, `{}`)
		must(t, json.Unmarshal(raw, &page))
		if len(page.Announcements) != 1 || string(page.Announcements[0]["title"]) != `"Members"` {
			t.Errorf("getActiveAnnouncements after a dismissal: %s", raw)
		}
		raw = e.callOK(t, "getActiveAnnouncements", user, `{"includeDismissed":true}`)
		must(t, json.Unmarshal(raw, &page))
		if len(page.Announcements) != 2 || string(page.Announcements[0]["dismissed"]) != "true" ||
			string(page.Announcements[1]["dismissed"]) != "false" {
			t.Errorf("getActiveAnnouncements with dismissed: %s", raw)
		}
		withDismissed := append(slices.Clone(fieldNames), "dismissed")
		slices.Sort(withDismissed)
		if got := slices.Sorted(maps.Keys(page.Announcements[0])); !slices.Equal(got, withDismissed) {
			t.Errorf("an announcement with dismissed has %v", got)
		}

		raw = e.callOK(t, "listAllAnnouncements", adminPrincipal, `{}`)
		must(t, json.Unmarshal(raw, &page))
		if got := keysOf(t, raw); !slices.Equal(got, []string{"announcements"}) || len(page.Announcements) != 2 {
			t.Fatalf("listAllAnnouncements: %s", raw)
		}
		second := string(page.Announcements[1]["id"])

		raw = e.callOK(t, "updateAnnouncement", adminPrincipal, `{"id":"`+id+`","expiresAt":null,"active":false}`)
		must(t, json.Unmarshal(raw, &a))
		if a["expiresAt"] != nil || a["active"] != false || a["title"] != "Upgrade" || a["severity"] != "warning" {
			t.Errorf("updateAnnouncement: %s", raw)
		}
		if raw := e.callOK(t, "reorderAnnouncements", adminPrincipal, `{"orderedIds":[`+second+`,"`+id+`"]}`); string(raw) != `{}` {
			t.Errorf("reorderAnnouncements answers %s", raw)
		}
		if raw := e.callOK(t, "deleteAnnouncement", adminPrincipal, `{"id":"`+id+`"}`); string(raw) != `{}` {
			t.Errorf("deleteAnnouncement answers %s", raw)
		}

		for _, tc := range []struct{ procedure, body, id string }{
			{"dismissAnnouncement", `{"announcementId":"ghost"}`, "ghost"},
			{"updateAnnouncement", `{"id":"ghost","title":"t"}`, "ghost"},
			{"deleteAnnouncement", `{"id":"` + id + `"}`, id},
		} {
			who := adminPrincipal
			if tc.procedure == "dismissAnnouncement" {
				who = user
			}
			_, err := e.call(t, tc.procedure, who, tc.body)
			if want := `announcement "` + tc.id + `" not found`; !isStatus(err, 404) || err.Error() != want {
				t.Errorf("%s %s: %v, want 404 %q", tc.procedure, tc.body, err, want)
			}
		}
	})
}
