package rediscache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/checkstack/checkstack/cache/rediscache"
)

const defaultRedisURL = "redis://127.0.0.1:6379/0"

var (
	reachOnce sync.Once
	reachErr  error
)

// redisOptions returns client options for the test Redis, built from
// CHECKSTACK_TEST_REDIS_URL. It skips the test when Redis is unreachable,
// or fails it when CHECKSTACK_REQUIRE_SERVICES=1.
func redisOptions(tb testing.TB) *redis.Options {
	tb.Helper()
	url := os.Getenv("CHECKSTACK_TEST_REDIS_URL")
	if url == "" {
		url = defaultRedisURL
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("CHECKSTACK_TEST_REDIS_URL=%q: %v", url, err)
	}
	opt.MaxRetries = -1
	opt.DialTimeout = time.Second
	opt.ReadTimeout = 10 * time.Second // the million-key setup runs long scripts
	opt.WriteTimeout = 10 * time.Second

	reachOnce.Do(func() {
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		reachErr = c.Ping(ctx).Err()
	})
	if reachErr != nil {
		msg := "redis at " + url + " is unreachable (" + reachErr.Error() + "); set CHECKSTACK_TEST_REDIS_URL to run the Redis tests"
		if os.Getenv("CHECKSTACK_REQUIRE_SERVICES") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return opt
}

// newClient returns a client on the test Redis, closed when the test ends.
func newClient(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(redisOptions(tb))
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("close redis client: %v", err)
		}
	})
	return c
}

// newNamespace returns a namespace no other test uses, and removes every key
// under it when the test ends.
func newNamespace(tb testing.TB) string {
	tb.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	ns := "cachetest-" + hex.EncodeToString(b[:])
	cleanup := newClient(tb) // registered first, so it is closed last
	tb.Cleanup(func() { dropNamespace(tb, cleanup, ns) })
	return ns
}

// dropNamespace deletes the namespace's entries through the index, then
// whatever else is left under its hash tag.
func dropNamespace(tb testing.TB, c *redis.Client, ns string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := rediscache.New(c, rediscache.Options{Namespace: ns, OpTimeout: time.Minute})
	defer p.Close()
	if _, err := p.DeleteByPrefix(ctx, ""); err != nil {
		tb.Errorf("clean up namespace %s: %v", ns, err)
	}
	iter := c.Scan(ctx, 0, "{"+ns+"}*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Errorf("clean up namespace %s: scan: %v", ns, err)
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
			tb.Errorf("clean up namespace %s: %v", ns, err)
			return
		}
		keys = keys[n:]
	}
}

// newProvider returns a provider on c in ns, closed when the test ends.
func newProvider(tb testing.TB, c redis.UniversalClient, ns string, opts rediscache.Options) *rediscache.Provider {
	tb.Helper()
	opts.Namespace = ns
	p := rediscache.New(c, opts)
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Errorf("close provider: %v", err)
		}
	})
	return p
}

// keys of namespace ns, as documented in the package doc.
func dataKey(ns, key string) string { return "{" + ns + "}d:" + key }
func idxKey(ns string) string       { return "{" + ns + "}m:idx" }
func seqKey(ns string) string       { return "{" + ns + "}m:seq" }
func logKey(ns string) string       { return "{" + ns + "}m:log" }
func floorKey(ns string) string     { return "{" + ns + "}m:floor" }
