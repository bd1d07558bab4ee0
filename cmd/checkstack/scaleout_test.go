package main

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/store/storetest"
	"github.com/redis/go-redis/v9"
)

// testRedis returns a URL to a Redis database this test may empty: the
// test Redis with database 7, which no other test uses.
func testRedis(t *testing.T) string {
	t.Helper()
	raw := os.Getenv("CHECKSTACK_TEST_REDIS_URL")
	if raw == "" {
		raw = "redis://127.0.0.1:6379/0"
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("CHECKSTACK_TEST_REDIS_URL: %v", err)
	}
	u.Path = "/7"
	opts, _ := redis.ParseURL(u.String())
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		if os.Getenv("CHECKSTACK_REQUIRE_SERVICES") == "1" {
			t.Fatalf("Redis at %s: %v", u.Host, err)
		}
		t.Skipf("Redis at %s unreachable (%v); set CHECKSTACK_TEST_REDIS_URL", u.Host, err)
	}
	return u.String()
}

func TestTwoInstancesShareCacheAndSignalsThroughRedis(t *testing.T) {
	rurl := testRedis(t)
	database := storetest.PostgresURL(t)
	key := newUser(t, database, "admin@example.com", true)
	alice := newUser(t, database, "alice@example.com", false)
	a := start(t, database, "--redis", rurl)
	b := start(t, database, "--redis", rurl)
	events := subscribe(t, b, key)

	var list systems
	b.ok(t, key, "catalog/getSystems", "{}", &list) // B's read is cached in Redis
	var created system
	a.ok(t, key, "catalog/createSystem", map[string]string{"name": "shared"}, &created)
	awaitSignal(t, events, "CATALOG_CHANGED")
	b.ok(t, key, "catalog/getSystems", "{}", &list)
	if len(list.Systems) != 1 || list.Systems[0].ID != created.ID {
		t.Fatalf("instance B after A's write and signal: %+v", list.Systems)
	}

	a.ok(t, key, "catalog/updateSystem", map[string]string{"id": created.ID, "name": "renamed"}, nil)
	awaitSignal(t, events, "CATALOG_CHANGED")
	var got system
	b.ok(t, key, "catalog/getSystem", map[string]string{"id": created.ID}, &got)
	if !strings.EqualFold(got.Name, "renamed") {
		t.Fatalf("instance B read %q after A's rename", got.Name)
	}

	// A notification sent through A reaches alice's stream on B, and B's
	// cached bell and inbox are fresh by then.
	aliceEvents := subscribe(t, b, alice)
	var count struct{ Count int }
	b.ok(t, alice, "notification/getUnreadCount", "{}", &count)
	var page inboxPage
	b.ok(t, alice, "notification/getNotifications", `{"unreadOnly":true}`, &page)
	a.notify(t, key, "hello from A", a.me(t, alice))
	if n := awaitNotification(t, aliceEvents); n != 1 {
		t.Fatalf("the signal on B carries unreadCount %d, want 1", n)
	}
	b.ok(t, alice, "notification/getUnreadCount", "{}", &count)
	b.ok(t, alice, "notification/getNotifications", `{"unreadOnly":true}`, &page)
	if count.Count != 1 || page.Total != 1 {
		t.Fatalf("B after A's notification: count %d, page %+v", count.Count, page)
	}

	// An objective created through A is in B's cached reads at once.
	var fs struct{ Objectives []objectiveStatus }
	b.ok(t, key, "slo/getObjectivesForSystem", map[string]string{"systemId": created.ID}, &fs)
	var obj objectiveStatus
	a.ok(t, key, "slo/createObjective", map[string]any{"systemId": created.ID, "name": "up", "target": 99.5, "windowDays": 7}, &obj)
	b.ok(t, key, "slo/getObjectivesForSystem", map[string]string{"systemId": created.ID}, &fs)
	if len(fs.Objectives) != 1 || fs.Objectives[0].Objective.ID != obj.Objective.ID {
		t.Fatalf("B after A created an objective: %+v", fs.Objectives)
	}
}
