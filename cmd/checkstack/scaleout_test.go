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
}
