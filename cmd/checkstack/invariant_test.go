package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

type sseEvent struct {
	Signal  string          `json:"signal"`
	Payload json.RawMessage `json:"payload"`
}

// subscribe opens /api/signals and returns its events. It returns once the
// server has confirmed the subscription.
func subscribe(t *testing.T, in *instance, key string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", in.url+"/api/signals", nil)
	if key != "" { // "": an anonymous visitor
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("GET /api/signals = %d", res.StatusCode)
	}
	events := make(chan sseEvent, 64)
	connected := make(chan struct{})
	go func() {
		defer res.Body.Close()
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == ": connected":
				close(connected)
			case strings.HasPrefix(line, "data: "):
				var e sseEvent
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e) == nil {
					events <- e
				}
			}
		}
	}()
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("the signal stream never confirmed the subscription")
	}
	return events
}

// awaitSignal returns the next event named signal, skipping others.
func awaitSignal(t *testing.T, events <-chan sseEvent, signal string) sseEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended while waiting for %s", signal)
			}
			if e.Signal == signal {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s signal", signal)
		}
	}
}

type entities struct {
	Systems []system `json:"systems"`
	Groups  []struct {
		ID        string   `json:"id"`
		Name      string   `json:"name"`
		SystemIDs []string `json:"systemIds"`
	} `json:"groups"`
}

// TestEverySignalIsFollowedByFreshReads performs each catalog mutation
// through the API with every read cached beforehand, and on each signal
// reads at once: the read must show the mutation.
func TestEverySignalIsFollowedByFreshReads(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		key := newUser(t, database, "admin@example.com", true)
		in := start(t, database)
		events := subscribe(t, in, key)

		var sysID, groupID, viewID, contactID string
		read := func(procedure string, body any) string {
			r := in.call(t, key, procedure, body)
			return fmt.Sprintf("%d %s", r.Status, r.Body)
		}
		warm := func() {
			for _, p := range []string{"catalog/getEntities", "catalog/getSystems", "catalog/getGroups", "catalog/getViews"} {
				read(p, "{}")
			}
			if sysID != "" {
				read("catalog/getSystem", map[string]string{"id": sysID})
				read("catalog/getSystemGroupIds", map[string]string{"systemId": sysID})
				read("catalog/getSystemContacts", map[string]string{"systemId": sysID})
			}
		}
		ents := func() entities {
			var e entities
			in.ok(t, key, "catalog/getEntities", "{}", &e)
			return e
		}

		steps := []struct {
			name   string
			mutate func()
			signal string
			check  func() string // "" when the read shows the mutation
		}{
			{"createSystem", func() {
				var s system
				in.ok(t, key, "catalog/createSystem", map[string]string{"name": "payments"}, &s)
				sysID = s.ID
			}, "CATALOG_CHANGED", func() string {
				var s systems
				in.ok(t, key, "catalog/getSystems", "{}", &s)
				if len(s.Systems) != 1 || s.Systems[0].ID != sysID || len(ents().Systems) != 1 {
					return "getSystems/getEntities do not list the new system"
				}
				return ""
			}},
			{"updateSystem", func() {
				in.ok(t, key, "catalog/updateSystem", map[string]string{"id": sysID, "name": "payments-v2"}, nil)
			}, "CATALOG_CHANGED", func() string {
				var s system
				in.ok(t, key, "catalog/getSystem", map[string]string{"id": sysID}, &s)
				if s.Name != "payments-v2" || ents().Systems[0].Name != "payments-v2" {
					return "getSystem/getEntities show the old name " + s.Name
				}
				return ""
			}},
			{"createGroup", func() {
				var g struct{ ID string }
				in.ok(t, key, "catalog/createGroup", map[string]string{"name": "core"}, &g)
				groupID = g.ID
			}, "CATALOG_CHANGED", func() string {
				if got := read("catalog/getGroups", "{}"); !strings.Contains(got, groupID) {
					return "getGroups lacks the new group: " + got
				}
				return ""
			}},
			{"addSystemToGroup", func() {
				in.ok(t, key, "catalog/addSystemToGroup", map[string]string{"systemId": sysID, "groupId": groupID}, nil)
			}, "CATALOG_CHANGED", func() string {
				var ids struct{ GroupIDs []string }
				in.ok(t, key, "catalog/getSystemGroupIds", map[string]string{"systemId": sysID}, &ids)
				if !slices.Equal(ids.GroupIDs, []string{groupID}) || !slices.Equal(ents().Groups[0].SystemIDs, []string{sysID}) {
					return fmt.Sprintf("membership not visible: %v", ids.GroupIDs)
				}
				return ""
			}},
			{"removeSystemFromGroup", func() {
				in.ok(t, key, "catalog/removeSystemFromGroup", map[string]string{"systemId": sysID, "groupId": groupID}, nil)
			}, "CATALOG_CHANGED", func() string {
				var ids struct{ GroupIDs []string }
				in.ok(t, key, "catalog/getSystemGroupIds", map[string]string{"systemId": sysID}, &ids)
				if len(ids.GroupIDs) != 0 || len(ents().Groups[0].SystemIDs) != 0 {
					return "removed membership still visible"
				}
				return ""
			}},
			{"updateGroup", func() {
				in.ok(t, key, "catalog/updateGroup", map[string]string{"id": groupID, "name": "core-2"}, nil)
			}, "CATALOG_CHANGED", func() string {
				if got := read("catalog/getGroups", "{}"); !strings.Contains(got, "core-2") {
					return "getGroups shows the old name: " + got
				}
				return ""
			}},
			{"createView", func() {
				var v struct{ ID string }
				in.ok(t, key, "catalog/createView", map[string]any{"name": "ops", "configuration": map[string]any{"groups": []string{groupID}}}, &v)
				viewID = v.ID
			}, "CATALOG_VIEWS_CHANGED", func() string {
				if got := read("catalog/getViews", "{}"); !strings.Contains(got, viewID) {
					return "getViews lacks the new view: " + got
				}
				return ""
			}},
			{"updateView", func() {
				in.ok(t, key, "catalog/updateView", map[string]string{"id": viewID, "name": "ops-2"}, nil)
			}, "CATALOG_VIEWS_CHANGED", func() string {
				if got := read("catalog/getViews", "{}"); !strings.Contains(got, "ops-2") {
					return "getViews shows the old name: " + got
				}
				return ""
			}},
			{"deleteView", func() {
				in.ok(t, key, "catalog/deleteView", map[string]string{"id": viewID}, nil)
			}, "CATALOG_VIEWS_CHANGED", func() string {
				if got := read("catalog/getViews", "{}"); strings.Contains(got, viewID) {
					return "getViews still lists the deleted view"
				}
				return ""
			}},
			{"addSystemContact", func() {
				var c struct{ ID string }
				in.ok(t, key, "catalog/addSystemContact", map[string]string{"systemId": sysID, "type": "mailbox", "email": "oncall@example.com", "label": "on call"}, &c)
				contactID = c.ID
			}, "CATALOG_CONTACTS_CHANGED", func() string {
				if got := read("catalog/getSystemContacts", map[string]string{"systemId": sysID}); !strings.Contains(got, "oncall@example.com") {
					return "getSystemContacts lacks the new contact: " + got
				}
				return ""
			}},
			{"removeSystemContact", func() {
				in.ok(t, key, "catalog/removeSystemContact", map[string]string{"id": contactID}, nil)
			}, "CATALOG_CONTACTS_CHANGED", func() string {
				if got := read("catalog/getSystemContacts", map[string]string{"systemId": sysID}); strings.Contains(got, contactID) {
					return "getSystemContacts still lists the removed contact"
				}
				return ""
			}},
			{"deleteGroup", func() {
				in.ok(t, key, "catalog/deleteGroup", map[string]string{"id": groupID}, nil)
			}, "CATALOG_CHANGED", func() string {
				if got := read("catalog/getGroups", "{}"); strings.Contains(got, groupID) {
					return "getGroups still lists the deleted group"
				}
				return ""
			}},
			{"deleteSystem", func() {
				in.ok(t, key, "catalog/deleteSystem", map[string]string{"id": sysID}, nil)
			}, "CATALOG_CHANGED", func() string {
				if got := read("catalog/getSystem", map[string]string{"id": sysID}); !strings.HasPrefix(got, "404") {
					return "getSystem of the deleted system: " + got
				}
				if len(ents().Systems) != 0 {
					return "getEntities still lists the deleted system"
				}
				return ""
			}},
		}
		for _, st := range steps {
			warm()
			st.mutate()
			awaitSignal(t, events, st.signal)
			if msg := st.check(); msg != "" {
				t.Fatalf("after %s's signal: %s", st.name, msg)
			}
		}
	})
}

func TestShutdownClosesSignalStreams(t *testing.T) {
	database := t.TempDir() + "/c.db"
	key := newUser(t, database, "admin@example.com", true)
	in := start(t, database)
	events := subscribe(t, in, key)
	in.stop()
	select {
	case _, open := <-events:
		for open {
			_, open = <-events
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the signal stream stayed open after shutdown")
	}
}
